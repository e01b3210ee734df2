import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { Logger } from '../../src/core/logger.ts';
import { Authorizer, PACKAGE_ACTIONS } from '../../src/security/authz/authorize.ts';
import type { Decision, PackageAction, PackageResource } from '../../src/security/authz/authorize.ts';
import { ANONYMOUS } from '../../src/security/authz/principal.ts';
import type { Principal, PublisherGrant, TokenGrant } from '../../src/security/authz/principal.ts';
import { generateToken } from '../../src/security/tokens/token-format.ts';
import type { TokenScope } from '../../src/security/tokens/token-scope.ts';

// ---------- fixtures ----------

interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown> | undefined;
}

function capturingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: LogEntry['level']) => (msg: string, fields?: Record<string, unknown>) => {
    entries.push({ level, msg, fields });
  };
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), debugEnabled: true };
}

const ALICE = 1; // owns the packages below; her name is also the scope `@alice`
const BOB = 2;
const ROOT = 3;

/**
 * Token grants carry a secret value here that the real grant never has: the log must not contain
 * it even if a grant object were dumped wholesale. (A variable, not a literal, so the extra
 * property type-checks.)
 */
const SECRETS = { rw: generateToken(), ro: generateToken(), bob: generateToken(), root: generateToken() };
const rwGrant = { id: 'tok-rw-1', readonly: false, kind: 'api' as const, value: SECRETS.rw };
const roGrant = { id: 'tok-ro-1', readonly: true, kind: 'api' as const, value: SECRETS.ro };
const bobGrant = { id: 'tok-bob-1', readonly: false, kind: 'session' as const, value: SECRETS.bob };
const rootGrant = { id: 'tok-root-1', readonly: false, kind: 'session' as const, value: SECRETS.root };
const grant = (g: TokenGrant): TokenGrant => g;

const PRINCIPALS = {
  anonymous: ANONYMOUS,
  owner: { kind: 'user', userId: ALICE, name: 'alice', isAdmin: false, token: grant(rwGrant) },
  'non-owner': { kind: 'user', userId: BOB, name: 'bob', isAdmin: false, token: grant(bobGrant) },
  'read-only token owner': { kind: 'user', userId: ALICE, name: 'alice', isAdmin: false, token: grant(roGrant) },
  'admin non-owner': { kind: 'user', userId: ROOT, name: 'root', isAdmin: true, token: grant(rootGrant) },
} satisfies Record<string, Principal>;
type PrincipalName = keyof typeof PRINCIPALS;

const STATES = [null, 'live', 'deleted'] as const;
const ACCESSES = ['public', 'restricted'] as const;
const NAMES = [
  { label: 'unscoped', name: 'left-pad', scope: null },
  { label: 'scoped @alice', name: '@alice/left-pad', scope: 'alice' },
] as const;

function resource(state: PackageResource['state'], access: PackageResource['access'], n: (typeof NAMES)[number]): PackageResource {
  // A name never created has no owners; a live or unpublished one keeps its (former) owner, alice.
  return { ecosystem: 'npm', name: n.name, scope: n.scope, state, access, ownerIds: state === null ? [] : [ALICE] };
}

type Expected =
  | { allow: true; rule: string }
  | { allow: false; rule: string; outcome: 'unauthenticated' | 'hidden' | 'forbidden' };
/** Writes that, for an absent name, answer hidden: for an unreadable restricted package they must answer the same. */
const HIDDEN_WHEN_ABSENT: readonly PackageAction[] = ['package:unpublish', 'package:deprecate', 'package:tag', 'package:owners', 'package:provenance'];

const WRITES = PACKAGE_ACTIONS.filter((a) => a !== 'package:read');

