// `attestry log verify|audit|monitor` and the log line of `attestry verify`, against an in-test
// registry serving a log built with the pure modules (test/support/fake-tlog.ts), so a test can
// play a dishonest registry: every tamper (an edited, dropped or reordered entry, a changed tile,
// two views of the log) must be caught with its own code.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { encodeEntry, decodeEntry, ownersChanged } from '../../src/core/transparency/entry.ts';
import { runLogCommand } from '../../src/cli/log/log-command.ts';
import { runVerifyCommand } from '../../src/cli/verify-command.ts';
import { FakeLog, freshSigner } from '../support/fake-tlog.ts';
import { NODE, ROOT } from '../support/paths.ts';
import { writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { createUser, type TestUser } from '../support/accounts.ts';
import { publishBody, putPublish } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'attestry-tlog-cli-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Run { code: number; out: string; err: string; json: Record<string, unknown> }
async function log(args: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runLogCommand(args, (s) => (out += s), (s) => (err += s));
  let json: Record<string, unknown> = {};
  if (args.includes('--json')) json = JSON.parse(out) as Record<string, unknown>;
  return { code, out, err, json };
}

describe('attestry log (against an in-test log server)', () => {
  let fake: FakeLog;
  let state: string;
  const verify = (spec: string, ...extra: string[]) => log(['verify', spec, '--registry', fake.url, '--state', state, '--wait', '0', '--json', ...extra]);
  const audit = (...extra: string[]) => log(['audit', '--registry', fake.url, '--state', state, '--json', ...extra]);

  beforeEach(async () => {
    fake = await new FakeLog().start();
    state = tmp();
    for (let i = 0; i < 300; i++) fake.publish(`pkg-${i % 7}`, `1.0.${i}`);
    fake.publish('@acme/widget', '1.0.0');
    fake.append(ownersChanged({ ecosystem: 'npm', name: '@acme/widget', at: 1_780_000_000_000, change: 'owner.added', owner: 'bob' }));
    fake.publish('left-pad', '1.3.0');
  });
  afterEach(() => fake.close());

  it('log verify: the downloaded tarball is included under the signed checkpoint; a second run extends the saved one', async () => {
    const first = await verify('left-pad@1.3.0');
    assert.equal(first.code, 0, first.out);
    assert.equal(first.json.index, fake.indexOf.get('left-pad@1.3.0'));
    assert.equal(first.json.checkpointSize, 303);
    assert.deepEqual(first.json.previous, { relation: 'first' });
    assert.equal(first.json.key, 'first-use');
    fake.publish('left-pad', '1.3.1');
    const second = await verify('left-pad@1.3.1');
    assert.equal(second.code, 0, second.out);
    assert.deepEqual(second.json.previous, { relation: 'extends', savedSize: 303 });
    assert.equal(second.json.key, 'pinned');
  });

  it('log verify refuses: not logged, another tarball than the logged one, a changed key, a checkpoint that never covers the entry', async () => {
    fake.tarballs.set('unlogged@1.0.0', Buffer.from('x'));
    assert.equal((await verify('unlogged@1.0.0')).json.code, 'tlog_not_logged');
    fake.tarballs.set('left-pad@1.3.0', Buffer.from('a different tarball'));
    assert.equal((await verify('left-pad@1.3.0')).json.code, 'tlog_digest_mismatch');
    assert.equal((await verify('pkg-1@1.0.1')).code, 0);
    fake.signerKey = freshSigner(fake.origin);
    fake.verifierKey = (await import('../../src/security/transparency/signed-note.ts')).verifierKeyFrom(fake.signerKey);
    const changed = await verify('pkg-1@1.0.1');
    assert.equal(changed.code, 1);
    assert.equal(changed.json.code, 'tlog_key_changed');
    // Given explicitly, the new key is accepted (a deliberate rotation) — but the checkpoint saved
    // under the old key cannot be compared.
    assert.equal((await verify('pkg-1@1.0.1', '--log-key', fake.verifierKey)).json.previous !== undefined, true);
    fake.publish('late', '1.0.0');
    fake.signedSize = fake.tree.size - 1;
    assert.equal((await verify('late@1.0.0', '--log-key', fake.verifierKey)).json.code, 'tlog_checkpoint_too_old');
  });

  it('a checkpoint signed by another key is refused with the signed-note code', async () => {
    const other = freshSigner(fake.origin);
    fake.tamper.checkpoint = (_n, _note) => fake.checkpointFor(fake.tree.size, other);
    const r = await verify('left-pad@1.3.0');
    assert.equal(r.code, 1);
    assert.match(String(r.json.code), /^(note_|checkpoint_)/);
  });

  it('audit replays the whole log, checks every tile, saves the checkpoint and finds it again on the next run', async () => {
    const r = await audit();
    assert.equal(r.code, 0, r.err);
    assert.equal(r.json.size, 303);
    assert.deepEqual(r.json.kinds, { 'release.published': 302, 'owners.changed': 1 });
    assert.equal(r.json.tilesChecked, 3); // two level-0 tiles (one full, one partial) and one level-1 tile
    for (let i = 0; i < 300; i++) fake.publish('more', `2.0.${i}`);
    const again = await audit();
    assert.equal(again.code, 0, again.err);
    assert.deepEqual(again.json.previous, { relation: 'extends', savedSize: 303 });
    const human = await log(['audit', '--registry', fake.url, '--state', state]);
    assert.equal(human.code, 0);
    assert.match(human.out, /replayed 603 entries/);
  });

  it('tamper: an edited entry in a bundle (audit: tlog_entry_tampered)', async () => {
    fake.tamper.bundle = (index, entries) => entries.map((e, k) => {
      if (index !== 0 || k !== 5) return e;
      const entry = decodeEntry(e);
      return encodeEntry({ ...entry, at: entry.at + 1 });
    });
    const r = await audit();
    assert.equal(r.json.code, 'tlog_entry_tampered');
    assert.deepEqual(r.json.detail, { index: 5 });
  });

  it('tamper: a dropped entry (audit: tlog_bundle_malformed)', async () => {
    fake.tamper.bundle = (index, entries) => (index === 1 ? entries.filter((_e, k) => k !== 10) : entries);
    assert.equal((await audit()).json.code, 'tlog_bundle_malformed');
  });

  it('tamper: two entries swapped (audit: tlog_entries_reordered)', async () => {
    fake.tamper.bundle = (index, entries) => {
      if (index !== 0) return entries;
      const copy = [...entries];
      [copy[3], copy[4]] = [copy[4] as Uint8Array, copy[3] as Uint8Array];
      return copy;
    };
    const r = await audit();
    assert.equal(r.json.code, 'tlog_entries_reordered');
    assert.deepEqual(r.json.detail, { indexes: [3, 4] });
  });

  it('tamper: a tile with one hash changed (verify: tlog_inclusion_failed, audit: tlog_tile_mismatch)', async () => {
    const index = fake.indexOf.get('left-pad@1.3.0') as number; // 302: in the partial level-0 tile 1
    fake.tamper.tile = (level, n, data) => {
      if (level !== 0 || n !== 1) return data;
      const copy = Buffer.from(data);
      const at = (index - 256 - 1) * 32; // the leaf's sibling
      copy[at] = (copy[at] as number) ^ 1;
      return copy;
    };
    assert.equal((await verify('left-pad@1.3.0')).json.code, 'tlog_inclusion_failed');
    const r = await audit();
    assert.equal(r.json.code, 'tlog_tile_mismatch');
    assert.deepEqual(r.json.detail, { path: 'tile/0/001.p/47' });
  });

  it('split view, same size: checkpoint A to the first run, B to the second (tlog_fork, both notes printed)', async () => {
    const honest = fake.checkpointFor(fake.tree.size);
    const forked = new FakeLog();
    Object.assign(forked, { origin: fake.origin });
    for (const e of fake.entries.slice(0, -1)) forked.append(e);
    forked.publish('left-pad', '1.3.0', 'mallory', Buffer.from('evil'));
    const b = forked.checkpointFor(forked.tree.size, fake.signerKey);
    fake.tamper.checkpoint = (n) => (n === 0 ? honest : b);
    assert.equal((await verify('pkg-2@1.0.2')).code, 0);
    const second = await log(['verify', 'pkg-2@1.0.2', '--registry', fake.url, '--state', state, '--wait', '0']);
    assert.equal(second.code, 1);
    assert.match(second.err, /tlog_fork/);
    assert.ok(second.err.includes(honest) && second.err.includes(b), 'both signed checkpoints are printed as evidence');
    const audited = await audit();
    assert.equal(audited.json.code, 'tlog_fork');
  });

  it('split view, larger and inconsistent: history rewritten after a client saved a checkpoint (tlog_inconsistent)', async () => {
    assert.equal((await audit()).code, 0);
    const auditorState = state;
    state = tmp();
    assert.equal((await verify('pkg-3@1.0.3')).code, 0);
    fake.rewrite(290);
    for (let i = 0; i < 20; i++) fake.publish('rewritten', `9.0.${i}`);
    fake.publish('pkg-3', '1.0.3', 'mallory'); // same tarball, logged again at another index
    assert.equal((await verify('pkg-3@1.0.3')).json.code, 'tlog_inconsistent');
    state = auditorState;
    const r = await audit();
    assert.equal(r.json.code, 'tlog_inconsistent');
    assert.equal((r.json.detail as Record<string, unknown>).savedSize, 303);
  });

  it('a checkpoint older than the saved one is refused (tlog_checkpoint_rollback)', async () => {
    assert.equal((await audit()).code, 0);
    fake.signedSize = 100;
    assert.equal((await audit()).json.code, 'tlog_checkpoint_rollback');
  });

  it('monitor: new entries for the watched names since the last run, exit 3 when there are some', async () => {
    const monitor = (...extra: string[]) => log(['monitor', '--registry', fake.url, '--state', state, '--scope', '@acme', '--package', 'left-pad', ...extra]);
    const first = await monitor();
    assert.equal(first.code, 3, first.err);
    assert.deepEqual(first.out.trim().split('\n').slice(0, -1), ['300 release.published @acme/widget@1.0.0 by user:alice', '301 owner.added @acme/widget bob', '302 release.published left-pad@1.3.0 by user:alice']);
    const quiet = await monitor();
    assert.equal(quiet.code, 0, quiet.err);
    fake.publish('unrelated', '1.0.0');
    assert.equal((await monitor()).code, 0);
    fake.publish('@acme/widget', '6.6.6', 'mallory');
    const alert = await monitor('--json');
    assert.equal(alert.code, 3);
    assert.equal(alert.json.from, 304);
    assert.deepEqual((alert.json.entries as Array<Record<string, unknown>>).map((e) => [e.index, e.name, e.version, (e.publisher as Record<string, string>).ref]), [[304, '@acme/widget', '6.6.6', 'mallory']]);
    // A rewrite of what the monitor already read is a fork, even though it only reads new entries.
    fake.rewrite(301);
    for (let i = 0; i < 10; i++) fake.publish('filler', `1.0.${i}`);
    assert.equal((await monitor('--json')).json.code, 'tlog_inconsistent');
  });

  it('usage errors exit 2', async () => {
    assert.equal((await log(['monitor', '--registry', fake.url])).code, 2);
    assert.equal((await log(['monitor', '--registry', fake.url, '--scope', 'acme'])).code, 2);
    assert.equal((await log(['verify', '--registry', fake.url])).code, 2);
    assert.equal((await log(['frobnicate', '--registry', fake.url])).code, 2);
  });

  it('attestry verify reports the log line; an unlogged version is "not logged" unless --require-log', async () => {
    let out = '';
    const code = await runVerifyCommand(['left-pad@1.3.0', '--registry', fake.url, '--json', '--state', state, '--wait', '0'], (s) => (out += s), () => {});
    const report = JSON.parse(out) as { checks: Array<{ name: string; ok: boolean; warning?: boolean; detail: string }> };
    assert.equal(code, 1); // the fake serves no signatures or provenance
    const line = report.checks.find((c) => c.name === 'transparency-log');
    assert.ok(line?.ok, JSON.stringify(report.checks));
    assert.match(line.detail, /entry 302 included in checkpoint of size 303/);
    fake.tarballs.set('unlogged@1.0.0', Buffer.from('x'));
    for (const [flags, ok] of [[[], true], [['--require-log'], false]] as const) {
      out = '';
      await runVerifyCommand(['unlogged@1.0.0', '--registry', fake.url, '--json', '--wait', '0', ...flags], (s) => (out += s), () => {});
      const c = (JSON.parse(out) as typeof report).checks.find((x) => x.name === 'transparency-log');
      assert.equal(c?.ok, ok);
      assert.match(c.detail, /not logged/);
    }
    fake.tarballs.set('left-pad@1.3.0', Buffer.from('swapped tarball'));
    out = '';
    await runVerifyCommand(['left-pad@1.3.0', '--registry', fake.url, '--json', '--wait', '0'], (s) => (out += s), () => {});
    assert.match((JSON.parse(out) as typeof report).checks.find((x) => x.name === 'transparency-log')?.detail ?? '', /tlog_digest_mismatch/);
  });

  it('the real command line: `attestry log audit` exits 0, then a fork exits 1 with its code', async () => {
    const run = (args: string[]) => new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(NODE, [path.join(ROOT, 'src/cli/main.ts'), 'log', ...args], { env: { ...process.env, ATTESTRY_LOG_STATE: state } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    const ok = await run(['audit', '--registry', fake.url]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /replayed 303 entries/);
    fake.rewrite(250);
    fake.publish('evil', '1.0.0');
    const forked = await run(['audit', '--registry', fake.url]);
    assert.equal(forked.status, 1);
    assert.match(forked.stderr, /tlog_(fork|inconsistent|checkpoint_rollback)/);
  });
});

describe('attestry log against the real registry', () => {
  let registry: TestRegistry;
  let alice: TestUser;
  let state: string;
  const publish = async (name: string, version: string, access: 'public' | 'restricted' = 'public') => {
    const res = await putPublish(registry.url, alice.token, publishBody({ name, version, access }));
    assert.equal(res.status, 201, JSON.stringify(res.body));
  };

  beforeEach(async () => {
    const config = path.join(tmp(), 'config.json');
    writeFileSync(config, JSON.stringify({ transparency: { checkpointIntervalSeconds: 1 } }));
    registry = await startRegistry({ env: { ATTESTRY_CONFIG: config } });
    alice = await createUser(registry.url, 'alice');
    state = tmp();
  });
  afterEach(() => registry?.destroy());

  it('a producer verifies right after publishing (waits for the checkpoint); audit and monitor agree', async () => {
    await publish('@alice/lib', '1.0.0');
    await publish('left-pad', '1.0.0');
    const verified = await log(['verify', 'left-pad@1.0.0', '--registry', registry.url, '--state', state, '--json']);
    assert.equal(verified.code, 0, JSON.stringify(verified.json));
    assert.equal(verified.json.index, 1);
    await publish('@alice/lib', '1.1.0', 'restricted');
    const auditRun = await log(['audit', '--registry', registry.url, '--state', state, '--json']);
    assert.equal(auditRun.code, 0, JSON.stringify(auditRun.json));
    assert.ok((auditRun.json.size as number) >= 2);
    const monitorRun = await log(['monitor', '--registry', registry.url, '--state', state, '--scope', '@alice', '--json']);
    assert.equal(monitorRun.code, 3, JSON.stringify(monitorRun.json));
    assert.deepEqual((monitorRun.json.entries as Array<{ name: string; version: string }>).map((e) => `${e.name}@${e.version}`).slice(0, 1), ['@alice/lib@1.0.0']);
    let out = '';
    await runVerifyCommand(['left-pad@1.0.0', '--registry', registry.url, '--json', '--state', state], (s) => (out += s), () => {});
    const line = (JSON.parse(out) as { checks: Array<{ name: string; ok: boolean; detail: string }> }).checks.find((c) => c.name === 'transparency-log');
    assert.ok(line?.ok, out);
    assert.match(line.detail, /entry 1 included/);
  });
  /** Stops the registry, changes its SQLite database as an attacker with disk access would, and starts it again. */
  const tamperWith = async (sql: string[]): Promise<void> => {
    await registry.stop();
    const db = new DatabaseSync(path.join(registry.dataDir, 'attestry.db'));
    try {
      for (const statement of sql) db.exec(statement);
    } finally {
      db.close();
    }
    // The same address: the client's saved state belongs to the log at this URL.
    registry = await registry.restart({ ...registry.env, ATTESTRY_PORT: new URL(registry.url).port });
  };
  /** Waits for the registry's timer to sign a checkpoint of `size` (the interval is 1 s here). */
  const checkpointOf = async (size: number): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      const text = await (await fetch(`${registry.url}/-/tlog/checkpoint`)).text();
      if (text.split('\n')[1] === String(size)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`no checkpoint of size ${size}`);
  };
  const auditReal = async () => log(['audit', '--registry', registry.url, '--state', state, '--json']);

  it('tamper on the server: an entry edited in the database is caught by audit (the tiles still commit to the original)', async () => {
    await publish('left-pad', '1.0.0');
    await publish('left-pad', '1.1.0');
    await checkpointOf(2);
    assert.equal((await auditReal()).code, 0);
    // Claim another digest for 1.0.0: the entry bytes change, its stored leaf hash does not.
    await tamperWith([`UPDATE tlog_entries SET entry = CAST(replace(CAST(entry AS TEXT), '"version":"1.0.0"', '"version":"1.0.9"') AS BLOB) WHERE idx = 0`]);
    const r = await auditReal();
    assert.equal(r.code, 1);
    assert.equal(r.json.code, 'tlog_entry_tampered', JSON.stringify(r.json));
  });

  it('tamper on the server: two entries swapped, and history rewritten under a saved checkpoint, are each caught', async () => {
    await publish('left-pad', '1.0.0');
    await publish('left-pad', '1.1.0');
    await publish('left-pad', '1.2.0');
    await checkpointOf(3);
    assert.equal((await auditReal()).code, 0);
    await tamperWith([
      'UPDATE tlog_entries SET idx = -1 WHERE idx = 0', 'UPDATE tlog_entries SET idx = 0 WHERE idx = 1', 'UPDATE tlog_entries SET idx = 1 WHERE idx = -1',
    ]);
    const swapped = await auditReal();
    assert.equal(swapped.code, 1, JSON.stringify(swapped.json));
    assert.ok(['tlog_entries_reordered', 'tlog_entry_tampered'].includes(swapped.json.code as string), JSON.stringify(swapped.json));
    // Put them back, then rewrite history: drop the log and append other entries of the same size.
    await tamperWith([
      'UPDATE tlog_entries SET idx = -1 WHERE idx = 0', 'UPDATE tlog_entries SET idx = 0 WHERE idx = 1', 'UPDATE tlog_entries SET idx = 1 WHERE idx = -1',
      'DELETE FROM tlog_entries', 'DELETE FROM tlog_hashes', 'DELETE FROM tlog_checkpoints', 'UPDATE tlog_state SET size = 0', 'UPDATE releases SET log_index = NULL',
    ]);
    for (const v of ['2.0.0', '2.1.0', '2.2.0']) await publish('left-pad', v);
    await checkpointOf(3);
    const rewritten = await auditReal();
    assert.equal(rewritten.code, 1, JSON.stringify(rewritten.json));
    assert.ok(['tlog_fork', 'tlog_inconsistent'].includes(rewritten.json.code as string), JSON.stringify(rewritten.json));
  });
});
