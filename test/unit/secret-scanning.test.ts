// Secret-scanning revocation: the reporter's signature over the raw body (refusals first), the
// report schema, and the revocation service against a real (in-memory SQLite) store with mail
// captured at the Mailer port.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { beforeEach, describe, it } from 'node:test';
import { Notifier } from '../../src/core/accounts/notifier.ts';
import { SCANNER_EVENT, TokenRevocation } from '../../src/core/accounts/token-revocation.ts';
import { isAttestryError, type ErrorKind } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { MailMessage, Mailer } from '../../src/mail/mailer.ts';
import { MAX_REPORT_ENTRIES, parseScannerReport, ReporterKeys, type ScannerFinding } from '../../src/security/tokens/reporter-signature.ts';
import { displayPrefix, generateToken, hashToken } from '../../src/security/tokens/token-format.ts';
import { migrate } from '../../src/storage/metadata/sql/migrations.ts';
import { SqlMetadataStore } from '../../src/storage/metadata/sql/sql-store.ts';
import { SqliteDatabase } from '../../src/storage/metadata/sqlite/sqlite-database.ts';
import type { UserRecord } from '../../src/storage/metadata/store.ts';

const NOW = Date.UTC(2026, 5, 1, 12);
const DAY = 86_400_000;
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, debugEnabled: false };

function keyPair(): { privateKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}
const signBody = (body: Buffer, key: KeyObject): string => sign('sha256', body, { key, dsaEncoding: 'der' }).toString('base64');

function refused(fn: () => unknown, code: string, kind: ErrorKind): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAttestryError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.kind, kind);
    return true;
  });
}

describe('ReporterKeys.verify', () => {
  const reporter = keyPair();
  const other = keyPair();
  const keys = new ReporterKeys([{ keyId: 'other', publicKeyPem: other.pem }, { keyId: 'scanner-1', publicKeyPem: reporter.pem }]);
  const body = Buffer.from(JSON.stringify([{ token: 'atr_x', type: 'attestry_token', url: 'https://example.test/a', source: 'content' }]));

  it('accepts a DER ECDSA P-256/SHA-256 signature over the exact body, and names the key', () => {
    assert.equal(keys.verify(body, 'scanner-1', signBody(body, reporter.privateKey)), 'scanner-1');
    assert.equal(keys.verify(body, 'other', signBody(body, other.privateKey)), 'other');
  });

  it('refuses a signature by another key, even one that is configured under another id', () => {
    refused(() => keys.verify(body, 'scanner-1', signBody(body, other.privateKey)), 'SCANNER_SIGNATURE_INVALID', 'unauthenticated');
    refused(() => keys.verify(body, 'scanner-1', signBody(body, keyPair().privateKey)), 'SCANNER_SIGNATURE_INVALID', 'unauthenticated');
  });

  it('refuses when one byte of the body or of the signature is flipped', () => {
    const sig = signBody(body, reporter.privateKey);
    const flipped = Buffer.from(body);
    flipped[5] = (flipped[5] as number) ^ 1;
    refused(() => keys.verify(flipped, 'scanner-1', sig), 'SCANNER_SIGNATURE_INVALID', 'unauthenticated');
    const raw = Buffer.from(sig, 'base64');
    raw[raw.length - 1] = (raw[raw.length - 1] as number) ^ 1;
    refused(() => keys.verify(body, 'scanner-1', raw.toString('base64')), 'SCANNER_SIGNATURE_INVALID', 'unauthenticated');
    refused(() => keys.verify(Buffer.concat([body, Buffer.from(' ')]), 'scanner-1', sig), 'SCANNER_SIGNATURE_INVALID', 'unauthenticated');
  });

  it('refuses an unknown, missing or oversized key id before looking at the signature', () => {
    const sig = signBody(body, reporter.privateKey);
    for (const id of ['scanner-2', 'SCANNER-1', 'scanner-1 ', '', undefined, ['scanner-1'], 'k'.repeat(300)]) {
      refused(() => keys.verify(body, id, sig), 'SCANNER_KEY_UNKNOWN', 'unauthenticated');
    }
    refused(() => new ReporterKeys([]).verify(body, 'scanner-1', sig), 'SCANNER_KEY_UNKNOWN', 'unauthenticated');
  });

  it('refuses malformed DER, malformed base64 and a missing signature', () => {
    for (const sig of [Buffer.from('MEQCIAfgjgz6', 'base64').toString('base64'), Buffer.alloc(64, 7).toString('base64'), Buffer.from([0x30, 0x02, 0x02, 0x00]).toString('base64'),
      'not base64!', '', undefined, ['x'], 'A'.repeat(400)]) {
      refused(() => keys.verify(body, 'scanner-1', sig), 'SCANNER_SIGNATURE_INVALID', 'unauthenticated');
    }
  });

  it('refuses to load a key that is not EC P-256', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    assert.throws(() => new ReporterKeys([{ keyId: 'k', publicKeyPem: p384 }]), /P-256/);
    assert.throws(() => new ReporterKeys([{ keyId: 'k', publicKeyPem: 'nonsense' }]));
  });
});

