// The one place that answers "may principal P do action A on package R?". Deny by default: an
// action not handled below is refused. Each refusal names the rule that refused it and is logged.
import type { Logger } from '../../core/logger.ts';
import type { MfaState, UserPrincipal, Principal, PublisherGrant } from './principal.ts';
import { tokenAllows } from '../tokens/token-scope.ts';

/** Closed list of package actions. New entries may be added; existing ones never change meaning. */
export const PACKAGE_ACTIONS = [
  'package:read',
  'package:create',
  'package:publish',
  'package:unpublish',
  'package:deprecate',
  'package:tag',
  'package:owners',
  /** Manage trusted publishers; on a name that does not exist yet, registers a pending publisher. */
  'package:publishers',
  /** Open or close a window in which a version may break provenance continuity (BP-3). */
  'package:provenance',
] as const;
export type PackageAction = (typeof PACKAGE_ACTIONS)[number];

export interface PackageResource {
  ecosystem: string;
  name: string;
  /** The namespace the name lives in (npm `@scope`, without the `@`), or null. */
  scope: string | null;
  /** Null when no package of that name was ever created. */
  state: 'live' | 'deleted' | null;
  access: 'public' | 'restricted';
  ownerIds: readonly number[];
  /** The package accepts new versions only from trusted publishers. */
  trustedPublishingOnly?: boolean;
  /** Marked critical: writes need phishing-resistant MFA (a passkey), never a bypass token. */
  critical?: boolean;
  /**
   * The package's own 2FA setting (npm's `access set mfa=`): 'publish' asks every person's write
   * for a second factor and no token bypasses it; 'automation' asks too, but bypass tokens may.
   */
  mfaPolicy?: 'none' | 'publish' | 'automation';
  /** Present when the scope is an organization: the principal's standing in it (docs/organizations.md). */
  org?: OrgStanding;
}

export type OrgRole = 'owner' | 'admin' | 'member';
export type TeamPermission = 'read-only' | 'read-write';

/** What the principal is in the package's organization; both null for an outsider or a non-user. */
export interface OrgStanding {
  role: OrgRole | null;
  /** The strongest permission a team the principal belongs to has on this package. */
  teamPermission: TeamPermission | null;
}

/** Closed list of organization actions (kept apart from package actions: the resource differs). */
export const ORG_ACTIONS = [
  /** Create a new organization (the resource names an org that does not exist yet). */
  'org:create',
  /** See the org's members, teams, team members and team grants. */
  'org:read',
  /** Add, remove or change the role of members. */
  'org:members',
  /** Create and delete teams, change their members and their package grants. */
  'org:teams',
  /** Read the org's audit log (owners and admins). */
  'org:audit',
] as const;
export type OrgAction = (typeof ORG_ACTIONS)[number];

export interface OrgResource {
  name: string;
  /** False when no org of that name exists. */
  exists: boolean;
  /** The principal's role in it, or null. */
  role: OrgRole | null;
  /** `org:create` only: the name is a user's name (that scope is the user's). */
  nameIsUser?: boolean;
  /** `org:members` only: the change gives or takes the owner role (only owners may). */
  touchesOwner?: boolean;
}

/** Instance-wide rules about people's credentials for writes (AUTHN-1.1, 2.3, 3.2, 3.3). */
export interface AccountRules {
  requireVerifiedEmail: boolean;
  requireMfaForMaintainers: boolean;
}

export const NO_ACCOUNT_RULES: AccountRules = { requireVerifiedEmail: false, requireMfaForMaintainers: false };

export type Decision =
  | { allow: true; rule: string }
  | {
      allow: false;
      rule: string;
      /** `unauthenticated`: ask for credentials; `hidden`: answer as if the package did not exist; `forbidden`: refuse; `second-factor`: ask for an OTP (or a passkey). */
      outcome: 'unauthenticated' | 'hidden' | 'forbidden' | 'second-factor';
      message: string;
    };

const allow = (rule: string): Decision => ({ allow: true, rule });
const deny = (rule: string, outcome: 'unauthenticated' | 'hidden' | 'forbidden' | 'second-factor', message: string): Decision =>
  ({ allow: false, rule, outcome, message });

const NO_MFA: MfaState = { emailVerified: false, enrolled: false, mode: null, presented: 'none' };

/**
 * After the role rules allowed a person's write: is the credential strong enough? Checked last so
 * that nobody is asked for a second factor for something they could not do anyway.
 */
