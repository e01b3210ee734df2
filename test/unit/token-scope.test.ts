import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAttestryError } from '../../src/core/errors.ts';
import { PACKAGE_ACTIONS, type PackageAction } from '../../src/security/authz/authorize.ts';
import {
  decodeTokenScope, MAX_SCOPE_ENTRIES, parseTokenScope, scopeCanWrite, tokenAllows, type TokenPermission, type TokenScope,
} from '../../src/security/tokens/token-scope.ts';

function refuses(body: Record<string, unknown>, code: string): void {
  assert.throws(() => parseTokenScope(body), (e: unknown) => isAttestryError(e) && e.kind === 'invalid' && e.code === code, JSON.stringify(body));
}

describe('parseTokenScope: refusals', () => {
  it('refuses package lists that are not lists of strings', () => {
    for (const packages of [42, true, { a: 1 }, [1], ['ok', null], [['nested']]]) refuses({ packages }, 'TOKEN_SCOPE_INVALID');
    for (const scopes of [42, [7]]) refuses({ scopes }, 'TOKEN_SCOPE_INVALID');
    refuses({ orgs: [false] }, 'TOKEN_SCOPE_INVALID');
  });

  it('refuses names npm would not accept', () => {
    for (const name of ['', '@scope', '@scope/', '@/x', '@Scope/x', 'a/b', '.hidden', '_under', 'sp ace', 'x'.repeat(215), '@a/b/c', 'emoji-😀']) {
      refuses({ packages: [name], packages_and_scopes_permission: 'read-only' }, 'TOKEN_SCOPE_INVALID');
    }
    for (const scope of ['', '@', 'Upper', 'a/b', '-x', '@@x']) refuses({ scopes: [scope] }, 'TOKEN_SCOPE_INVALID');
    refuses({ orgs: ['Acme'] }, 'TOKEN_SCOPE_INVALID');
  });

  it('refuses more than the maximum number of entries in each list', () => {
    const many = Array.from({ length: MAX_SCOPE_ENTRIES + 1 }, (_, i) => `p${i}`);
    refuses({ packages: many }, 'TOKEN_SCOPE_TOO_MANY');
    refuses({ scopes: many }, 'TOKEN_SCOPE_TOO_MANY');
    refuses({ orgs: many }, 'TOKEN_SCOPE_TOO_MANY');
    assert.equal((parseTokenScope({ packages: many.slice(1) })?.packages as string[]).length, MAX_SCOPE_ENTRIES);
  });

  it('refuses permissions outside the closed list', () => {
    for (const p of ['write', 'READ-ONLY', 'admin', 1, true, '']) refuses({ packages: ['a'], packages_and_scopes_permission: p }, 'TOKEN_SCOPE_BAD_PERMISSION');
    refuses({ orgs: ['acme'], orgs_permission: 'owner' }, 'TOKEN_SCOPE_BAD_PERMISSION');
    // `manage` is an extension for packages only.
    refuses({ orgs: ['acme'], orgs_permission: 'manage' }, 'TOKEN_SCOPE_BAD_PERMISSION');
  });

  it('refuses packages_all together with a package list, and a non-boolean packages_all', () => {
    refuses({ packages_all: true, packages: ['a'] }, 'TOKEN_SCOPE_CONFLICT');
    refuses({ packages_all: 'yes' }, 'TOKEN_SCOPE_INVALID');
  });

  it('refuses a permission that names nothing to apply to', () => {
    refuses({ packages_and_scopes_permission: 'read-write' }, 'TOKEN_SCOPE_EMPTY');
    refuses({ packages_and_scopes_permission: 'read-only', orgs: ['acme'] }, 'TOKEN_SCOPE_EMPTY');
    refuses({ orgs_permission: 'read-write' }, 'TOKEN_SCOPE_EMPTY');
    refuses({ packages: [], packages_and_scopes_permission: 'read-write' }, 'TOKEN_SCOPE_EMPTY');
  });
});

describe('parseTokenScope: accepted bodies', () => {
  it('a body without granular fields is a classic token', () => {
    assert.equal(parseTokenScope({}), null);
    assert.equal(parseTokenScope({ name: 'x', password: 'p', expires: 7, cidr_whitelist: ['10.0.0.0/8'], bypass_2fa: true }), null);
    assert.equal(parseTokenScope({ packages: null, scopes: null, orgs: null, packages_all: null }), null);
  });

  it('reads every field, normalises scopes and de-duplicates', () => {
    assert.deepEqual(parseTokenScope({
      packages: ['widget', '@acme/widget', 'widget', 'Legacy-Name'], scopes: ['@acme', 'acme', 'tools'], orgs: ['@acme'],
      packages_and_scopes_permission: 'read-write', orgs_permission: 'read-only',
    }), {
      packages: ['widget', '@acme/widget', 'Legacy-Name'], scopes: ['acme', 'tools'], orgs: ['acme'], packagesPermission: 'read-write', orgsPermission: 'read-only',
    } satisfies TokenScope);
  });

  it('npm may send one value as a string', () => {
    assert.deepEqual(parseTokenScope({ packages: 'widget', packages_and_scopes_permission: 'read-write' })?.packages, ['widget']);
    assert.deepEqual(parseTokenScope({ scopes: '@acme' })?.scopes, ['acme']);
  });

  it('packages_all covers every package', () => {
    assert.deepEqual(parseTokenScope({ packages_all: true, packages_and_scopes_permission: 'read-only' }), {
      packages: 'all', scopes: null, orgs: null, packagesPermission: 'read-only', orgsPermission: null,
    });
    // false is npm's default and means "not all".
    assert.equal(parseTokenScope({ packages_all: false, scopes: ['acme'] })?.packages, null);
  });

  it('defaults: named packages without a permission are read-only; an org-only token has no package access', () => {
    assert.equal(parseTokenScope({ packages: ['a'] })?.packagesPermission, 'read-only');
    assert.deepEqual(parseTokenScope({ orgs: ['acme'] }), { packages: null, scopes: null, orgs: ['acme'], packagesPermission: 'no-access', orgsPermission: 'read-only' });
    assert.equal(parseTokenScope({ packages_and_scopes_permission: 'no-access' })?.packagesPermission, 'no-access');
  });

  it('accepts the manage extension for packages', () => {
    assert.equal(parseTokenScope({ packages: ['a'], packages_and_scopes_permission: 'manage' })?.packagesPermission, 'manage');
  });

  it('scopeCanWrite: read-write, manage and org read-write bound the lifetime like write tokens', () => {
    const s = (packagesPermission: TokenPermission, orgsPermission: TokenPermission | null = null): TokenScope =>
      ({ packages: ['a'], scopes: null, orgs: null, packagesPermission, orgsPermission });
    assert.equal(scopeCanWrite(s('read-only')), false);
    assert.equal(scopeCanWrite(s('no-access')), false);
    assert.equal(scopeCanWrite(s('read-write')), true);
    assert.equal(scopeCanWrite(s('manage')), true);
    assert.equal(scopeCanWrite(s('read-only', 'read-write')), true);
  });
});

