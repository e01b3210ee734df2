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
export function secondFactorDecision(p: UserPrincipal, r: PackageResource, rules: AccountRules, allowed: Decision): Decision {
  const mfa = p.mfa ?? NO_MFA;
  if (rules.requireVerifiedEmail && !mfa.emailVerified) {
    return deny('email-unverified', 'forbidden', 'Verify your email address before changing packages: follow the link in the verification mail (or request a new one in your account settings)');
  }
  const needed = rules.requireMfaForMaintainers || mfa.mode === 'auth-and-writes' || r.critical === true;
  if (!needed) return allowed;
  if (!mfa.enrolled) {
    return deny('mfa-enrollment-required', 'forbidden', 'This registry requires two-factor authentication for package writes: enable it with `npm profile enable-2fa auth-and-writes` or in your account settings');
  }
  if (r.critical === true) {
    return mfa.presented === 'webauthn' ? allowed
      : deny('phishing-resistant-mfa-required', 'second-factor', `${r.name} is a critical package: confirm this change with a passkey or security key in the browser`);
  }
  if (p.token?.bypass2fa === true) return allowed;
  return mfa.presented === 'none' ? deny('otp-required', 'second-factor', 'This operation requires a one-time password from your authenticator app') : allowed;
}

function decide(p: Principal, action: PackageAction, r: PackageResource): Decision {
  const isOwner = p.kind === 'user' && r.ownerIds.includes(p.userId);
  // A restricted package must be indistinguishable from an absent one for everyone else.
  const hiddenFromCaller = r.state === 'live' && r.access === 'restricted' && !isOwner;

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
    if (p.kind === 'publisher' && p.ecosystem === r.ecosystem && p.packageName === r.name) return allow('trusted-publisher-read');
    return deny('restricted-read', 'hidden', `${r.name} is not found`);
  }

  if (p.kind === 'publisher') return decidePublisher(p, action, r);

  if (p.kind !== 'user') return deny('authentication-required', 'unauthenticated', 'You must be logged in to do this');
  if (p.token?.readonly) return deny('read-only-token', 'forbidden', 'This token is read-only and cannot change packages');

  switch (action) {
    case 'package:create':
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
      // A name nobody has yet: whoever could create it may register the publisher that will.
      if (r.state === null) {
        if (r.scope !== null && r.scope !== p.name) return deny('scope-owner', 'forbidden', `The scope @${r.scope} belongs to the user ${r.scope}; you are ${p.name}`);
        return allow(r.scope ? 'own-scope-pending' : 'new-name-pending');
      }
      if (r.state === 'deleted') return isOwner ? allow('former-owner-pending') : deny('name-reserved', 'forbidden', `The name ${r.name} was used before and is reserved for its former owners`);
      if (hiddenFromCaller) return deny('no-such-package', 'hidden', `${r.name} is not found`);
      return isOwner ? allow('owner') : deny('owner-required', 'forbidden', `You are not an owner of ${r.name}`);
    case 'package:publish':
    case 'package:unpublish':
    case 'package:deprecate':
    case 'package:tag':
    case 'package:owners':
    case 'package:provenance':
      if (r.state !== 'live' || hiddenFromCaller) return deny('no-such-package', 'hidden', `${r.name} is not found`);
      if (action === 'package:publish' && isOwner && r.trustedPublishingOnly) {
        return deny('trusted-publishing-only', 'forbidden', `${r.name} accepts new versions only from its trusted publishers (CI); publish from the trusted workflow`);
      }
      return isOwner ? allow('owner') : deny('owner-required', 'forbidden', `You are not an owner of ${r.name}`);
  }
  return deny('default-deny', 'forbidden', 'Not allowed');
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
    if (!d.allow) {
      this.log.info('authorization refused', {
        action,
        rule: d.rule,
        principal: principal.kind === 'user' ? principal.name : principal.kind === 'publisher' ? `publisher:${principal.reference}` : 'anonymous',
        tokenId: principal.kind === 'user' ? principal.token?.id ?? null : null,
        package: `${resource.ecosystem}:${resource.name}`,
      });
    }
    return d;
  }
}