export function secondFactorDecision(p: UserPrincipal, r: Pick<PackageResource, 'name' | 'critical' | 'mfaPolicy'>, rules: AccountRules, allowed: Decision): Decision {
  const mfa = p.mfa ?? NO_MFA;
  if (rules.requireVerifiedEmail && !mfa.emailVerified) {
    return deny('email-unverified', 'forbidden', 'Verify your email address before changing packages: follow the link in the verification mail (or request a new one in your account settings)');
  }
  const packagePolicy = r.mfaPolicy ?? 'none';
  const needed = rules.requireMfaForMaintainers || mfa.mode === 'auth-and-writes' || r.critical === true || packagePolicy !== 'none';
  if (!needed) return allowed;
  if (!mfa.enrolled) {
    const who = rules.requireMfaForMaintainers || mfa.mode === 'auth-and-writes' ? 'This registry requires' : `${r.name} requires`;
    return deny('mfa-enrollment-required', 'forbidden', `${who} two-factor authentication for package writes: enable it with \`npm profile enable-2fa auth-and-writes\` or in your account settings`);
  }
  if (r.critical === true) {
    return mfa.presented === 'webauthn' ? allowed
      : deny('phishing-resistant-mfa-required', 'second-factor', `${r.name} is a critical package: confirm this change with a passkey or security key in the browser`);
  }
  if (mfa.presented !== 'none') return allowed;
  if (p.token?.bypass2fa === true) {
    return packagePolicy === 'publish'
      ? deny('package-mfa-no-bypass', 'second-factor', `${r.name} requires a one-time password for every change, whatever the token`)
      : allowed;
  }
  return deny('otp-required', 'second-factor', 'This operation requires a one-time password from your authenticator app');
}

function decide(p: Principal, action: PackageAction, r: PackageResource): Decision {
  // In an org scope, a maintainer's rights last only while they are a member of the org.
  const isOwner = p.kind === 'user' && r.ownerIds.includes(p.userId) && (r.org === undefined || r.org.role !== null);
  const org = r.org;
  // Who may change an org package: org owners, teams with read-write, and its maintainers.
  const orgWriter = org !== undefined && (org.role === 'owner' || org.teamPermission === 'read-write');
  const canWrite = isOwner || orgWriter;
  const canRead = canWrite || org?.teamPermission === 'read-only'
    || (action === 'package:owners' && org?.role === 'admin');
  // A restricted package must be indistinguishable from an absent one for everyone else.
  const hiddenFromCaller = r.state === 'live' && r.access === 'restricted' && !canRead;

  // A granular token narrows its owner's rights; it never widens them (the rules below still apply).
  // Decided from the name alone, before existence, so the answer says nothing about other packages.
  // Public reads need no credential, so a token's scope does not take them away.
  const tokenScope = p.kind === 'user' ? p.token?.scope : null;
  if (tokenScope && !(action === 'package:read' && r.access === 'public') && !tokenAllows(tokenScope, action, r)) {
    return action === 'package:read'
      ? deny('token-scope', 'hidden', `${r.name} is not found`)
      : deny('token-scope', 'forbidden', `This token's scope does not allow ${action} on ${r.name}`);
  }

  if (action === 'package:read') {
    if (r.access === 'public') return allow('public-read');
    if (isOwner) return allow('owner-read');
    if (org?.role === 'owner') return allow('org-owner-read');
    if (org?.teamPermission) return allow('team-read');
    if (p.kind === 'publisher' && p.ecosystem === r.ecosystem && p.packageName === r.name) return allow('trusted-publisher-read');
    return deny('restricted-read', 'hidden', `${r.name} is not found`);
  }

  if (p.kind === 'publisher') return decidePublisher(p, action, r);

  if (p.kind !== 'user') return deny('authentication-required', 'unauthenticated', 'You must be logged in to do this');
  if (p.token?.readonly) return deny('read-only-token', 'forbidden', 'This token is read-only and cannot change packages');

  switch (action) {
    case 'package:create':
      if (org) return decideOrgCreate(r, org, isOwner, canWrite);
      // Checked before existence, so the answer is the same whether or not the package exists.
      if (r.scope !== null && r.scope !== p.name && !isOwner) {
        return deny('scope-owner', 'forbidden', `The scope @${r.scope} belongs to the user ${r.scope}; you are ${p.name}`);
      }
      if (r.state === 'live') return isOwner ? allow('owner-publish') : deny('owner-required', 'forbidden', `You are not an owner of ${r.name}`);
      if (r.state === 'deleted') {
        return isOwner
          ? allow('former-owner-reclaims')
          : deny('name-reserved', 'forbidden', `The name ${r.name} was used before and is reserved for its former owners`);
      }
      return allow(r.scope ? 'own-scope' : 'new-unscoped-name');
    case 'package:publishers':
      // Outside an org nobody learns which of its names exist: the same refusal for every state.
      if (org && org.role === null) return deny('org-member-required', 'forbidden', `The scope @${r.scope ?? ''} belongs to an organization you are not a member of`);
      // A name nobody has yet: whoever could create it may register the publisher that will.
      if (r.state === null) {
        if (org) return decideOrgCreate(r, org, isOwner, canWrite);
        if (r.scope !== null && r.scope !== p.name) return deny('scope-owner', 'forbidden', `The scope @${r.scope} belongs to the user ${r.scope}; you are ${p.name}`);
        return allow(r.scope ? 'own-scope-pending' : 'new-name-pending');
      }
      if (r.state === 'deleted') return canWrite ? allow('former-owner-pending') : deny('name-reserved', 'forbidden', `The name ${r.name} was used before and is reserved for its former owners`);
      // A live package: the same writers as every other change.
      return decideLiveWrite(action, r, isOwner, canWrite, hiddenFromCaller);
    case 'package:publish':
    case 'package:unpublish':
    case 'package:deprecate':
    case 'package:tag':
    case 'package:owners':
    case 'package:provenance':
      return decideLiveWrite(action, r, isOwner, canWrite, hiddenFromCaller);
  }
  return deny('default-deny', 'forbidden', 'Not allowed');
}

