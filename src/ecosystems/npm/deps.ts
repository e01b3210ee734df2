// What the npm routes need, assembled once in app.ts.
import type { AccountService } from '../../core/accounts/account-service.ts';
import type { Logger } from '../../core/logger.ts';
import type { PackageService } from '../../core/packages/package-service.ts';
import type { ProvenanceService } from '../../core/packages/provenance-service.ts';
import type { KeySource } from '../../security/signing/registry-keys.ts';
import type { ReporterKeys } from '../../security/tokens/reporter-signature.ts';
import type { TokenRevocation } from '../../core/accounts/token-revocation.ts';
import type { PublishPipeline } from '../../core/publish/pipeline.ts';
import type { TrustedPublishing } from '../../core/publishers/trusted-publishing.ts';
import type { RepresentationCache } from '../../http/representation-cache.ts';
import type { BlobStore } from '../../storage/blobs/store.ts';
import type { NpmEcosystem } from './npm-ecosystem.ts';
import type { OrgService } from '../../core/orgs/org-service.ts';

export interface NpmDeps {
  eco: NpmEcosystem;
  accounts: AccountService;
  packages: PackageService;
  publisher: PublishPipeline;
  trust: TrustedPublishing;
  provenance: ProvenanceService;
  keys: KeySource;
  blobs: BlobStore;
  documents: RepresentationCache;
  blobCache: RepresentationCache;
  log: Logger;
  publicUrl: string;
  maxBodyBytes: number;
  /** Small JSON bodies (everything but publish) get a much smaller limit. */
  maxJsonBytes: number;
  /** Counts full tarball downloads (in memory) for the critical-packages ranking. */
  downloads?: { record(packageId: number): void };
  /** Secret-scanning revocation (docs/secret-scanning.md); absent when no reporter is configured (the endpoint is a 404). */
  tokenRevocation?: { service: TokenRevocation; reporters: ReporterKeys };
  /** Organizations and teams (docs/organizations.md); absent: the org routes answer 404. */
  orgs?: OrgService;
}
