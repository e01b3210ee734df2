// Package management other than publishing: reads, unpublish, deprecate, tags, owners, search.
// Every write locks the package row, authorizes against the locked state, changes rows, rebuilds
// the served documents and records an event, all in one transaction.
import type { Clock } from '../clock.ts';
import { forbidden, invalid, notFound } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Access, DocumentRecord, MetadataOps, MetadataStore, PackageMfaPolicy, PackageRecord, ReleaseRecord, SearchHit, ServedArtifact, UserRecord } from '../../storage/metadata/store.ts';
import type { Authorizer, PackageAction } from '../../security/authz/authorize.ts';
import type { Principal } from '../../security/authz/principal.ts';
import { judgeUnpublish, type UnpublishPolicy } from '../policies/unpublish-policy.ts';
import type { Ecosystem } from './ecosystem.ts';
import { rebuildDocuments, releaseView } from './projection.ts';
import { orgStandingFor, requireAllowed, resourceFor } from './access.ts';
import { CommitCache } from './commit-cache.ts';
import { appendToLog, entriesForPackageEvents } from '../transparency/log.ts';

export interface PackageServiceDeps {
  store: MetadataStore;
  authorizer: Authorizer;
  unpublishPolicy: UnpublishPolicy;
  clock: Clock;
  log: Logger;
}

/** A package row plus its owners, as read for one request. */
export interface PackageSnapshot {
  pkg: PackageRecord;
  owners: UserRecord[];
}

const MAX_DEPENDENTS_SHOWN = 20;
/** Entries per commit cache; far more than any working set, small next to the documents. */
const MAX_REMEMBERED = 100_000;

/** What a package write records: the acting principal is the actor; `subjectId` is whom it concerns. */
interface WriteEvent {
  type: string;
  version?: string | null;
  subjectId?: number;
  data: Record<string, unknown>;
}

export class PackageService {
  private readonly d: PackageServiceDeps;
  private readonly etags: CommitCache<string>;
  private readonly artifacts: CommitCache<ServedArtifact>;

  constructor(deps: PackageServiceDeps) {
    this.d = deps;
    this.etags = new CommitCache(deps.store, MAX_REMEMBERED);
    this.artifacts = new CommitCache(deps.store, MAX_REMEMBERED);
  }

  // ---------- reads ----------

  /**
   * The current ETag of a served document: the freshness check every read makes. Remembered
   * until the next commit where the store can tell (SQLite); otherwise asked each time.
   */
  documentEtag(eco: Ecosystem, name: string, form: string): Promise<string | undefined> {
    return this.etags.get(`${eco.id}\0${name}\0${form}`, () => this.d.store.getDocumentEtag(eco.id, name, form));
  }

  /** The current ETag when it is known without asking storage (the hot path); else undefined. */
  knownDocumentEtag(eco: Ecosystem, name: string, form: string): string | undefined {
    return this.etags.peek(`${eco.id}\0${name}\0${form}`);
  }

  /** A served document with what is needed to authorize reading it. */
  async document(eco: Ecosystem, name: string, form: string): Promise<{ doc: DocumentRecord; access: Access; ownerIds: number[] } | undefined> {
    const doc = await this.d.store.getDocument(eco.id, name, form);
    if (!doc) return undefined;
    const pkg = await this.d.store.findPackage(eco.id, name);
    if (!pkg) return undefined;
    const ownerIds = pkg.access === 'restricted' ? (await this.d.store.listOwners(pkg.id)).map((o) => o.id) : [];
    return { doc, access: pkg.access, ownerIds };
  }

  async canRead(principal: Principal, eco: Ecosystem, name: string, access: Access, ownerIds: readonly number[]): Promise<boolean> {
    if (access === 'public') return true;
    const org = await orgStandingFor(this.d.store, eco, name, principal);
    return this.d.authorizer.check(principal, 'package:read', { ecosystem: eco.id, name, scope: eco.scopeOf(name), state: 'live', access, ownerIds, ...(org ? { org } : {}) }).allow;
  }

  /**
   * Spent on a miss: the reads that refusing a hidden restricted package costs and the miss did not
   * already make (the package row, its owners), then the caller's org standing and the read rule;
   * the answers are thrown away, so that response times do not tell a missing name from a hidden one.
   */
  async spendLikeARefusal(principal: Principal, eco: Ecosystem, name: string, also: { row: boolean; owners: boolean }): Promise<void> {
    if (also.row) await this.d.store.findPackage(eco.id, name);
    if (also.owners) await this.d.store.listOwners(0);
    await this.canRead(principal, eco, name, 'restricted', []);
  }

