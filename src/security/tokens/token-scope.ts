// Granular tokens: which packages a token may touch and how (npm's `npm token create` options,
// spec §4.5). Pure: parsing the npm body into a TokenScope, and answering "does this token's scope
// cover this action on this package?". The authorizer asks tokenAllows after (never instead of)
// the role rules, so a scope only ever narrows what the token's owner may do.
import { invalid } from '../../core/errors.ts';
import type { PackageAction } from '../authz/authorize.ts';

/**
 * `read-only`, `read-write` and `no-access` are npm's. `manage` is an Attestry extension (npm never
 * sends it): read-write plus the package's management actions (owners, trusted publishers,
 * provenance window). Without it a granular token cannot manage packages.
 */
export const TOKEN_PERMISSIONS = ['read-only', 'read-write', 'no-access', 'manage'] as const;
export type TokenPermission = (typeof TOKEN_PERMISSIONS)[number];

/** Entries per list (packages, scopes, orgs): enough for a monorepo, small enough to check per request. */
export const MAX_SCOPE_ENTRIES = 100;
const MAX_NAME_LENGTH = 214;

export interface TokenScope {
  /** 'all': every package the owner may act on; a list: exactly those names; null: none by name. */
  packages: readonly string[] | 'all' | null;
  /** npm scopes without the '@': every package in them. */
  scopes: readonly string[] | null;
  /** Organizations the token may manage (org settings, members, teams) — not their packages. */
  orgs: readonly string[] | null;
  packagesPermission: TokenPermission;
  orgsPermission: TokenPermission | null;
}

/** The request fields that make a token granular; a body without any of them makes a classic token. */
export const GRANULAR_FIELDS = ['packages', 'packages_all', 'scopes', 'orgs', 'packages_and_scopes_permission', 'orgs_permission'] as const;

const PART = /^[a-z0-9][a-z0-9._~-]*$/;
// Existing (legacy) names may have capitals; a token may name them, it cannot create them.
const LEGACY_PART = /^[A-Za-z0-9._~-]+$/;

const READ_WRITE: ReadonlySet<PackageAction> = new Set<PackageAction>([
  'package:read', 'package:create', 'package:publish', 'package:unpublish', 'package:deprecate', 'package:tag',
]);

function isPackageName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  const m = /^@([^/]+)\/([^/]+)$/.exec(name);
  if (name.startsWith('@') && !m) return false;
  const [scope, bare] = m ? [m[1] as string, m[2] as string] : [null, name];
  if (scope !== null && !PART.test(scope)) return false;
  return LEGACY_PART.test(bare) && !bare.startsWith('.') && !bare.startsWith('_');
}

/** npm sends a list for repeated flags and may send a bare string for one; both are accepted. */
function stringList(body: Record<string, unknown>, field: string): string[] | null {
  const v = body[field];
  if (v === undefined || v === null) return null;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((x): x is string => typeof x === 'string')) {
    throw invalid('TOKEN_SCOPE_INVALID', `${field} is a list of strings`);
  }
  if (list.length > MAX_SCOPE_ENTRIES) throw invalid('TOKEN_SCOPE_TOO_MANY', `${field} has at most ${MAX_SCOPE_ENTRIES} entries`);
  return list.length === 0 ? null : list;
}

function namespaceList(body: Record<string, unknown>, field: 'scopes' | 'orgs'): string[] | null {
  const list = stringList(body, field);
  if (list === null) return null;
  return [...new Set(list.map((raw) => {
    const s = raw.startsWith('@') ? raw.slice(1) : raw;
    if (s.length === 0 || s.length > MAX_NAME_LENGTH || !PART.test(s)) {
      throw invalid('TOKEN_SCOPE_INVALID', `${field}: "${raw.slice(0, 220)}" is not a scope name (lower-case letters, digits, "-", ".", "_", "~")`);
    }
    return s;
  }))];
}

function permission(body: Record<string, unknown>, field: string): TokenPermission | null {
  const v = body[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || !(TOKEN_PERMISSIONS as readonly string[]).includes(v)) {
    throw invalid('TOKEN_SCOPE_BAD_PERMISSION', `${field} is one of ${TOKEN_PERMISSIONS.join(', ')}`);
  }
  return v as TokenPermission;
}

/**
 * Reads the granular fields of an npm token-create body. Null when there are none (a classic
 * token). A list without a permission gets `read-only`: the least a user who named packages can
 * have meant, and the answer echoes it.
 */
