// Outgoing mail: the outbox and SMTP mailers against the readers the e2e and browser tests use
// (a real SMTP receiver on loopback, never a mocked send), refusals of anything that could add a
// recipient or a header, credentials kept out of errors and logs, and every template's facts and
// escaping.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import type { ErrorKind } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import { createMailer } from '../../src/mail/create-mailer.ts';
import { defaultFrom, recipientDomain } from '../../src/mail/mailer.ts';
import type { MailMessage } from '../../src/mail/mailer.ts';
import { OutboxMailer } from '../../src/mail/outbox-mailer.ts';
import { SmtpMailer } from '../../src/mail/smtp-mailer.ts';
import { parseSmtpUrl } from '../../src/mail/smtp-url.ts';
import { recoveryMail, securityNoticeMail, verificationMail } from '../../src/mail/templates.ts';
import type { SecurityNotice } from '../../src/mail/templates.ts';
import { linkIn, readOutbox, startSmtpReceiver, waitForMail } from '../support/mail.ts';
import type { ReceivedMail, SmtpReceiver } from '../support/mail.ts';

const FROM = 'Attestry <noreply@registry.test>';
const LINK = 'https://registry.test/verify-email?token=abc=def&x=1_%2F';
const SETTINGS = 'https://registry.test/settings';
const AT = new Date('2026-01-02T03:04:05.678Z');
const PASSWORD = 'p@ss:w/rd %S3cr3t';

const roots: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'attestry-mail-'));
  roots.push(dir);
  return dir;
}
after(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

interface LogRecord {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}
function recordingLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => void records.push({ level, msg, fields });
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), debugEnabled: true };
}

