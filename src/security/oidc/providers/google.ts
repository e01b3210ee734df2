// Google Cloud (Cloud Build and other workloads with a service account). Policy: the service
// account's email, optionally its numeric `sub`. Google tokens carry no `jti`.
import { missingClaim, optionalString, refuse, requireObject, requireString, str, type ProviderDefinition } from '../provider.ts';

export interface GooglePolicy {
  email: string;
  sub: string | null;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const google: ProviderDefinition<GooglePolicy> = {
  id: 'google',
  displayName: 'Google Cloud',
  canonicalIssuers: ['https://accounts.google.com'],
  algorithms: ['RS256'],
  setsJti: false,
  claims: {
    policyBound: ['email'],
    required: ['sub'],
    optional: [],
    ignored: ['azp', 'google'],
  },

  parsePolicy(input) {
    const o = requireObject(input, 'claims');
    return {
      email: requireString(o, 'email', EMAIL, 'must be a service account email address').toLowerCase(),
      sub: optionalString(o, 'sub', /^[0-9]{1,64}$/, 'must be the numeric id of the service account'),
    };
  },

  toClaims: (p) => ({ email: p.email, ...(p.sub ? { sub: p.sub } : {}) }),

  match(claims, policy) {
    const absent = missingClaim(claims, this.claims);
    if (absent) return absent;
    if (claims.email_verified !== true) return refuse('OIDC_CLAIM_MISSING', 'The token\'s email is not verified (email_verified must be true)');
    if ((str(claims, 'email') as string).toLowerCase() !== policy.email) return refuse('OIDC_REPOSITORY_MISMATCH', `The workload runs as ${str(claims, 'email')}, but this package trusts ${policy.email}`);
    if (policy.sub !== null && str(claims, 'sub') !== policy.sub) return refuse('OIDC_IDENTITY_CHANGED', `The service account's id is ${str(claims, 'sub')}, but this package trusts ${policy.sub}`);
    return { ok: true, binding: {}, reference: `google:${policy.email}` };
  },
};
