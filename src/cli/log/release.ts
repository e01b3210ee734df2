// The log check for one downloaded version (`attestry log verify`, and a line of `attestry
// verify`): the version's release.published entry names this tarball's sha512, and a checkpoint
// signed by the pinned log key includes that entry — the inclusion proof is computed here from hash
// tiles, never taken from the server — and extends the checkpoint this client saved last time.
import { join } from 'node:path';
import { decodeEntry, type ReleasePublished } from '../../core/transparency/entry.ts';
import { inclusionProofFromReader, leafHash, verifyInclusion } from '../../security/transparency/merkle.ts';
import { TileHashReader, TILE_WIDTH } from '../../security/transparency/tiles.ts';
import type { Fetcher } from '../verify-command.ts';
import { LogClient, logFailure, originFor } from './client.ts';
import { logDir } from './state.ts';
import { establishKey, fetchCheckpoint, forkPrecheck, reconcile, rememberCheckpoint, type PinnedKey, type Reconciled } from './trust.ts';

export interface ReleaseLogOptions {
  http: Fetcher;
  registry: string;
  ecosystem?: string;
  name: string;
  version: string;
  /** Lowercase hex SHA-512 of the downloaded tarball. */
  sha512hex: string;
  /** dist.logIndex from the version document, when it has one. */
  logIndex?: number;
  stateDir?: string;
  logKey?: string;
  waitSeconds?: number;
}

export type ReleaseLogResult =
  | { status: 'not-logged' }
  | { status: 'verified'; index: number; checkpointSize: number; origin: string; keySource: PinnedKey['source']; previous: Reconciled; entry: ReleasePublished };

export async function checkReleaseLogged(o: ReleaseLogOptions): Promise<ReleaseLogResult> {
  const origin = originFor(o.registry);
  const client = new LogClient(o.http, o.stateDir ? join(logDir(o.stateDir, origin), 'tiles') : undefined);
  const ecosystem = o.ecosystem ?? 'npm';
  // A registry without a log answers 404 here too: the version is "not logged".
  let found: { index: number; entry?: Buffer } | undefined = await client.lookup(ecosystem, o.name, o.version);
  if (found && o.logIndex !== undefined && found.index !== o.logIndex) {
    throw logFailure('tlog_index_mismatch', `the version document says log index ${o.logIndex}, the log's lookup says ${found.index}`, { document: o.logIndex, lookup: found.index });
  }
  if (!found && o.logIndex !== undefined) found = { index: o.logIndex };
  if (!found) return { status: 'not-logged' };
  const index = found.index;

  const pinned = await establishKey(client, origin, o.stateDir, o.logKey);
  const current = await fetchCheckpoint(client, pinned.key, index + 1, o.waitSeconds ?? 15);
  forkPrecheck(pinned.state?.checkpoint, current, pinned.key);
  const { size, rootHash } = current.opened.checkpoint;
  const bytes = found.entry ?? (await client.entryBundle({ index: Math.floor(index / TILE_WIDTH), width: Math.min(TILE_WIDTH, size - Math.floor(index / TILE_WIDTH) * TILE_WIDTH) }))[index % TILE_WIDTH];
  if (!bytes) throw logFailure('tlog_entry_missing', `the log has no entry ${index}`);

  const entry = decodeEntry(bytes);
  if (entry.kind !== 'release.published' || entry.ecosystem !== ecosystem || entry.name !== o.name || entry.version !== o.version) {
    throw logFailure('tlog_entry_mismatch', `log entry ${index} is not the publication of ${o.name}@${o.version}`, { index, kind: entry.kind });
  }
  if (!entry.artifacts.some((a) => a.sha512 === o.sha512hex)) {
    throw logFailure('tlog_digest_mismatch', `the log recorded another tarball for ${o.name}@${o.version} (sha512 ${entry.artifacts[0]?.sha512.slice(0, 16) ?? '?'}…), not the one downloaded: the registry served a tarball it did not log`, { index });
  }

  const tiles = new TileHashReader(size, client.fetchTile);
  const proof = await inclusionProofFromReader(index, size, tiles);
  if (!verifyInclusion(leafHash(bytes), index, size, proof, rootHash)) {
    throw logFailure('tlog_inclusion_failed', `entry ${index} is not included in the signed tree of size ${size} (a served tile or the entry was altered)`, { index, size });
  }
  const previous = await reconcile(pinned.state?.checkpoint, current, pinned.key, tiles);
  if (previous.relation !== 'same') rememberCheckpoint(o.stateDir, { ...(pinned.state ?? { origin }), key: pinned.key }, current);
  return { status: 'verified', index, checkpointSize: size, origin, keySource: pinned.source, previous, entry };
}
