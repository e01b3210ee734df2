// Composition root: the only place that decides which implementation backs each interface.
// Everything else receives its collaborators.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type Config } from './config/config.ts';
import type { Logger } from './core/logger.ts';
import { systemClock, type Clock } from './core/clock.ts';
import { armedFailpoint, noFailpoint, type Failpoint } from './core/failpoints.ts';
import { AccountService } from './core/accounts/account-service.ts';
import { PackageService } from './core/packages/package-service.ts';
import { ProvenanceService } from './core/packages/provenance-service.ts';
import { PublishPipeline } from './core/publish/pipeline.ts';
import { TrustedPublishing } from './core/publishers/trusted-publishing.ts';
import { audiencesFor, checkIssuerEntries, OidcVerifier, type IssuerEntry } from './security/oidc/verifier.ts';
import type { ProviderId } from './security/oidc/provider.ts';
import { reprojectIfNeeded } from './core/maintenance/reproject.ts';
import { signUnsignedReleases } from './core/maintenance/sign-releases.ts';
import { httpSourceChecker, noSourceChecker, startSourceLiveness } from './core/maintenance/source-liveness.ts';
import { startCriticalPackages } from './core/maintenance/critical-packages.ts';
import { DownloadCounter } from './core/packages/download-counter.ts';
import type { ProvenanceVerifier } from './core/publish/provenance.ts';
import { buildTrustRoots, loadTrustRootFile, publicGoodTrustedRoot, type TrustRoots, type TrustRootSource } from './security/provenance/trust-roots.ts';
import { verifyNpmProvenance } from './security/provenance/npm-provenance.ts';
import { RegistryKeyRing } from './security/signing/registry-keys.ts';
import { Authorizer } from './security/authz/authorize.ts';
import { ANONYMOUS } from './security/authz/principal.ts';
import { AttestryError } from './core/errors.ts';
import type { AccountSecurityDeps } from './core/accounts/account-service.ts';
import { EmailVerification } from './core/accounts/email-verification.ts';
import { Notifier, type SecurityNotice } from './core/accounts/notifier.ts';
import { TokenRevocation } from './core/accounts/token-revocation.ts';
import { ReporterKeys } from './security/tokens/reporter-signature.ts';
import { SecondFactors } from './core/accounts/second-factors.ts';
import { Throttling } from './core/accounts/throttling.ts';
import { WebSessions } from './core/accounts/web-sessions.ts';
import { createMailer } from './mail/create-mailer.ts';
import type { Mailer } from './mail/mailer.ts';
import { directoryRangeSource, httpRangeSource, LeakedPasswordChecker } from './security/passwords/leaked.ts';
import { createMailResolver, systemResolver } from './security/email/mail-domain.ts';
import { webAuthnPolicyFor, type WebAuthnPolicy } from './security/mfa/webauthn.ts';
import type { MetadataStore } from './storage/metadata/store.ts';
import type { BlobStore } from './storage/blobs/store.ts';
import type { SqlDatabase } from './storage/metadata/sql/driver.ts';
import { migrate } from './storage/metadata/sql/migrations.ts';
import { SqlMetadataStore } from './storage/metadata/sql/sql-store.ts';
import { SqliteDatabase } from './storage/metadata/sqlite/sqlite-database.ts';
import { FsBlobStore } from './storage/blobs/fs/fs-blob-store.ts';
import { HttpServer } from './http/server.ts';
import type { Handler } from './http/context.ts';
import { readCredential } from './http/credentials.ts';
import { opsHandler } from './http/ops.ts';
import { RepresentationCache } from './http/representation-cache.ts';
import { Metrics } from './observability/metrics.ts';
import { createJsonLogger } from './observability/json-logger.ts';
import { startIdleMemoryTrim } from './observability/idle-memory-trim.ts';
import { NpmEcosystem } from './ecosystems/npm/npm-ecosystem.ts';
import { npmHandler } from './ecosystems/npm/adapter.ts';
import { OrgService } from './core/orgs/org-service.ts';
import { webHandler } from './web/web-handler.ts';
import { provenancePageHandler } from './web/provenance-page.ts';
import { logKeyFileFor, logOrigin, openLogKey } from './core/transparency/log-key.ts';
import { startCheckpoints } from './core/transparency/checkpoints.ts';
import { LogService } from './core/transparency/log-service.ts';
import { tlogHandler } from './http/tlog-routes.ts';
import { VERSION } from './version.ts';

