// Trusted publishing (TP-5…TP-10): which CI identities may publish which packages, and the
// exchange of a verified workload identity for a short-lived token that can publish exactly one
// package. The OIDC token itself is never stored and never accepted as a publish credential.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { conflict, forbidden, invalid, notFound, unauthenticated } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Ecosystem } from '../packages/ecosystem.ts';
import { packageResourceFor, requireAllowed } from '../packages/access.ts';
import { appendToLog } from '../transparency/log.ts';
import { trustedPublisherChanged } from '../transparency/entry.ts';
import type { Authorizer } from '../../security/authz/authorize.ts';
import { PUBLISHER_PERMISSIONS, type Principal, type PublisherGrant } from '../../security/authz/principal.ts';
import { PolicyError, type Binding, type ProviderDefinition, type ProviderId } from '../../security/oidc/provider.ts';
import { isProviderId, PROVIDERS } from '../../security/oidc/providers/index.ts';
import { OIDC_CLOCK_LEEWAY_SECONDS, type VerifiedToken } from '../../security/oidc/verifier.ts';
import { generateToken, hashToken, isWellFormedToken } from '../../security/tokens/token-format.ts';
import type { MetadataStore, PackagePublisherRecord, PackageRecord, TrustedPublisherRecord } from '../../storage/metadata/store.ts';
import type { SecurityNotice } from '../accounts/notifier.ts';

export interface TrustedPublishingPolicy {
  /** Lifetime of a minted token (TP-7). */
  tokenLifetimeMs: number;
  /** A pending publisher (for a name that does not exist yet) lapses after this long (TP-10). */
  pendingLifetimeMs: number;
  /** How many pending publishers one user may have at a time. */
  maxPendingPerUser: number;
  /** How many publishers one package may trust. */
  maxPublishersPerPackage: number;
}

export const DEFAULT_TRUSTED_PUBLISHING: TrustedPublishingPolicy = {
  tokenLifetimeMs: 15 * 60_000,
  pendingLifetimeMs: 30 * 24 * 3_600_000,
  maxPendingPerUser: 10,
  maxPublishersPerPackage: 20,
};

/** What verifies workload tokens and says which issuer a new publisher of a provider trusts. */
export interface WorkloadVerifier {
  verify(token: string): Promise<VerifiedToken>;
  /** The issuer a publisher created without an explicit one is bound to. */
  defaultIssuer(provider: ProviderId): string | undefined;
  issuerAccepted(provider: ProviderId, issuer: string): boolean;
}

/** One trust configuration as clients see it (npm: `{id, type, claims, permissions}`). */
export interface TrustConfigView {
  id: string;
  type: ProviderId;
  issuer: string;
  claims: unknown;
  permissions: string[];
  createdAt: number;
  pending: boolean;
}

export interface NewTrustConfig {
  type: unknown;
  claims: unknown;
  permissions: unknown;
  /** Attestry extension: a self-hosted issuer configured by the operator. */
  issuer?: unknown;
}

export interface TrustedPublishingDeps {
  store: MetadataStore;
  authorizer: Authorizer;
  verifier: WorkloadVerifier;
  clock: Clock;
  log: Logger;
  policy?: TrustedPublishingPolicy;
  /** Mails the person behind a change (AUTHN-1.4). */
  notify?: (userId: number, notice: SecurityNotice) => Promise<void>;
}

export class TrustedPublishing {
  private readonly d: TrustedPublishingDeps;
  private readonly policy: TrustedPublishingPolicy;

  constructor(deps: TrustedPublishingDeps) {
    this.d = deps;
    this.policy = deps.policy ?? DEFAULT_TRUSTED_PUBLISHING;
  }

  // ---------- configuration (maintainers) ----------

  async list(principal: Principal, eco: Ecosystem, name: string): Promise<TrustConfigView[]> {
    const live = await this.authorize(principal, eco, name);
    const links = await this.d.store.listPackagePublishers(eco.id, name);
    return Promise.all(links.map((l) => this.view(l, live === undefined)));
  }