/** The specification, written independently of the implementation. */
function expected(who: PrincipalName, action: PackageAction, r: PackageResource): Expected {
  const p: Principal = PRINCIPALS[who];
  const isOwner = p.kind === 'user' && r.ownerIds.includes(p.userId);
  if (action === 'package:read') {
    if (r.access === 'public') return { allow: true, rule: 'public-read' };
    if (isOwner) return { allow: true, rule: 'owner-read' };
    return { allow: false, rule: 'restricted-read', outcome: 'hidden' };
  }
  if (p.kind !== 'user') return { allow: false, rule: 'authentication-required', outcome: 'unauthenticated' };
  if (p.token?.readonly) return { allow: false, rule: 'read-only-token', outcome: 'forbidden' };
  if (action === 'package:create') {
    // Someone else's scope is refused the same way whether or not the package exists.
    if (r.scope !== null && r.scope !== p.name && !isOwner) return { allow: false, rule: 'scope-owner', outcome: 'forbidden' };
    if (r.state === 'live') return isOwner ? { allow: true, rule: 'owner-publish' } : { allow: false, rule: 'owner-required', outcome: 'forbidden' };
    if (r.state === 'deleted') return isOwner ? { allow: true, rule: 'former-owner-reclaims' } : { allow: false, rule: 'name-reserved', outcome: 'forbidden' };
    return { allow: true, rule: r.scope === null ? 'new-unscoped-name' : 'own-scope' };
  }
  if (action === 'package:publishers') {
    if (r.state === null) {
      if (r.scope !== null && r.scope !== p.name) return { allow: false, rule: 'scope-owner', outcome: 'forbidden' };
      return { allow: true, rule: r.scope === null ? 'new-name-pending' : 'own-scope-pending' };
    }
    if (r.state === 'deleted') return isOwner ? { allow: true, rule: 'former-owner-pending' } : { allow: false, rule: 'name-reserved', outcome: 'forbidden' };
  }
  if (r.state !== 'live') return { allow: false, rule: 'no-such-package', outcome: 'hidden' };
  if (isOwner) return { allow: true, rule: 'owner' };
  // A restricted package is indistinguishable from an absent one for whoever cannot read it.
  if (r.access === 'restricted') return { allow: false, rule: 'no-such-package', outcome: 'hidden' };
  return { allow: false, rule: 'owner-required', outcome: 'forbidden' };
}

function assertDecision(d: Decision, e: Expected): void {
  assert.equal(d.allow, e.allow, `allow: got ${JSON.stringify(d)}`);
  if (e.allow) {
    assert.equal(d.rule, e.rule);
    return;
  }
  assert.ok(!d.allow);
  assert.equal(d.rule, e.rule);
  assert.equal(d.outcome, e.outcome);
  assert.equal(typeof d.message, 'string');
  assert.ok(d.message.length > 0);
}

/** A denial was logged exactly once, at info, with its rule and action and no secret. */
function assertLogged(log: ReturnType<typeof capturingLogger>, d: Decision, action: string, r: PackageResource): void {
  assert.equal(log.entries.length, 1, 'one log entry per refusal');
  const entry = log.entries[0] as LogEntry;
  assert.equal(entry.level, 'info');
  assert.equal(entry.msg, 'authorization refused');
  assert.equal(entry.fields?.rule, d.rule);
  assert.equal(entry.fields?.action, action);
  assert.equal(entry.fields?.package, `${r.ecosystem}:${r.name}`);
  const dumped = JSON.stringify(entry);
  for (const secret of Object.values(SECRETS)) assert.ok(!dumped.includes(secret), 'no token value in the log');
  assert.ok(!dumped.includes('atr_'), 'nothing that looks like a token in the log');
}

// ---------- refusals first ----------

