// `attestry log verify|audit|monitor` (docs/transparency.md, "Verifying, auditing, monitoring").
// Exit codes: 0 verified (monitor: nothing new for the watched names), 1 verification failed (a
// stable code is printed), 2 usage, 3 (monitor) new entries for the watched names.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isAttestryError } from '../../core/errors.ts';
import type { LogEntry } from '../../core/transparency/entry.ts';
import { Fetcher, downloadTarball, fetchVersion, parseSpec } from '../verify-command.ts';
import { LogClient, originFor } from './client.ts';
import { checkReleaseLogged } from './release.ts';
import { replay, type ReplayedEntry } from './replay.ts';
import { defaultStateDir, logDir } from './state.ts';
import { establishKey, fetchCheckpoint, forkPrecheck, reconcile, rememberCheckpoint, type Reconciled } from './trust.ts';

export const LOG_USAGE = `attestry log verify <name>@<version> --registry <url> [--log-key <vkey>] [--state <dir>] [--wait <s>] [--token <t>] [--json]
attestry log audit --registry <url> [--log-key <vkey>] [--state <dir>] [--token <t>] [--json]
attestry log monitor --registry <url> --scope <@scope> [--package <name>]... [--state <dir>] [--token <t>] [--json]`;

type Out = (s: string) => void;

interface Common {
  registry: string;
  http: Fetcher;
  stateDir: string;
  logKey: string | undefined;
  json: boolean;
}

const failureJson = (e: unknown) => (isAttestryError(e) ? { ok: false, code: e.code, message: e.message, detail: e.detail ?? {} } : { ok: false, code: 'error', message: (e as Error).message });

function printFailure(e: unknown, c: Pick<Common, 'json'>, out: Out, err: Out): number {
  if (c.json) out(`${JSON.stringify(failureJson(e), null, 2)}\n`);
  else {
    err(`✖ ${isAttestryError(e) ? `${e.message} (${e.code})` : (e as Error).message}\n`);
    const d = isAttestryError(e) ? e.detail : undefined;
    // A fork is evidence: print both signed checkpoints so they can be shown to others.
    if (d && typeof d.saved === 'string' && typeof d.served === 'string') err(`\n--- checkpoint saved earlier ---\n${d.saved}\n--- checkpoint served now ---\n${d.served}\n`);
  }
  return 1;
}

const previousText = (p: Reconciled): string =>
  p.relation === 'first' ? 'no earlier checkpoint saved (first run)'
    : p.relation === 'same' ? `same tree as the saved checkpoint (size ${p.savedSize})`
      : p.relation === 'extends' ? `consistent with the saved checkpoint of size ${p.savedSize}`
        : 'the saved checkpoint was signed by another key: not compared';

async function logVerify(c: Common, spec: string, waitSeconds: number, out: Out, err: Out): Promise<number> {
  const { name, version } = parseSpec(spec);
  const found = await fetchVersion(c.http, { name, version });
  if ('error' in found) return printFailure(new Error(found.error), c, out, err);
  const { sha512, status } = await downloadTarball(c.http, found.dist.tarball);
  if (!sha512) return printFailure(new Error(`downloading ${found.dist.tarball} answered ${status}`), c, out, err);
  const r = await checkReleaseLogged({
    http: c.http, registry: c.registry, name, version, sha512hex: sha512.toString('hex'), stateDir: c.stateDir, waitSeconds,
    ...(typeof found.dist.logIndex === 'number' ? { logIndex: found.dist.logIndex } : {}), ...(c.logKey ? { logKey: c.logKey } : {}),
  });
  if (r.status === 'not-logged') {
    if (c.json) out(`${JSON.stringify({ ok: false, code: 'tlog_not_logged', package: name, version }, null, 2)}\n`);
    else err(`✖ ${name}@${version} has no transparency-log entry (tlog_not_logged)\n`);
    return 1;
  }
  if (c.json) {
    out(`${JSON.stringify({ ok: true, package: name, version, index: r.index, checkpointSize: r.checkpointSize, origin: r.origin, key: r.keySource, previous: r.previous, publisher: r.entry.publisher, sha512: sha512.toString('hex') }, null, 2)}\n`);
  } else {
    out([
      `✔ ${name}@${version}: the downloaded tarball (sha512 ${sha512.toString('hex').slice(0, 16)}…) is the one logged at index ${r.index}`,
      `  published by ${r.entry.publisher.kind} ${r.entry.publisher.ref} at ${new Date(r.entry.at).toISOString()}`,
      `  included in the checkpoint of size ${r.checkpointSize} signed by ${r.origin} (key ${r.keySource})`,
      `  ${previousText(r.previous)}`,
      '',
    ].join('\n'));
  }
  return 0;
}