async function refusedWith(promise: Promise<unknown>, code: string, kind: ErrorKind): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (e) {
    caught = e;
  }
  assert.ok(isAttestryError(caught), `expected an AttestryError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  assert.equal(caught.kind, kind);
  return caught;
}

function assertNoPassword(where: string, value: string): void {
  for (const form of [PASSWORD, encodeURIComponent(PASSWORD), Buffer.from(PASSWORD).toString('base64'), Buffer.from(`\0mailer\0${PASSWORD}`).toString('base64')]) {
    assert.ok(!value.includes(form), `${where} reveals the password`);
  }
}

const NON_ASCII_SUBJECT = 'Vérifiez votre adresse ✓ — 检查您的电子邮件 🙂 with a subject long enough to need folding across lines';
const LONG_LINE = `${'Ünïcödé '.repeat(40)}${'x'.repeat(600)}`;
const sample = (overrides: Partial<MailMessage> = {}): MailMessage => ({
  to: 'alice@example.test',
  subject: NON_ASCII_SUBJECT,
  text: `Hello alice,\n\nOpen ${LINK} within 24 hours.\n\n${LONG_LINE}\nA line ending in spaces and = signs ==  \n.\nLast line.\n`,
  template: 'verify-email',
  ...overrides,
});

describe('OutboxMailer and readOutbox', () => {
  it('writes a message that reads back exactly: non-ASCII subject, long lines, a link', async () => {
    const dir = tempDir();
    const message = sample({ html: '<p>Grüße, <a href="https://registry.test/x?a=1&amp;b=2">link</a></p>\n' });
    const { messageId } = await new OutboxMailer(dir, FROM).send(message);
    const mails = readOutbox(dir);
    assert.equal(mails.length, 1);
    const [mail] = mails as [ReceivedMail];
    assert.equal(mail.to, message.to);
    assert.equal(mail.from, FROM);
    assert.equal(mail.subject, message.subject);
    assert.equal(mail.text, message.text);
    assert.equal(mail.html, message.html);
    assert.equal(mail.template, 'verify-email');
    assert.equal(mail.headers['message-id'], messageId);
    assert.match(messageId, /^<[0-9a-f-]{36}@registry\.test>$/);
    assert.equal(mail.headers['mime-version'], '1.0');
    assert.equal(mail.headers['auto-submitted'], 'auto-generated');
    assert.ok(Math.abs(Date.parse(mail.headers['date'] ?? '') - Date.now()) < 60_000, 'a current Date header');
    assert.equal(linkIn(mail), LINK);
    assert.match(mail.file ?? '', /^\d{8}T\d{6}\.\d{3}Z-verify-email-[0-9a-f]{12}\.eml$/);

    const raw = readFileSync(join(dir, mail.file ?? '')).toString('latin1');
    assert.ok(/^[\x20-\x7e\r\n\t]*$/.test(raw), 'the message is 7-bit: RFC 2047 subject, quoted-printable body');
    assert.match(raw, /^Subject: =\?UTF-8\?[QB]\?/im);
    assert.ok(raw.split('\r\n').every((line) => line.length <= 998 && !line.includes('\n')), 'CRLF lines of at most 998 octets');
  });

  it('writes a text-only message as text/plain; charset=utf-8, quoted-printable, ending in a line break', async () => {
    const dir = tempDir();
    await new OutboxMailer(dir, 'noreply@registry.test').send(sample({ text: 'No newline at the end: é' }));
    await new OutboxMailer(dir, 'noreply@registry.test').send(sample({ text: 'Nor here', html: '<p>Nor here</p>' }));
    const [mail, multipart] = readOutbox(dir) as [ReceivedMail, ReceivedMail];
    assert.equal(mail.text, 'No newline at the end: é\n');
    assert.equal(multipart.text, 'Nor here\n');
    assert.equal(mail.from, 'noreply@registry.test');
    assert.match(mail.headers['content-type'] ?? '', /^text\/plain; charset=utf-8$/i);
    assert.equal(mail.headers['content-transfer-encoding'], 'quoted-printable');
    assert.equal(mail.html, undefined);
  });

  it('keeps a custom header and reads messages oldest first', async () => {
    const dir = tempDir();
    const mailer = new OutboxMailer(dir, FROM);
    for (let i = 0; i < 25; i++) await mailer.send(sample({ subject: `message ${i}`, headers: { 'X-Attestry-Sequence': String(i) } }));
    const mails = readOutbox(dir);
    assert.deepEqual(mails.map((m) => m.subject), Array.from({ length: 25 }, (_, i) => `message ${i}`));
    assert.deepEqual(mails.map((m) => m.headers['x-attestry-sequence']), Array.from({ length: 25 }, (_, i) => String(i)));
  });

  it('creates the outbox directory, and reads a missing one as empty', async () => {
    const dir = join(tempDir(), 'nested', 'outbox');
    assert.deepEqual(readOutbox(dir), []);
    await new OutboxMailer(dir, FROM).send(sample());
    assert.equal(readOutbox(dir).length, 1);
  });

  it('is atomic: a reader polling during writes only ever sees complete messages, and no temp file stays', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.20260101T000000.000Z-verify-email-000000000000.eml.tmp'), 'Subject: partial\r\n\r\nhalf a mes');
    writeFileSync(join(dir, 'notes.txt'), 'not mail');
    const mailer = new OutboxMailer(dir, FROM);
    const big = `${'ä'.repeat(8_000)}\n${LINK}\n`;
    let sending = true;
    let observations = 0;
    const reader = (async () => {
      while (sending) {
        for (const mail of readOutbox(dir)) {
          observations++;
          assert.equal(mail.text, big, `${mail.file} is complete`);
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    for (let i = 0; i < 20; i++) await mailer.send(sample({ text: big }));
    sending = false;
    await reader;
    assert.ok(observations > 0, 'the reader saw messages while they were being written');
    assert.equal(readOutbox(dir).length, 20, 'only *.eml counted: the stray temp and text files are not mail');
    const names = readdirSync(dir).filter((n) => n !== 'notes.txt' && !n.startsWith('.20260101T'));
    assert.ok(names.every((n) => n.endsWith('.eml') && !n.startsWith('.')), `no temp files left: ${names.join(' ')}`);
  });

  it('fails with MAIL_UNAVAILABLE when the outbox cannot be written', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, '');
    await refusedWith(new OutboxMailer(join(file, 'outbox'), FROM).send(sample()), 'MAIL_UNAVAILABLE', 'unavailable');
  });

  it('logs recipient domain, template and message id, never the body, link or address', async () => {
    const dir = tempDir();
    const logger = recordingLogger();
    const { messageId } = await new OutboxMailer(dir, FROM, { logger }).send(sample());
    assert.equal(logger.records.length, 1);
    const [record] = logger.records as [LogRecord];
    assert.equal(record.level, 'info');
    assert.equal(record.fields['template'], 'verify-email');
    assert.equal(record.fields['recipientDomain'], 'example.test');
    assert.equal(record.fields['messageId'], messageId);
    const logged = JSON.stringify(logger.records);
    for (const secret of ['token=abc', 'alice@', 'Hello alice']) assert.ok(!logged.includes(secret), `the log holds ${secret}`);
  });

  it('refuses a recipient that is not one plain address, and writes nothing', async () => {
    const dir = tempDir();
    const mailer = new OutboxMailer(dir, FROM);
    for (const to of ['', 'alice', 'alice@', '@example.test', 'alice@example.test, eve@evil.test', 'alice@example.test;eve@evil.test',
      'Alice <alice@example.test>', 'alice@example.test\r\nBcc: eve@evil.test', 'alice@example.test\n', ' alice@example.test',
      '"a b"@example.test', 'a@b@example.test', `${'a'.repeat(250)}@example.test`]) {
      await refusedWith(mailer.send(sample({ to })), 'MAIL_RECIPIENT_INVALID', 'invalid');
    }
    assert.deepEqual(readdirSync(dir), []);
  });

  it('refuses a subject or header that could add headers, and template names that are not names', async () => {
    const dir = tempDir();
    const mailer = new OutboxMailer(dir, FROM);
    for (const subject of ['', 'Hi\r\nBcc: eve@evil.test', 'Hi\nthere', 'tab\tis a control too', 'x'.repeat(251)]) {
      await refusedWith(mailer.send(sample({ subject })), 'MAIL_HEADER_INVALID', 'invalid');
    }
    const badHeaders: Record<string, string>[] = [{ Bcc: 'eve@evil.test' }, { to: 'eve@evil.test' }, { 'X-Attestry-Template': 'other' }, { 'Content-Type': 'text/html' },
      { 'Reply-To': 'eve@evil.test' }, { 'X Bad': '1' }, { 'X-Bad:': '1' }, { 'X-Ok': 'a\r\nBcc: eve@evil.test' }, { '': 'x' }];
    for (const headers of badHeaders) {
      await refusedWith(mailer.send(sample({ headers })), 'MAIL_HEADER_INVALID', 'invalid');
    }
    for (const template of ['', '../../etc/passwd', 'Verify', 'verify email', 'verify/email', '-x', 'x'.repeat(65)]) {
      await refusedWith(mailer.send(sample({ template })), 'MAIL_TEMPLATE_INVALID', 'invalid');
    }
    assert.deepEqual(readdirSync(dir), []);
  });

  it('refuses a sender that is not an address', () => {
    for (const from of ['', 'Attestry', 'Attestry <>', 'a@b.test, c@d.test', 'Attestry <a@b.test', 'Bad\r\nName <a@b.test>']) {
      assert.throws(() => new OutboxMailer(tempDir(), from), (e: unknown) => isAttestryError(e) && e.code === 'MAIL_CONFIG_INVALID', from);
    }
  });
});

describe('waitForMail and linkIn', () => {
  it('waits for a message that arrives later', async () => {
    const dir = tempDir();
    const waiting = waitForMail(dir, (m) => m.template === 'password-changed', 3000);
    setTimeout(() => void new OutboxMailer(dir, FROM).send(securityNoticeMail('bob@example.test', 'bob', { kind: 'password-changed' }, AT, SETTINGS)), 100);
    const mail = await waiting;
    assert.equal(mail.to, 'bob@example.test');
  });

  it('times out listing what did arrive', async () => {
    const dir = tempDir();
    await new OutboxMailer(dir, FROM).send(sample({ subject: 'the one that came' }));
    await assert.rejects(waitForMail(dir, (m) => m.template === 'never', 200), (e: Error) => e.message.includes('the one that came'));
  });

  it('finds the first link, or the first matching a pattern, and throws when there is none', () => {
    const mail = { to: 'a@b.test', from: FROM, subject: 's', template: null, headers: {}, text: 'See https://a.test/one. Then (https://b.test/two?x=1), done.' };
    assert.equal(linkIn(mail), 'https://a.test/one');
    assert.equal(linkIn(mail, /b\.test/), 'https://b.test/two?x=1');
    assert.throws(() => linkIn({ ...mail, text: 'no links' }));
    assert.throws(() => linkIn(mail, /c\.test/));
  });
});

describe('SmtpMailer over real SMTP', () => {
  let receiver: SmtpReceiver;
  let url = '';
  before(async () => {
    receiver = await startSmtpReceiver();
    url = receiver.url.replace('user:pass@', `mailer:${encodeURIComponent(PASSWORD)}@`);
  });
  after(() => receiver.close());

  it('delivers with AUTH, and the message parses the same as the outbox copy', async () => {
    const logger = recordingLogger();
    const mailer = new SmtpMailer(url, FROM, { logger });
    const message = sample({ html: '<p>Grüße</p>\n', to: 'carol@example.test' });
    try {
      const { messageId } = await mailer.send(message);
      const mail = await receiver.waitFor((m) => m.headers['message-id'] === messageId);
      assert.deepEqual(receiver.logins.at(-1), { username: 'mailer', password: PASSWORD });
      assert.deepEqual(mail.envelope, { from: 'noreply@registry.test', to: ['carol@example.test'] });
      const dir = tempDir();
      await new OutboxMailer(dir, FROM).send(message);
      const [copy] = readOutbox(dir) as [ReceivedMail];
      for (const key of ['to', 'from', 'subject', 'text', 'html', 'template'] as const) assert.equal(mail[key], copy[key], key);
      assert.equal(mail.text, message.text);
      assert.equal(logger.records.at(-1)?.fields['messageId'], messageId);
      assertNoPassword('the log', JSON.stringify(logger.records));
    } finally {
      mailer.close();
    }
  });

  it('refuses an invalid message before connecting', async () => {
    const before = receiver.logins.length;
    const mailer = new SmtpMailer(url, FROM);
    await refusedWith(mailer.send(sample({ to: 'a@example.test,eve@evil.test' })), 'MAIL_RECIPIENT_INVALID', 'invalid');
    mailer.close();
    assert.equal(receiver.logins.length, before, 'no connection was made');
  });

  it('gives MAIL_UNAVAILABLE without the password when the server refuses the credentials', async () => {
    const refusing = await startSmtpReceiver({ rejectAuth: true });
    const logger = recordingLogger();
    const mailer = new SmtpMailer(refusing.url.replace('user:pass@', `mailer:${encodeURIComponent(PASSWORD)}@`), FROM, { logger });
    try {
      const e = await refusedWith(mailer.send(sample()), 'MAIL_UNAVAILABLE', 'unavailable');
      assert.equal(refusing.logins.length, 1, 'the credentials were offered');
      assert.equal(refusing.messages.length, 0);
      assertNoPassword('the error', `${e.message} ${String(e.stack)} ${JSON.stringify(e)} ${String(e.cause)}`);
      assertNoPassword('the log', JSON.stringify(logger.records));
      assert.equal(logger.records.at(-1)?.level, 'warn');
    } finally {
      mailer.close();
      await refusing.close();
    }
  });

  it('gives MAIL_UNAVAILABLE without the password when nothing listens', async () => {
    const port = await freePort();
    const mailer = new SmtpMailer(`smtp://mailer:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}`, FROM, { timeoutMs: 2000 });
    const e = await refusedWith(mailer.send(sample()), 'MAIL_UNAVAILABLE', 'unavailable');
    mailer.close();
    assertNoPassword('the error', `${e.message} ${String(e.stack)} ${JSON.stringify(e)}`);
  });

  it('gives up after the send timeout on a server that never answers', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const mailer = new SmtpMailer(`smtp://mailer:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}`, FROM, { timeoutMs: 300 });
    const started = Date.now();
    try {
      const e = await refusedWith(mailer.send(sample()), 'MAIL_UNAVAILABLE', 'unavailable');
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
      assertNoPassword('the error', `${e.message} ${String(e.stack)}`);
    } finally {
      mailer.close();
      silent.close();
    }
  });

  it('with requireTLS, refuses a server without STARTTLS before sending the password', async () => {
    const before = receiver.logins.length;
    const mailer = new SmtpMailer(`${url}?requireTLS=true`, FROM, { timeoutMs: 2000 });
    try {
      await refusedWith(mailer.send(sample()), 'MAIL_UNAVAILABLE', 'unavailable');
    } finally {
      mailer.close();
    }
    assert.equal(receiver.logins.length, before, 'no AUTH in clear');
  });

  it('refuses a malformed or unsupported URL without echoing it', () => {
    const secret = encodeURIComponent(PASSWORD);
    for (const bad of ['not a url', `http://u:${secret}@mail.example.test`, `smtp://u:${secret}@`, `smtp://u:${secret}@mail.example.test/path`,
      `smtp://u:${secret}@mail.example.test#frag`, `smtp://u:${secret}@mail.example.test?tls.rejectUnauthorized=false`,
      `smtp://u:${secret}@mail.example.test?requireTLS=yes`, `smtp://u:%E0%A4%A@mail.example.test`, `smtp://u:${secret}@mail.example.test:99999`]) {
      assert.throws(() => new SmtpMailer(bad, FROM), (e: unknown) => {
        assert.ok(isAttestryError(e) && e.code === 'MAIL_CONFIG_INVALID' && e.kind === 'invalid', `${bad}: ${String(e)}`);
        assertNoPassword('the error', e.message);
        return true;
      }, bad);
    }
  });
});

