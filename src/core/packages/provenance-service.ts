// Reading a version's attestations (BP-5, BP-6) and the maintainers' provenance setting: a window
// in which a new version may break continuity (BP-3), declared before the publish that needs it.
import type { Clock } from '../clock.ts';
import { invalid, notFound } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Authorizer } from '../../security/authz/authorize.ts';
import type { Principal } from '../../security/authz/principal.ts';
import type { AttestationRecord, MetadataStore } from '../../storage/metadata/store.ts';
import type { ProvenanceSummary } from '../publish/provenance.ts';
import type { Ecosystem } from './ecosystem.ts';
import { packageResourceFor, requireAllowed } from './access.ts';

export interface ProvenanceServiceDeps {
  store: MetadataStore;
  authorizer: Authorizer;
  clock: Clock;
  log: Logger;
  /** Longest change window a maintainer may open. */
  maxChangeWindowMs: number;
}

export interface VersionAttestations {
  provenance: AttestationRecord | undefined;
  publish: AttestationRecord | undefined;
}

export interface ProvenanceSettings {
  /** Until when a version may change or drop provenance (ms), or null. */
  changeAllowedUntil: number | null;
}

export class ProvenanceService {
  private readonly d: ProvenanceServiceDeps;

  constructor(deps: ProvenanceServiceDeps) {
    this.d = deps;
  }

  /** The attestations of a live version; not found when the version (or its package) is not served. */
  async attestations(principal: Principal, eco: Ecosystem, name: string, version: string): Promise<VersionAttestations> {
    const pkg = await this.d.store.findPackage(eco.id, name);
    if (!pkg || pkg.deletedAt) throw notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it)`);
    requireAllowed(this.d.authorizer.check(principal, 'package:read', await packageResourceFor(this.d.store, eco, name, pkg, principal)), name);
    const release = await this.d.store.findRelease(pkg.id, version);
    if (!release || release.state !== 'published') throw notFound('VERSION_NOT_FOUND', `${name}@${version.slice(0, 64)} is not in this registry`);
    const rows = await this.d.store.listAttestations(release.id);
    return { provenance: rows.find((a) => a.kind === 'provenance'), publish: rows.find((a) => a.kind === 'publish') };
  }

  async settings(principal: Principal, eco: Ecosystem, name: string): Promise<ProvenanceSettings> {
    const pkg = await this.d.store.findPackage(eco.id, name);
    requireAllowed(this.d.authorizer.check(principal, 'package:provenance', await packageResourceFor(this.d.store, eco, name, pkg, principal)), name);
    if (!pkg) throw notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it)`);
    const until = pkg.provenanceChangeUntil;
    return { changeAllowedUntil: until !== null && until > this.d.clock() ? until : null };
  }

  /** Opens (until a future time) or closes (null) the window in which continuity is not enforced. */
  async allowChange(principal: Principal, eco: Ecosystem, name: string, until: number | null): Promise<ProvenanceSettings> {
    const now = this.d.clock();
    if (until !== null && (!Number.isFinite(until) || until <= now)) throw invalid('PROVENANCE_BAD_WINDOW', 'changeAllowedUntil must be a time in the future (or null to close the window)');
    if (until !== null && until - now > this.d.maxChangeWindowMs) {
      throw invalid('PROVENANCE_BAD_WINDOW', `A provenance change window may last at most ${Math.round(this.d.maxChangeWindowMs / 86_400_000)} days`);
    }
    await this.d.store.transaction(async (tx) => {
      const pkg = await tx.findPackage(eco.id, name);
      if (pkg) await tx.lockPackage(pkg.id);
      requireAllowed(this.d.authorizer.check(principal, 'package:provenance', await packageResourceFor(tx, eco, name, pkg, principal)), name);
      if (!pkg) throw notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it)`);
      await tx.updatePackage(pkg.id, { provenanceChangeUntil: until });
      await tx.insertEvent({ at: now, type: until === null ? 'provenance.change-window-closed' : 'provenance.change-window-opened', actorId: principal.kind === 'user' ? principal.userId : null,
        ecosystem: eco.id, packageName: name, version: null, data: { until: until === null ? null : new Date(until).toISOString() } });
    });
    this.d.log.info(until === null ? 'provenance change window closed' : 'provenance change window opened', { package: name, until: until === null ? null : new Date(until).toISOString() });
    return { changeAllowedUntil: until };
  }
}

/** The stored summary of a provenance attestation. */
export function summaryOf(a: AttestationRecord): ProvenanceSummary {
  return JSON.parse(a.summary) as ProvenanceSummary;
}