function kindCounts(entries: readonly ReplayedEntry[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { entry } of entries) counts[entry.kind] = (counts[entry.kind] ?? 0) + 1;
  return counts;
}

async function logAudit(c: Common, out: Out): Promise<number> {
  const started = Date.now();
  const origin = originFor(c.registry);
  const client = new LogClient(c.http, join(logDir(c.stateDir, origin), 'tiles'));
  const pinned = await establishKey(client, origin, c.stateDir, c.logKey);
  const current = await fetchCheckpoint(client, pinned.key);
  forkPrecheck(pinned.state?.checkpoint, current, pinned.key);
  const replayed = await replay(client, current, 0);
  const previous = await reconcile(pinned.state?.checkpoint, current, pinned.key, replayed.reader);
  rememberCheckpoint(c.stateDir, { ...(pinned.state ?? { origin }), key: pinned.key }, current);
  const seconds = (Date.now() - started) / 1000;
  const kinds = kindCounts(replayed.entries);
  if (c.json) out(`${JSON.stringify({ ok: true, origin, size: replayed.size, kinds, tilesChecked: replayed.tilesChecked, previous, key: pinned.source, seconds }, null, 2)}\n`);
  else {
    out([
      `✔ replayed ${replayed.size} entries of ${origin}: every entry decodes, and they hash to the root of the checkpoint signed by the log key (${pinned.source})`,
      `  ${Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(', ') || 'no entries'}`,
      `  ${replayed.tilesChecked} hash tiles served match the replayed tree`,
      `  ${previousText(previous)}`,
      `  ${seconds.toFixed(1)} s (${client.stats.bundles} entry bundles, ${client.stats.tiles} tiles fetched, ${client.stats.tileCacheHits} from cache)`,
      '',
    ].join('\n'));
  }
  return 0;
}

const entryName = (e: LogEntry): string | undefined => (e.kind === 'keys.rotated' ? undefined : e.name);

export function describeEntry({ index, entry: e }: ReplayedEntry): string {
  switch (e.kind) {
    case 'release.published': return `${index} ${e.kind} ${e.name}@${e.version} by ${e.publisher.kind}:${e.publisher.ref}`;
    case 'release.unpublished': return `${index} ${e.kind} ${e.name}@${e.version}`;
    case 'release.deprecated': return `${index} ${e.kind} ${e.name}@${e.version} ${e.message === null ? '(lifted)' : JSON.stringify(e.message)}`;
    case 'owners.changed': return `${index} ${e.change} ${e.name} ${e.owner}`;
    case 'trusted-publisher.added':
    case 'trusted-publisher.removed': return `${index} ${e.kind} ${e.name} ${e.publisher.provider}:${e.publisher.ref}`;
    case 'keys.rotated': return `${index} ${e.kind} ${e.purpose} ${e.keyId}`;
  }
}

