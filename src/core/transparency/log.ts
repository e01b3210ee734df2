// Appending to the transparency log from the domain core: always inside the caller's write
// transaction, so an entry commits with the change it records or not at all (issue 7, BT-2).
import { createHash } from 'node:crypto';
import type { MetadataOps } from '../../storage/metadata/store.ts';
import type { PublishedVia } from '../publish/pipeline.ts';
import { encodeEntry, ownersChanged, releaseDeprecated, releaseUnpublished, type LogEntry, type PublisherRef } from './entry.ts';

/** Encodes and appends; returns the log index. Call last in the transaction (it takes the sequencer lock). */
export function appendToLog(tx: MetadataOps, entry: LogEntry): Promise<number> {
  const pkg = entry.kind === 'keys.rotated' ? null : entry;
  return tx.appendLogEntry({
    at: entry.at, kind: entry.kind, ecosystem: pkg?.ecosystem ?? null, packageName: pkg?.name ?? null,
    version: pkg && 'version' in pkg ? pkg.version : null, entry: encodeEntry(entry),
  });
}

/** The public reference to a publisher: token ids are left out (they name a credential, not a person). */
export function publisherRef(via: PublishedVia): PublisherRef {
  if (via.kind === 'trusted-publisher') return { kind: 'trusted-publisher', ref: `${via.provider}:${via.reference}` };
  return { kind: via.kind, ref: via.user };
}

/** Lowercase hex SHA-256 of a provenance bundle, byte for byte as uploaded. */
export const bundleDigest = (bundle: string): string => createHash('sha256').update(bundle, 'utf8').digest('hex');

/** A package write's event, as package-service records it. */
interface PackageEvent {
  type: string;
  version?: string | null;
  data: Record<string, unknown>;
}

/**
 * The log entries for the consumer-visible events of one package write (unpublishing, deprecation,
 * owner changes); tags and access settings are not logged.
 */
export function entriesForPackageEvents(ecosystem: string, name: string, at: number, events: readonly PackageEvent[]): LogEntry[] {
  const out: LogEntry[] = [];
  for (const e of events) {
    if (e.type === 'release.unpublished' && e.version) out.push(releaseUnpublished({ ecosystem, name, at, version: e.version }));
    if (e.type === 'package.unpublished' && Array.isArray(e.data.versions)) {
      for (const version of e.data.versions) if (typeof version === 'string') out.push(releaseUnpublished({ ecosystem, name, at, version }));
    }
    if (e.type === 'release.deprecated' && typeof e.data.versions === 'object' && e.data.versions !== null) {
      for (const [version, message] of Object.entries(e.data.versions as Record<string, unknown>)) {
        if (typeof message === 'string' || message === null) out.push(releaseDeprecated({ ecosystem, name, at, version, message }));
      }
    }
    if ((e.type === 'owner.added' || e.type === 'owner.removed') && typeof e.data.user === 'string') {
      out.push(ownersChanged({ ecosystem, name, at, change: e.type, owner: e.data.user }));
    }
  }
  return out;
}
