// `node bench/hidden-timing.ts`: does response time tell a restricted package (asked by an outsider)
// from a name that does not exist? Interleaved GETs of the document, one version, the tarball and
// the access status for each, 3,000 of each after a warm-up; prints medians and their difference
// per route, then the same for two missing names (the noise floor).
import { createUser } from '../test/support/accounts.ts';
import { publishBody, putPublish, request } from '../test/support/publish-body.ts';
import { startRegistry } from '../test/support/registry.ts';
const registry = await startRegistry();
const owner = await createUser(registry.url, 'owner');
const outsider = await createUser(registry.url, 'outsider');
await request('POST', `${registry.url}/-/org`, owner.token, { name: 'acme' });
const r = await putPublish(registry.url, owner.token, publishBody({ name: '@acme/secret', version: '1.0.0', access: 'restricted', registry: registry.url }));
if (r.status !== 201) throw new Error(JSON.stringify(r.body));
const time = async (path: string) => { const t = process.hrtime.bigint(); const res = await fetch(`${registry.url}${path}`, { headers: { authorization: `Bearer ${outsider.token}` } }); await res.arrayBuffer(); if (res.status !== 404) throw new Error(String(res.status)); return Number(process.hrtime.bigint() - t) / 1e6; };
const med = (x: number[]) => { const s = [...x].sort((p, q) => p - q); return s[Math.floor(s.length / 2)] as number; };
const routes: Array<[string, string, string]> = [
  ['document', '/@acme%2fsecret', '/@acme%2fnothing'],
  ['version', '/@acme%2fsecret/1.0.0', '/@acme%2fnothing/1.0.0'],
  ['tarball', '/@acme/secret/-/secret-1.0.0.tgz', '/@acme/nothing/-/nothing-1.0.0.tgz'],
  ['access', '/-/package/@acme%2fsecret/visibility', '/-/package/@acme%2fnothing/visibility'],
];
// Two missing names against each other: the spread a difference must exceed to mean anything.
const control = routes.map(([label, , absent]) => [`${label}*`, absent, absent.replaceAll('nothing', 'nowhere')] as [string, string, string]);
for (const [label, hidden, absent] of [...routes, ...control]) {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < 300; i++) { await time(hidden); await time(absent); }
  for (let i = 0; i < 3000; i++) { a.push(await time(hidden)); b.push(await time(absent)); }
  console.log(`${label.padEnd(9)} ${label.endsWith('*') ? 'absent  ' : 'restricted'} ${med(a).toFixed(3)} ms | absent ${med(b).toFixed(3)} ms | difference ${(med(a) - med(b)).toFixed(3)} ms`);
}
console.log('(* control: two missing names; its difference is the noise floor)');
await registry.destroy();