describe('parseSmtpUrl', () => {
  it('reads host, port, TLS mode and percent-decoded credentials', () => {
    assert.deepEqual(parseSmtpUrl('smtp://mail.example.test'), { host: 'mail.example.test', port: 587, secure: false, requireTLS: false, auth: undefined });
    assert.deepEqual(parseSmtpUrl(`smtps://us%40er:${encodeURIComponent(PASSWORD)}@mail.example.test`),
      { host: 'mail.example.test', port: 465, secure: true, requireTLS: false, auth: { user: 'us@er', pass: PASSWORD } });
    assert.equal(parseSmtpUrl('smtps://mail.example.test:2465').port, 2465);
  });

  it('requires STARTTLS when credentials go to a host that is not loopback, unless told otherwise', () => {
    assert.equal(parseSmtpUrl('smtp://u:p@mail.example.test:587').requireTLS, true);
    assert.equal(parseSmtpUrl('smtp://u:p@10.0.0.5:25').requireTLS, true);
    assert.equal(parseSmtpUrl('smtp://u:p@mail.example.test?requireTLS=false').requireTLS, false);
    assert.equal(parseSmtpUrl('smtp://mail.example.test?requireTLS=true').requireTLS, true);
    for (const loopback of ['127.0.0.1', '127.1.2.3', 'localhost', '[::1]']) {
      const parsed = parseSmtpUrl(`smtp://u:p@${loopback}:2525`);
      assert.equal(parsed.requireTLS, false, loopback);
      assert.equal(parsed.host, loopback.replace(/[[\]]/g, ''));
    }
  });
});

