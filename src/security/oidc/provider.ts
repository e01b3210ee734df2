// What every CI provider is, as data: which claims a token must carry, which of them a trust
// policy binds, which are optional-but-binding and which are known and ignored; which signing
// algorithms its issuer uses; whether it sets `jti`. The verifier and the matcher read these
// tables; nothing provider-specific lives anywhere else.

export type ProviderId = 'github' | 'gitlab' | 'circleci' | 'buildkite' | 'google';

export type Claims = Readonly<Record<string, unknown>>;

/** Identifiers learned at the first successful use and enforced afterwards (TP-9). */
export type Binding = Readonly<Record<string, string>>;

export type MatchResult =
  | { ok: true; /** Immutable ids to record on first use (e.g. GitHub repository owner id). */ binding: Binding; /** Human-readable reference for logs and documents. */ reference: string }
  | { ok: false; code: string; message: string };

export interface ClaimTable {
  /** Must be present and are compared with the policy. */
  readonly policyBound: readonly string[];
  /** Must be present (non-empty); any value. */
  readonly required: readonly string[];
  /** Compared with the policy when the policy sets them; otherwise any value. */
  readonly optional: readonly string[];
  /** Known and deliberately not checked (documented, so a reviewer sees the choice). */
  readonly ignored: readonly string[];
}

export interface ProviderDefinition<Policy = unknown> {
  readonly id: ProviderId;
  readonly displayName: string;
  /** The public issuers of this provider (a prefix ends in "/"); operators add self-hosted ones in config. */
  readonly canonicalIssuers: readonly string[];
  /** Asymmetric algorithms only: never `none`, never HMAC. */
  readonly algorithms: readonly string[];
  /** Whether the provider sets `jti`; when it does, a token without one is refused. */
  readonly setsJti: boolean;
  readonly claims: ClaimTable;
  /** Validates a policy as a client sent it (npm trust body `claims`), returning its canonical form. */
  parsePolicy(input: unknown): Policy;
  /** The policy in the client's shape again (what `npm trust list` shows); parsePolicy(toClaims(p)) equals p. */
  toClaims(policy: Policy): Record<string, unknown>;
  /** Checks verified claims against a policy and the ids bound at first use (if any). */
  match(claims: Claims, policy: Policy, bound: Binding | null, issuer: string): MatchResult;
}

export class PolicyError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** Whether `iss` is one of the provider's public issuers (exact, or under a "/"-terminated prefix). */
export function isCanonicalIssuer(p: Pick<ProviderDefinition, 'canonicalIssuers'>, iss: string): boolean {
  return p.canonicalIssuers.some((c) => (c.endsWith('/') ? iss.startsWith(c) && iss.length > c.length : iss === c));
}

// ---------- small helpers the provider tables share ----------

export const refuse = (code: string, message: string): MatchResult => ({ ok: false, code, message });

export function str(claims: Claims, name: string): string | undefined {
  const v = claims[name];
  return typeof v === 'string' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : undefined;
}

/** The refusal for the first required or policy-bound claim that is missing or empty, if any. */
export function missingClaim(claims: Claims, table: ClaimTable): MatchResult | undefined {
  for (const name of [...table.policyBound, ...table.required]) {
    const v = str(claims, name);
    if (v === undefined || v === '') return refuse('OIDC_CLAIM_MISSING', `The token has no "${name}" claim, which this provider always sets`);
  }
  return undefined;
}

/** Checks a recorded binding: every id recorded at first use must be what the token says now. */
export function checkBinding(claims: Claims, bound: Binding | null, ids: readonly string[]): MatchResult | undefined {
  if (!bound) return undefined;
  for (const id of ids) {
    if (bound[id] !== undefined && bound[id] !== str(claims, id)) {
      return refuse('OIDC_IDENTITY_CHANGED', `The token's ${id} (${str(claims, id) ?? 'absent'}) is not the one this publisher was first used with (${bound[id]}): the account or repository was deleted and recreated, or renamed onto another one`);
    }
  }
  return undefined;
}

export function requireObject(input: unknown, what: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new PolicyError('TRUST_BAD_CLAIMS', `${what} must be an object`);
  return input as Record<string, unknown>;
}

export function requireString(o: Record<string, unknown>, key: string, pattern: RegExp, explain: string, max = 255): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > max || !pattern.test(v)) throw new PolicyError('TRUST_BAD_CLAIMS', `${key} ${explain}`);
  return v;
}

export function optionalString(o: Record<string, unknown>, key: string, pattern: RegExp, explain: string, max = 255): string | null {
  if (o[key] === undefined || o[key] === null || o[key] === '') return null;
  return requireString(o, key, pattern, explain, max);
}

/** An optional deployment environment name in a policy (GitHub, GitLab). */
export function optionalEnvironment(o: Record<string, unknown>): string | null {
  return optionalString(o, 'environment', ENVIRONMENT, 'must be printable, without quotes, commas, semicolons or backslashes');
}

/** Environment names: printable, no quotes or separators (PyPI's rule, which GitHub accepts). */
const ENVIRONMENT = /^[^\s"'`,;\\\p{Cc}](?:[^"'`,;\\\p{Cc}]*[^\s"'`,;\\\p{Cc}])?$/u;
export const WORKFLOW_FILE = /^[A-Za-z0-9._-]+\.ya?ml$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
