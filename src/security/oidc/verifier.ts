// Verifies a CI workload's OIDC token (TP-1…TP-4). The issuer is read from the unverified token
// only to choose which configured issuer (and so which provider table and keys) to verify
// against; everything else is trusted only after the signature and the time and audience checks.
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import { unauthenticated, type AttestryError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { isCanonicalIssuer, type ProviderDefinition, type ProviderId } from './provider.ts';
import { PROVIDERS } from './providers/index.ts';

/** The one clock leeway for exp, nbf and iat (PyPI uses 30 s too). */
export const OIDC_CLOCK_LEEWAY_SECONDS = 30;
/** Tokens older than this (by iat) are refused even if unexpired: CI tokens live minutes. */
export const OIDC_MAX_TOKEN_AGE_SECONDS = 15 * 60;
const DISCOVERY_TIMEOUT_MS = 5_000;
const DISCOVERY_MAX_BYTES = 64 * 1024;
/** After a failed discovery, callers are refused for this long instead of hammering the issuer. */
const DISCOVERY_RETRY_MS = 10_000;
/** Keys are refetched at most this often when an unknown `kid` arrives. */
const JWKS_COOLDOWN_MS = 30_000;
const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;
const MAX_TOKEN_CHARS = 16 * 1024;

export interface IssuerEntry {
  provider: ProviderId;
  issuer: string;
  /** Allows a plain-HTTP issuer (tests, labs). Logged loudly at start-up. */
  insecureForTesting?: boolean;
  /** Publishers of this provider created without an explicit issuer bind to this one (e.g. a GHES-only shop). */
  default?: boolean;
}

export interface VerifiedToken {
  provider: ProviderDefinition;
  issuer: string;
  claims: JWTPayload;
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;

const fail = (code: string, message: string): AttestryError => unauthenticated(code, message);

/** The audiences a token for this registry may carry: `npm:<hostname>`, and `npm:<host:port>` (yarn). */
export function audiencesFor(publicUrl: string): string[] {
  const u = new URL(publicUrl);
  const out = [`npm:${u.hostname}`];
  if (u.port) out.push(`npm:${u.host}`);
  return out;
}

/** Validates configured self-hosted issuers; throws on an entry the verifier must not accept. */
export function checkIssuerEntries(entries: readonly IssuerEntry[]): IssuerEntry[] {
  return entries.map((e) => {
    if (!Object.hasOwn(PROVIDERS, e.provider)) throw new Error(`trustedPublishing.issuers: unknown provider "${e.provider}" (one of ${Object.keys(PROVIDERS).join(', ')})`);
    let url: URL;
    try {
      url = new URL(e.issuer);
    } catch {
      throw new Error(`trustedPublishing.issuers: "${e.issuer}" is not a URL`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && e.insecureForTesting === true)) {
      throw new Error(`trustedPublishing.issuers: "${e.issuer}" is not https; a plain-HTTP issuer needs "insecureForTesting": true and must never be used in production`);
    }
    if (url.search || url.hash || url.username || url.password) throw new Error(`trustedPublishing.issuers: "${e.issuer}" must be a bare issuer URL`);
    return { provider: e.provider, issuer: e.issuer.replace(/\/+$/, ''), insecureForTesting: e.insecureForTesting === true, default: e.default === true };
  });
}

export class OidcVerifier {
  private readonly extra: Map<string, IssuerEntry>;
  private readonly audiences: string[];
  private readonly keySets = new Map<string, Promise<KeySet>>();
  private readonly failedAt = new Map<string, number>();
  private readonly log: Logger;

  constructor(options: { issuers: readonly IssuerEntry[]; audiences: readonly string[]; log: Logger }) {
    this.extra = new Map(checkIssuerEntries(options.issuers).map((e) => [e.issuer, e]));
    this.audiences = [...options.audiences];
    this.log = options.log;
    for (const e of this.extra.values()) {
      if (e.insecureForTesting) this.log.warn('INSECURE: a plain-HTTP OIDC issuer is trusted for publishing; never configure insecureForTesting in production', { issuer: e.issuer, provider: e.provider });
    }
  }

  /** Which provider (and whether plain HTTP is allowed) for an issuer; undefined if unknown. */
  issuerEntry(iss: string): IssuerEntry | undefined {
    const configured = this.extra.get(iss);
    if (configured) return configured;
    for (const p of Object.values(PROVIDERS)) if (isCanonicalIssuer(p, iss)) return { provider: p.id, issuer: iss };
    return undefined;
  }

  /** The issuer a publisher of `provider` created without an explicit one binds to. */
  defaultIssuer(provider: ProviderId): string | undefined {
    for (const e of this.extra.values()) if (e.provider === provider && e.default) return e.issuer;
    return PROVIDERS[provider].canonicalIssuers.find((c) => !c.endsWith('/'));
  }

  issuerAccepted(provider: ProviderId, issuer: string): boolean {
    return this.issuerEntry(issuer)?.provider === provider;
  }

  async verify(token: string): Promise<VerifiedToken> {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS) throw fail('OIDC_TOKEN_MALFORMED', 'The OIDC token is missing or too long');
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw fail('OIDC_TOKEN_MALFORMED', 'The OIDC token is not a JWT');
    }
    const iss = unverified.iss;
    if (typeof iss !== 'string' || iss.length === 0) throw fail('OIDC_TOKEN_MALFORMED', 'The OIDC token has no issuer');
    const entry = this.issuerEntry(iss);
    if (!entry) throw fail('OIDC_UNKNOWN_ISSUER', `Tokens from ${iss.slice(0, 200)} are not accepted by this registry (an operator can add a self-hosted issuer under trustedPublishing.issuers)`);
    const provider = PROVIDERS[entry.provider];
    const keys = await this.keySet(entry);
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: iss,
        audience: this.audiences,
        algorithms: [...provider.algorithms],
        clockTolerance: OIDC_CLOCK_LEEWAY_SECONDS,
        maxTokenAge: OIDC_MAX_TOKEN_AGE_SECONDS,
        requiredClaims: ['exp', 'iat', ...(provider.setsJti ? ['jti'] : [])],
      });
      return { provider, issuer: iss, claims: payload };
    } catch (e) {
      throw this.mapJoseError(e);
    }
  }

  private mapJoseError(e: unknown): AttestryError {
    // jose reports a token past maxTokenAge as expired, on the iat claim.
    if (e instanceof errors.JWTExpired) {
      if (e.claim === 'iat') return fail('OIDC_TOKEN_TOO_OLD', `The OIDC token was issued more than ${OIDC_MAX_TOKEN_AGE_SECONDS} s ago`);
      return fail('OIDC_TOKEN_EXPIRED', 'The OIDC token has expired');
    }
    if (e instanceof errors.JWTClaimValidationFailed) {
      if (e.claim === 'aud') return fail('OIDC_WRONG_AUDIENCE', `The OIDC token's audience must be ${this.audiences.join(' or ')}`);
      if (e.claim === 'nbf') return fail('OIDC_TOKEN_NOT_YET_VALID', 'The OIDC token is not valid yet (nbf is in the future)');
      if (e.claim === 'iat') return fail('OIDC_TOKEN_NOT_YET_VALID', 'The OIDC token was issued in the future');
      if (e.claim === 'iss') return fail('OIDC_UNKNOWN_ISSUER', 'The OIDC token\'s issuer does not match');
      return fail('OIDC_CLAIM_MISSING', `The OIDC token's "${e.claim}" claim is missing or invalid`);
    }
    if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) return fail('OIDC_ALGORITHM_NOT_ALLOWED', 'The OIDC token is signed with an algorithm this provider does not use');
    if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) return fail('OIDC_UNKNOWN_KEY', 'The OIDC token is signed with a key its issuer does not publish');
    if (e instanceof errors.JWSSignatureVerificationFailed) return fail('OIDC_BAD_SIGNATURE', 'The OIDC token\'s signature does not verify');
    if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid) return fail('OIDC_ISSUER_UNAVAILABLE', 'The issuer\'s keys could not be fetched; try again');
    if (e instanceof errors.JWTInvalid || e instanceof errors.JWSInvalid) return fail('OIDC_TOKEN_MALFORMED', 'The OIDC token is malformed');
    this.log.warn('OIDC verification failed unexpectedly', { error: (e as Error)?.message ?? String(e) });
    return fail('OIDC_ISSUER_UNAVAILABLE', 'The OIDC token could not be verified; try again');
  }

  /** The issuer's key set, found through its discovery document once per process. */
  private async keySet(entry: IssuerEntry): Promise<KeySet> {
    const failed = this.failedAt.get(entry.issuer);
    if (failed !== undefined && performance.now() - failed < DISCOVERY_RETRY_MS) throw fail('OIDC_ISSUER_UNAVAILABLE', `The issuer ${entry.issuer} could not be reached recently; try again shortly`);
    let set = this.keySets.get(entry.issuer);
    if (!set) {
      set = this.discover(entry);
      this.keySets.set(entry.issuer, set);
    }
    try {
      return await set;
    } catch (e) {
      this.keySets.delete(entry.issuer);
      this.failedAt.set(entry.issuer, performance.now());
      throw e;
    }
  }

  private async discover(entry: IssuerEntry): Promise<KeySet> {
    const allowHttp = entry.insecureForTesting === true;
    const where = `${entry.issuer}/.well-known/openid-configuration`;
    let doc: unknown;
    try {
      const res = await fetch(where, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS), redirect: 'error', headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      if (text.length > DISCOVERY_MAX_BYTES) throw new Error('discovery document too large');
      doc = JSON.parse(text);
    } catch (e) {
      this.log.warn('OIDC discovery failed', { issuer: entry.issuer, error: (e as Error).message });
      throw fail('OIDC_ISSUER_UNAVAILABLE', `The issuer's discovery document (${where}) could not be read; try again`);
    }
    const d = doc as { issuer?: unknown; jwks_uri?: unknown };
    if (d.issuer !== entry.issuer) throw fail('OIDC_ISSUER_UNAVAILABLE', `The discovery document at ${where} names another issuer`);
    let jwks: URL;
    try {
      jwks = new URL(String(d.jwks_uri));
    } catch {
      throw fail('OIDC_ISSUER_UNAVAILABLE', `The discovery document at ${where} has no valid jwks_uri`);
    }
    if (jwks.protocol !== 'https:' && !(allowHttp && jwks.protocol === 'http:')) throw fail('OIDC_ISSUER_UNAVAILABLE', `The issuer's jwks_uri must be https (${where})`);
    return createRemoteJWKSet(jwks, { timeoutDuration: DISCOVERY_TIMEOUT_MS, cooldownDuration: JWKS_COOLDOWN_MS, cacheMaxAge: JWKS_CACHE_MAX_AGE_MS });
  }
}
