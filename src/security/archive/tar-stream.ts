// Incremental tar parser: fed inflated chunks as they arrive, it never holds more than one header
// block, one extended header (at most 1 MiB) and the files the caller asked for. Every entry is
// validated the moment its header is complete, so a bad archive is refused without reading on.
import { invalid, tooLarge } from '../../core/errors.ts';
import type { ArchiveEntry, InspectedArchive } from './tar-gz.ts';
import { BLOCK_SIZE, STRUCTURAL_KEYS, corrupt, cString, isZeroBlock, parseHeader, parsePaxRecords } from './tar-header.ts';
import type { TarHeader } from './tar-header.ts';
import { SymlinkIndex, normaliseEntryPath, normaliseHardlinkTarget, resolveSymlinkTarget, showPath } from './tar-paths.ts';

/** node-tar ignores larger extended headers (its maxMetaEntrySize); ignoring one would desync us. */
export const MAX_META_BYTES = 1024 * 1024;

/** Tar writers pad to a 10 KiB record at most; anything far beyond that is not padding. */
export const MAX_TRAILING_BYTES = 1024 * 1024;

export interface TarParserOptions {
  maxEntries: number;
  maxUncompressedBytes: number;
  extract: ReadonlySet<string>;
  maxExtractBytes: number;
}

/** Values from PAX `x` and GNU `L`/`K` headers, waiting for the entry they describe. */
interface Pending {
  path?: string;
  linkpath?: string;
  size?: number;
}

interface Sink {
  buf: Buffer;
  filled: number;
  done: (data: Buffer) => void;
}

type State = 'header' | 'body' | 'padding' | 'ended';

const describeFlag = (flag: string): string =>
  ({ '3': 'character device', '4': 'block device', '6': 'FIFO' })[flag] ?? `'${flag.replace(/[^\x20-\x7e]/g, '?')}'`;

export class TarParser {
  readonly #opts: TarParserOptions;
  readonly #links = new SymlinkIndex();
  readonly #entries: ArchiveEntry[] = [];
  readonly #files = new Map<string, Buffer>();
  #fileCount = 0;
  #unpackedSize = 0;

  #state: State = 'header';
  readonly #header = Buffer.alloc(BLOCK_SIZE);
  #headerFill = 0;
  #remaining = 0;
  #padding = 0;
  #sink: Sink | undefined;
  /** What the bytes being read belong to, for the truncation message. */
  #current = '';
  #pending: Pending | undefined;
  #sawZeroBlock = false;
  /** Bytes after the end-of-archive marker. */
  #trailing = 0;
  /** Bytes of tar stream consumed so far. */
  #position = 0;
  /** Real entries plus global headers, which attach to nothing and so need their own bound. */
  #counted = 0;

