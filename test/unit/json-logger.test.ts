import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redactPath } from '../../src/http/server.ts';
import { createJsonLogger } from '../../src/observability/json-logger.ts';
import { generateToken } from '../../src/security/tokens/token-format.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';
type Json = Record<string, unknown>;

function capture(level: Level) {
  const writes: string[] = [];
  const log = createJsonLogger(level, (line) => writes.push(line));
  const records = (): Json[] => writes.map((w) => JSON.parse(w) as Json);
  return { log, writes, records };
}

/** Logs `fields` once and returns the record as written. */
function logged(fields: Json): Json {
  const { log, records } = capture('debug');
  log.info('m', fields);
  const [record] = records();
  assert.ok(record);
  return record;
}

const SECRET = generateToken();

// ---------- refusals: what must never reach the log ----------

describe('json logger: redaction', () => {
  it('redacts password-like keys', () => {
    for (const key of ['password', 'Password', 'PASSWORD', 'newPassword', 'password_confirm', 'passwd', 'pass', 'passphrase']) {
      const r = logged({ [key]: SECRET });
      assert.equal(r[key], '[redacted]', key);
      assert.ok(!JSON.stringify(r).includes(SECRET), key);
    }
  });

  it('redacts token-like keys', () => {
    for (const key of ['token', 'Token', 'authToken', 'npmToken', '_authToken', 'accessToken', 'sessionToken', 'token_value', 'tokenValue']) {
      assert.equal(logged({ [key]: SECRET })[key], '[redacted]', key);
    }
  });

  it('redacts authorization, cookie, otp and secret keys', () => {
    for (const key of ['authorization', 'Authorization', 'proxy-authorization', 'cookie', 'Cookie', 'set-cookie', 'otp', 'npm-otp', 'otpCode', 'secret', 'clientSecret', 'doneSecret']) {
      assert.equal(logged({ [key]: SECRET })[key], '[redacted]', key);
    }
  });

  it('redacts secrets whatever their position among other fields', () => {
    const r = logged({ user: 'alice', password: 'hunter22', package: 'pkg', authorization: `Bearer ${SECRET}` });
    assert.deepEqual({ ...r, time: undefined }, { time: undefined, level: 'info', msg: 'm', user: 'alice', password: '[redacted]', package: 'pkg', authorization: '[redacted]' });
    assert.ok(!JSON.stringify(r).includes('hunter22'));
  });

  it('redacts secret keys whose value is not a string', () => {
    for (const value of [[`session=${SECRET}`], { value: SECRET }, Buffer.from(SECRET)]) {
      for (const key of ['set-cookie', 'token', 'password']) {
        const r = logged({ [key]: value });
        assert.equal(r[key], '[redacted]', `${key}: ${JSON.stringify(r)}`);
      }
    }
  });

  it('redacts secret keys nested in objects', () => {
    const line = JSON.stringify(logged({ headers: { authorization: `Bearer ${SECRET}`, cookie: `s=${SECRET}` } }));
    assert.ok(!line.includes(SECRET), line);
  });

  it('keeps tokenId and token_id, which identify a token without being one', () => {
    const r = logged({ tokenId: 'tok_123', token_id: 'tok_456' });
    assert.equal(r.tokenId, 'tok_123');
    assert.equal(r.token_id, 'tok_456');
  });

  it('keeps ordinary fields and non-secret values untouched', () => {
    const fields = { user: 'alice', package: '@s/n', version: '1.0.0', status: 200, ms: 1.5, ok: true, nothing: null, list: [1, 2], nested: { a: 1 } };
    const r = logged(fields);
    for (const [k, v] of Object.entries(fields)) assert.deepEqual(r[k], v, k);
  });

  it('does not change the caller\'s fields object', () => {
    const fields = { password: 'hunter22' };
    logged(fields);
    assert.deepEqual(fields, { password: 'hunter22' });
  });
});

// ---------- levels and format ----------

describe('json logger: levels', () => {
  const all = (log: ReturnType<typeof createJsonLogger>) => {
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
  };
  const cases: [Level, string[]][] = [
    ['debug', ['debug', 'info', 'warn', 'error']],
    ['info', ['info', 'warn', 'error']],
    ['warn', ['warn', 'error']],
    ['error', ['error']],
  ];
  for (const [level, expected] of cases) {
    it(`at ${level}, writes ${expected.join(', ')}`, () => {
      const { log, records } = capture(level);
      all(log);
      assert.deepEqual(records().map((r) => r.level), expected);
      assert.deepEqual(records().map((r) => r.msg), expected.map((l) => l[0]));
    });
  }

  it('drops a filtered-out record before reading its fields', () => {
    const { log, writes } = capture('error');
    log.info('x', { get password(): string { throw new Error('read'); } });
    assert.equal(writes.length, 0);
  });
});

