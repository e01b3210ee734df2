// npm package names: validation for new names and the path rules every client relies on
// (scoped names arrive as `%2f`, `%2F`, a literal slash, with `@` literal or `%40`).
import { builtinModules } from 'node:module';
import { invalid } from '../../core/errors.ts';

export const MAX_NAME_LENGTH = 214;
const PART = /^[a-z0-9][a-z0-9._~-]*$/;
const LEGACY_PART = /^[A-Za-z0-9._~-]+$/;
const RESERVED = new Set(['node_modules', 'favicon.ico', ...builtinModules.filter((m) => !m.startsWith('_') && !m.includes('/'))]);

export interface ParsedName {
  name: string;
  scope: string | null;
  /** The name without its scope (what tarball file names start with). */
  bare: string;
}

export function splitName(name: string): ParsedName {
  if (name.startsWith('@')) {
    const slash = name.indexOf('/');
    return { name, scope: name.slice(1, slash), bare: name.slice(slash + 1) };
  }
  return { name, scope: null, bare: name };
}

/** Rules for a name that does not exist yet (like npm's validate-npm-package-name, new-package rules). */
export function validateNewName(name: string): ParsedName {
  const fail = (why: string) => invalid('INVALID_PACKAGE_NAME', `Invalid package name "${name.slice(0, 220)}": ${why}`);
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) throw fail(`names are 1 to ${MAX_NAME_LENGTH} characters`);
  const parsed = splitName(name);
  if (parsed.scope !== null) {
    if (!/^@[^/]+\/[^/]+$/.test(name)) throw fail('a scoped name is @scope/name');
    if (!PART.test(parsed.scope)) throw fail('the scope must be lower-case letters, digits, "-", ".", "_" or "~", starting with a letter or digit');
  }
  if (parsed.bare.startsWith('.') || parsed.bare.startsWith('_')) throw fail('names cannot start with "." or "_"');
  if (!PART.test(parsed.bare)) throw fail('names are lower-case and URL-safe (letters, digits, "-", ".", "_", "~")');
  if (parsed.scope === null && RESERVED.has(name)) throw fail('this name is reserved (a Node.js core module or a special file name)');
  return parsed;
}

/** Looser check for names that may already exist (reads, writes to existing packages). */
export function isPlausibleName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  const { scope, bare } = splitName(name);
  if (scope !== null && (!/^@[^/]+\/[^/]+$/.test(name) || !LEGACY_PART.test(scope))) return false;
  return LEGACY_PART.test(bare);
}

function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/**
 * Splits a request path into the package name and the remaining raw segments. The name is not
 * validated here: callers refuse implausible names in the way that fits the request.
 * `/@s%2fn/-/n-1.0.0.tgz` → { name: '@s/n', rest: ['-', 'n-1.0.0.tgz'] }.
 */
export function parsePackagePath(path: string): { name: string; rest: string[] } | null {
  const segments = path.split('/').slice(1);
  const first = segments[0] === undefined ? null : decode(segments[0]);
  if (!first) return null;
  if (first.startsWith('@')) {
    if (first.includes('/')) return { name: first, rest: segments.slice(1) };
    const second = segments[1] === undefined ? '' : decode(segments[1]);
    if (second === null) return null;
    return { name: `${first}/${second}`, rest: segments.slice(2) };
  }
  return { name: first, rest: segments.slice(1) };
}

/** The conventional tarball file name: `<bare>-<version>.tgz`. */
export function tarballFilename(name: string, version: string): string {
  return `${splitName(name).bare}-${version}.tgz`;
}