/** A change to a live package (or a refusal as if it did not exist when the caller may not read it). */
function decideLiveWrite(action: PackageAction, r: PackageResource, isOwner: boolean, canWrite: boolean, hiddenFromCaller: boolean): Decision {
  const org = r.org;
  if (r.state !== 'live' || hiddenFromCaller) return deny('no-such-package', 'hidden', `${r.name} is not found`);
  if (action === 'package:owners' && org) {
    // npm owner add/rm on an org package is people management: the org's owners and admins.
    return org.role === 'owner' || org.role === 'admin'
      ? allow('org-admin-owners') : deny('org-admin-required', 'forbidden', `Only owners and admins of @${r.scope ?? ''} manage the maintainers of ${r.name}`);
  }
  if (action === 'package:publish' && canWrite && r.trustedPublishingOnly) {
    return deny('trusted-publishing-only', 'forbidden', `${r.name} accepts new versions only from its trusted publishers (CI); publish from the trusted workflow`);
  }
  if (canWrite) return allow(isOwner ? 'owner' : 'org-write');
  if (org?.teamPermission === 'read-only') return deny('team-read-only', 'forbidden', `Your teams have read-only access to ${r.name}`);
  if (org?.role === 'admin') return deny('org-admin-not-publisher', 'forbidden', `Org admins manage people; to change ${r.name} join a team with read-write access to it`);
  return deny('owner-required', 'forbidden', `You are not an owner of ${r.name}`);
}

/**
 * A name in an org scope (npm's rule): any owner or developer of the org may create a new package
 * there; admins manage people and need a team with read-write to publish. Checked before
 * existence, so outsiders learn nothing about which names exist.
 */
function decideOrgCreate(r: PackageResource, org: OrgStanding, isOwner: boolean, canWrite: boolean): Decision {
  if (org.role === null) return deny('org-member-required', 'forbidden', `The scope @${r.scope ?? ''} belongs to an organization you are not a member of`);
  if (r.state === 'live') return canWrite ? allow(isOwner ? 'owner-publish' : 'org-write') : deny('owner-required', 'forbidden', `You may not publish ${r.name}`);
  if (r.state === 'deleted') {
    return canWrite ? allow('former-owner-reclaims') : deny('name-reserved', 'forbidden', `The name ${r.name} was used before and is reserved for its former owners`);
  }
  if (org.role === 'admin') return deny('org-admin-not-publisher', 'forbidden', `Org admins manage people; ask an owner or developer of @${r.scope ?? ''} to create ${r.name}`);
  return allow('org-member-creates');
}