describe('Authorizer: refusals', () => {
  let log: ReturnType<typeof capturingLogger>;
  let authz: Authorizer;
  beforeEach(() => {
    log = capturingLogger();
    authz = new Authorizer(log);
  });
  const check = (who: PrincipalName, action: PackageAction, r: PackageResource) => authz.check(PRINCIPALS[who], action, r);

  it('anonymous writes are refused as unauthenticated, whatever the package state', () => {
    for (const action of WRITES) {
      for (const state of STATES) {
        for (const n of NAMES) {
          log.entries.length = 0;
          const r = resource(state, 'public', n);
          const d = check('anonymous', action, r);
          assertDecision(d, { allow: false, rule: 'authentication-required', outcome: 'unauthenticated' });
          assertLogged(log, d, action, r);
          assert.equal(log.entries[0]?.fields?.principal, 'anonymous');
        }
      }
    }
  });

  it('a read-only token is forbidden every write, even on packages its user owns', () => {
    for (const action of WRITES) {
      for (const state of STATES) {
        for (const access of ACCESSES) {
          for (const n of NAMES) {
            log.entries.length = 0;
            const r = resource(state, access, n);
            const d = check('read-only token owner', action, r);
            assertDecision(d, { allow: false, rule: 'read-only-token', outcome: 'forbidden' });
            assertLogged(log, d, action, r);
            assert.equal(log.entries[0]?.fields?.tokenId, roGrant.id, 'the token is identified by its id');
          }
        }
      }
    }
  });

  it('a read-only token may still read', () => {
    const d = check('read-only token owner', 'package:read', resource('live', 'restricted', NAMES[1]));
    assertDecision(d, { allow: true, rule: 'owner-read' });
    assert.equal(log.entries.length, 0);
  });

  it('a new scoped name may only be created by the user the scope belongs to (scope-owner)', () => {
    const r = resource(null, 'public', NAMES[1]);
    for (const who of ['non-owner', 'admin non-owner'] as const) {
      log.entries.length = 0;
      const d = check(who, 'package:create', r);
      assertDecision(d, { allow: false, rule: 'scope-owner', outcome: 'forbidden' });
      assertLogged(log, d, 'package:create', r);
    }
    assertDecision(check('owner', 'package:create', r), { allow: true, rule: 'own-scope' });
  });

  it('a scope that merely starts with the user\'s name is not theirs', () => {
    const r: PackageResource = { ecosystem: 'npm', name: '@alicex/pkg', scope: 'alicex', state: null, access: 'public', ownerIds: [] };
    assertDecision(check('owner', 'package:create', r), { allow: false, rule: 'scope-owner', outcome: 'forbidden' });
  });

  it('an unpublished name may only be reclaimed by its former owners (name-reserved)', () => {
    for (const n of NAMES) {
      const r = resource('deleted', 'public', n);
      for (const who of ['non-owner', 'admin non-owner'] as const) {
        log.entries.length = 0;
        const d = check(who, 'package:create', r);
        // In someone else's scope the scope rule answers first, exactly as for a name never used.
        const rule = r.scope === null ? 'name-reserved' : 'scope-owner';
        assertDecision(d, { allow: false, rule, outcome: 'forbidden' });
        assertLogged(log, d, 'package:create', r);
      }
      assertDecision(check('owner', 'package:create', r), { allow: true, rule: 'former-owner-reclaims' });
    }
  });

  it('a restricted package read by a non-owner is hidden, not forbidden', () => {
    for (const who of ['anonymous', 'non-owner', 'admin non-owner'] as const) {
      for (const state of STATES) {
        for (const n of NAMES) {
          log.entries.length = 0;
          const r = resource(state, 'restricted', n);
          const d = check(who, 'package:read', r);
          assertDecision(d, { allow: false, rule: 'restricted-read', outcome: 'hidden' });
          assertLogged(log, d, 'package:read', r);
        }
      }
    }
  });

  it('writes to packages that are not live are hidden (no-such-package), even for former owners', () => {
    // Creating a package and registering a pending publisher for it are the two writes to a name
    // that is not live; both have their own tests.
    for (const action of WRITES.filter((a) => a !== 'package:create' && a !== 'package:publishers')) {
      for (const state of [null, 'deleted'] as const) {
        log.entries.length = 0;
        const r = resource(state, 'public', NAMES[0]);
        const d = check('owner', action, r);
        assertDecision(d, { allow: false, rule: 'no-such-package', outcome: 'hidden' });
        assertLogged(log, d, action, r);
      }
    }
  });

  it('a restricted package that a non-owner cannot read is indistinguishable from an absent one on writes', () => {
    for (const action of HIDDEN_WHEN_ABSENT) {
      for (const who of ['non-owner', 'admin non-owner'] as const) {
        for (const n of NAMES) {
          const absent = check(who, action, resource(null, 'public', n));
          const restricted = check(who, action, resource('live', 'restricted', n));
          assert.ok(!absent.allow && !restricted.allow);
          assert.equal(absent.outcome, 'hidden', 'control: an absent name is hidden');
          assert.equal(restricted.outcome, 'hidden', `${who} ${action} ${n.name}`);
        }
      }
    }
  });

  it('being an admin grants nothing on packages the admin does not own', () => {
    for (const action of PACKAGE_ACTIONS) {
      for (const state of STATES) {
        for (const access of ACCESSES) {
          for (const n of NAMES) {
            const r = resource(state, access, n);
            const admin = check('admin non-owner', action, r);
            const plain = authz.check({ ...PRINCIPALS['admin non-owner'], isAdmin: false }, action, r);
            assert.deepEqual({ ...admin, message: '' }, { ...plain, message: '' }, `${action} ${state} ${access} ${n.label}`);
          }
        }
      }
    }
  });

  it('an action it does not know is denied by default, and logged', () => {
    const r = resource('live', 'public', NAMES[0]);
    const action = 'package:transfer' as PackageAction;
    const d = check('owner', action, r);
    assertDecision(d, { allow: false, rule: 'default-deny', outcome: 'forbidden' });
    assertLogged(log, d, action, r);
  });

  it('logs the user name and token id, never the token grant itself', () => {
    const r = resource('live', 'public', NAMES[0]);
    check('non-owner', 'package:publish', r);
    const fields = log.entries[0]?.fields ?? {};
    assert.equal(fields.principal, 'bob');
    assert.equal(fields.tokenId, bobGrant.id);
    assert.equal(typeof fields.tokenId, 'string');
    assert.ok(!Object.values(fields).some((v) => typeof v === 'object' && v !== null), 'only scalar fields');
  });

  it('logs a user without a token (e.g. a web session) with a null token', () => {
    const r = resource('live', 'public', NAMES[0]);
    authz.check({ kind: 'user', userId: BOB, name: 'bob', isAdmin: false, token: null }, 'package:tag', r);
    assert.equal(log.entries[0]?.fields?.tokenId, null);
    assert.equal(log.entries[0]?.fields?.rule, 'owner-required');
  });
});