describe('createMailer', () => {
  it('picks the outbox with the default sender for the public URL', async () => {
    const dir = tempDir();
    const mailer = createMailer({ outboxDir: dir, publicUrl: 'https://registry.example.test:8443/base/' });
    assert.ok(mailer instanceof OutboxMailer);
    await mailer.send(sample());
    assert.equal(readOutbox(dir)[0]?.from, 'Attestry <noreply@registry.example.test>');
    assert.equal(defaultFrom('http://localhost:4873'), 'Attestry <noreply@localhost>');
  });

  it('picks SMTP, answers null when mail is not configured, and refuses both at once', () => {
    const smtp = createMailer({ smtpUrl: 'smtp://127.0.0.1:2525', from: FROM, publicUrl: 'https://registry.test' });
    assert.ok(smtp instanceof SmtpMailer);
    smtp.close();
    assert.equal(createMailer({ publicUrl: 'https://registry.test' }), null);
    assert.throws(() => createMailer({ outboxDir: tempDir(), smtpUrl: 'smtp://127.0.0.1', publicUrl: 'https://registry.test' }),
      (e: unknown) => isAttestryError(e) && e.code === 'MAIL_CONFIG_INVALID');
  });

  it('logs only the domain of a recipient', () => {
    assert.equal(recipientDomain('Alice@Example.TEST'), 'example.test');
    assert.equal(recipientDomain('nobody'), '');
  });
});