  constructor(opts: TarParserOptions) {
    this.#opts = opts;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      const available = chunk.length - off;
      if (this.#state === 'ended') {
        // Tar never reads what follows the end-of-archive marker, but clients still inflate it:
        // a little record padding is normal, megabytes of it are a cheap bomb.
        this.#trailing += available;
        this.#position += available;
        if (this.#trailing > MAX_TRAILING_BYTES) {
          throw tooLarge('ARCHIVE_UNCOMPRESSED_TOO_LARGE', `tarball has more than ${MAX_TRAILING_BYTES} bytes of data after its end-of-archive marker`, {
            limit: MAX_TRAILING_BYTES,
          });
        }
        return;
      }
      if (this.#state === 'header') {
        const n = Math.min(BLOCK_SIZE - this.#headerFill, available);
        chunk.copy(this.#header, this.#headerFill, off, off + n);
        this.#headerFill += n;
        this.#position += n;
        off += n;
        if (this.#headerFill === BLOCK_SIZE) {
          this.#headerFill = 0;
          this.#onHeader(this.#header);
        }
      } else if (this.#state === 'body') {
        const n = Math.min(this.#remaining, available);
        const sink = this.#sink;
        if (sink !== undefined) {
          chunk.copy(sink.buf, sink.filled, off, off + n);
          sink.filled += n;
        }
        this.#remaining -= n;
        this.#position += n;
        off += n;
        if (this.#remaining === 0) this.#endBody();
      } else {
        const n = Math.min(this.#padding, available);
        this.#padding -= n;
        this.#position += n;
        off += n;
        if (this.#padding === 0) this.#toHeader();
      }
    }
  }

  /** The entry (or extended header) whose bytes are being read; '' between entries. */
  get current(): string {
    return this.#current;
  }

  /** Call once the inflated stream has ended. */
  finish(): InspectedArchive {
    // Some tools omit the end-of-archive marker; stopping cleanly between entries is accepted.
    const betweenEntries = this.#state === 'header' && this.#headerFill === 0;
    if (this.#state !== 'ended' && !betweenEntries) {
      throw corrupt(`archive is truncated inside ${this.#current === '' ? 'a header' : showPath(this.#current)}`, { offset: this.#position });
    }
    if (this.#pending !== undefined) throw corrupt('archive ends with an extended header that describes no entry');
    return { entries: this.#entries, files: this.#files, fileCount: this.#fileCount, unpackedSize: this.#unpackedSize };
  }

  #onHeader(block: Buffer): void {
    const offset = this.#position - BLOCK_SIZE;
    if (isZeroBlock(block)) {
      if (this.#pending !== undefined) throw corrupt(`extended header before byte ${offset} describes no entry`, { offset });
      // Like node-tar, a lone zero block is skipped; only two in a row end the archive.
      if (this.#sawZeroBlock) this.#state = 'ended';
      this.#sawZeroBlock = true;
      this.#current = '';
      return;
    }
    this.#sawZeroBlock = false;
    const header = parseHeader(block, offset);
    switch (header.typeflag) {
      case 'x':
      case 'L':
      case 'K':
        this.#metaHeader(header);
        return;
      case 'g':
        this.#count(header.name);
        this.#metaHeader(header);
        return;
      default:
        this.#entry(header);
    }
  }

  #metaHeader(header: TarHeader): void {
    const kind = header.typeflag === 'L' || header.typeflag === 'K' ? 'GNU long name' : 'PAX';
    this.#current = header.name;
    // node-tar drops an extended header without a name, or an L/K header with a linkname, and
    // would then parse its body as headers.
    if (header.name === '') throw corrupt(`${kind} header at byte ${this.#position - BLOCK_SIZE} has an empty name`);
    if ((header.typeflag === 'L' || header.typeflag === 'K') && header.linkname !== '') {
      throw corrupt(`${kind} header ${showPath(header.name)} carries a link target`);
    }
    if (header.size > MAX_META_BYTES) {
      throw corrupt(`${kind} header ${showPath(header.name)} is ${header.size} bytes; at most ${MAX_META_BYTES} are accepted`);
    }
    this.#checkBudget(header.size, header.name);
    this.#startBody(header.size, (data) => this.#applyMeta(header, data));
  }

  #applyMeta(header: TarHeader, data: Buffer): void {
    const pending: Pending = this.#pending ?? {};
    if (header.typeflag === 'L' || header.typeflag === 'K') {
      const value = cString(data, 0, data.length, 'GNU long name');
      if (value === '') throw corrupt(`GNU long name header ${showPath(header.name)} is empty`);
      if (header.typeflag === 'L') pending.path = value;
      else pending.linkpath = value;
      this.#pending = pending;
      return;
    }
    const records = parsePaxRecords(data, header.name);
    if (header.typeflag === 'g') {
      // node-tar applies a global size, linkpath or type to every later entry; honouring that
      // safely is not worth it for a record no real npm tarball contains.
      for (const key of STRUCTURAL_KEYS) {
        if (records.has(key)) {
          throw invalid('ARCHIVE_UNSUPPORTED_ENTRY', `global PAX header ${showPath(header.name)} sets '${key}', which is not supported`, { path: header.name.slice(0, 200) });
        }
      }
      return;
    }
    // node-tar would let `type` turn a regular file into a link; no writer sets it in practice.
    if (records.has('type')) {
      throw invalid('ARCHIVE_UNSUPPORTED_ENTRY', `PAX header ${showPath(header.name)} sets 'type', which is not supported`, { path: header.name.slice(0, 200) });
    }
    const path = records.get('path');
    const linkpath = records.get('linkpath');
    const size = records.get('size');
    // An empty value means "unset" to POSIX but an empty path or size 0 to node-tar.
    if (path === '' || linkpath === '') throw corrupt(`PAX header ${showPath(header.name)} has an empty path or linkpath`);
    if (path !== undefined) pending.path = path;
    if (linkpath !== undefined) pending.linkpath = linkpath;
    if (size !== undefined) {
      if (!/^[0-9]+$/.test(size) || !Number.isSafeInteger(Number(size))) {
        throw corrupt(`PAX header ${showPath(header.name)} has an invalid size ${showPath(size)}`);
      }
      pending.size = Number(size);
    }
    this.#pending = pending;
  }

  #entry(header: TarHeader): void {
    const pending = this.#pending;
    this.#pending = undefined;
    const rawPath = pending?.path ?? header.name;
    const rawLink = pending?.linkpath ?? header.linkname;
    let size = pending?.size ?? header.size;
    this.#count(rawPath);

    let type: ArchiveEntry['type'];
    switch (header.typeflag) {
      case '0':
        // Old tars marked directories as files with a trailing slash; node-tar still does.
        type = rawPath.endsWith('/') ? 'directory' : 'file';
        break;
      case '7':
        if (rawPath.endsWith('/')) throw corrupt(`file entry ${showPath(rawPath)} has a directory path`);
        type = 'file';
        break;
      case '5':
        type = 'directory';
        break;
      case '2':
        type = 'symlink';
        break;
      case '1':
        type = 'hardlink';
        break;
      default:
        throw invalid('ARCHIVE_UNSUPPORTED_ENTRY', `archive entry ${showPath(rawPath)} is a ${describeFlag(header.typeflag)}, which packages may not contain`, {
          path: rawPath.slice(0, 200),
          typeflag: header.typeflag,
        });
    }
    // node-tar never reads a body for a directory, whatever its size field says.
    if (type === 'directory') size = 0;
    this.#current = rawPath;

    if (rawPath === '') throw corrupt(`archive entry at byte ${this.#position - BLOCK_SIZE} has an empty path`);
    // node-tar skips (without reading the body of) links lacking a target and non-links having one.
    const isLink = type === 'symlink' || type === 'hardlink';
    if (isLink && (header.linkname === '' || rawLink === '')) throw corrupt(`link ${showPath(rawPath)} has no target`);
    if (!isLink && header.linkname !== '') throw corrupt(`archive entry ${showPath(rawPath)} is not a link but has a link target`);

    const path = normaliseEntryPath(rawPath);
    if (path === 'package' && type !== 'directory') {
      // Anything but a directory here would replace the package root itself.
      throw invalid('ARCHIVE_ENTRY_OUTSIDE_PACKAGE', `archive entry ${showPath(rawPath)} must be a directory, not a ${type}`, { path: rawPath.slice(0, 200) });
    }
    const through = this.#links.find(path, false);
    if (through !== undefined) {
      throw invalid('ARCHIVE_LINK_ESCAPES', `archive entry ${showPath(path)} would be written through the symlink ${showPath(through)}`, {
        path: path.slice(0, 200),
      });
    }

    let linkTarget: string | undefined;
    if (type === 'symlink') {
      resolveSymlinkTarget(path, rawLink);
      linkTarget = rawLink;
      this.#links.add(path);
    } else if (type === 'hardlink') {
      linkTarget = normaliseHardlinkTarget(path, rawLink);
      // link(2) does not follow a final symlink: the copy would keep its relative target but move
      // to a new directory, where that target can point somewhere else entirely.
      const symlink = this.#links.find(linkTarget, true);
      if (symlink !== undefined) {
        throw invalid('ARCHIVE_LINK_ESCAPES', `hardlink ${showPath(path)} -> ${showPath(linkTarget)} goes through the symlink ${showPath(symlink)}`, {
          path: path.slice(0, 200),
        });
      }
    }

    this.#checkBudget(size, path);
    const entry: ArchiveEntry = { path, type, size: type === 'file' ? size : 0, mode: header.mode };
    if (linkTarget !== undefined) entry.linkTarget = linkTarget;
    this.#entries.push(entry);
    if (type === 'file') {
      this.#fileCount++;
      this.#unpackedSize += size;
    }

    let done: ((data: Buffer) => void) | undefined;
    if (this.#opts.extract.has(path)) {
      if (type === 'file') {
        if (size > this.#opts.maxExtractBytes) {
          throw tooLarge('ARCHIVE_FILE_TOO_LARGE', `${showPath(path)} is ${size} bytes; at most ${this.#opts.maxExtractBytes} are accepted`, {
            path: path.slice(0, 200),
            size,
            limit: this.#opts.maxExtractBytes,
          });
        }
        done = (data) => this.#files.set(path, data);
      } else {
        // A later entry of the same path replaces the earlier one on disk; so it must here.
        this.#files.delete(path);
      }
    }
    this.#startBody(size, done);
  }

  #count(name: string): void {
    this.#counted++;
    if (this.#counted > this.#opts.maxEntries) {
      throw tooLarge('ARCHIVE_TOO_MANY_ENTRIES', `archive has more than ${this.#opts.maxEntries} entries (stopped at ${showPath(name)})`, {
        limit: this.#opts.maxEntries,
      });
    }
  }

  /** Refuses early when a header announces more data than the uncompressed limit leaves room for. */
  #checkBudget(size: number, name: string): void {
    const padded = Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;
    if (this.#position + padded > this.#opts.maxUncompressedBytes) {
      throw tooLarge('ARCHIVE_UNCOMPRESSED_TOO_LARGE', `${showPath(name)} declares ${size} bytes, more than the ${this.#opts.maxUncompressedBytes}-byte uncompressed limit allows`, {
        path: name.slice(0, 200),
        size,
        limit: this.#opts.maxUncompressedBytes,
      });
    }
  }

  #startBody(size: number, done: ((data: Buffer) => void) | undefined): void {
    this.#remaining = size;
    this.#padding = (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;
    this.#sink = done === undefined ? undefined : { buf: Buffer.alloc(size), filled: 0, done };
    if (size === 0) this.#endBody();
    else this.#state = 'body';
  }

  #endBody(): void {
    const sink = this.#sink;
    this.#sink = undefined;
    if (this.#padding > 0) this.#state = 'padding';
    else this.#toHeader();
    sink?.done(sink.buf);
  }

  #toHeader(): void {
    this.#state = 'header';
    this.#current = '';
  }
}