function decideOrg(p: Principal, action: OrgAction, r: OrgResource): Decision {
  if (p.kind !== 'user') return deny('authentication-required', 'unauthenticated', 'You must be logged in to do this');
  if (action === 'org:create') {
    if (p.token?.readonly) return deny('read-only-token', 'forbidden', 'This token is read-only and cannot create organizations');
    if (p.token?.scope) return deny('token-scope', 'forbidden', 'A granular token cannot create organizations');
    if (r.exists || r.nameIsUser) return deny('org-name-taken', 'forbidden', `The scope @${r.name} is already taken`);
    return allow('any-user-creates-org');
  }
  // Non-members cannot tell an org they are not in from one that does not exist.
  if (!r.exists || r.role === null) return deny('org-member-required', 'hidden', `There is no organization ${r.name}`);
  // A granular token reaches an org only when it names it (`--orgs`), with `--orgs-permission`.
  const tokenScope = p.token?.scope;
  const tokenOrg = tokenScope ? (tokenScope.orgs?.includes(r.name) === true ? tokenScope.orgsPermission ?? 'read-only' : 'no-access') : null;
  if (tokenOrg === 'no-access') return deny('token-scope', action === 'org:read' ? 'hidden' : 'forbidden', `This token's scope does not include @${r.name}`);
  if (action === 'org:read') return allow('org-member-reads');
  if (action === 'org:audit') {
    return r.role === 'owner' || r.role === 'admin' ? allow('org-admin-audit') : deny('org-admin-required', 'forbidden', `Only owners and admins of @${r.name} read its audit log`);
  }
  if (p.token?.readonly || tokenOrg === 'read-only') return deny('read-only-token', 'forbidden', 'This token is read-only and cannot change organizations');
  if (action === 'org:members' && r.touchesOwner === true && r.role !== 'owner') {
    return deny('org-owner-required', 'forbidden', `Only owners of @${r.name} make or unmake owners`);
  }
  if (r.role === 'owner' || r.role === 'admin') return allow(`org-${r.role}`);
  return deny('org-admin-required', 'forbidden', `Only owners and admins of @${r.name} manage its members and teams`);
}

/** A trusted-publisher token publishes one package and does nothing else. */
function decidePublisher(p: PublisherGrant, action: PackageAction, r: PackageResource): Decision {
  if (p.ecosystem !== r.ecosystem || p.packageName !== r.name) {
    return deny('trusted-publisher-other-package', 'forbidden', `This token was minted for ${p.packageName} and cannot act on ${r.name}`);
  }
  if (!p.permissions.includes('createPackage')) return deny('trusted-publisher-permission', 'forbidden', `The trust configuration for ${r.name} does not allow publishing`);
  if (action === 'package:publish') return r.state === 'live' ? allow('trusted-publisher') : deny('no-such-package', 'hidden', `${r.name} is not found`);
  if (action === 'package:create') {
    if (r.state === 'deleted') return deny('name-reserved', 'forbidden', `The name ${r.name} was used before and is reserved for its former owners`);
    // A pending publisher: whoever registered it was allowed to create this name then.
    return r.state === 'live' ? allow('trusted-publisher') : allow('trusted-publisher-creates');
  }
  return deny('trusted-publisher-publish-only', 'forbidden', 'A trusted-publisher token can only publish');
}

export class Authorizer {
  private readonly log: Logger;
  private readonly rules: AccountRules;

  constructor(log: Logger, rules: AccountRules = NO_ACCOUNT_RULES) {
    this.log = log;
    this.rules = rules;
  }

  check(principal: Principal, action: PackageAction, resource: PackageResource): Decision {
    let d = decide(principal, action, resource);
    if (d.allow && principal.kind === 'user' && action !== 'package:read') d = secondFactorDecision(principal, resource, this.rules, d);
    return this.logged(principal, action, d, { package: `${resource.ecosystem}:${resource.name}` });
  }

  checkOrg(principal: Principal, action: OrgAction, resource: OrgResource): Decision {
    let d = decideOrg(principal, action, resource);
    // Org writes are account changes like package writes: the same second-factor rules apply.
    if (d.allow && principal.kind === 'user' && action !== 'org:read' && action !== 'org:audit') d = secondFactorDecision(principal, { name: `@${resource.name}` }, this.rules, d);
    return this.logged(principal, action, d, { org: resource.name });
  }

  /** Every refusal is logged with the rule that refused it (never a token value: only its id). */
  private logged(principal: Principal, action: PackageAction | OrgAction, d: Decision, target: Record<string, string>): Decision {
    if (!d.allow) {
      this.log.info('authorization refused', {
        action,
        rule: d.rule,
        principal: principal.kind === 'user' ? principal.name : principal.kind === 'publisher' ? `publisher:${principal.reference}` : 'anonymous',
        tokenId: principal.kind === 'user' ? principal.token?.id ?? null : null,
        ...target,
      });
    }
    return d;
  }
}