// ---------- the full table ----------

describe('Authorizer: every action × principal × state × access × scope', () => {
  for (const action of PACKAGE_ACTIONS) {
    describe(action, () => {
      for (const who of Object.keys(PRINCIPALS) as PrincipalName[]) {
        for (const state of STATES) {
          for (const access of ACCESSES) {
            for (const n of NAMES) {
              const r = resource(state, access, n);
              const e = expected(who, action, r);
              const label = `${who} · ${state ?? 'new'} · ${access} · ${n.label} → ${e.allow ? `allow (${e.rule})` : e.outcome ? `${e.outcome} (${e.rule})` : 'deny'}`;
              it(label, () => {
                const log = capturingLogger();
                const d = new Authorizer(log).check(PRINCIPALS[who], action, r);
                assertDecision(d, e);
                if (d.allow) assert.equal(log.entries.length, 0, 'allowed decisions are not logged as refusals');
                else assertLogged(log, d, action, r);
              });
            }
          }
        }
      }
    });
  }
});

// ---------- pending publishers ----------

describe('Authorizer: registering trusted publishers', () => {
  const authz = () => new Authorizer(capturingLogger());
  const pending = (name: string, scope: string | null): PackageResource => ({ ecosystem: 'npm', name, scope, state: null, access: 'public', ownerIds: [] });

  it('refuses a pending publisher in someone else\'s scope, and on a deleted name for non-owners', () => {
    assertDecision(authz().check(PRINCIPALS['non-owner'], 'package:publishers', pending('@alice/x', 'alice')), { allow: false, rule: 'scope-owner', outcome: 'forbidden' });
    assertDecision(authz().check(PRINCIPALS['non-owner'], 'package:publishers', resource('deleted', 'public', NAMES[0])), { allow: false, rule: 'name-reserved', outcome: 'forbidden' });
    assertDecision(authz().check(PRINCIPALS.anonymous, 'package:publishers', pending('x', null)), { allow: false, rule: 'authentication-required', outcome: 'unauthenticated' });
    assertDecision(authz().check(PRINCIPALS['read-only token owner'], 'package:publishers', resource('live', 'public', NAMES[0])), { allow: false, rule: 'read-only-token', outcome: 'forbidden' });
  });

  it('allows a pending publisher for a new name or in one\'s own scope, and owners on live and deleted packages', () => {
    assertDecision(authz().check(PRINCIPALS['non-owner'], 'package:publishers', pending('brand-new', null)), { allow: true, rule: 'new-name-pending' });
    assertDecision(authz().check(PRINCIPALS['non-owner'], 'package:publishers', pending('@bob/x', 'bob')), { allow: true, rule: 'own-scope-pending' });
    assertDecision(authz().check(PRINCIPALS.owner, 'package:publishers', resource('live', 'public', NAMES[0])), { allow: true, rule: 'owner' });
    assertDecision(authz().check(PRINCIPALS.owner, 'package:publishers', resource('deleted', 'public', NAMES[0])), { allow: true, rule: 'former-owner-pending' });
  });
});