const HOSTILE = `<script>alert("x")</script>&'`;
const HOSTILE_HTML = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;';

/** Every notice kind (the Record makes the compiler insist on all of them), with the facts its text must state. */
const NOTICES: Record<SecurityNotice['kind'], { notice: SecurityNotice; facts: string[] }> = {
  'password-changed': { notice: { kind: 'password-changed' }, facts: ['password', 'was changed'] },
  'email-changed': { notice: { kind: 'email-changed', oldEmail: 'old@example.test', newEmail: 'new@example.test' }, facts: ['"old@example.test"', '"new@example.test"'] },
  'factor-added': { notice: { kind: 'factor-added', factor: 'passkey', name: 'YubiKey 5' }, facts: ['passkey', '"YubiKey 5"', 'added'] },
  'factor-removed': { notice: { kind: 'factor-removed', factor: 'totp' }, facts: ['authenticator app', 'removed'] },
  'recovery-code-used': { notice: { kind: 'recovery-code-used', remaining: 7 }, facts: ['recovery code', '7 recovery codes remain'] },
  'recovery-codes-regenerated': { notice: { kind: 'recovery-codes-regenerated' }, facts: ['New recovery codes', 'no longer work'] },
  'token-created': { notice: { kind: 'token-created', tokenName: 'ci deploy', readonly: true }, facts: ['read-only', '"ci deploy"'] },
  'token-leaked-revoked': { notice: { kind: 'token-leaked-revoked', tokenName: 'ci deploy', url: 'https://example.test/repo/blob/main/.npmrc' }, facts: ['"ci deploy"', '"example.test/repo/blob/main/.npmrc"', 'revoked'] },
  'trusted-publisher-added': { notice: { kind: 'trusted-publisher-added', packageName: '@acme/widget', provider: 'github' }, facts: ['"@acme/widget"', '"github"', 'without a token'] },
  'trusted-publisher-removed': { notice: { kind: 'trusted-publisher-removed', packageName: '@acme/widget' }, facts: ['"@acme/widget"', 'removed'] },
  'new-device-login': { notice: { kind: 'new-device-login', device: 'Firefox on Linux', address: '203.0.113.9' }, facts: ['"Firefox on Linux"', '"203.0.113.9"'] },
  'account-locked': { notice: { kind: 'account-locked', until: '2026-01-02 04:04 UTC' }, facts: ['locked until 2026-01-02 04:04 UTC', 'administrators'] },
  'leaked-password': { notice: { kind: 'leaked-password' }, facts: ['leaked', 'Change it'] },
};