export function parseTokenScope(body: Record<string, unknown>): TokenScope | null {
  if (!GRANULAR_FIELDS.some((f) => body[f] !== undefined && body[f] !== null)) return null;
  const listed = stringList(body, 'packages');
  if (listed !== null) {
    const bad = listed.find((n) => !isPackageName(n));
    if (bad !== undefined) throw invalid('TOKEN_SCOPE_INVALID', `packages: "${bad.slice(0, 220)}" is not a package name`);
  }
  const all = body.packages_all;
  if (all !== undefined && all !== null && typeof all !== 'boolean') throw invalid('TOKEN_SCOPE_INVALID', 'packages_all is true or absent');
  if (all === true && listed !== null) {
    throw invalid('TOKEN_SCOPE_CONFLICT', 'A token covers all packages (packages_all) or a list of them (packages), not both');
  }
  const scopes = namespaceList(body, 'scopes');
  const orgs = namespaceList(body, 'orgs');
  const packagesPermission = permission(body, 'packages_and_scopes_permission');
  const orgsPermission = permission(body, 'orgs_permission');
  if (orgsPermission === 'manage') throw invalid('TOKEN_SCOPE_BAD_PERMISSION', 'orgs_permission is read-only, read-write or no-access');
  const packages = all === true ? 'all' : listed === null ? null : [...new Set(listed)];
  if (packagesPermission !== null && packagesPermission !== 'no-access' && packages === null && scopes === null) {
    throw invalid('TOKEN_SCOPE_EMPTY', 'Name the packages (packages, packages_all) or scopes the permission applies to');
  }
  if (orgsPermission !== null && orgsPermission !== 'no-access' && orgs === null) {
    throw invalid('TOKEN_SCOPE_EMPTY', 'Name the organizations (orgs) orgs_permission applies to');
  }
  return {
    packages,
    scopes,
    orgs,
    // No packages named at all (an org-only token): nothing to grant on packages.
    packagesPermission: packagesPermission ?? (packages === null && scopes === null ? 'no-access' : 'read-only'),
    orgsPermission: orgsPermission ?? (orgs === null ? null : 'read-only'),
  };
}

/** Whether the token's scope permits `action` on the package; the owner's own rights are checked separately. */
export function tokenAllows(scope: TokenScope, action: PackageAction, resource: { name: string; scope: string | null }): boolean {
  const covered = scope.packages === 'all'
    || (scope.packages !== null && scope.packages.includes(resource.name))
    || (resource.scope !== null && scope.scopes !== null && scope.scopes.includes(resource.scope));
  if (!covered) return false;
  switch (scope.packagesPermission) {
    case 'no-access':
      return false;
    case 'read-only':
      return action === 'package:read';
    case 'read-write':
      return READ_WRITE.has(action);
    case 'manage':
      return true;
  }
  return false;
}

/** Whether the token can change anything (its lifetime is then bounded like a write token's). */
export function scopeCanWrite(scope: TokenScope): boolean {
  return scope.packagesPermission === 'read-write' || scope.packagesPermission === 'manage' || scope.orgsPermission === 'read-write';
}

/** Reads a stored scope back; anything unexpected is a fault, not a wider grant. */
export function decodeTokenScope(json: string): TokenScope {
  const v = JSON.parse(json) as Record<string, unknown>;
  const list = (x: unknown, column: string): string[] | null => {
    if (x === null) return null;
    if (Array.isArray(x) && x.every((s) => typeof s === 'string')) return x as string[];
    throw new Error(`metadata store: unexpected value in tokens.scope.${column}`);
  };
  const perm = (x: unknown, column: string, nullable: boolean): TokenPermission | null => {
    if (nullable && x === null) return null;
    if (typeof x === 'string' && (TOKEN_PERMISSIONS as readonly string[]).includes(x)) return x as TokenPermission;
    throw new Error(`metadata store: unexpected value in tokens.scope.${column}`);
  };
  return {
    packages: v.packages === 'all' ? 'all' : list(v.packages, 'packages'),
    scopes: list(v.scopes, 'scopes'),
    orgs: list(v.orgs, 'orgs'),
    packagesPermission: perm(v.packagesPermission, 'packagesPermission', false) as TokenPermission,
    orgsPermission: perm(v.orgsPermission, 'orgsPermission', true),
  };
}