/** Memory for served documents and small tarballs, per process. */
const DOCUMENT_CACHE_BYTES = 96 * 1024 * 1024;
const BLOB_CACHE_BYTES = 64 * 1024 * 1024;
/** Non-publish JSON bodies (logins, tags, owner changes) are small. */
const MAX_JSON_BYTES = 256 * 1024;

export interface Storage {
  db: SqlDatabase;
  store: MetadataStore;
  blobs: BlobStore;
}

export async function openStorage(config: Config): Promise<Storage> {
  mkdirSync(config.dataDir, { recursive: true });
  const url = config.databaseUrl;
  let db: SqlDatabase;
  if (url && /^postgres(ql)?:\/\//.test(url)) {
    // Loaded only when used: the driver costs ~10 MB of memory a SQLite install never needs.
    const { PostgresDatabase } = await import('./storage/metadata/postgres/postgres-database.ts');
    db = new PostgresDatabase(url);
  }
  else if (url) throw new Error(`ATTESTRY_DATABASE_URL must be a postgres:// URL (or unset for SQLite); got a "${url.split(':')[0]}:" URL`);
  else db = new SqliteDatabase(path.join(config.dataDir, 'attestry.db'));
  await migrate(db);
  return { db, store: new SqlMetadataStore(db), blobs: new FsBlobStore(path.join(config.dataDir, 'blobs'), { fsync: config.fsyncBlobs }) };
}

export function accountService(config: Config, store: MetadataStore, log: Logger, clock: Clock = systemClock, security?: AccountSecurityDeps): AccountService {
  const s = config.security;
  return new AccountService(store, {
    registrationOpen: config.registrationOpen, cliSessionHours: s.cliSessionHours, writeTokenDefaultDays: s.writeTokenDefaultDays,
    writeTokenMaxDays: s.writeTokenMaxDays, requireVerifiedEmail: s.requireVerifiedEmail,
  }, clock, log, security);
}

/** Mail goes to SMTP when configured, else to the outbox directory (default <dataDir>/outbox, announced at start). */
function mailerFor(config: Config, publicUrl: string, log: Logger): Mailer & { close(): void } {
  const outboxDir = config.mailOutbox ?? (config.mail.smtpUrl === undefined ? path.join(config.dataDir, 'outbox') : undefined);
  if (config.mailOutbox === undefined && config.mail.smtpUrl === undefined) log.warn('no mail server configured: outgoing mail (verification links, security notices) is written to the outbox directory', { outbox: outboxDir });
  try {
    const mailer = createMailer({ outboxDir, smtpUrl: config.mail.smtpUrl, from: config.mail.from, publicUrl }, log);
    if (!mailer) throw new Error('no mailer could be built');
    return mailer;
  } catch (e) {
    throw new ConfigError(`mail: ${(e as Error).message}`);
  }
}

function leakedPasswordChecker(config: Config): LeakedPasswordChecker {
  const s = config.security;
  if (s.leakedPasswordRangeUrl !== undefined && s.leakedPasswordRangeDir !== undefined) throw new ConfigError('security: set leakedPasswordRangeUrl or leakedPasswordRangeDir, not both');
  const source = s.leakedPasswordRangeUrl !== undefined ? httpRangeSource(s.leakedPasswordRangeUrl)
    : s.leakedPasswordRangeDir !== undefined ? directoryRangeSource(s.leakedPasswordRangeDir) : null;
  return new LeakedPasswordChecker(source);
}

function failpointFromEnv(log: Logger): Failpoint {
  const armed = process.env.ATTESTRY_FAILPOINT;
  if (!armed) return noFailpoint;
  log.warn('CRASH TEST MODE: a failpoint is armed and will SIGKILL this process; never set ATTESTRY_FAILPOINT in production', { failpoint: armed });
  return armedFailpoint(armed);
}

/** Every trusted root the operator chose, validated and built once; a bad root stops the start. */
export function trustRootsFor(config: Config): TrustRoots {
  try {
    const sources: TrustRootSource[] = [];
    if (config.provenance.publicGoodRoot) sources.push({ name: 'public-good', json: publicGoodTrustedRoot() });
    for (const file of config.provenance.trustedRoots) sources.push(loadTrustRootFile(file));
    return buildTrustRoots(sources);
  } catch (e) {
    throw new ConfigError(`provenance: ${(e as Error).message}`);
  }
}