describe('parseScannerReport', () => {
  const parse = (v: unknown) => parseScannerReport(Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)));

  it('reads the partner-program fields; type, url and source are optional', () => {
    assert.deepEqual(parse([{ token: 'atr_1', type: 'attestry_token', url: 'https://example.test/x', source: 'content' }, { token: 'atr_2' }]), [
      { token: 'atr_1', type: 'attestry_token', url: 'https://example.test/x', source: 'content' },
      { token: 'atr_2', type: '', url: null, source: null },
    ]);
  });

  it('refuses everything that is not a bounded array of findings', () => {
    const cases: unknown[] = ['not json', '{"token":"atr_1"}', [], '"atr_1"', null, [null], ['atr_1'], [[]], [{}], [{ token: '' }], [{ token: 5 }], [{ token: 'a'.repeat(201) }],
      [{ token: 'atr_1', type: 5 }], [{ token: 'atr_1', url: {} }], [{ token: 'atr_1', source: 1 }], [{ token: 'atr_1', url: 'x'.repeat(3000) }],
      Array.from({ length: MAX_REPORT_ENTRIES + 1 }, (_, i) => ({ token: `t${i}` }))];
    for (const c of cases) refused(() => parse(c), 'SCANNER_REPORT_INVALID', 'invalid');
    refused(() => parseScannerReport(Buffer.alloc(1024 * 1024 + 1, 0x20)), 'SCANNER_REPORT_INVALID', 'invalid');
    assert.equal(parse(Array.from({ length: MAX_REPORT_ENTRIES }, (_, i) => ({ token: `t${i}` }))).length, MAX_REPORT_ENTRIES);
    assert.equal(parse([{ token: 'a'.repeat(200) }]).length, 1);
  });
});

class CapturingMailer implements Mailer {
  readonly sent: MailMessage[] = [];
  async send(message: MailMessage): Promise<{ messageId: string }> {
    this.sent.push(message);
    return { messageId: `<${this.sent.length}@test>` };
  }
}