  async add(principal: Principal, eco: Ecosystem, name: string, input: NewTrustConfig): Promise<TrustConfigView> {
    const pending = (await this.authorize(principal, eco, name)) === undefined;
    // The authorizer lets only users manage publishers; this narrows the type.
    if (principal.kind !== 'user') throw new Error('package:publishers was allowed for a non-user principal');
    if (!isProviderId(input.type)) throw invalid('TRUST_UNKNOWN_PROVIDER', `Unknown provider "${String(input.type).slice(0, 40)}"; one of ${Object.keys(PROVIDERS).join(', ')}`);
    const provider = PROVIDERS[input.type];
    const permissions = parsePermissions(input.permissions);
    let policy: unknown;
    try {
      policy = provider.parsePolicy(input.claims);
    } catch (e) {
      if (e instanceof PolicyError) throw invalid(e.code, `${provider.displayName}: ${e.message}`);
      throw e;
    }
    const issuer = this.issuerFor(provider, policy, input.issuer);
    const now = this.d.clock();
    return this.d.store.transaction(async (tx) => {
      const links = await tx.listPackagePublishers(eco.id, name);
      if (links.length >= this.policy.maxPublishersPerPackage) throw conflict('TRUST_TOO_MANY', `${name} already trusts ${links.length} publishers, the most allowed`);
      if (pending && (await tx.countPendingPublishers(principal.userId, now - this.policy.pendingLifetimeMs)) >= this.policy.maxPendingPerUser) {
        throw conflict('TRUST_TOO_MANY_PENDING', `You already have ${this.policy.maxPendingPerUser} pending trusted publishers for packages that do not exist yet`);
      }
      // Stored in the client's shape, canonically: parsed again (and so re-validated) at every exchange.
      const claims = provider.toClaims(policy);
      const publisher = await tx.findOrInsertTrustedPublisher({ provider: provider.id, issuer, policy: canonicalJson(claims), createdAt: now });
      if (links.some((l) => l.publisherId === publisher.id)) throw conflict('TRUST_EXISTS', `${name} already trusts this ${provider.displayName} configuration`);
      const link: PackagePublisherRecord = { id: randomUUID(), publisherId: publisher.id, ecosystem: eco.id, packageName: name, permissions, createdBy: principal.userId, createdAt: now };
      await tx.insertPackagePublisher(link);
      await tx.insertEvent({ at: now, type: 'trusted-publisher.added', actorId: principal.userId, ecosystem: eco.id, packageName: name, version: null,
        data: { configId: link.id, provider: provider.id, issuer, claims, permissions, pending } });
      // Who may publish the name changed: consumers and monitors see it in the transparency log.
      await appendToLog(tx, trustedPublisherChanged('added', { ecosystem: eco.id, name, at: now, publisher: { provider: provider.id, ref: publisher.policy } }));
      this.d.log.info('trusted publisher added', { package: name, provider: provider.id, configId: link.id, user: principal.name, pending });
      return toView(link, publisher, pending);
    }).then(async (view) => {
      await this.d.notify?.(principal.userId, { kind: 'trusted-publisher-added', packageName: name, provider: provider.id });
      return view;
    });
  }

  async revoke(principal: Principal, eco: Ecosystem, name: string, id: string): Promise<void> {
    await this.authorize(principal, eco, name);
    const now = this.d.clock();
    await this.d.store.transaction(async (tx) => {
      const link = (await tx.listPackagePublishers(eco.id, name)).find((l) => l.id === id);
      const publisher = link && (await tx.findTrustedPublisher(link.publisherId));
      if (!link || !publisher || !(await tx.deletePackagePublisher(eco.id, name, id))) throw notFound('TRUST_NOT_FOUND', `${name} has no trust configuration ${id.slice(0, 64)}`);
      await tx.insertEvent({ at: now, type: 'trusted-publisher.removed', actorId: principal.kind === 'user' ? principal.userId : null, ecosystem: eco.id, packageName: name, version: null, data: { configId: id } });
      await appendToLog(tx, trustedPublisherChanged('removed', { ecosystem: eco.id, name, at: now, publisher: { provider: publisher.provider, ref: publisher.policy } }));
    });
    this.d.log.info('trusted publisher removed', { package: name, configId: id });
    if (principal.kind === 'user') await this.d.notify?.(principal.userId, { kind: 'trusted-publisher-removed', packageName: name });
  }

  /** Package-level trusted-publishing settings (only "trusted publishing only" so far). */
  async settings(principal: Principal, eco: Ecosystem, name: string): Promise<{ trustedPublishingOnly: boolean }> {
    const pkg = await this.authorize(principal, eco, name);
    return { trustedPublishingOnly: pkg?.trustedPublishingOnly === true };
  }