// ---------- trusted-publisher tokens ----------

describe('Authorizer: trusted-publisher tokens', () => {
  const publisher = (over: Partial<PublisherGrant> = {}): PublisherGrant => ({
    kind: 'publisher', tokenId: 't1', publisherId: 1, linkId: 'l1', provider: 'github', reference: 'acme/widget/.github/workflows/release.yml@refs/tags/v1',
    ecosystem: 'npm', packageName: 'left-pad', permissions: ['createPackage'], registeredBy: ALICE, issuer: 'https://token.actions.githubusercontent.com', identity: {}, ...over,
  });
  const authz = () => new Authorizer(capturingLogger());
  const pkg = (state: PackageResource['state'], name = 'left-pad', access: PackageResource['access'] = 'public'): PackageResource =>
    ({ ecosystem: 'npm', name, scope: name.startsWith('@') ? name.slice(1, name.indexOf('/')) : null, state, access, ownerIds: state === null ? [] : [ALICE] });

  it('refuses every action on another package, even one with the same name in another ecosystem', () => {
    for (const action of WRITES) {
      assertDecision(authz().check(publisher(), action, pkg('live', 'is-odd')), { allow: false, rule: 'trusted-publisher-other-package', outcome: 'forbidden' });
      assertDecision(authz().check(publisher({ ecosystem: 'pypi' }), action, pkg('live')), { allow: false, rule: 'trusted-publisher-other-package', outcome: 'forbidden' });
    }
  });

  it('refuses everything but publishing on its own package', () => {
    for (const action of ['package:unpublish', 'package:deprecate', 'package:tag', 'package:owners', 'package:provenance'] as const) {
      assertDecision(authz().check(publisher(), action, pkg('live')), { allow: false, rule: 'trusted-publisher-publish-only', outcome: 'forbidden' });
    }
  });

  it('refuses publishing without the createPackage permission (a stage-only configuration)', () => {
    assertDecision(authz().check(publisher({ permissions: ['createStagedPackage'] }), 'package:publish', pkg('live')), { allow: false, rule: 'trusted-publisher-permission', outcome: 'forbidden' });
  });

  it('refuses to recreate a deleted name; hides reads of another restricted package', () => {
    assertDecision(authz().check(publisher(), 'package:create', pkg('deleted')), { allow: false, rule: 'name-reserved', outcome: 'forbidden' });
    assertDecision(authz().check(publisher(), 'package:read', pkg('live', 'secret', 'restricted')), { allow: false, rule: 'restricted-read', outcome: 'hidden' });
  });

  it('a package set to trusted publishing only refuses its owners\' publishes, not the publisher\'s, and nothing else changes', () => {
    const only = { ...pkg('live'), trustedPublishingOnly: true };
    assertDecision(authz().check(PRINCIPALS.owner, 'package:publish', only), { allow: false, rule: 'trusted-publishing-only', outcome: 'forbidden' });
    assertDecision(authz().check(publisher(), 'package:publish', only), { allow: true, rule: 'trusted-publisher' });
    assertDecision(authz().check(PRINCIPALS.owner, 'package:deprecate', only), { allow: true, rule: 'owner' });
    assertDecision(authz().check(PRINCIPALS['non-owner'], 'package:publish', only), { allow: false, rule: 'owner-required', outcome: 'forbidden' });
  });

  it('allows publishing its package, creating it when pending, and reading it when restricted', () => {
    assertDecision(authz().check(publisher(), 'package:publish', pkg('live')), { allow: true, rule: 'trusted-publisher' });
    assertDecision(authz().check(publisher(), 'package:create', pkg(null)), { allow: true, rule: 'trusted-publisher-creates' });
    assertDecision(authz().check(publisher(), 'package:read', pkg('live', 'left-pad', 'restricted')), { allow: true, rule: 'trusted-publisher-read' });
  });
});

