// The blob store's owner interface. Keys are content addresses (hex sha512 of the bytes), so a
// blob never changes once written and can be cached forever by anyone who holds the key.
import type { Readable } from 'node:stream';

export interface BlobStore {
  /** Stores `data` under `key`; idempotent; the blob is either whole or absent after a crash. */
  put(key: string, data: Buffer): Promise<void>;
  get(key: string): Promise<Buffer | undefined>;
  /** A stream of the blob and its size, or undefined when absent. */
  open(key: string): Promise<{ stream: Readable; size: number } | undefined>;
  has(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
}

export const isBlobKey = (key: string): boolean => /^[0-9a-f]{128}$/.test(key);