describe('TokenRevocation', () => {
  let store: SqlMetadataStore;
  let mailer: CapturingMailer;
  let service: TokenRevocation;
  let seq = 0;

  beforeEach(async () => {
    const db = new SqliteDatabase(':memory:');
    await migrate(db);
    store = new SqlMetadataStore(db);
    mailer = new CapturingMailer();
    service = new TokenRevocation({ store, notifier: new Notifier(mailer, silent, 'https://registry.test'), clock: () => NOW, log: silent });
  });

  const user = (): Promise<UserRecord> => {
    const name = `user${++seq}`;
    return store.insertUser({ name, email: `${name}@example.com`, passwordHash: 'h', isAdmin: false, createdAt: NOW, updatedAt: NOW });
  };
  async function userToken(u: UserRecord, over: { expiresAt?: number | null; name?: string | null } = {}): Promise<{ raw: string; id: string }> {
    const raw = generateToken();
    const id = randomUUID();
    await store.insertToken({ id, userId: u.id, tokenHash: hashToken(raw), displayPrefix: displayPrefix(raw), kind: 'api', name: over.name === undefined ? 'ci deploy' : over.name, readonly: false,
      cidrWhitelist: null, createdAt: NOW - DAY, expiresAt: over.expiresAt === undefined ? NOW + DAY : over.expiresAt, lastUsedAt: null, lastUsedIp: null, bypass2fa: false, scope: null });
    return { raw, id };
  }
  const finding = (token: string, url: string | null = 'https://example.test/repo/blob/main/.npmrc'): ScannerFinding => ({ token, type: 'attestry_token', url, source: 'content' });
  const events = async (u: UserRecord) => (await store.listUserEvents(u.id, 50)).filter((e) => e.type === SCANNER_EVENT);

  it('revokes a valid user token, audits it for the owner (never the token) and mails the owner', async () => {
    const alice = await user();
    const { raw, id } = await userToken(alice);
    const { verdicts, notified } = await service.revokeReported([finding(raw)], 'scanner-1');
    assert.deepEqual(verdicts, [{ token: raw, type: 'attestry_token', label: 'true_positive' }]);
    assert.equal(await store.findTokenByHash(hashToken(raw)), undefined, 'the token is gone');
    const [event, ...more] = await events(alice);
    assert.equal(more.length, 0);
    assert.deepEqual([event?.actorId, event?.subjectId], [null, alice.id], "the scanner acted; alice is whom it concerns");
    assert.deepEqual(event?.data, { tokenId: id, kind: 'api', reporter: 'scanner-1', url: 'https://example.test/repo/blob/main/.npmrc' });
    assert.ok(!JSON.stringify(event).includes(raw), 'the event never carries the token');
    await notified;
    assert.equal(mailer.sent.length, 1);
    const [mail] = mailer.sent as [MailMessage];
    assert.equal(mail.to, alice.email);
    assert.equal(mail.template, 'token-leaked-revoked');
    assert.ok(mail.text.includes('"ci deploy"') && mail.text.includes('example.test/repo/blob/main/.npmrc'), mail.text);
    assert.ok(!mail.text.includes(raw) && !(mail.html ?? '').includes(raw), 'the mail never carries the token');
  });

  it('answers false_positive for unknown and malformed tokens, and touches nothing', async () => {
    const alice = await user();
    const kept = await userToken(alice);
    const unknown = generateToken();
    const typo = `${kept.raw.slice(0, -1)}${kept.raw.endsWith('A') ? 'B' : 'A'}`;
    const reported = [unknown, typo, 'atr_short', 'ghp_0123456789', kept.raw.toLowerCase(), ` ${kept.raw}`];
    const { verdicts, notified } = await service.revokeReported(reported.map((t) => finding(t)), 'scanner-1');
    assert.deepEqual(verdicts.map((v) => v.label), reported.map(() => 'false_positive'));
    assert.deepEqual(verdicts.map((v) => v.token), reported, 'echoes each reported value');
    assert.ok(await store.findTokenByHash(hashToken(kept.raw)), 'the real token still exists');
    assert.deepEqual(await events(alice), []);
    await notified;
    assert.deepEqual(mailer.sent, []);
  });

  it('answers each of a mixed report in order; a token reported twice is true_positive both times and revoked once', async () => {
    const alice = await user();
    const bob = await user();
    const a = await userToken(alice);
    const b = await userToken(bob, { name: null });
    const { verdicts, notified } = await service.revokeReported([finding(a.raw), finding(generateToken()), finding(b.raw, null), finding(a.raw)], 'scanner-1');
    assert.deepEqual(verdicts.map((v) => v.label), ['true_positive', 'false_positive', 'true_positive', 'true_positive']);
    assert.equal((await events(alice)).length, 1);
    assert.equal((await events(bob)).length, 1);
    await notified;
    assert.deepEqual(mailer.sent.map((m) => m.to).sort(), [alice.email, bob.email].sort());
    assert.ok(mailer.sent.find((m) => m.to === bob.email)?.text.includes('without a name'));
  });

  it('deletes an expired token it is told about but reports it as not valid', async () => {
    const alice = await user();
    const old = await userToken(alice, { expiresAt: NOW - 1 });
    const { verdicts } = await service.revokeReported([finding(old.raw)], 'scanner-1');
    assert.equal(verdicts[0]?.label, 'false_positive');
    assert.equal(await store.findTokenByHash(hashToken(old.raw)), undefined);
  });

  it('revokes a trusted-publishing token and notifies whoever added the trusted publisher', async () => {
    const alice = await user();
    const publisher = await store.findOrInsertTrustedPublisher({ provider: 'github', issuer: 'https://issuer.test', policy: '{}', createdAt: NOW });
    const linkId = randomUUID();
    await store.insertPackagePublisher({ id: linkId, publisherId: publisher.id, ecosystem: 'npm', packageName: '@acme/widget', permissions: ['publish'], createdBy: alice.id, createdAt: NOW });
    const raw = generateToken();
    const tokenId = randomUUID();
    await store.insertPublisherToken({ id: tokenId, tokenHash: hashToken(raw), linkId, publisherId: publisher.id, ecosystem: 'npm', packageName: '@acme/widget',
      permissions: ['publish'], reference: 'refs/heads/main', identity: null, createdAt: NOW, expiresAt: NOW + 15 * 60_000 });
    const { verdicts, notified } = await service.revokeReported([finding(raw)], 'scanner-1');
    assert.equal(verdicts[0]?.label, 'true_positive');
    assert.equal(await store.findPublisherTokenByHash(hashToken(raw)), undefined);
    const [event] = await events(alice);
    assert.equal(event?.packageName, '@acme/widget');
    assert.deepEqual(event?.data, { tokenId, kind: 'trusted-publisher', reporter: 'scanner-1', url: 'https://example.test/repo/blob/main/.npmrc' });
    await notified;
    assert.equal(mailer.sent.length, 1);
    assert.ok(mailer.sent[0]?.text.includes('"@acme/widget"'));
    // Reported again: it is gone now.
    assert.equal((await service.revokeReported([finding(raw)], 'scanner-1')).verdicts[0]?.label, 'false_positive');
  });
});