// ---------- the second factor (AUTHN-1.1, 2.3, 3.2, 3.3) ----------

describe('Authorizer: the credential must be strong enough for writes', () => {
  const live = (over: Partial<PackageResource> = {}): PackageResource => ({ ecosystem: 'npm', name: 'left-pad', scope: null, state: 'live', access: 'public', ownerIds: [ALICE], ...over });
  const mfa = (over: Partial<NonNullable<Extract<Principal, { kind: 'user' }>['mfa']>> = {}) => ({ emailVerified: true, enrolled: true, mode: 'auth-and-writes' as const, presented: 'none' as const, ...over });
  const alice = (over: { mfa?: ReturnType<typeof mfa>; bypass2fa?: boolean } = {}): Principal => ({
    kind: 'user', userId: ALICE, name: 'alice', isAdmin: false, token: { id: 't', readonly: false, kind: 'api', bypass2fa: over.bypass2fa ?? false }, mfa: over.mfa ?? mfa(),
  });
  const strict = () => new Authorizer(capturingLogger(), { requireVerifiedEmail: true, requireMfaForMaintainers: true });
  const lenient = () => new Authorizer(capturingLogger());
  const expectRule = (d: Decision, allow: boolean, rule: string, outcome?: string) => {
    assert.equal(d.allow, allow, JSON.stringify(d));
    assert.equal(d.rule, rule);
    if (!d.allow && outcome) assert.equal(d.outcome, outcome);
  };

  it('refuses an unverified email before anything else', () => {
    expectRule(strict().check(alice({ mfa: mfa({ emailVerified: false, presented: 'totp' }) }), 'package:publish', live()), false, 'email-unverified', 'forbidden');
  });
  it('refuses a maintainer without any second factor when the instance requires one', () => {
    expectRule(strict().check(alice({ mfa: mfa({ enrolled: false, mode: null }) }), 'package:publish', live()), false, 'mfa-enrollment-required', 'forbidden');
  });
  it('asks for an OTP when none was presented, and allows one that was', () => {
    expectRule(strict().check(alice(), 'package:publish', live()), false, 'otp-required', 'second-factor');
    expectRule(strict().check(alice({ mfa: mfa({ presented: 'totp' }) }), 'package:publish', live()), true, 'owner');
  });
  it('lets an automation (bypass) token write without an OTP, but never on a critical package', () => {
    expectRule(strict().check(alice({ bypass2fa: true }), 'package:publish', live()), true, 'owner');
    expectRule(strict().check(alice({ bypass2fa: true }), 'package:publish', live({ critical: true })), false, 'phishing-resistant-mfa-required', 'second-factor');
  });
  it('requires a passkey (phishing-resistant) for a critical package; a TOTP code is not enough', () => {
    expectRule(strict().check(alice({ mfa: mfa({ presented: 'totp' }) }), 'package:tag', live({ critical: true })), false, 'phishing-resistant-mfa-required', 'second-factor');
    expectRule(strict().check(alice({ mfa: mfa({ presented: 'webauthn' }) }), 'package:tag', live({ critical: true })), true, 'owner');
    // Even where the instance does not require MFA, a critical package does.
    expectRule(lenient().check(alice({ mfa: mfa({ enrolled: false, mode: null }) }), 'package:publish', live({ critical: true })), false, 'mfa-enrollment-required', 'forbidden');
  });
  it('honours an account in auth-and-writes mode even where the instance does not require MFA', () => {
    expectRule(lenient().check(alice(), 'package:deprecate', live()), false, 'otp-required', 'second-factor');
    expectRule(lenient().check(alice({ mfa: mfa({ mode: 'auth-only' }) }), 'package:deprecate', live()), true, 'owner');
  });
  it('never gates reads, refusals decided by the role rules, or trusted-publisher tokens', () => {
    expectRule(strict().check(alice({ mfa: mfa({ emailVerified: false }) }), 'package:read', live()), true, 'public-read');
    expectRule(strict().check({ ...alice(), userId: BOB, name: 'bob' } as Principal, 'package:publish', live()), false, 'owner-required', 'forbidden');
    const publisher: PublisherGrant = { kind: 'publisher', tokenId: 't', publisherId: 1, linkId: 'l', provider: 'github', reference: 'r', ecosystem: 'npm', packageName: 'left-pad', permissions: ['createPackage'], registeredBy: ALICE, issuer: 'https://token.actions.githubusercontent.com', identity: {} };
    expectRule(strict().check(publisher, 'package:publish', live()), true, 'trusted-publisher');
  });
  it("follows the package's own 2FA setting (npm access set mfa=) even where the instance requires nothing", () => {
    // mfa=publish: a second factor for every write, and bypass tokens do not skip it.
    expectRule(lenient().check(alice({ mfa: mfa({ mode: 'auth-only' }) }), 'package:publish', live({ mfaPolicy: 'publish' })), false, 'otp-required', 'second-factor');
    expectRule(lenient().check(alice({ mfa: mfa({ mode: 'auth-only' }), bypass2fa: true }), 'package:publish', live({ mfaPolicy: 'publish' })), false, 'package-mfa-no-bypass', 'second-factor');
    expectRule(lenient().check(alice({ mfa: mfa({ mode: 'auth-only', presented: 'totp' }), bypass2fa: true }), 'package:publish', live({ mfaPolicy: 'publish' })), true, 'owner');
    // mfa=automation: a second factor, but automation (bypass) tokens may publish.
    expectRule(lenient().check(alice({ mfa: mfa({ mode: 'auth-only' }) }), 'package:tag', live({ mfaPolicy: 'automation' })), false, 'otp-required', 'second-factor');
    expectRule(lenient().check(alice({ mfa: mfa({ mode: 'auth-only' }), bypass2fa: true }), 'package:publish', live({ mfaPolicy: 'automation' })), true, 'owner');
    // No second factor at all: the package says so, not the registry.
    const d = lenient().check(alice({ mfa: mfa({ enrolled: false, mode: null }) }), 'package:publish', live({ mfaPolicy: 'automation' }));
    expectRule(d, false, 'mfa-enrollment-required', 'forbidden');
    assert.match(!d.allow ? d.message : '', /^left-pad requires two-factor/);
    // mfa=none and reads: untouched.
    expectRule(lenient().check(alice({ mfa: mfa({ mode: 'auth-only' }) }), 'package:publish', live({ mfaPolicy: 'none' })), true, 'owner');
    expectRule(lenient().check(alice({ mfa: mfa({ enrolled: false, mode: null }) }), 'package:read', live({ mfaPolicy: 'publish' })), true, 'public-read');
  });
  it('treats a principal without MFA state as the weakest (deny, never allow by omission)', () => {
    const bare: Principal = { kind: 'user', userId: ALICE, name: 'alice', isAdmin: false, token: null };
    expectRule(strict().check(bare, 'package:publish', live()), false, 'email-unverified', 'forbidden');
  });
});

