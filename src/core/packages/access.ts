// Bridges package rows to the authorizer's resource shape and its decisions to typed errors.
import { AttestryError, forbidden, notFound, unauthenticated } from '../errors.ts';
import type { Decision, PackageResource } from '../../security/authz/authorize.ts';
import type { PackageRecord, UserRecord } from '../../storage/metadata/store.ts';
import type { Ecosystem } from './ecosystem.ts';

export function resourceFor(eco: Ecosystem, name: string, pkg: PackageRecord | undefined, owners: readonly Pick<UserRecord, 'id'>[]): PackageResource {
  return {
    ecosystem: eco.id,
    name,
    scope: eco.scopeOf(name),
    state: pkg ? (pkg.deletedAt ? 'deleted' : 'live') : null,
    access: pkg?.access ?? 'public',
    ownerIds: owners.map((o) => o.id),
    trustedPublishingOnly: pkg?.trustedPublishingOnly === true,
    critical: pkg?.critical === true || pkg?.criticalAuto === true,
  };
}

export function requireAllowed(decision: Decision, name: string): void {
  if (decision.allow) return;
  const code = `AUTHZ_${decision.rule.toUpperCase().replace(/-/g, '_')}`;
  switch (decision.outcome) {
    case 'unauthenticated':
      throw unauthenticated(code, decision.message);
    case 'hidden':
      throw notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it)`);
    case 'forbidden':
      throw forbidden(code, decision.message);
    case 'second-factor':
      // The npm edge answers this with 401 + `www-authenticate: OTP` and a web-OTP challenge.
      throw new AttestryError('unauthenticated', 'OTP_REQUIRED', decision.message, { phishingResistant: decision.rule === 'phishing-resistant-mfa-required' });
  }
  throw new AttestryError('forbidden', code, decision.message);
}