async function logMonitor(c: Common, scopes: string[], packages: string[], out: Out): Promise<number> {
  const origin = originFor(c.registry);
  const client = new LogClient(c.http, join(logDir(c.stateDir, origin), 'tiles'));
  const pinned = await establishKey(client, origin, c.stateDir, c.logKey);
  const current = await fetchCheckpoint(client, pinned.key);
  forkPrecheck(pinned.state?.checkpoint, current, pinned.key);
  forkPrecheck(pinned.state?.monitor?.checkpoint, current, pinned.key);
  const from = pinned.state?.monitor?.next ?? 0;
  const replayed = await replay(client, current, from);
  // The entries before `from` were read under the monitor's checkpoint: the new tree must contain it.
  const previous = await reconcile(pinned.state?.monitor?.checkpoint, current, pinned.key, replayed.reader);
  if (pinned.state?.checkpoint !== pinned.state?.monitor?.checkpoint) await reconcile(pinned.state?.checkpoint, current, pinned.key, replayed.reader);
  const watched = (e: LogEntry) => {
    const name = entryName(e);
    return name !== undefined && (packages.includes(name) || scopes.some((s) => name.startsWith(`${s}/`)));
  };
  const hits = replayed.entries.filter((r) => watched(r.entry));
  rememberCheckpoint(c.stateDir, { ...(pinned.state ?? { origin }), key: pinned.key }, current, { monitor: { next: replayed.size, checkpoint: current.note } });
  if (c.json) out(`${JSON.stringify({ ok: true, origin, from, size: replayed.size, previous, entries: hits.map((h) => ({ index: h.index, ...h.entry })) }, null, 2)}\n`);
  else {
    for (const h of hits) out(`${describeEntry(h)}\n`);
    out(`# ${hits.length} new entr${hits.length === 1 ? 'y' : 'ies'} for the watched names in log entries ${from}..${replayed.size - 1 < from ? from : replayed.size - 1} (verified against the checkpoint of size ${replayed.size}; ${previousText(previous)})\n`);
  }
  return hits.length > 0 ? 3 : 0;
}

export async function runLogCommand(args: string[], out: Out = (s) => process.stdout.write(s), err: Out = (s) => process.stderr.write(s)): Promise<number> {
  const [sub, ...rest] = args;
  let values: { registry?: string; 'log-key'?: string; state?: string; wait?: string; token?: string; json?: boolean; scope?: string[]; package?: string[] };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: {
      registry: { type: 'string' }, 'log-key': { type: 'string' }, state: { type: 'string' }, wait: { type: 'string' }, token: { type: 'string' },
      json: { type: 'boolean' }, scope: { type: 'string', multiple: true }, package: { type: 'string', multiple: true },
    } }));
  } catch (e) {
    err(`attestry log: ${(e as Error).message}\nusage:\n${LOG_USAGE}\n`);
    return 2;
  }
  const registry = values.registry ?? process.env.ATTESTRY_REGISTRY;
  const wait = values.wait === undefined ? 15 : Number(values.wait);
  const scopes = values.scope ?? [];
  const usage = !registry || !Number.isFinite(wait) || wait < 0
    || (sub === 'verify' && positionals.length !== 1)
    || (sub === 'audit' && positionals.length !== 0)
    || (sub === 'monitor' && (positionals.length !== 0 || (scopes.length === 0 && (values.package ?? []).length === 0) || scopes.some((s) => !/^@[^/@\s]+$/.test(s))))
    || !['verify', 'audit', 'monitor'].includes(sub ?? '');
  if (usage || !registry) {
    err(`usage:\n${LOG_USAGE}\n`);
    return 2;
  }
  const c: Common = { registry, http: new Fetcher(registry, values.token), stateDir: values.state ?? defaultStateDir(), logKey: values['log-key'], json: values.json === true };
  try {
    if (sub === 'verify') return await logVerify(c, positionals[0] as string, wait, out, err);
    if (sub === 'audit') return await logAudit(c, out);
    return await logMonitor(c, scopes, values.package ?? [], out);
  } catch (e) {
    return printFailure(e, c, out, err);
  }
}
