// The audit pages of a long history, over plain HTTP with a session cookie: an org's log and an
// account's security history show a page of events and link to the older ones, and following the
// links reads every event once, newest first.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, type TestUser } from '../support/accounts.ts';
import { publishBody, putPublish, request } from '../support/publish-body.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { WebClient } from '../support/web-client.ts';

/** Every event row of a page, and the address of the older page (null on the last). */
const rowsOf = (html: string, table: string): string[] => {
  const body = new RegExp(`<table id="${table}">[\\s\\S]*?<tbody>([\\s\\S]*?)</tbody>`).exec(html)?.[1] ?? '';
  return [...body.matchAll(/<tr data-event="([^"]+)"><td><time datetime="([^"]+)"/g)].map((m) => `${m[1]} ${m[2]}`);
};
const olderOf = (html: string): string | null => /<a href="([^"]+)" id="older-events"/.exec(html)?.[1]?.replaceAll('&amp;', '&') ?? null;

describe('audit pages are paged', { timeout: 120_000 }, () => {
  let registry: TestRegistry;
  let dora: TestUser;
  let web: WebClient;

  before(async () => {
    registry = await startRegistry();
    dora = await createUser(registry.url, 'dora');
    assert.equal((await request('POST', `${registry.url}/-/org`, dora.token, { name: 'pages' })).status, 201);
    web = new WebClient(registry.url);
    await web.get('/-/web/login');
    assert.equal((await web.post('/-/web/login', { name: 'dora', password: dora.password })).status, 303);
  });
  after(async () => registry?.destroy());

  /** Follows the older-events links from `path`, checking each page's size; returns every row. */
  async function readAll(path: string, table: string): Promise<string[][]> {
    const pages: string[][] = [];
    let next: string | null = path;
    while (next !== null) {
      const page = await web.get(next);
      assert.equal(page.status, 200, page.html.slice(0, 300));
      pages.push(rowsOf(page.html, table));
      if (pages.length > 1) assert.match(page.html, /id="newest-events"/);
      next = olderOf(page.html);
      assert.ok(pages.length < 10, 'the pages end');
    }
    return pages;
  }

  it('the org log: 100 events to a page, then the older ones, each once', async () => {
    for (let i = 0; i < 104; i++) {
      const r = await request('PUT', `${registry.url}/-/org/pages/team`, dora.token, { name: `team${String(i).padStart(3, '0')}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const pages = await readAll('/-/web/org/pages/audit', 'org-audit');
    assert.deepEqual(pages.map((p) => p.length), [100, 5], 'org.created and 104 team.created');
    const all = pages.flat();
    assert.equal(new Set(all).size, all.length, 'no event twice');
    assert.match(all.at(-1) ?? '', /^org\.created /);
    const times = all.map((r) => Date.parse(r.split(' ')[1] ?? ''));
    assert.ok(times.every((t, i) => i === 0 || (times[i - 1] as number) >= t), 'newest first');
    const bad = await web.get('/-/web/org/pages/audit?before=yesterday');
    assert.deepEqual([bad.status, bad.code], [400, 'BAD_CURSOR']);
  });

  it('the security history: the same, with what is not about the account left out', async () => {
    // Each login is an event of the history (account.created came first).
    for (let i = 0; i < 102; i++) {
      const r = await request('PUT', `${registry.url}/-/user/org.couchdb.user:dora`, null, { _id: 'org.couchdb.user:dora', name: 'dora', password: dora.password, type: 'user', roles: [], date: new Date().toISOString() });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const pages = await readAll('/-/web/account/security', 'security-history');
    const all = pages.flat();
    assert.equal(pages[0]?.length, 100);
    assert.equal(new Set(all).size, all.length, 'no event twice');
    // Creating teams is the org's business, not a change to how this account is protected.
    assert.ok(all.every((r) => !r.startsWith('team.created ')), 'team events are the org page\'s');
    assert.equal(all.filter((r) => r.startsWith('org.created ')).length, 1, 'creating the org is');
    assert.ok(all.filter((r) => r.startsWith('account.login ')).length >= 103, 'every sign-in is there');
    assert.match(all.at(-1) ?? '', /^account\.created /);
  });

  it('the security history fills its page past windows of events it does not show (publishes)', async () => {
    // 520 publishes: more than one window of 500 events that the history leaves out.
    for (let i = 0; i < 520; i++) {
      const r = await putPublish(registry.url, dora.token, publishBody({ name: 'dora-widget', version: `1.0.${i}`, registry: registry.url }));
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const signIn = await request('PUT', `${registry.url}/-/user/org.couchdb.user:dora`, null, { _id: 'org.couchdb.user:dora', name: 'dora', password: dora.password, type: 'user', roles: [], date: new Date().toISOString() });
    assert.equal(signIn.status, 201);
    const first = await web.get('/-/web/account/security');
    const rows = rowsOf(first.html, 'security-history');
    assert.equal(rows.length, 100, 'a full page, not only what the newest window held');
    assert.match(rows[0] ?? '', /^account\.login /);
    assert.ok(rows.every((r) => !r.startsWith('release.')), 'publishes are not shown');
    assert.notEqual(olderOf(first.html), null);
  });
});