describe('Authorizer: granular tokens narrow the owner\'s rights', () => {
  const pkg = (name: string, over: Partial<PackageResource> = {}): PackageResource => ({
    ecosystem: 'npm', name, scope: name.startsWith('@') ? name.slice(1, name.indexOf('/')) : null, state: 'live', access: 'public', ownerIds: [ALICE], ...over,
  });
  const A = pkg('@alice/a');
  const B = pkg('@alice/b');
  const scoped = (scope: TokenScope): Principal => ({
    kind: 'user', userId: ALICE, name: 'alice', isAdmin: false, token: { id: 'tok-granular', readonly: false, kind: 'api', scope },
  });
  const only = (packagesPermission: TokenScope['packagesPermission'], packages: string[] | 'all' | null = ['@alice/a'], scopes: string[] | null = null): Principal =>
    scoped({ packages, scopes, orgs: null, packagesPermission, orgsPermission: null });
  const expectRule = (d: Decision, allow: boolean, rule: string, outcome?: string) => {
    assert.equal(d.allow, allow, JSON.stringify(d));
    assert.equal(d.rule, rule);
    if (!d.allow && outcome) assert.equal(d.outcome, outcome);
  };

  it('a read-write token for A publishes A, and is refused B with token-scope (logged)', () => {
    const log = capturingLogger();
    const authz = new Authorizer(log);
    expectRule(authz.check(only('read-write'), 'package:publish', A), true, 'owner');
    assert.equal(log.entries.length, 0);
    const d = authz.check(only('read-write'), 'package:publish', B);
    expectRule(d, false, 'token-scope', 'forbidden');
    assertLogged(log, d, 'package:publish', B);
    assert.equal(log.entries[0]?.fields?.tokenId, 'tok-granular');
  });

  it('refuses B the same way whether B exists, was unpublished, or never existed (no existence oracle)', () => {
    const authz = new Authorizer(capturingLogger());
    for (const state of ['live', 'deleted', null] as const) {
      for (const action of ['package:publish', 'package:create', 'package:unpublish', 'package:tag'] as const) {
        expectRule(authz.check(only('read-write'), action, pkg('@alice/b', { state, ownerIds: state === null ? [] : [ALICE] })), false, 'token-scope', 'forbidden');
      }
    }
  });

  it('a read-only granular token reads a restricted A, cannot write A, and does not see a restricted B', () => {
    const authz = new Authorizer(capturingLogger());
    expectRule(authz.check(only('read-only'), 'package:read', pkg('@alice/a', { access: 'restricted' })), true, 'owner-read');
    for (const action of WRITES) expectRule(authz.check(only('read-only'), action, A), false, 'token-scope', 'forbidden');
    expectRule(authz.check(only('read-only'), 'package:read', pkg('@alice/b', { access: 'restricted' })), false, 'token-scope', 'hidden');
  });

  it('public reads need no credential, so no scope takes them away', () => {
    const authz = new Authorizer(capturingLogger());
    expectRule(authz.check(only('no-access'), 'package:read', B), true, 'public-read');
    expectRule(authz.check(only('no-access'), 'package:read', pkg('@alice/a', { access: 'restricted' })), false, 'token-scope', 'hidden');
  });

  it('read-write does not grant management; the manage extension does', () => {
    const authz = new Authorizer(capturingLogger());
    for (const action of ['package:owners', 'package:publishers', 'package:provenance'] as const) {
      expectRule(authz.check(only('read-write'), action, A), false, 'token-scope', 'forbidden');
      expectRule(authz.check(only('manage'), action, A), true, 'owner');
    }
    for (const action of ['package:unpublish', 'package:deprecate', 'package:tag'] as const) expectRule(authz.check(only('read-write'), action, A), true, 'owner');
  });

  it('a scope token covers every package in the scope, new names included, and nothing outside it', () => {
    const authz = new Authorizer(capturingLogger());
    const scopeToken = only('read-write', null, ['alice']);
    expectRule(authz.check(scopeToken, 'package:publish', A), true, 'owner');
    expectRule(authz.check(scopeToken, 'package:publish', B), true, 'owner');
    expectRule(authz.check(scopeToken, 'package:create', pkg('@alice/new', { state: null, ownerIds: [] })), true, 'own-scope');
    expectRule(authz.check(scopeToken, 'package:publish', pkg('left-pad')), false, 'token-scope', 'forbidden');
    expectRule(authz.check(scopeToken, 'package:create', pkg('new-unscoped', { state: null, ownerIds: [] })), false, 'token-scope', 'forbidden');
  });

  it('a scope never widens: an all-packages read-write token still cannot publish someone else\'s package', () => {
    const authz = new Authorizer(capturingLogger());
    expectRule(authz.check(only('manage', 'all'), 'package:publish', pkg('left-pad', { ownerIds: [BOB] })), false, 'owner-required', 'forbidden');
    expectRule(authz.check(only('manage', 'all'), 'package:create', pkg('@bob/x', { state: null, ownerIds: [] })), false, 'scope-owner', 'forbidden');
  });

  it('an org-only token (no package access) changes no package', () => {
    const authz = new Authorizer(capturingLogger());
    const orgOnly = scoped({ packages: null, scopes: null, orgs: ['alice'], packagesPermission: 'no-access', orgsPermission: 'read-write' });
    for (const action of WRITES) expectRule(authz.check(orgOnly, action, A), false, 'token-scope', 'forbidden');
  });
});