  /** The artifact to serve; `principal` is only resolved when the package is restricted (or missing: see below). */
  async servedArtifact(principal: () => Promise<Principal>, eco: Ecosystem, name: string, filename: string): Promise<ServedArtifact> {
    const art = await this.artifacts.get(`${eco.id}\0${name}\0${filename}`, () => this.d.store.findServedArtifact(eco.id, name, filename));
    if (!art) {
      await this.spendLikeARefusal(await principal(), eco, name, { row: false, owners: true });
      throw notFound('ARTIFACT_NOT_FOUND', `${filename} is not in this registry`);
    }
    if (art.access === 'restricted') {
      const owners = (await this.d.store.listOwners(art.packageId)).map((o) => o.id);
      if (!(await this.canRead(await principal(), eco, name, art.access, owners))) throw notFound('ARTIFACT_NOT_FOUND', `${filename} is not in this registry`);
    }
    return art;
  }

  async artifactIsServed(eco: Ecosystem, name: string, filename: string): Promise<boolean> {
    return (await this.d.store.findServedArtifact(eco.id, name, filename)) !== undefined;
  }

  /** True when the name was ever created (live or unpublished): such names are not "new". */
  async exists(eco: Ecosystem, name: string): Promise<boolean> {
    return (await this.d.store.findPackage(eco.id, name)) !== undefined;
  }

