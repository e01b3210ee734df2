import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, DEFAULT_LIMITS, DEFAULT_UNPUBLISH, loadConfig } from '../../src/config/config.ts';
import type { Config } from '../../src/config/config.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'attestry-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** Writes `content` (JSON-encoded unless already a string) to a fresh temp file and returns its path. */
function configFile(content: unknown): string {
  const file = path.join(dir, `config-${++files}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const withFile = (content: unknown, env: NodeJS.ProcessEnv = {}): Config => loadConfig({ ...env, ATTESTRY_CONFIG: configFile(content) });

/** Asserts loadConfig fails with a ConfigError whose message mentions every one of `mentions`. */
function refuses(env: NodeJS.ProcessEnv, ...mentions: string[]): void {
  assert.throws(() => loadConfig(env), (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.equal(e.name, 'ConfigError');
    for (const m of mentions) assert.ok(e.message.includes(m), `message ${JSON.stringify(e.message)} should mention ${m}`);
    return true;
  });
}
const refusesFile = (content: unknown, ...mentions: string[]): void => {
  const file = configFile(content);
  refuses({ ATTESTRY_CONFIG: file }, file, ...mentions);
};

const REPORTER_PEM = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();

const DEFAULTS: Config = {
  host: '127.0.0.1',
  port: 4873,
  dataDir: path.resolve('data'),
  publicUrl: undefined,
  databaseUrl: undefined,
  mailOutbox: undefined,
  registrationOpen: true,
  logLevel: 'info',
  unpublish: { windowHours: 72, allowAfterWindowWithoutDependents: true },
  trustedPublishing: { issuers: [] },
  provenance: { publicGoodRoot: true, trustedRoots: [], sourceCheckIntervalHours: 24, sourceChecker: 'none', maxChangeWindowDays: 30 },
  signing: { keyFile: undefined },
  transparency: { keyFile: undefined, checkpointIntervalSeconds: 5, public: true },
  security: { requireVerifiedEmail: true, requireMfaForMaintainers: true, cliSessionHours: 2, webSessionIdleMinutes: 120, webSessionMaxHours: 12, writeTokenDefaultDays: 7, writeTokenMaxDays: 90, leakedPasswordRangeUrl: undefined, leakedPasswordRangeDir: undefined, criticalTopPercent: 1, criticalMinDownloads: 1000, dnsServers: undefined, secretScanningReporters: [] },
  mail: { smtpUrl: undefined, from: undefined },
  limits: {
    maxBodyBytes: 120 * 1024 * 1024,
    maxTarballBytes: 64 * 1024 * 1024,
    maxUnpackedBytes: 256 * 1024 * 1024,
    maxTarballEntries: 20_000,
    maxManifestBytes: 1024 * 1024,
  },
  fsyncBlobs: true,
};

// ---------- refusals ----------

describe('loadConfig: environment refusals', () => {
  it('refuses an invalid port', () => {
    for (const v of ['abc', '', '-1', '1.5', '0x50', ' 80', '80 ', '1e3']) refuses({ ATTESTRY_PORT: v }, 'ATTESTRY_PORT');
  });

  it('refuses a port above 65535', () => {
    for (const v of ['65536', '70000', '99999999999']) refuses({ ATTESTRY_PORT: v }, 'ATTESTRY_PORT');
  });

  it('refuses malformed booleans', () => {
    for (const v of ['yes', 'no', 'TRUE', 'False', '', '2', 'on']) {
      refuses({ ATTESTRY_REGISTRATION_OPEN: v }, 'ATTESTRY_REGISTRATION_OPEN');
      refuses({ ATTESTRY_FSYNC_BLOBS: v }, 'ATTESTRY_FSYNC_BLOBS');
    }
  });

  it('refuses an unknown log level', () => {
    for (const v of ['verbose', 'INFO', 'trace', '']) refuses({ ATTESTRY_LOG_LEVEL: v }, 'ATTESTRY_LOG_LEVEL');
  });

  it('refuses security switches that are not true or false', () => {
    for (const v of ['yes', 'on', '']) refuses({ ATTESTRY_REQUIRE_MFA: v }, 'ATTESTRY_REQUIRE_MFA');
    for (const v of ['no', '2']) refuses({ ATTESTRY_REQUIRE_VERIFIED_EMAIL: v }, 'ATTESTRY_REQUIRE_VERIFIED_EMAIL');
    refuses({ ATTESTRY_SMTP_URL: 'http://mail.example' }, 'smtp');
  });

  it('refuses ATTESTRY_DNS_SERVERS entries that are not IP literals with an optional port, naming the entry', () => {
    for (const [v, index] of [
      ['dns.example', 0], ['localhost:53', 0], ['192.0.2.53,', 1], [',192.0.2.53', 0], ['192.0.2.53,,192.0.2.54', 1], ['192.0.2.53 192.0.2.54', 0],
      ['192.0.2.256', 0], ['192.0.2', 0], ['192.0.2.53:0', 0], ['192.0.2.53:65536', 0], ['192.0.2.53:', 0], ['192.0.2.53:dns', 0], ['192.0.2.53:-1', 0],
      ['192.0.2.53:123456', 0], ['[192.0.2.53]:53', 0], ['[192.0.2.53]', 0], ['2001:db8::53]:53', 0], ['[2001:db8::53:53', 0], ['[2001:db8::zz]:53', 0],
      ['[2001:db8::53]:', 0], ['[2001:db8::53]:0', 0], ['192.0.2.53:53,dns.example', 1], ['udp://192.0.2.53', 0], ['192.0.2.53/24', 0],
    ] as const) {
      refuses({ ATTESTRY_DNS_SERVERS: v }, 'ATTESTRY_DNS_SERVERS', `[${index}]`);
    }
  });

  it('refuses an empty host or data directory', () => {
    refuses({ ATTESTRY_HOST: '' }, 'ATTESTRY_HOST');
    refuses({ ATTESTRY_DATA_DIR: '' }, 'ATTESTRY_DATA_DIR');
  });

  it('refuses a public URL that is not http(s), or has a query or fragment', () => {
    for (const v of ['', 'not a url', 'registry.example.com', 'ftp://registry.example.com', 'file:///srv/registry', 'javascript:alert(1)',
      'https://r.example/?a=1', 'https://r.example/path?x', 'https://r.example/#top', 'https://r.example/p#f']) {
      refuses({ ATTESTRY_PUBLIC_URL: v }, 'ATTESTRY_PUBLIC_URL');
    }
  });

  it('refuses a public URL with an empty query or fragment', () => {
    for (const v of ['http://r.example/?', 'http://r.example/#', 'http://r.example/prefix?']) refuses({ ATTESTRY_PUBLIC_URL: v }, 'ATTESTRY_PUBLIC_URL');
  });
});

describe('loadConfig: config file refusals', () => {
  it('refuses an unknown top-level key, naming it', () => {
    refusesFile({ prot: 8080 }, 'prot');
    refusesFile({ host: '0.0.0.0', databaseURL: 'postgres://x' }, 'databaseURL');
    refusesFile({ toString: 'x' }, 'toString');
    refusesFile({ ATTESTRY_PORT: 1 }, 'ATTESTRY_PORT');
  });

  it('refuses an unknown key under unpublish or limits, naming it', () => {
    refusesFile({ unpublish: { windowHour: 24 } }, 'windowHour');
    refusesFile({ unpublish: { windowHours: 24, allowAfterWindow: true } }, 'allowAfterWindow');
    refusesFile({ limits: { maxBodySize: 1 } }, 'maxBodySize');
    refusesFile({ limits: { maxTarballBytes: 1, port: 2 } }, 'port');
  });

  it('refuses inherited property names as nested keys', () => {
    refusesFile({ limits: { constructor: 5 } }, 'constructor');
    refusesFile({ unpublish: { toString: 1 } }, 'toString');
    refusesFile({ limits: { hasOwnProperty: 0 } }, 'hasOwnProperty');
  });

  it('refuses a wrong type, naming the key', () => {
    refusesFile({ port: 'eighty' }, 'port');
    refusesFile({ port: -1 }, 'port');
    refusesFile({ port: 80.5 }, 'port');
    refusesFile({ port: true }, 'port');
    refusesFile({ host: 5 }, 'host');
    refusesFile({ host: '' }, 'host');
    refusesFile({ dataDir: ['data'] }, 'dataDir');
    refusesFile({ registrationOpen: 'yes' }, 'registrationOpen');
    refusesFile({ registrationOpen: 1 }, 'registrationOpen');
    refusesFile({ fsyncBlobs: null }, 'fsyncBlobs');
    refusesFile({ logLevel: 'verbose' }, 'logLevel');
    refusesFile({ publicUrl: 42 }, 'publicUrl');
    refusesFile({ publicUrl: 'ftp://r.example' }, 'publicUrl');
    refusesFile({ databaseUrl: 5 }, 'databaseUrl');
    refusesFile({ mailOutbox: false }, 'mailOutbox');
    refusesFile({ security: { cliSessionHours: '2 hours' } }, 'cliSessionHours');
  });

  it('refuses unpublish or limits that are not objects, or hold values of the wrong type', () => {
    for (const v of [5, 'x', null, [], true]) {
      refusesFile({ unpublish: v }, 'unpublish');
      refusesFile({ limits: v }, 'limits');
    }
    refusesFile({ unpublish: { windowHours: -1 } }, 'windowHours');
    refusesFile({ unpublish: { windowHours: 1.5 } }, 'windowHours');
    refusesFile({ unpublish: { windowHours: true } }, 'windowHours');
    refusesFile({ unpublish: { allowAfterWindowWithoutDependents: 'maybe' } }, 'allowAfterWindowWithoutDependents');
    refusesFile({ unpublish: { allowAfterWindowWithoutDependents: 1 } }, 'allowAfterWindowWithoutDependents');
    refusesFile({ limits: { maxBodyBytes: -1 } }, 'maxBodyBytes');
    refusesFile({ limits: { maxTarballEntries: '1k' } }, 'maxTarballEntries');
    refusesFile({ limits: { maxManifestBytes: { n: 1 } } }, 'maxManifestBytes');
  });

  it('refuses malformed trustedPublishing issuers, naming the key', () => {
    refusesFile({ trustedPublishing: [] }, 'trustedPublishing', 'object');
    refusesFile({ trustedPublishing: { issuer: [] } }, 'unknown key "issuer"');
    refusesFile({ trustedPublishing: { issuers: {} } }, 'issuers', 'list');
    refusesFile({ trustedPublishing: { issuers: [{ provider: 'github' }] } }, 'issuers[0].issuer');
    refusesFile({ trustedPublishing: { issuers: [{ provider: 'github', issuer: 'https://x', insecure: true }] } }, 'unknown key "insecure"');
    refusesFile({ trustedPublishing: { issuers: [{ provider: 'github', issuer: 'https://x', insecureForTesting: 'yes' }] } }, 'insecureForTesting');
  });

  it('refuses malformed provenance and signing sections, naming the key', () => {
    refusesFile({ provenance: [] }, 'provenance', 'object');
    refusesFile({ provenance: { trustedRoot: 'x.json' } }, 'unknown key "trustedRoot"');
    refusesFile({ provenance: { trustedRoots: 'x.json' } }, 'trustedRoots', 'list');
    refusesFile({ provenance: { trustedRoots: [''] } }, 'trustedRoots');
    refusesFile({ provenance: { publicGoodRoot: 'no' } }, 'publicGoodRoot');
    refusesFile({ provenance: { sourceChecker: 'github-api' } }, 'sourceChecker');
    refusesFile({ provenance: { maxChangeWindowDays: 0 } }, 'maxChangeWindowDays');
    refusesFile({ signing: { keyfile: 'x' } }, 'unknown key "keyfile"');
    refusesFile({ signing: { keyFile: 3 } }, 'keyFile');
    refusesFile({ transparency: [] }, 'transparency', 'object');
    refusesFile({ transparency: { interval: 5 } }, 'unknown key "interval"');
    refusesFile({ transparency: { checkpointIntervalSeconds: 0 } }, 'checkpointIntervalSeconds');
    refusesFile({ transparency: { checkpointIntervalSeconds: 86_401 } }, 'checkpointIntervalSeconds');
    refusesFile({ transparency: { checkpointIntervalSeconds: 1.5 } }, 'checkpointIntervalSeconds');
    refusesFile({ transparency: { public: 'yes' } }, 'public');
    refusesFile({ transparency: { keyFile: 3 } }, 'keyFile');
  });

  it('resolves provenance root files and the key file against the working directory', () => {
    const cfg = loadConfig({ ATTESTRY_CONFIG: configFile({ provenance: { trustedRoots: ['roots/private.json'] }, signing: { keyFile: 'keys/ring.json' } }) });
    assert.deepEqual(cfg.provenance.trustedRoots, [path.resolve('roots/private.json')]);
    assert.equal(cfg.signing.keyFile, path.resolve('keys/ring.json'));
    assert.equal(cfg.provenance.publicGoodRoot, true);
  });

  it('reads trustedPublishing issuers', () => {
    const file = configFile({ trustedPublishing: { issuers: [{ provider: 'gitlab', issuer: 'https://gitlab.internal', default: true }] } });
    assert.deepEqual(loadConfig({ ATTESTRY_CONFIG: file }).trustedPublishing, { issuers: [{ provider: 'gitlab', issuer: 'https://gitlab.internal', insecureForTesting: false, default: true }] });
  });

  it('refuses a file that is not a JSON object', () => {
    for (const content of ['[]', '"config"', 'null', '42', 'true', '[{"port": 1}]']) refusesFile(content);
  });

  it('refuses invalid JSON', () => {
    for (const content of ['', '{', '{port: 1}', "{'port': 1}", '{"port": 1,}', '{"port": 1} trailing']) refusesFile(content);
  });

  it('refuses a file that cannot be read', () => {
    const missing = path.join(dir, 'does-not-exist.json');
    refuses({ ATTESTRY_CONFIG: missing }, missing);
    refuses({ ATTESTRY_CONFIG: dir }, dir);
  });

  it('refuses a file without read permission', { skip: process.getuid?.() === 0 ? 'root can read any file' : false }, () => {
    const file = configFile({ port: 1 });
    chmodSync(file, 0o000);
    refuses({ ATTESTRY_CONFIG: file }, file);
  });

  it('does not apply a file that fails, even partly (no partial config)', () => {
    // A good key before a bad one: the whole load fails, nothing is returned.
    refusesFile({ port: 1234, prot: 1 }, 'prot');
  });
});

// ---------- accepted configuration ----------

describe('loadConfig: defaults', () => {
  it('has documented defaults with an empty environment', () => {
    assert.deepEqual(loadConfig({}), DEFAULTS);
    assert.deepEqual(DEFAULT_LIMITS, DEFAULTS.limits);
    assert.deepEqual(DEFAULT_UNPUBLISH, DEFAULTS.unpublish);
  });

  it('returns fresh nested objects (mutating one config does not change the defaults)', () => {
    const a = loadConfig({});
    a.limits.maxBodyBytes = 1;
    a.unpublish.windowHours = 1;
    assert.deepEqual(loadConfig({}), DEFAULTS);
    assert.equal(DEFAULT_LIMITS.maxBodyBytes, DEFAULTS.limits.maxBodyBytes);
  });

  it('ignores unrelated ATTESTRY_* variables and variables of other programs', () => {
    assert.deepEqual(loadConfig({ ATTESTRY_SOMETHING: 'x', ATTESTRY_UNPUBLISH: '{"windowHours":1}', ATTESTRY_LIMITS: 'nonsense', ATTESTRY_port: '1', PORT: '1', HOST: 'x', DATABASE_URL: 'postgres://x' }), DEFAULTS);
  });

  it('an empty ATTESTRY_CONFIG means no config file', () => {
    assert.deepEqual(loadConfig({ ATTESTRY_CONFIG: '' }), DEFAULTS);
  });
});

describe('loadConfig: environment overrides', () => {
  it('ATTESTRY_HOST', () => assert.equal(loadConfig({ ATTESTRY_HOST: '0.0.0.0' }).host, '0.0.0.0'));

  it('ATTESTRY_PORT, including 0 (an ephemeral port) and 65535', () => {
    assert.equal(loadConfig({ ATTESTRY_PORT: '8080' }).port, 8080);
    assert.equal(loadConfig({ ATTESTRY_PORT: '0' }).port, 0);
    assert.equal(loadConfig({ ATTESTRY_PORT: '65535' }).port, 65535);
  });

  it('ATTESTRY_DATA_DIR, resolved to an absolute path', () => {
    assert.equal(loadConfig({ ATTESTRY_DATA_DIR: '/srv/attestry' }).dataDir, '/srv/attestry');
    assert.equal(loadConfig({ ATTESTRY_DATA_DIR: 'rel/dir' }).dataDir, path.resolve('rel/dir'));
  });

  it('ATTESTRY_PUBLIC_URL, without its trailing slash', () => {
    assert.equal(loadConfig({ ATTESTRY_PUBLIC_URL: 'https://registry.example.com' }).publicUrl, 'https://registry.example.com');
    assert.equal(loadConfig({ ATTESTRY_PUBLIC_URL: 'https://registry.example.com/' }).publicUrl, 'https://registry.example.com');
    assert.equal(loadConfig({ ATTESTRY_PUBLIC_URL: 'http://r.example:8080/npm/' }).publicUrl, 'http://r.example:8080/npm');
    assert.equal(loadConfig({ ATTESTRY_PUBLIC_URL: 'http://r.example/npm//' }).publicUrl, 'http://r.example/npm');
    assert.equal(loadConfig({ ATTESTRY_PUBLIC_URL: 'HTTPS://Registry.Example.COM/' }).publicUrl, 'https://registry.example.com');
  });

  it('ATTESTRY_DATABASE_URL (empty means unset)', () => {
    assert.equal(loadConfig({ ATTESTRY_DATABASE_URL: 'postgres://u@db/attestry' }).databaseUrl, 'postgres://u@db/attestry');
    assert.equal(loadConfig({ ATTESTRY_DATABASE_URL: '' }).databaseUrl, undefined);
  });

  it('ATTESTRY_MAIL_OUTBOX (empty means unset)', () => {
    assert.equal(loadConfig({ ATTESTRY_MAIL_OUTBOX: '/tmp/outbox' }).mailOutbox, '/tmp/outbox');
    assert.equal(loadConfig({ ATTESTRY_MAIL_OUTBOX: '' }).mailOutbox, undefined);
  });

  it('ATTESTRY_REGISTRATION_OPEN and ATTESTRY_FSYNC_BLOBS accept true/false/1/0', () => {
    for (const [v, b] of [['true', true], ['1', true], ['false', false], ['0', false]] as const) {
      assert.equal(loadConfig({ ATTESTRY_REGISTRATION_OPEN: v }).registrationOpen, b);
      assert.equal(loadConfig({ ATTESTRY_FSYNC_BLOBS: v }).fsyncBlobs, b);
    }
  });

  it('ATTESTRY_LOG_LEVEL', () => {
    for (const level of ['debug', 'info', 'warn', 'error'] as const) assert.equal(loadConfig({ ATTESTRY_LOG_LEVEL: level }).logLevel, level);
  });

  it('ATTESTRY_REQUIRE_MFA, ATTESTRY_REQUIRE_VERIFIED_EMAIL, ATTESTRY_SMTP_URL', () => {
    const cfg = loadConfig({ ATTESTRY_REQUIRE_MFA: 'false', ATTESTRY_REQUIRE_VERIFIED_EMAIL: '0', ATTESTRY_SMTP_URL: 'smtp://u:p@127.0.0.1:2525' });
    assert.equal(cfg.security.requireMfaForMaintainers, false);
    assert.equal(cfg.security.requireVerifiedEmail, false);
    assert.equal(cfg.mail.smtpUrl, 'smtp://u:p@127.0.0.1:2525');
  });

  it('refuses a malformed security or mail section', () => {
    refusesFile({ security: { requireMFA: true } }, 'unknown key "requireMFA"');
    refusesFile({ security: { cliSessionHours: 0 } }, 'cliSessionHours');
    refusesFile({ security: { writeTokenDefaultDays: 30, writeTokenMaxDays: 7 } }, 'writeTokenDefaultDays');
    refusesFile({ security: { leakedPasswordRangeUrl: 'ftp://x' } }, 'leakedPasswordRangeUrl');
    refusesFile({ security: { criticalTopPercent: 51 } }, 'criticalTopPercent');
    refusesFile({ security: { criticalTopPercent: -1 } }, 'criticalTopPercent');
    refusesFile({ security: { criticalTopPercent: 0.5 } }, 'criticalTopPercent');
    refusesFile({ security: { criticalMinDownloads: 'many' } }, 'criticalMinDownloads');
    refusesFile({ security: { dnsServer: ['192.0.2.53'] } }, 'unknown key "dnsServer"');
    for (const v of ['192.0.2.53', '192.0.2.53,192.0.2.54', 53, true, { primary: '192.0.2.53' }]) refusesFile({ security: { dnsServers: v } }, 'dnsServers', 'list');
    refusesFile({ security: { dnsServers: [] } }, 'dnsServers', 'at least one');
    for (const v of [[53], [null], [''], ['192.0.2.53', 'dns.example'], ['192.0.2.53:99999'], [' 192.0.2.53'], [['192.0.2.53']]]) refusesFile({ security: { dnsServers: v } }, 'dnsServers[');
    refusesFile({ mail: { smtp: 'smtp://x' } }, 'unknown key "smtp"');
    refusesFile({ mail: { smtpUrl: 'mail.example:25' } }, 'smtpUrl');
  });

  it('ATTESTRY_DNS_SERVERS: comma-separated IP literals, each with an optional port; empty means the system resolver', () => {
    assert.deepEqual(loadConfig({ ATTESTRY_DNS_SERVERS: '127.0.0.1:5353' }).security.dnsServers, ['127.0.0.1:5353']);
    assert.deepEqual(loadConfig({ ATTESTRY_DNS_SERVERS: '192.0.2.53, 192.0.2.54:53,2001:db8::53,[2001:db8::54],[2001:db8::55]:5353,::1' }).security.dnsServers,
      ['192.0.2.53', '192.0.2.54:53', '2001:db8::53', '[2001:db8::54]', '[2001:db8::55]:5353', '::1']);
    assert.deepEqual(loadConfig({ ATTESTRY_DNS_SERVERS: '' }), DEFAULTS);
    assert.deepEqual(loadConfig({ ATTESTRY_DNS_SERVERS: '192.0.2.53' }), { ...DEFAULTS, security: { ...DEFAULTS.security, dnsServers: ['192.0.2.53'] } }, 'only its own field');
    const file = withFile({ security: { dnsServers: ['192.0.2.1'] } }, { ATTESTRY_DNS_SERVERS: '192.0.2.2:53' });
    assert.deepEqual(file.security.dnsServers, ['192.0.2.2:53'], 'the environment wins over the file');
    assert.equal(withFile({ security: { dnsServers: ['192.0.2.1'] } }, { ATTESTRY_DNS_SERVERS: '' }).security.dnsServers, undefined, 'an empty variable clears a file value');
  });

  it('every DNS server the config accepts, node:dns accepts too', () => {
    const accepted = loadConfig({ ATTESTRY_DNS_SERVERS: '192.0.2.53,192.0.2.53:1,192.0.2.53:65535,2001:db8::53,[2001:db8::53],[2001:db8::53]:5353,::ffff:192.0.2.1' }).security.dnsServers;
    assert.equal(accepted?.length, 7);
    assert.doesNotThrow(() => new Resolver().setServers(accepted as string[]));
  });

  it('each override changes only its own field', () => {
    const cfg = loadConfig({ ATTESTRY_LOG_LEVEL: 'debug' });
    assert.deepEqual(cfg, { ...DEFAULTS, logLevel: 'debug' });
  });
});

describe('loadConfig: config file', () => {
  it('accepts every known key', () => {
    const file = {
      host: '0.0.0.0',
      port: 9000,
      dataDir: '/var/lib/attestry',
      publicUrl: 'https://npm.example.org/',
      databaseUrl: 'postgres://attestry@db/attestry',
      mailOutbox: '/var/mail/attestry',
      registrationOpen: false,
      logLevel: 'warn',
      unpublish: { windowHours: 24, allowAfterWindowWithoutDependents: false },
      limits: { maxBodyBytes: 1000, maxTarballBytes: 900, maxUnpackedBytes: 5000, maxTarballEntries: 10, maxManifestBytes: 100 },
      security: { requireVerifiedEmail: false, requireMfaForMaintainers: false, cliSessionHours: 8, webSessionIdleMinutes: 30, webSessionMaxHours: 4, writeTokenDefaultDays: 3, writeTokenMaxDays: 30, leakedPasswordRangeUrl: 'https://ranges.example.org/range', leakedPasswordRangeDir: undefined, criticalTopPercent: 5, criticalMinDownloads: 200, dnsServers: ['192.0.2.53', '[2001:db8::53]:5353'], secretScanningReporters: [{ keyId: 'reporter-1', publicKeyPem: REPORTER_PEM }] },
      mail: { smtpUrl: 'smtp://mail.example.org:587', from: 'Registry <registry@example.org>' },
      fsyncBlobs: false,
      trustedPublishing: { issuers: [{ provider: 'github', issuer: 'https://ghes.example.org/_services/token', insecureForTesting: false, default: true }] },
      provenance: { publicGoodRoot: false, trustedRoots: ['/etc/attestry/private-root.json'], sourceCheckIntervalHours: 6, sourceChecker: 'http', maxChangeWindowDays: 7 },
      signing: { keyFile: '/etc/attestry/registry-keys.json' },
      transparency: { keyFile: '/etc/attestry/log-key', checkpointIntervalSeconds: 60, public: false },
    };
    assert.deepEqual(withFile(file), { ...file, publicUrl: 'https://npm.example.org' });
  });

  it('accepts an empty object', () => {
    assert.deepEqual(withFile({}), DEFAULTS);
  });

  it('merges a partial unpublish or limits section over the defaults', () => {
    const cfg = withFile({ unpublish: { windowHours: 1 }, limits: { maxTarballEntries: 5 } });
    assert.deepEqual(cfg.unpublish, { ...DEFAULTS.unpublish, windowHours: 1 });
    assert.deepEqual(cfg.limits, { ...DEFAULTS.limits, maxTarballEntries: 5 });
  });

  it('treats null or empty optional strings as unset', () => {
    const cfg = withFile({ databaseUrl: null, mailOutbox: '' });
    assert.equal(cfg.databaseUrl, undefined);
    assert.equal(cfg.mailOutbox, undefined);
    assert.equal(withFile({ security: { dnsServers: null } }).security.dnsServers, undefined);
  });

  it('resolves a relative dataDir', () => {
    assert.equal(withFile({ dataDir: 'store' }).dataDir, path.resolve('store'));
  });

  it('is overridden by the environment', () => {
    const file = { port: 1234, host: 'file-host', registrationOpen: false, logLevel: 'error', databaseUrl: 'postgres://file', publicUrl: 'http://file.example' };
    const cfg = withFile(file, {
      ATTESTRY_PORT: '5678', ATTESTRY_HOST: 'env-host', ATTESTRY_REGISTRATION_OPEN: 'true', ATTESTRY_LOG_LEVEL: 'debug',
      ATTESTRY_DATABASE_URL: '', ATTESTRY_PUBLIC_URL: 'https://env.example/',
    });
    assert.equal(cfg.port, 5678);
    assert.equal(cfg.host, 'env-host');
    assert.equal(cfg.registrationOpen, true);
    assert.equal(cfg.logLevel, 'debug');
    assert.equal(cfg.databaseUrl, undefined, 'an empty variable clears a file value');
    assert.equal(cfg.publicUrl, 'https://env.example');
  });

  it('keeps file values the environment does not override', () => {
    const cfg = withFile({ port: 1234, security: { cliSessionHours: 3 } }, { ATTESTRY_HOST: 'h' });
    assert.equal(cfg.port, 1234);
    assert.equal(cfg.security.cliSessionHours, 3);
    assert.equal(cfg.host, 'h');
  });

  it('an invalid environment value fails even when the file is valid', () => {
    const file = configFile({ port: 1234 });
    refuses({ ATTESTRY_CONFIG: file, ATTESTRY_PORT: 'x' }, 'ATTESTRY_PORT');
  });
});

describe('loadConfig: security.secretScanningReporters', () => {
  const pem = (curve: string) => generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const p256 = pem('prime256v1');

  it('accepts a list of EC P-256 public keys; none means the endpoint is off', () => {
    assert.deepEqual(withFile({ security: { secretScanningReporters: [{ keyId: 'k1', publicKeyPem: p256 }] } }).security.secretScanningReporters, [{ keyId: 'k1', publicKeyPem: p256 }]);
    assert.deepEqual(withFile({ security: { secretScanningReporters: [] } }).security.secretScanningReporters, []);
  });

  it('refuses a key that is not a PEM EC P-256 public key, and malformed entries', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    refusesFile({ security: { secretScanningReporters: [{ keyId: 'k', publicKeyPem: rsa }] } }, 'secretScanningReporters[0].publicKeyPem', 'P-256');
    refusesFile({ security: { secretScanningReporters: [{ keyId: 'k', publicKeyPem: pem('secp384r1') }] } }, 'secretScanningReporters[0].publicKeyPem', 'P-256');
    refusesFile({ security: { secretScanningReporters: [{ keyId: 'k', publicKeyPem: 'not a key' }] } }, 'secretScanningReporters[0].publicKeyPem');
    refusesFile({ security: { secretScanningReporters: [{ keyId: 'k', publicKeyPem: p256.replace(/[A-Za-z]{8}/, 'AAAAAAAA') }] } }, 'publicKeyPem');
    refusesFile({ security: { secretScanningReporters: [{ keyId: '', publicKeyPem: p256 }] } }, 'secretScanningReporters[0].keyId');
    refusesFile({ security: { secretScanningReporters: [{ keyId: 'k'.repeat(257), publicKeyPem: p256 }] } }, 'keyId', 'at most 256');
    refusesFile({ security: { secretScanningReporters: [{ keyId: 'k', publicKeyPem: p256 }, { keyId: 'k', publicKeyPem: p256 }] } }, 'secretScanningReporters[1].keyId', 'twice');
    refusesFile({ security: { secretScanningReporters: [{ keyId: 'k', publicKeyPem: p256, current: true }] } }, 'unknown key "current"');
    refusesFile({ security: { secretScanningReporters: [{ keyId: 'k' }] } }, 'publicKeyPem');
    for (const v of [p256, { keyId: 'k', publicKeyPem: p256 }, 1]) refusesFile({ security: { secretScanningReporters: v } }, 'secretScanningReporters', 'list');
    refusesFile({ security: { secretScanningReporters: ['k'] } }, 'secretScanningReporters[0]', 'object');
  });
});
