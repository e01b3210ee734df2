// Administrative commands and the transparency log: `attestry keys rotate` is itself an entry of
// the log (issue 7: "rotation is itself logged"), and `attestry log checkpoint` signs a
// checkpoint on demand, against a running registry's own data directory and database.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createUser, type TestUser } from '../support/accounts.ts';
import { NODE, ROOT } from '../support/paths.ts';
import { storesUnderTest } from '../support/postgres.ts';
import { publishBody, putPublish, request } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { openCheckpoint } from '../../src/security/transparency/checkpoint.ts';

function cli(registry: TestRegistry, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [path.join(ROOT, 'src/cli/main.ts'), ...args], { env: { ...process.env, ...registry.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) => resolve({ code: code ?? 1, out, err }));
  });
}

for (const store of storesUnderTest()) {
  describe(`transparency log administration (${store})`, { timeout: 120_000 }, () => {
    let registry: TestRegistry;
    let alice: TestUser;

    before(async () => {
      // A long interval: only the start-up checkpoint and the ones asked for exist.
      const config = path.join(mkdtempSync(path.join(os.tmpdir(), 'attestry-tlog-admin-')), 'config.json');
      writeFileSync(config, JSON.stringify({ transparency: { checkpointIntervalSeconds: 86_400 } }));
      registry = await startRegistry({ store, env: { ATTESTRY_CONFIG: config } });
      alice = await createUser(registry.url, 'alice');
    });
    after(async () => registry?.destroy());

    it('attestry log checkpoint signs the current size on demand, with the log key the registry serves', async () => {
      const res = await putPublish(registry.url, alice.token, publishBody({ name: 'left-pad', version: '1.0.0' }));
      assert.equal(res.status, 201);
      const r = await cli(registry, ['log', 'checkpoint']);
      assert.equal(r.code, 0, r.err);
      const key = (await (await fetch(`${registry.url}/-/tlog/key`)).text()).trim();
      const opened = openCheckpoint(r.out, { logKey: key });
      assert.equal(opened.checkpoint.size, 1);
      assert.equal(await (await fetch(`${registry.url}/-/tlog/checkpoint`)).text(), r.out, 'the registry now serves it');
    });

    it('attestry keys rotate appends a keys.rotated entry naming the new and the previous signing key', async () => {
      const before = JSON.parse((await cli(registry, ['keys', 'list', '--json'])).out) as { keys: Array<{ keyid: string }> };
      const r = await cli(registry, ['keys', 'rotate']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /recorded in the transparency log/);
      const after = JSON.parse((await cli(registry, ['keys', 'list', '--json'])).out) as { keys: Array<{ keyid: string; expires: string | null }> };
      const active = after.keys.find((k) => k.expires === null)?.keyid;
      const changes = await request('GET', `${registry.url}/-/changes?since=0`, null);
      const rotated = (changes.body.results as Array<{ index: number; entry: Record<string, unknown> }>).find((e) => e.entry.kind === 'keys.rotated');
      assert.ok(rotated, JSON.stringify(changes.body));
      assert.deepEqual([rotated.entry.purpose, rotated.entry.keyId, rotated.entry.previousKeyId], ['signing', active, before.keys[0]?.keyid]);
      const checkpoint = await cli(registry, ['log', 'checkpoint']);
      assert.equal(openCheckpoint(checkpoint.out, { logKey: (await (await fetch(`${registry.url}/-/tlog/key`)).text()).trim() }).checkpoint.size, 2);
    });
    it('attestry keys rotate-log: logged, the old key cosigns, a client that pinned it follows; an unvouched key change is refused', async () => {
      const state = mkdtempSync(path.join(os.tmpdir(), 'attestry-tlog-state-'));
      const audit = () => cli(registry, ['log', 'audit', '--registry', registry.url, '--state', state, '--json']);
      const first = await audit();
      assert.equal(first.code, 0, first.out + first.err);
      const oldKey = (await (await fetch(`${registry.url}/-/tlog/key`)).text()).trim();
      const r = await cli(registry, ['keys', 'rotate-log']);
      assert.equal(r.code, 0, r.err);
      // Servers read the key at start: restart on the same address (the client's state is per address).
      await registry.stop();
      registry = await registry.restart({ ...registry.env, ATTESTRY_PORT: new URL(registry.url).port });
      const newKey = (await (await fetch(`${registry.url}/-/tlog/key`)).text()).trim();
      assert.notEqual(newKey, oldKey);
      assert.equal(newKey.split('+')[0], oldKey.split('+')[0], 'the same origin');
      const note = await (await fetch(`${registry.url}/-/tlog/checkpoint`)).text();
      const size = openCheckpoint(note, { logKey: oldKey }).checkpoint.size;
      assert.equal(openCheckpoint(note, { logKey: newKey }).checkpoint.size, size, 'signed by both keys');
      const changes = await request('GET', `${registry.url}/-/changes?since=0`, null);
      const rotation = (changes.body.results as Array<{ entry: Record<string, unknown> }>).find((e) => e.entry.kind === 'keys.rotated' && e.entry.purpose === 'log');
      assert.deepEqual(rotation && [rotation.entry.keyId, rotation.entry.previousKeyId], [newKey.split('+')[1], oldKey.split('+')[1]]);
      const followed = await audit();
      assert.equal(followed.code, 0, followed.out + followed.err);
      assert.equal(JSON.parse(followed.out).key, 'rotated');
      assert.equal(JSON.parse((await audit()).out).key, 'pinned', 'the new key is pinned now');
      // A key the pinned one never vouched for (the file replaced by hand) is refused.
      await registry.stop();
      rmSync(path.join(registry.dataDir, 'keys', 'log-key'));
      registry = await registry.restart({ ...registry.env, ATTESTRY_PORT: new URL(registry.url).port });
      const refused = await audit();
      assert.equal(refused.code, 1);
      assert.equal(JSON.parse(refused.out).code, 'tlog_key_changed');
    });
  });
}
