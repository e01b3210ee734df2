// Secret-scanning revocation over real HTTP against a real registry process: a reporter (a key
// pair made here, configured in security.secretScanningReporters) posts a signed report in the
// secret-scanning partner program's format; valid tokens are revoked and their owners mailed,
// unknown ones reported as false positives, and an unsigned or wrongly signed report changes nothing.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createUser, type TestUser } from '../support/accounts.ts';
import { readOutbox, waitForMail } from '../support/mail.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { generateToken } from '../../src/security/tokens/token-format.ts';

const PATH = '/-/npm/v1/secret-scanning/revoke';
const KEY_ID = 'test-reporter-1';
const FOUND_AT = 'https://example.test/octo/leaky/blob/0123abc/.npmrc';

function keyPair(): { privateKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

async function report(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}${PATH}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: await res.json().catch(() => null) };
}

const signed = (body: string, key: KeyObject, keyId = KEY_ID): Record<string, string> => ({
  'Github-Public-Key-Identifier': keyId,
  'Github-Public-Key-Signature': sign('sha256', Buffer.from(body), { key, dsaEncoding: 'der' }).toString('base64'),
});

const whoami = async (url: string, token: string): Promise<number> => (await fetch(`${url}/-/whoami`, { headers: { authorization: `Bearer ${token}` } })).status;

async function apiToken(url: string, user: TestUser): Promise<string> {
  const res = await fetch(`${url}/-/npm/v1/tokens`, {
    method: 'POST', headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ password: user.password, name: 'ci deploy', readonly: false }),
  });
  const body = (await res.json()) as { token?: string };
  assert.equal(res.status, 201, JSON.stringify(body));
  return body.token ?? assert.fail('no token');
}

describe('secret-scanning revocation (e2e)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attestry-scan-'));
  const outbox = path.join(dir, 'outbox');
  const reporter = keyPair();
  let registry: TestRegistry;

  before(async () => {
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ security: { secretScanningReporters: [{ keyId: KEY_ID, publicKeyPem: reporter.pem }] } }));
    registry = await startRegistry({ env: { ATTESTRY_CONFIG: config, ATTESTRY_MAIL_OUTBOX: outbox } });
  });
  after(async () => {
    await registry?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a signed report revokes the valid token, reports the unknown one, and the owner is mailed', async () => {
    const alice = await createUser(registry.url, 'scan-alice');
    const token = await apiToken(registry.url, alice);
    assert.equal(await whoami(registry.url, token), 200);
    const unknown = generateToken();
    const body = JSON.stringify([
      { token, type: 'attestry_token', url: FOUND_AT, source: 'content' },
      { token: unknown, type: 'attestry_token', url: FOUND_AT, source: 'content' },
    ]);
    const res = await report(registry.url, body, signed(body, reporter.privateKey));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, [
      { token_raw: token, token_type: 'attestry_token', label: 'true_positive' },
      { token_raw: unknown, token_type: 'attestry_token', label: 'false_positive' },
    ]);
    assert.equal(await whoami(registry.url, token), 401, 'the revoked token no longer works');
    assert.equal(await whoami(registry.url, alice.token), 200, 'the other tokens of the account still work');
    const mail = await waitForMail(outbox, (m) => m.template === 'token-leaked-revoked' && m.to === alice.email);
    assert.ok(mail.text.includes('"ci deploy"') && mail.text.includes('example.test/octo/leaky/blob/0123abc/.npmrc'), mail.text);
    assert.ok(!mail.text.includes(token), 'the mail does not carry the token');
    assert.ok(!registry.logs.some((l) => l.includes(token)), 'the logs do not carry the token');
    // The owner's audit log (JSON) shows the revocation, without the token.
    const audit = await fetch(`${registry.url}/-/npm/v1/user/audit`, { headers: { authorization: `Bearer ${alice.token}` } });
    assert.equal(audit.status, 200);
    const text = await audit.text();
    const events = (JSON.parse(text) as { objects: Array<{ type: string; at: string }> }).objects;
    assert.equal(events[0]?.type, 'token.revoked-by-scanner');
    assert.ok(events.some((e) => e.type === 'token.created'));
    assert.ok(!text.includes(token));
    assert.equal((await fetch(`${registry.url}/-/npm/v1/user/audit`)).status, 401, 'only for the account itself');
  });

  it('a report with a bad signature is refused and revokes nothing', async () => {
    const bob = await createUser(registry.url, 'scan-bob');
    const token = await apiToken(registry.url, bob);
    const body = JSON.stringify([{ token, type: 'attestry_token', url: FOUND_AT, source: 'content' }]);
    const stranger = keyPair();
    const tampered = JSON.stringify([{ token, type: 'attestry_token', url: `${FOUND_AT}#x`, source: 'content' }]);
    for (const headers of [signed(body, stranger.privateKey), signed(tampered, reporter.privateKey), { 'Github-Public-Key-Identifier': KEY_ID }]) {
      const res = await report(registry.url, body, headers);
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.equal((res.body as { code?: string }).code, 'SCANNER_SIGNATURE_INVALID');
    }
    for (const headers of [signed(body, reporter.privateKey, 'test-reporter-2'), { 'Github-Public-Key-Signature': signed(body, reporter.privateKey)['Github-Public-Key-Signature'] as string }]) {
      const res = await report(registry.url, body, headers);
      assert.equal(res.status, 401);
      assert.equal((res.body as { code?: string }).code, 'SCANNER_KEY_UNKNOWN');
    }
    assert.equal(await whoami(registry.url, token), 200, 'the token still works');
    assert.ok(!readOutbox(outbox).some((m) => m.template === 'token-leaked-revoked' && m.to === bob.email));
  });

  it('a correctly signed but malformed report is a 400', async () => {
    for (const body of ['{"token":"x"}', '[]', 'not json', JSON.stringify([{ token: 'a'.repeat(201) }])]) {
      const res = await report(registry.url, body, signed(body, reporter.privateKey));
      assert.equal(res.status, 400, body);
      assert.equal((res.body as { code?: string }).code, 'SCANNER_REPORT_INVALID');
    }
  });
});

describe('secret-scanning revocation without configured reporters (e2e)', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.destroy();
  });

  it('the endpoint does not exist', async () => {
    const alice = await createUser(registry.url, 'scan-carol');
    const body = JSON.stringify([{ token: alice.token, type: 'attestry_token', url: FOUND_AT }]);
    const res = await report(registry.url, body, signed(body, keyPair().privateKey));
    assert.equal(res.status, 404);
    assert.equal(await whoami(registry.url, alice.token), 200);
  });
});