export function keyFileFor(config: Config): string {
  return config.signing.keyFile ?? path.join(config.dataDir, 'keys', 'registry-keys.json');
}

export interface RunningRegistry {
  url: string;
  port: number;
  storage: Storage;
  close(): Promise<void>;
}

export async function startRegistry(config: Config, options: { log?: Logger; clock?: Clock } = {}): Promise<RunningRegistry> {
  const log = options.log ?? createJsonLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  // Refuse a bad issuer list before touching storage or the network.
  let issuers: IssuerEntry[];
  try {
    issuers = checkIssuerEntries(config.trustedPublishing.issuers.map((e) => ({ ...e, provider: e.provider as ProviderId })));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const roots = trustRootsFor(config);
  const storage = await openStorage(config);
  const keys = RegistryKeyRing.open(keyFileFor(config), clock);
  const { store, blobs } = storage;
  const metrics = new Metrics();
  const authorizer = new Authorizer(log, { requireVerifiedEmail: config.security.requireVerifiedEmail, requireMfaForMaintainers: config.security.requireMfaForMaintainers });
  const leaked = leakedPasswordChecker(config);

  const handlers: Handler[] = [];
  // Built once the public URL (the OIDC audience, links in mail, the WebAuthn origin) is known, after listening.
  const late: { trust?: TrustedPublishing; accounts?: AccountService } = {};
  const accountsNow = (): AccountService => {
    if (!late.accounts) throw new AttestryError('unavailable', 'STARTING', 'The registry is starting; try again in a moment');
    return late.accounts;
  };
  const server = new HttpServer({
    log,
    metrics,
    handlers,
    async resolvePrincipal(ctx) {
      const cred = readCredential(ctx.req);
      if (cred.kind === 'bearer') {
        // User tokens are by far the common case; a minted trusted-publishing token is looked up
        // only when the value is no user's token.
        try {
          return await accountsNow().resolveToken(cred.token, ctx.ip);
        } catch (e) {
          const grant = await late.trust?.resolveToken(cred.token);
          if (grant) return grant;
          throw e;
        }
      }
      if (cred.kind === 'basic') return accountsNow().resolvePassword(cred.username, cred.password, ctx.ip);
      return ANONYMOUS;
    },
    /** A second factor sent with the request (npm's `npm-otp`) is verified once, here, into the principal. */
    async presentSecondFactor(ctx, p) {
      const header = ctx.req.headers['npm-otp'];
      return p.kind === 'user' && typeof header === 'string' && header.length > 0 ? accountsNow().withPresentedOtp(p, header, ctx.ip) : p;
    },
  });
  const address = await server.listen(config.port, config.host);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const publicUrl = config.publicUrl ?? `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;

  const eco = new NpmEcosystem({
    publicUrl,
    archiveLimits: { maxCompressedBytes: config.limits.maxTarballBytes, maxUncompressedBytes: config.limits.maxUnpackedBytes, maxEntries: config.limits.maxTarballEntries },
    maxManifestBytes: config.limits.maxManifestBytes,
  });
  const mailer = mailerFor(config, publicUrl, log);
  const notifier = new Notifier(mailer, log, publicUrl);
  const throttling = new Throttling(store, clock, log);
  const emailVerification = new EmailVerification({ store, notifier, clock, log, publicUrl, resolver: config.security.dnsServers === undefined ? systemResolver : createMailResolver({ servers: config.security.dnsServers }) });
  let webauthn: WebAuthnPolicy | null = null;
  try {
    webauthn = webAuthnPolicyFor(publicUrl);
  } catch (e) {
    log.warn('passkeys are off: browsers allow WebAuthn only on a host name over https, or on localhost', { publicUrl, reason: (e as Error).message });
  }
  const secondFactors = new SecondFactors({ store, throttling, notifier, clock, log, webauthn, issuer: `Attestry (${new URL(publicUrl).host})`, publicUrl });
  const accounts = (late.accounts = accountService(config, store, log, clock, { throttling, secondFactors, emailVerification, notifier, leaked }));
  const webSessions = new WebSessions(store, clock, { idleMs: config.security.webSessionIdleMinutes * 60_000, absoluteMs: config.security.webSessionMaxHours * 3_600_000 });
  const newlySigned = await signUnsignedReleases(store, eco, keys, log);
  await reprojectIfNeeded(store, eco, clock, log, { force: newlySigned > 0 });
  const packages = new PackageService({ store, authorizer, unpublishPolicy: config.unpublish, clock, log });
  const downloads = new DownloadCounter(store, clock, log);
  downloads.start();
  const stopCriticalRanking = await startCriticalPackages(store, { topPercent: config.security.criticalTopPercent, minDownloads: config.security.criticalMinDownloads }, clock, log);
  const verifier = new OidcVerifier({ issuers, audiences: audiencesFor(publicUrl), log });
  const notifyUser = async (userId: number, notice: SecurityNotice) => {
    const u = await store.findUserById(userId);
    if (u) await notifier.notice(u, notice);
  };
  const trust = (late.trust = new TrustedPublishing({ store, authorizer, verifier, clock, log, notify: notifyUser }));
  // Provenance is accepted from the CI issuers this registry knows (public ones and the operator's).
  const issuerSupported = (iss: string) => verifier.issuerEntry(iss) !== undefined;
  const provenance: ProvenanceVerifier = { verify: (bundle, expect) => verifyNpmProvenance(bundle, roots, { ...expect, issuerSupported }) };
  const publisher = new PublishPipeline({ store, blobs, authorizer, clock, log, failpoint: failpointFromEnv(log), provenance, keys, registryUrl: publicUrl });
  const provenanceService = new ProvenanceService({ store, authorizer, clock, log, maxChangeWindowMs: config.provenance.maxChangeWindowDays * 86_400_000 });
  // Secret-scanning revocation exists only when a reporter key is configured (docs/secret-scanning.md).
  const reporters = config.security.secretScanningReporters;
  const tokenRevocation = reporters.length === 0 ? undefined : { service: new TokenRevocation({ store, notifier, clock, log }), reporters: new ReporterKeys(reporters) };
  const orgs = new OrgService({ store, authorizer, clock, log });
  // The transparency log: its key (created at first start, a corrupt one stops the start) and a checkpoint now, then on a timer.
  const logKey = openLogKey(logKeyFileFor(config), logOrigin(publicUrl), log);
  const stopCheckpoints = await startCheckpoints({ store, key: logKey, clock }, config.transparency.checkpointIntervalSeconds * 1000, log);
  const tlog = new LogService({ store, packages, ecosystems: [eco], key: logKey });
  handlers.push(
    opsHandler(metrics, async () => void (await store.countUsers()), VERSION),
    tlogHandler({ log: tlog, public: config.transparency.public }),
    webHandler({ accounts, secondFactors, emailVerification, webSessions, store, clock, publicUrl, orgs, packages, eco }),
    provenancePageHandler(eco, provenanceService),
    npmHandler({
      eco, accounts, packages, publisher, trust, blobs, log, publicUrl, keys,
      provenance: provenanceService,
      documents: new RepresentationCache(DOCUMENT_CACHE_BYTES),
      blobCache: new RepresentationCache(BLOB_CACHE_BYTES),
      maxBodyBytes: config.limits.maxBodyBytes,
      maxJsonBytes: MAX_JSON_BYTES,
      downloads,
      tokenRevocation,
      orgs,
    }),
  );
  const stopTrim = startIdleMemoryTrim(() => server.activity(), log);
  const stopSourceChecks = startSourceLiveness(store, config.provenance.sourceChecker === 'http' ? httpSourceChecker() : noSourceChecker,
    config.provenance.sourceCheckIntervalHours * 3_600_000, clock, log);
  log.info('registry listening', { url: publicUrl, bound: `${host}:${address.port}`, database: store.engine, dataDir: config.dataDir, version: VERSION });

  return {
    url: publicUrl,
    port: address.port,
    storage,
    async close() {
      stopTrim();
      stopSourceChecks();
      mailer.close();
      await server.close();
      await stopCheckpoints();
      stopCriticalRanking();
      await downloads.stop();
      await store.close();
      log.info('registry stopped');
    },
  };
}
