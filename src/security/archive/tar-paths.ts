// Path rules for entries and link targets. Checks are lexical, so they are only sound together
// with SymlinkIndex: an entry written through a symlink, or a hardlink to a symlink, would let a
// lexically harmless path land somewhere else on disk.
import { posix } from 'node:path';
import { invalid } from '../../core/errors.ts';

const MAX_SHOWN = 200;

/** Quoted, control characters escaped, and cut to 200 characters so messages stay readable. */
export function showPath(path: string): string {
  const cut = path.length > MAX_SHOWN ? `${path.slice(0, MAX_SHOWN)}…` : path;
  return JSON.stringify(cut);
}

// A leading backslash is a root (or UNC share) on Windows, and `C:` a drive, even when the tarball
// is checked on Linux: the registry protects whoever installs it.
const isAbsolute = (p: string): boolean => /^[/\\]/.test(p) || /^[A-Za-z]:/.test(p);

// Windows drops trailing dots and spaces from a path segment, so `.. ` and `...` can mean `..`.
const isDotDot = (segment: string): boolean => /^\.\.[. ]*$/.test(segment);
const hasDotDot = (p: string): boolean => p.split(/[/\\]/).some(isDotDot);

const detail = (path: string): Record<string, unknown> => ({ path: path.length > MAX_SHOWN ? path.slice(0, MAX_SHOWN) : path });

/**
 * Returns the entry path with one leading `./`, empty and `.` segments and trailing slashes
 * removed; `package/` itself becomes `package`. Throws unless the entry stays inside `package/`.
 */
export function normaliseEntryPath(raw: string): string {
  const stripped = raw.startsWith('./') ? raw.slice(2) : raw;
  if (isAbsolute(raw) || isAbsolute(stripped)) {
    throw invalid('ARCHIVE_ABSOLUTE_PATH', `archive entry ${showPath(raw)} has an absolute path`, detail(raw));
  }
  if (hasDotDot(stripped)) {
    throw invalid('ARCHIVE_PATH_TRAVERSAL', `archive entry ${showPath(raw)} contains a '..' path segment`, detail(raw));
  }
  const segments = stripped.split('/');
  if (segments[0] !== 'package') {
    throw invalid('ARCHIVE_ENTRY_OUTSIDE_PACKAGE', `archive entry ${showPath(raw)} is not inside the package/ directory`, detail(raw));
  }
  return ['package', ...segments.slice(1).filter((s) => s !== '' && s !== '.')].join('/');
}

const isInsidePackage = (p: string): boolean => p === 'package' || p.startsWith('package/');

const escapes = (link: string, target: string, why: string): Error =>
  invalid('ARCHIVE_LINK_ESCAPES', `link ${showPath(link)} -> ${showPath(target)} ${why}`, { ...detail(link), target: detail(target).path });

/**
 * Resolves a symlink target against the link's directory and returns the archive path it points
 * to. A `..` after a named segment is refused even when it resolves inside: `a/..` only means
 * the link's own directory if `a` is not itself a symlink, which cannot be known while streaming
 * (it may appear later in the archive).
 */
export function resolveSymlinkTarget(linkPath: string, target: string): string {
  if (isAbsolute(target)) throw escapes(linkPath, target, 'has an absolute target');
  // Windows resolves backslashes as separators, so they must not hide a `..`.
  const portable = target.replace(/\\/g, '/');
  let named = false;
  for (const segment of portable.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment !== '..' && isDotDot(segment)) throw escapes(linkPath, target, `has the ambiguous segment ${showPath(segment)}`);
    if (segment !== '..') named = true;
    else if (named) throw escapes(linkPath, target, "has a '..' after a directory name");
  }
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), portable)).replace(/\/+$/, '');
  if (!isInsidePackage(resolved)) throw escapes(linkPath, target, 'points outside package/');
  return resolved;
}

/** Hardlink targets are archive paths (not relative to the link) and get the entry-path rules. */
export function normaliseHardlinkTarget(linkPath: string, target: string): string {
  const stripped = target.startsWith('./') ? target.slice(2) : target;
  if (isAbsolute(target) || isAbsolute(stripped)) throw escapes(linkPath, target, 'has an absolute target');
  if (hasDotDot(stripped)) throw escapes(linkPath, target, "has a '..' segment in its target");
  const segments = stripped.split('/');
  if (segments[0] !== 'package') throw escapes(linkPath, target, 'points outside package/');
  return ['package', ...segments.slice(1).filter((s) => s !== '' && s !== '.')].join('/');
}

interface Node {
  symlink: boolean;
  children: Map<string, Node>;
}

/**
 * The symlinks seen so far, as a trie of path segments so each lookup costs O(path length) even
 * for hostile archives. Segments are compared Unicode-normalised and case-folded because macOS and
 * Windows filesystems treat `Lib` and `lib` as the same directory.
 */
export class SymlinkIndex {
  readonly #root: Node = { symlink: false, children: new Map() };

  #segments(path: string): string[] {
    return path.normalize('NFD').toLowerCase().split('/');
  }

  add(path: string): void {
    let node = this.#root;
    for (const segment of this.#segments(path)) {
      let next = node.children.get(segment);
      if (next === undefined) {
        next = { symlink: false, children: new Map() };
        node.children.set(segment, next);
      }
      node = next;
    }
    node.symlink = true;
  }

  /** A known symlink that is `path` itself (when `includeSelf`) or one of its ancestors. */
  find(path: string, includeSelf: boolean): string | undefined {
    if (this.#root.children.size === 0) return undefined;
    const segments = this.#segments(path);
    const last = includeSelf ? segments.length : segments.length - 1;
    let node = this.#root;
    for (let i = 0; i < last; i++) {
      const next = node.children.get(segments[i] ?? '');
      if (next === undefined) return undefined;
      if (next.symlink) return path.split('/').slice(0, i + 1).join('/');
      node = next;
    }
    return undefined;
  }
}
