// Bridges package rows to the authorizer's resource shape and its decisions to typed errors.
import { AttestryError, forbidden, notFound, unauthenticated } from '../errors.ts';
import type { Decision, OrgStanding, PackageResource } from '../../security/authz/authorize.ts';
import type { Principal } from '../../security/authz/principal.ts';
import type { MetadataOps, OrgRecord, PackageRecord, UserRecord } from '../../storage/metadata/store.ts';
import type { Ecosystem } from './ecosystem.ts';

type OrgLookup = Pick<MetadataOps, 'findOrg' | 'findOrgRole' | 'findTeamPermission'>;

/** The organization that owns the name's scope, if the scope is an org (and not a user's own scope). */
export async function scopeOrg(ops: Pick<MetadataOps, 'findOrg'>, eco: Pick<Ecosystem, 'scopeOf'>, name: string): Promise<OrgRecord | undefined> {
  const scope = eco.scopeOf(name);
  return scope === null ? undefined : ops.findOrg(scope);
}

/**
 * The principal's standing in the org that owns the name's scope, for the authorizer; undefined when
 * the scope is not an org (a user's scope keeps the user rules). Sequential queries: inside a
 * SQLite transaction only the transaction's own statements may be awaited.
 */
export async function orgStandingFor(ops: OrgLookup, eco: Ecosystem, name: string, principal: Principal): Promise<OrgStanding | undefined> {
  const org = await scopeOrg(ops, eco, name);
  if (!org) return undefined;
  if (principal.kind !== 'user') return { role: null, teamPermission: null };
  const role = (await ops.findOrgRole(org.id, principal.userId)) ?? null;
  // Team memberships end with the org membership; a non-member has no team permission.
  const teamPermission = role === null ? null : await ops.findTeamPermission(org.id, principal.userId, eco.id, name);
  return { role, teamPermission };
}

export function resourceFor(eco: Ecosystem, name: string, pkg: PackageRecord | undefined, owners: readonly Pick<UserRecord, 'id'>[], org?: OrgStanding): PackageResource {
  return {
    ecosystem: eco.id,
    name,
    scope: eco.scopeOf(name),
    state: pkg ? (pkg.deletedAt ? 'deleted' : 'live') : null,
    access: pkg?.access ?? 'public',
    ownerIds: owners.map((o) => o.id),
    trustedPublishingOnly: pkg?.trustedPublishingOnly === true,
    critical: pkg?.critical === true || pkg?.criticalAuto === true,
    mfaPolicy: pkg?.mfaPolicy ?? 'none',
    ...(org ? { org } : {}),
  };
}

/**
 * The whole resource for a decision about `name` as `principal` sees it: the row, its owners and the
 * principal's org standing — the one way services outside PackageService build it.
 */
export async function packageResourceFor(ops: OrgLookup & Pick<MetadataOps, 'listOwners'>, eco: Ecosystem, name: string, pkg: PackageRecord | undefined, principal: Principal): Promise<PackageResource> {
  const owners = pkg ? await ops.listOwners(pkg.id) : [];
  return resourceFor(eco, name, pkg, owners, await orgStandingFor(ops, eco, name, principal));
}

/**
 * A refusal as the typed error every edge maps: `AUTHZ_<RULE>` for unauthenticated and forbidden,
 * `OTP_REQUIRED` when a second factor is missing (the npm edge answers it with 401 +
 * `www-authenticate: OTP` and a web-OTP challenge), and `hidden()` — the resource's own
 * "not found" — when the caller may not even learn that it exists.
 */
export function refusalError(decision: Extract<Decision, { allow: false }>, hidden: () => AttestryError): AttestryError {
  const code = `AUTHZ_${decision.rule.toUpperCase().replace(/-/g, '_')}`;
  switch (decision.outcome) {
    case 'unauthenticated':
      return unauthenticated(code, decision.message);
    case 'hidden':
      return hidden();
    case 'second-factor':
      return new AttestryError('unauthenticated', 'OTP_REQUIRED', decision.message, { phishingResistant: decision.rule === 'phishing-resistant-mfa-required' });
    case 'forbidden':
      return forbidden(code, decision.message);
  }
}

export function requireAllowed(decision: Decision, name: string): void {
  if (decision.allow) return;
  throw refusalError(decision, () => notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it)`));
}
