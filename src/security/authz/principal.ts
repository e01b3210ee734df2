// Who is asking. Every request resolves to exactly one principal before any decision is made.
import type { TokenScope } from '../tokens/token-scope.ts';

export interface TokenGrant {
  id: string;
  readonly: boolean;
  kind: 'session' | 'api';
  /** Writes need no second factor (an automation token); never on critical packages. */
  bypass2fa?: boolean;
  /** A granular token's packages and permissions; absent or null: the owner's full rights. */
  scope?: TokenScope | null;
}

/** What the authorizer needs to know about a person's second factors, resolved with the credential. */
export interface MfaState {
  emailVerified: boolean;
  /** A second factor (TOTP or a passkey) is enrolled. */
  enrolled: boolean;
  mode: 'auth-only' | 'auth-and-writes' | null;
  /** The second factor proven with this request (npm-otp), already verified; 'webauthn' is phishing-resistant. */
  presented: 'none' | 'totp' | 'webauthn';
}

/**
 * A CI workload holding a short-lived token minted from its verified OIDC identity: it may act
 * on exactly one package, with the permissions the package's trust configuration grants.
 */
export interface PublisherGrant {
  kind: 'publisher';
  tokenId: string;
  publisherId: number;
  /** The package-publisher link the token was minted through (npm's trust config id). */
  linkId: string;
  provider: string;
  /** What ran, e.g. `acme/widget/.github/workflows/release.yml@refs/tags/v1`. */
  reference: string;
  ecosystem: string;
  packageName: string;
  permissions: readonly string[];
  /** Who registered the trust; becomes the owner of a package the workload creates. */
  registeredBy: number | null;
  /** The OIDC issuer the workload's token came from. */
  issuer: string;
  /** The verified claims the token was minted for (provenance must come from the same run). */
  identity: Readonly<Record<string, string>>;
}

export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'user'; userId: number; name: string; isAdmin: boolean; token: TokenGrant | null; mfa?: MfaState }
  | PublisherGrant;

/** npm's names for what a trust configuration allows. */
export const PUBLISHER_PERMISSIONS = ['createPackage', 'createStagedPackage'] as const;

export const ANONYMOUS: Principal = { kind: 'anonymous' };

export type UserPrincipal = Extract<Principal, { kind: 'user' }>;

export const isUser = (p: Principal): p is UserPrincipal => p.kind === 'user';
