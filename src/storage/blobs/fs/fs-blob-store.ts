// Content-addressed blobs on the local filesystem: <root>/<aa>/<bb>/<sha512hex>. Writes go to a
// temporary file that is renamed into place, so a reader (or a crash) never sees half a blob.
import { createReadStream, mkdirSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { isBlobKey, type BlobStore } from '../store.ts';

export class FsBlobStore implements BlobStore {
  private readonly root: string;
  private readonly tmp: string;
  private readonly fsync: boolean;
  /** Fan-out directories known to exist (at most 65,536). */
  private readonly dirs = new Set<string>();

  constructor(root: string, options: { fsync: boolean }) {
    this.root = root;
    this.tmp = path.join(root, 'tmp');
    this.fsync = options.fsync;
    mkdirSync(this.tmp, { recursive: true });
  }

  private file(key: string): string {
    if (!isBlobKey(key)) throw new Error(`invalid blob key ${key.slice(0, 20)}`);
    return path.join(this.root, key.slice(0, 2), key.slice(2, 4), key);
  }

  async put(key: string, data: Buffer): Promise<void> {
    const target = this.file(key);
    // No existence check first: the key is the content's hash, so renaming over an existing blob
    // replaces it with identical bytes.
    const dir = path.dirname(target);
    if (!this.dirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.dirs.add(dir);
    }
    const temp = path.join(this.tmp, `${key.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
    const fh = await open(temp, 'w');
    try {
      await fh.writeFile(data);
      if (this.fsync) await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(temp, target);
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.file(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async open(key: string): Promise<{ stream: ReturnType<typeof createReadStream>; size: number } | undefined> {
    const file = this.file(key);
    try {
      const s = await stat(file);
      return { stream: createReadStream(file), size: s.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async has(key: string): Promise<boolean> {
    try {
      await stat(this.file(key));
      return true;
    } catch {
      return false;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }
}