/** The same notice with every user-controlled value replaced by `value`. */
function withValue(notice: SecurityNotice, value: string): SecurityNotice {
  switch (notice.kind) {
    case 'email-changed': return { ...notice, oldEmail: value, newEmail: value };
    case 'factor-added': case 'factor-removed': return { ...notice, name: value };
    case 'token-created': return { ...notice, tokenName: value };
    case 'token-leaked-revoked': return { ...notice, tokenName: value, url: value };
    case 'trusted-publisher-added': return { ...notice, packageName: value, provider: value };
    case 'trusted-publisher-removed': return { ...notice, packageName: value };
    case 'new-device-login': return { ...notice, device: value, address: value };
    case 'account-locked': return { ...notice, until: value };
    default: return notice;
  }
}

describe('templates', () => {
  it('verification mail: the one-time link, the expiry, the account, and what to do if it was not you', async () => {
    const message = verificationMail('dave@example.test', 'dave', LINK, 24);
    assert.equal(message.template, 'verify-email');
    assert.equal(message.to, 'dave@example.test');
    for (const fact of ['dave', '24 hours', 'works once', 'If this was not you']) assert.ok(message.text.includes(fact), fact);
    assert.ok(message.html?.includes(`href="${LINK.replace(/&/g, '&amp;')}"`));
    const dir = tempDir();
    await new OutboxMailer(dir, FROM).send(message);
    const [mail] = readOutbox(dir) as [ReceivedMail];
    assert.equal(linkIn(mail), LINK, 'the link survives encoding and decoding exactly');
    assert.equal(mail.text, message.text);
    assert.ok(verificationMail('d@example.test', 'd', LINK, 1).text.includes('1 hour'));
    assert.ok(verificationMail('d@example.test', 'd', LINK, 0.5).text.includes('30 minutes'));
  });

  it('recovery mail: the one-time link and the expiry', () => {
    const message = recoveryMail('dave@example.test', 'dave', LINK, 2);
    assert.equal(message.template, 'account-recovery');
    for (const fact of ['dave', '2 hours', LINK, 'If this was not you']) assert.ok(message.text.includes(fact), fact);
  });

  it('refuses links that are not http(s) and expiries that are not positive', () => {
    for (const link of ['javascript:alert(1)', 'ftp://registry.test/x', '/relative', 'not a url', 'data:text/html,hi']) {
      assert.throws(() => verificationMail('d@example.test', 'd', link, 24), (e: unknown) => isAttestryError(e) && e.code === 'MAIL_TEMPLATE_INPUT_INVALID', link);
      assert.throws(() => securityNoticeMail('d@example.test', 'd', { kind: 'password-changed' }, AT, link), (e: unknown) => isAttestryError(e) && e.code === 'MAIL_TEMPLATE_INPUT_INVALID', link);
    }
    for (const hours of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => verificationMail('d@example.test', 'd', LINK, hours), (e: unknown) => isAttestryError(e) && e.code === 'MAIL_TEMPLATE_INPUT_INVALID', String(hours));
    }
    assert.throws(() => securityNoticeMail('d@example.test', 'd', { kind: 'password-changed' }, new Date(Number.NaN), SETTINGS),
      (e: unknown) => isAttestryError(e) && e.code === 'MAIL_TEMPLATE_INPUT_INVALID');
  });

  for (const [kind, { notice, facts }] of Object.entries(NOTICES)) {
    it(`${kind}: states what happened, when, and what to do if it was not you; links only to settings`, async () => {
      const message = securityNoticeMail('erin@example.test', 'erin', notice, AT, SETTINGS);
      assert.equal(message.template, kind);
      assert.match(message.subject, /^Attestry: \S/);
      for (const fact of [...facts, 'erin', '2026-01-02 03:04:05 UTC', SETTINGS]) assert.ok(message.text.includes(fact), `${kind} states ${fact}`);
      assert.match(message.text, /If it was not you|If you did not sign in just now/);
      assert.doesNotMatch(message.text, /undefined|null|NaN|\[object/);
      assert.deepEqual([...message.text.matchAll(/https?:\/\/\S+/g)].map((m) => m[0]), [SETTINGS], 'no link but the settings page');
      const dir = tempDir();
      await new OutboxMailer(dir, FROM).send(message);
      const [mail] = readOutbox(dir) as [ReceivedMail];
      assert.equal(mail.text, message.text);
      assert.equal(mail.subject, message.subject);
    });
  }

  it('escapes every user-controlled value in html, and keeps it verbatim in text', () => {
    for (const { notice } of Object.values(NOTICES)) {
      const message = securityNoticeMail('erin@example.test', HOSTILE, withValue(notice, HOSTILE), AT, SETTINGS);
      assert.ok(!message.html?.includes('<script'), `${notice.kind}: no markup from values`);
      assert.ok(!message.html?.includes(`"x"`), `${notice.kind}: quotes escaped`);
      const occurrences = message.html?.split(HOSTILE_HTML).length ?? 0;
      assert.ok(occurrences >= 2, `${notice.kind}: the escaped value is shown`);
      assert.ok(message.text.includes(HOSTILE), `${notice.kind}: text shows the value as it is`);
    }
    const verification = verificationMail('erin@example.test', HOSTILE, LINK, 24);
    assert.ok(!verification.html?.includes('<script') && verification.html?.includes(HOSTILE_HTML));
  });

  it('flattens values to one short line without bidirectional overrides', () => {
    const device = `Chrome\r\n\r\nClick https://evil.test to keep your account\u202Egnp.exe ${'A'.repeat(10_000)}`;
    const message = securityNoticeMail('erin@example.test', 'erin', { kind: 'new-device-login', device, address: null }, AT, SETTINGS);
    const line = message.text.split('\n').find((l) => l.includes('Chrome')) ?? '';
    assert.ok(line.includes('Click https://evil.test'), 'the injected paragraph stays inside the quoted value');
    assert.ok(!message.text.includes('\r') && !message.text.includes('\u202E'));
    assert.ok(!line.includes('A'.repeat(300)), 'long values are cut');
    assert.ok(!line.includes(', address'), 'no address when none is known');
  });

  it('states the remaining recovery codes and nudges when few are left', () => {
    const one = securityNoticeMail('e@example.test', 'e', { kind: 'recovery-code-used', remaining: 1 }, AT, SETTINGS).text;
    assert.ok(one.includes('1 recovery code remains') && one.includes('Generate new codes'));
    const many = securityNoticeMail('e@example.test', 'e', { kind: 'recovery-code-used', remaining: 8 }, AT, SETTINGS).text;
    assert.ok(many.includes('8 recovery codes remain') && !many.includes('Generate new codes'));
  });

  it('names the kind of token and says so when it has no name', () => {
    const text = securityNoticeMail('e@example.test', 'e', { kind: 'token-created', tokenName: null, readonly: false }, AT, SETTINGS).text;
    assert.ok(text.includes('read-write') && text.includes('without a name') && text.includes('can publish'));
  });
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