describe('decodeTokenScope', () => {
  it('round-trips what is stored', () => {
    const scope = parseTokenScope({ packages_all: true, orgs: ['acme'], packages_and_scopes_permission: 'read-write', orgs_permission: 'no-access' });
    assert.deepEqual(decodeTokenScope(JSON.stringify(scope)), scope);
  });

  it('a mangled value is a fault, never a wider grant', () => {
    const good = { packages: ['a'], scopes: null, orgs: null, packagesPermission: 'read-only', orgsPermission: null };
    for (const bad of [{ ...good, packages: 'everything' }, { ...good, packagesPermission: 'admin' }, { ...good, packagesPermission: null }, { ...good, scopes: [1] }, { ...good, orgsPermission: 'x' }]) {
      assert.throws(() => decodeTokenScope(JSON.stringify(bad)), /tokens\.scope/);
    }
  });
});

describe('tokenAllows: permission × coverage × action', () => {
  const WIDGET = { name: '@acme/widget', scope: 'acme' };
  const OTHER_IN_SCOPE = { name: '@acme/gadget', scope: 'acme' };
  const UNSCOPED = { name: 'left-pad', scope: null };
  const ELSEWHERE = { name: '@other/thing', scope: 'other' };
  const READ_WRITE_ACTIONS = new Set<PackageAction>(['package:read', 'package:create', 'package:publish', 'package:unpublish', 'package:deprecate', 'package:tag']);

  const expected = (perm: TokenPermission, action: PackageAction): boolean =>
    perm === 'manage' ? true : perm === 'read-write' ? READ_WRITE_ACTIONS.has(action) : perm === 'read-only' ? action === 'package:read' : false;

  const COVERAGES: Array<{ label: string; scope: Omit<TokenScope, 'packagesPermission'>; covers: Array<{ name: string; scope: string | null }>; misses: Array<{ name: string; scope: string | null }> }> = [
    { label: 'package list', scope: { packages: ['@acme/widget', 'left-pad'], scopes: null, orgs: null, orgsPermission: null }, covers: [WIDGET, UNSCOPED], misses: [OTHER_IN_SCOPE, ELSEWHERE] },
    { label: 'scope list', scope: { packages: null, scopes: ['acme'], orgs: null, orgsPermission: null }, covers: [WIDGET, OTHER_IN_SCOPE], misses: [UNSCOPED, ELSEWHERE] },
    { label: 'all packages', scope: { packages: 'all', scopes: null, orgs: null, orgsPermission: null }, covers: [WIDGET, OTHER_IN_SCOPE, UNSCOPED, ELSEWHERE], misses: [] },
    // Orgs are for managing the organization, not its packages.
    { label: 'org only', scope: { packages: null, scopes: null, orgs: ['acme'], orgsPermission: 'read-write' }, covers: [], misses: [WIDGET, OTHER_IN_SCOPE, UNSCOPED] },
  ];

  for (const perm of ['read-only', 'read-write', 'no-access', 'manage'] as const) {
    for (const c of COVERAGES) {
      it(`${perm} × ${c.label}`, () => {
        const scope: TokenScope = { ...c.scope, packagesPermission: perm };
        for (const action of PACKAGE_ACTIONS) {
          for (const r of c.covers) assert.equal(tokenAllows(scope, action, r), expected(perm, action), `${action} on ${r.name}`);
          for (const r of c.misses) assert.equal(tokenAllows(scope, action, r), false, `${action} on ${r.name} (not covered)`);
        }
      });
    }
  }

  it('a listed name covers only that exact name (no prefix or case folding)', () => {
    const scope: TokenScope = { packages: ['widget'], scopes: null, orgs: null, packagesPermission: 'read-write', orgsPermission: null };
    for (const name of ['widget2', 'Widget', 'widge', '@widget/widget']) {
      assert.equal(tokenAllows(scope, 'package:publish', { name, scope: name.startsWith('@') ? 'widget' : null }), false, name);
    }
  });
});