  /** A package the principal may read, or not found (restricted packages are indistinguishable from absent ones). */
  async snapshot(principal: Principal, eco: Ecosystem, name: string): Promise<PackageSnapshot> {
    const pkg = await this.d.store.findPackage(eco.id, name);
    if (!pkg || pkg.deletedAt) {
      await this.spendLikeARefusal(principal, eco, name, { row: false, owners: true });
      throw notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it)`);
    }
    const owners = await this.d.store.listOwners(pkg.id);
    requireAllowed(this.d.authorizer.check(principal, 'package:read', resourceFor(eco, name, pkg, owners, await orgStandingFor(this.d.store, eco, name, principal))), name);
    return { pkg, owners };
  }

  /**
   * Before looking at a document a caller sent back: may they make this kind of change at all?
   * For a caller who cannot read the package this is the answer they get (a write refusal or the
   * missing-package answer), never anything derived from the stored document.
   */
  async mayChange(principal: Principal, eco: Ecosystem, name: string, action: PackageAction): Promise<void> {
    const pkg = await this.d.store.findPackage(eco.id, name);
    const owners = pkg ? await this.d.store.listOwners(pkg.id) : [];
    requireAllowed(this.d.authorizer.check(principal, action, resourceFor(eco, name, pkg, owners, await orgStandingFor(this.d.store, eco, name, principal))), name);
    if (!pkg || pkg.deletedAt) throw notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it)`);
  }

  async tags(principal: Principal, eco: Ecosystem, name: string): Promise<Map<string, string>> {
    const { pkg } = await this.snapshot(principal, eco, name);
    return new Map((await this.d.store.listTags(pkg.id)).map((t) => [t.tag, t.version]));
  }

  search(eco: Ecosystem, text: string, size: number, from: number): Promise<SearchHit[]> {
    return this.d.store.searchPackages(eco.id, text, size, from);
  }

  async ownedPackages(user: UserRecord, eco: Ecosystem): Promise<string[]> {
    return this.d.store.listOwnedPackages(user.id, eco.id);
  }

  // ---------- writes ----------

  /** Runs a package write: lock, authorize, change, rebuild documents, record the event. */
  private async write<T>(principal: Principal, eco: Ecosystem, name: string, action: PackageAction,
    change: (tx: MetadataOps, pkg: PackageRecord, owners: UserRecord[], now: number) => Promise<{ result: T; event?: WriteEvent | WriteEvent[] }>): Promise<T> {
    return this.d.store.transaction(async (tx) => {
      const found = await tx.findPackage(eco.id, name);
      if (found) await tx.lockPackage(found.id);
      const pkg = found && (await tx.findPackage(eco.id, name));
      const owners = pkg ? await tx.listOwners(pkg.id) : [];
      requireAllowed(this.d.authorizer.check(principal, action, resourceFor(eco, name, pkg, owners, await orgStandingFor(tx, eco, name, principal))), name);
      if (!pkg) throw notFound('PACKAGE_NOT_FOUND', `${name} is not in this registry (or you do not have access to it)`);
      const now = this.d.clock();
      const { result, event } = await change(tx, pkg, owners, now);
      const current = await tx.findPackage(eco.id, name);
      if (current) {
        await tx.updatePackage(current.id, { rev: current.rev + 1, modifiedAt: now });
        await rebuildDocuments(tx, eco, { ...current, rev: current.rev + 1, modifiedAt: now }, now);
      }
      const events = event === undefined ? [] : Array.isArray(event) ? event : [event];
      for (const e of events) {
        await tx.insertEvent({ at: now, type: e.type, actorId: principal.kind === 'user' ? principal.userId : null, subjectId: e.subjectId ?? null,
          ecosystem: eco.id, packageName: name, version: e.version ?? null, data: e.data });
      }
      // Transparency log, last (it takes the sequencer lock): unpublishes and owner changes.
      for (const entry of entriesForPackageEvents(eco.id, name, now, events)) await appendToLog(tx, entry);
      return result;
    });
  }

  /** Removes one version, within the unpublish policy. Unknown or already-removed versions are not an error. */
  async unpublishVersion(principal: Principal, eco: Ecosystem, name: string, version: string): Promise<void> {
    await this.write(principal, eco, name, 'package:unpublish', async (tx, pkg, owners, now) => {
      const releases = await tx.listReleases(pkg.id);
      const target = releases.find((r) => r.version === version && r.state === 'published');
      if (!target) return { result: undefined };
      await this.enforceUnpublishPolicy(tx, eco, pkg, owners, [target], now);
      await tx.updateRelease(target.id, { state: 'unpublished', unpublishedAt: now });
      const remaining = releases.filter((r) => r.state === 'published' && r.id !== target.id).map((r) => r.version);
      await this.applyRetag(tx, eco, pkg, remaining);
      if (remaining.length === 0) await tx.updatePackage(pkg.id, { deletedAt: now, latestVersion: null });
      return { result: undefined, event: { type: 'release.unpublished', version, data: {} } };
    });
  }

  /** Removes every version; the name stays reserved for its owners (DEL-3). */
  async unpublishPackage(principal: Principal, eco: Ecosystem, name: string): Promise<void> {
    await this.write(principal, eco, name, 'package:unpublish', async (tx, pkg, owners, now) => {
      const live = (await tx.listReleases(pkg.id)).filter((r) => r.state === 'published');
      await this.enforceUnpublishPolicy(tx, eco, pkg, owners, live, now);
      for (const r of live) await tx.updateRelease(r.id, { state: 'unpublished', unpublishedAt: now });
      for (const t of await tx.listTags(pkg.id)) await tx.deleteTag(pkg.id, t.tag);
      await tx.updatePackage(pkg.id, { deletedAt: now, latestVersion: null });
      return { result: undefined, event: { type: 'package.unpublished', data: { versions: live.map((r) => r.version) } } };
    });
  }

  private async enforceUnpublishPolicy(tx: MetadataOps, eco: Ecosystem, pkg: PackageRecord, owners: UserRecord[], releases: ReleaseRecord[], now: number): Promise<void> {
    if (releases.length === 0) return;
    const dependents = await tx.listDependents(eco.id, pkg.name, MAX_DEPENDENTS_SHOWN);
    for (const r of releases) {
      const verdict = judgeUnpublish(this.d.unpublishPolicy, { now, publishedAt: r.createdAt, ownerCount: owners.length, dependents });
      if (!verdict.allowed) throw forbidden(verdict.code, `Cannot unpublish ${pkg.name}@${r.version}: ${verdict.message}`);
    }
  }

  private async applyRetag(tx: MetadataOps, eco: Ecosystem, pkg: PackageRecord, remaining: string[]): Promise<void> {
    const before = new Map((await tx.listTags(pkg.id)).map((t) => [t.tag, t.version]));
    const after = eco.retag(before, remaining);
    for (const tag of before.keys()) if (!after.has(tag)) await tx.deleteTag(pkg.id, tag);
    for (const [tag, v] of after) if (before.get(tag) !== v) await tx.setTag(pkg.id, tag, v);
    await tx.updatePackage(pkg.id, { latestVersion: after.get('latest') ?? null });
  }

  /** Sets (message) or clears (null) the deprecation of the given versions. */
  async deprecate(principal: Principal, eco: Ecosystem, name: string, changes: ReadonlyMap<string, string | null>): Promise<number> {
    return this.write(principal, eco, name, 'package:deprecate', async (tx, pkg) => {
      const releases = new Map((await tx.listReleases(pkg.id)).filter((r) => r.state === 'published').map((r) => [r.version, r]));
      const changed: Record<string, string | null> = {};
      for (const [version, message] of changes) {
        const r = releases.get(version);
        if (!r) throw notFound('VERSION_NOT_FOUND', `${name}@${version} is not published`);
        if ((r.deprecated ?? null) === message) continue;
        if (message !== null && message.length > 1024) throw invalid('DEPRECATION_TOO_LONG', 'Deprecation messages are at most 1024 characters');
        const updated = { ...r, deprecated: message };
        const fragments = eco.renderRelease(await releaseView(tx, pkg, updated));
        await tx.updateRelease(r.id, { deprecated: message, fragmentFull: fragments.full, fragmentAbbrev: fragments.abbrev });
        changed[version] = message;
      }
      const count = Object.keys(changed).length;
      // Only what changed: the audit event and the transparency log name each changed version once.
      return { result: count, event: count ? { type: 'release.deprecated', data: { versions: changed } } : undefined };
    });
  }

  async setTag(principal: Principal, eco: Ecosystem, name: string, tag: string, version: string): Promise<void> {
    await this.write(principal, eco, name, 'package:tag', async (tx, pkg) => {
      const r = await tx.findRelease(pkg.id, version);
      if (!r || r.state !== 'published') throw notFound('VERSION_NOT_FOUND', `${name}@${version} is not published`);
      await tx.setTag(pkg.id, tag, version);
      if (tag === 'latest') await tx.updatePackage(pkg.id, { latestVersion: version });
      return { result: undefined, event: { type: 'tag.set', version, data: { tag } } };
    });
  }

  async removeTag(principal: Principal, eco: Ecosystem, name: string, tag: string): Promise<void> {
    if (tag === 'latest') throw invalid('CANNOT_REMOVE_LATEST', 'The latest tag cannot be removed; point it at another version instead');
    await this.write(principal, eco, name, 'package:tag', async (tx, pkg) => {
      const tags = await tx.listTags(pkg.id);
      if (!tags.some((t) => t.tag === tag)) throw notFound('TAG_NOT_FOUND', `${name} has no tag ${tag}`);
      await tx.deleteTag(pkg.id, tag);
      return { result: undefined, event: { type: 'tag.removed', data: { tag } } };
    });
  }

  /** Replaces the owner list with `names` (what npm's owner add/rm sends: the whole list). */
  async setOwners(principal: Principal, eco: Ecosystem, name: string, names: readonly string[]): Promise<void> {
    await this.write(principal, eco, name, 'package:owners', async (tx, pkg, owners, now) => {
      const wanted: UserRecord[] = [];
      for (const n of new Set(names.map((x) => x.toLowerCase()))) {
        const u = await tx.findUserByName(n);
        if (!u) throw notFound('USER_NOT_FOUND', `There is no user named ${n}`);
        wanted.push(u);
      }
      if (wanted.length === 0) throw invalid('LAST_OWNER', 'A package must keep at least one owner');
      const added = wanted.filter((u) => !owners.some((o) => o.id === u.id));
      const removed = owners.filter((o) => !wanted.some((u) => u.id === o.id));
      // In an organization's scope, maintainers come from its members (their rights end with membership anyway).
      const scope = eco.scopeOf(name);
      const org = scope === null ? undefined : await tx.findOrg(scope);
      if (org) {
        for (const u of added) {
          if ((await tx.findOrgRole(org.id, u.id)) === undefined) throw invalid('OWNER_NOT_IN_ORG', `${u.name} is not a member of @${org.name}; add them to the organization first (npm org set ${org.name} ${u.name})`);
        }
      }
      for (const u of added) await tx.addOwner(pkg.id, u.id, now);
      for (const u of removed) await tx.removeOwner(pkg.id, u.id);
      // One event per person, so each sees it in their own audit history.
      return { result: undefined, event: [
        ...added.map((u) => ({ type: 'owner.added', subjectId: u.id, data: { user: u.name } })),
        ...removed.map((u) => ({ type: 'owner.removed', subjectId: u.id, data: { user: u.name } })),
      ] };
    });
  }

  /** npm's per-package 2FA setting; changing it is people-and-policy management like access. */
  async setMfaPolicy(principal: Principal, eco: Ecosystem, name: string, policy: PackageMfaPolicy): Promise<void> {
    await this.write(principal, eco, name, 'package:owners', async (tx, pkg) => {
      if (pkg.mfaPolicy === policy) return { result: undefined };
      await tx.updatePackage(pkg.id, { mfaPolicy: policy });
      return { result: undefined, event: { type: 'package.mfa-policy-changed', data: { mfaPolicy: policy, previous: pkg.mfaPolicy } } };
    });
  }

  async setAccess(principal: Principal, eco: Ecosystem, name: string, access: Access): Promise<void> {
    if (access === 'restricted' && eco.scopeOf(name) === null) throw invalid('UNSCOPED_CANNOT_BE_RESTRICTED', 'Only scoped packages can be restricted');
    await this.write(principal, eco, name, 'package:owners', async (tx, pkg) => {
      if (pkg.access === access) return { result: undefined };
      await tx.updatePackage(pkg.id, { access });
      return { result: undefined, event: { type: 'access.changed', data: { access } } };
    });
  }
}