describe('json logger: format', () => {
  it('writes one JSON object per line, each ending in a single newline', () => {
    const { log, writes } = capture('debug');
    log.info('first', { a: 1 });
    log.warn('second\nwith a newline', { text: 'line1\nline2\r\nline3\u2028' });
    log.error('third');
    assert.equal(writes.length, 3);
    for (const w of writes) {
      assert.ok(w.endsWith('\n'));
      assert.equal(w.indexOf('\n'), w.length - 1, 'no newline inside a record');
      assert.ok(!w.slice(0, -1).includes('\r'));
      const r = JSON.parse(w) as Json;
      assert.equal(typeof r, 'object');
      assert.ok(!Array.isArray(r));
    }
    assert.equal((JSON.parse(writes[1] as string) as Json).msg, 'second\nwith a newline');
  });

  it('has time, level and msg, then the fields', () => {
    const before = Date.now();
    const r = logged({ user: 'alice' });
    assert.deepEqual(Object.keys(r), ['time', 'level', 'msg', 'user']);
    assert.match(r.time as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    assert.ok(Date.parse(r.time as string) >= before - 1);
    assert.equal(r.level, 'info');
    assert.equal(r.msg, 'm');
  });

  it('writes a record without fields', () => {
    const { log, records } = capture('info');
    log.info('bare');
    assert.deepEqual(Object.keys(records()[0] ?? {}), ['time', 'level', 'msg']);
  });
});

// ---------- redactPath ----------

describe('redactPath: secret path segments', () => {
  it('hides the web-login done secret', () => {
    assert.equal(redactPath(`/-/v1/done/${SECRET}`), '/-/v1/done/[redacted]');
    assert.equal(redactPath('/-/v1/done/abc123'), '/-/v1/done/[redacted]');
  });

  it('hides the token of npm logout', () => {
    assert.equal(redactPath(`/-/user/token/${SECRET}`), '/-/user/token/[redacted]');
    assert.equal(redactPath(`/-/user/token/${encodeURIComponent(SECRET)}`), '/-/user/token/[redacted]');
  });

  it('hides the token id of npm token revoke', () => {
    assert.equal(redactPath('/-/npm/v1/tokens/token/5f0c1d2e-aaaa-bbbb-cccc-1234567890ab'), '/-/npm/v1/tokens/token/[redacted]');
  });

  it('hides the web-login session id', () => {
    assert.equal(redactPath('/-/web/login/0123456789abcdef'), '/-/web/login/[redacted]');
  });

  it('never lets the secret through, whatever follows it', () => {
    for (const p of [`/-/v1/done/${SECRET}?x=1`, `/-/user/token/${SECRET}/extra`, `/-/web/login/${SECRET}/`]) {
      assert.ok(!redactPath(p).includes(SECRET), p);
    }
  });

  it('hides the secret of an over-long path too', () => {
    const p = `/-/user/token/${'a'.repeat(500)}`;
    assert.equal(redactPath(p), '/-/user/token/[redacted]');
  });
});

describe('redactPath: other paths', () => {
  it('leaves ordinary paths alone', () => {
    for (const p of ['/', '/pkg', '/@s%2fn', '/@s/n/-/n-1.0.0.tgz', '/-/v1/login', '/-/whoami', '/-/npm/v1/tokens', '/-/v1/search', '/-/user/org.couchdb.user:alice', '/-/v1/done', '/-/v1/done/']) {
      assert.equal(redactPath(p), p);
    }
  });

  it('only redacts the secret routes at the start of the path', () => {
    assert.equal(redactPath('/pkg/-/v1/done/x'), '/pkg/-/v1/done/x');
  });

  it('truncates paths longer than 300 characters', () => {
    const p = `/${'a'.repeat(1000)}`;
    const r = redactPath(p);
    assert.equal(r, `${p.slice(0, 300)}…`);
    assert.equal(redactPath(`/${'a'.repeat(299)}`), `/${'a'.repeat(299)}`);
  });
});
