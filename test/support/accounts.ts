// Accounts for tests, created through the front door (the legacy adduser endpoint npm uses).
import assert from 'node:assert/strict';

export interface TestUser {
  name: string;
  password: string;
  email: string;
  token: string;
}

export async function createUser(registry: string, name: string, password = `pw-${name}-secret`): Promise<TestUser> {
  const email = `${name}@example.com`;
  const res = await fetch(`${registry}/-/user/org.couchdb.user:${encodeURIComponent(name)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password, email, type: 'user', roles: [], date: new Date().toISOString() }),
  });
  const body = (await res.json()) as { token?: string };
  assert.equal(res.status, 201, `creating ${name}: ${JSON.stringify(body)}`);
  assert.ok(body.token);
  return { name, password, email, token: body.token };
}

/** Plays the browser in a web login: fills in and submits the page the CLI printed. */
export async function completeWebLogin(loginUrl: string, fields: Record<string, string>): Promise<void> {
  const page = await fetch(loginUrl);
  assert.equal(page.status, 200, `login page: ${page.status}`);
  const html = await page.text();
  assert.match(html, /<form method="post"/);
  const res = await fetch(loginUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });
  const text = await res.text();
  assert.equal(res.status, 200, `login form: ${text.slice(0, 500)}`);
  assert.match(text, /You are logged in/);
}