  async setTrustedPublishingOnly(principal: Principal, eco: Ecosystem, name: string, on: unknown): Promise<{ trustedPublishingOnly: boolean }> {
    if (typeof on !== 'boolean') throw invalid('TRUST_BAD_SETTINGS', 'trustedPublishingOnly must be true or false');
    if (!(await this.authorize(principal, eco, name))) throw notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it); publish it first`);
    const now = this.d.clock();
    await this.d.store.transaction(async (tx) => {
      const pkg = await tx.findPackage(eco.id, name);
      if (!pkg) throw notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it)`);
      if (on && (await tx.listPackagePublishers(eco.id, name)).length === 0) {
        throw conflict('TRUST_NONE_CONFIGURED', `${name} trusts no publisher yet: add one first, or nobody could publish it`);
      }
      await tx.updatePackage(pkg.id, { trustedPublishingOnly: on });
      await tx.insertEvent({ at: now, type: 'trusted-publisher.policy-changed', actorId: principal.kind === 'user' ? principal.userId : null, ecosystem: eco.id, packageName: name, version: null, data: { trustedPublishingOnly: on } });
    });
    this.d.log.info('trusted publishing policy changed', { package: name, trustedPublishingOnly: on });
    return { trustedPublishingOnly: on };
  }

  // ---------- the exchange (CI workloads) ----------

  /** Verifies a workload's OIDC token and mints a token that can publish `name` only. */
  async exchange(eco: Ecosystem, name: string, oidcToken: string): Promise<{ token: string; expiresAt: number }> {
    const verified = await this.d.verifier.verify(oidcToken);
    const now = this.d.clock();
    const pkg = await this.d.store.findPackage(eco.id, name);
    if (pkg?.deletedAt) throw forbidden('OIDC_PACKAGE_DELETED', `${name} was deleted; its name is reserved for its former owners`);
    const links = (await this.d.store.listPackagePublishers(eco.id, name))
      // A pending publisher lapses if its package was not created in time.
      .filter((l) => pkg || now - l.createdAt < this.policy.pendingLifetimeMs);
    if (links.length === 0) throw forbidden('OIDC_NO_TRUSTED_PUBLISHER', `${name} has no trusted publisher; a maintainer can add one with \`npm trust\``);

    let refusal: { code: string; message: string } | undefined;
    for (const link of links) {
      const publisher = await this.d.store.findTrustedPublisher(link.publisherId);
      if (!publisher || publisher.provider !== verified.provider.id || publisher.issuer !== verified.issuer) continue;
      const provider = verified.provider;
      const result = provider.match(verified.claims, provider.parsePolicy(JSON.parse(publisher.policy)), parseBinding(publisher.binding), verified.issuer);
      if (!result.ok) {
        refusal ??= result;
        continue;
      }
      return this.mint(eco, name, link, publisher, verified, result.binding, result.reference, now);
    }
    if (refusal) throw forbidden(refusal.code, `${refusal.message} (trusted publishing for ${name})`);
    throw forbidden('OIDC_NO_MATCHING_PUBLISHER', `${name} does not trust ${verified.provider.displayName} tokens from ${verified.issuer}`);
  }

  private async mint(eco: Ecosystem, name: string, link: PackagePublisherRecord, publisher: TrustedPublisherRecord,
    verified: VerifiedToken, binding: Binding, reference: string, now: number): Promise<{ token: string; expiresAt: number }> {
    const provider = verified.provider;
    const token = generateToken();
    const expiresAt = now + this.policy.tokenLifetimeMs;
    await this.d.store.transaction(async (tx) => {
      const jti = verified.claims.jti;
      if (typeof jti === 'string') {
        const exp = typeof verified.claims.exp === 'number' ? verified.claims.exp : now / 1000;
        if (!(await tx.recordOidcTokenUse(verified.issuer, jti, (exp + OIDC_CLOCK_LEEWAY_SECONDS) * 1000, now))) {
          throw unauthenticated('OIDC_TOKEN_REPLAYED', 'This OIDC token was already exchanged; request a new one');
        }
      }
      if (publisher.binding === null && Object.keys(binding).length > 0) await tx.setPublisherBinding(publisher.id, canonicalJson(binding));
      await tx.insertPublisherToken({ id: randomUUID(), tokenHash: hashToken(token), linkId: link.id, publisherId: publisher.id, ecosystem: eco.id,
        packageName: name, permissions: link.permissions, reference, identity: canonicalJson(workloadIdentity(verified)), createdAt: now, expiresAt });
      await tx.insertEvent({ at: now, type: 'trusted-publisher.token-minted', actorId: null, ecosystem: eco.id, packageName: name, version: null,
        data: { configId: link.id, provider: provider.id, reference, expiresAt } });
    });
    this.d.log.info('trusted publishing token minted', { package: name, provider: provider.id, reference, configId: link.id });
    return { token, expiresAt };
  }

  /** The principal of a minted token; undefined when the value is not one of ours. */
  async resolveToken(raw: string): Promise<PublisherGrant | undefined> {
    if (!isWellFormedToken(raw)) return undefined;
    const t = await this.d.store.findPublisherTokenByHash(hashToken(raw));
    if (!t) return undefined;
    if (t.expiresAt <= this.d.clock()) throw unauthenticated('OIDC_PUBLISH_TOKEN_EXPIRED', 'This trusted-publishing token has expired; exchange a new OIDC token');
    // Revoking the trust configuration revokes the tokens minted through it.
    const links = await this.d.store.listPackagePublishers(t.ecosystem, t.packageName);
    const link = links.find((l) => l.id === t.linkId);
    if (!link) throw unauthenticated('OIDC_PUBLISHER_REVOKED', 'The trust configuration this token was minted through was removed');
    const publisher = await this.d.store.findTrustedPublisher(t.publisherId);
    return {
      kind: 'publisher', tokenId: t.id, publisherId: t.publisherId, linkId: t.linkId, provider: publisher?.provider ?? 'unknown', reference: t.reference,
      ecosystem: t.ecosystem, packageName: t.packageName, permissions: t.permissions, registeredBy: link.createdBy,
      issuer: publisher?.issuer ?? '', identity: t.identity ? (JSON.parse(t.identity) as Record<string, string>) : {},
    };
  }

  // ---------- helpers ----------

  /** Authorizes managing the publishers of `name`; returns the package when it is live (else pending). */
  private async authorize(principal: Principal, eco: Ecosystem, name: string): Promise<PackageRecord | undefined> {
    const pkg = await this.d.store.findPackage(eco.id, name);
    requireAllowed(this.d.authorizer.check(principal, 'package:publishers', await packageResourceFor(this.d.store, eco, name, pkg, principal)), name);
    return pkg && pkg.deletedAt === null ? pkg : undefined;
  }

  private issuerFor(provider: ProviderDefinition, policy: unknown, requested: unknown): string {
    if (requested !== undefined && requested !== null) {
      if (typeof requested !== 'string' || !this.d.verifier.issuerAccepted(provider.id, requested.replace(/\/+$/, ''))) {
        throw invalid('TRUST_UNKNOWN_ISSUER', `This registry does not accept ${provider.displayName} tokens from ${String(requested).slice(0, 200)}`);
      }
      return requested.replace(/\/+$/, '');
    }
    const issuer = this.d.verifier.defaultIssuer(provider.id);
    // CircleCI has one public issuer per organization.
    if (!issuer && provider.id === 'circleci') return `https://oidc.circleci.com/org/${(policy as { orgId: string }).orgId}`;
    if (!issuer) throw invalid('TRUST_UNKNOWN_ISSUER', `This registry accepts no ${provider.displayName} issuer`);
    return issuer;
  }

  private async view(link: PackagePublisherRecord, pending: boolean): Promise<TrustConfigView> {
    const publisher = await this.d.store.findTrustedPublisher(link.publisherId);
    if (!publisher) throw new Error(`trust configuration ${link.id} has no publisher row`);
    return toView(link, publisher, pending);
  }
}

function toView(link: PackagePublisherRecord, publisher: TrustedPublisherRecord, pending: boolean): TrustConfigView {
  return { id: link.id, type: publisher.provider as ProviderId, issuer: publisher.issuer, claims: JSON.parse(publisher.policy), permissions: link.permissions, createdAt: link.createdAt, pending };
}

/** Registered JWT claims say nothing about the workload; everything else is kept to bind provenance to it. */
const NOT_IDENTITY = new Set(['aud', 'exp', 'iat', 'nbf', 'jti']);

/** The verified workload claims (strings and integers only) that a provenance certificate is later compared with. */
function workloadIdentity(verified: VerifiedToken): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(verified.claims)) {
    if (NOT_IDENTITY.has(k)) continue;
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' && Number.isSafeInteger(v)) out[k] = String(v);
  }
  out.iss = verified.issuer;
  return out;
}

function parsePermissions(input: unknown): string[] {
  if (input === undefined) return ['createPackage'];
  if (!Array.isArray(input) || input.length === 0 || input.some((p) => !(PUBLISHER_PERMISSIONS as readonly unknown[]).includes(p))) {
    throw invalid('TRUST_BAD_PERMISSIONS', `permissions must be a non-empty list of ${PUBLISHER_PERMISSIONS.join(', ')}`);
  }
  return [...new Set(input as string[])].sort();
}

function parseBinding(text: string | null): Binding | null {
  return text === null ? null : (JSON.parse(text) as Binding);
}

/** JSON with sorted keys, so equal policies are stored (and found) as equal strings. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
