// The metadata store's owner interface. The domain core depends on this file only; which engine
// implements it is decided in app.ts. Records are plain data; ids and times are numbers
// (milliseconds since the epoch).

import type { TokenScope } from '../../security/tokens/token-scope.ts';

/** A write lost to a uniqueness rule (another writer got there first). Part of the contract. */
export class UniqueViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UniqueViolation';
  }
}

export interface UserRecord {
  id: number;
  name: string;
  email: string;
  passwordHash: string;
  isAdmin: boolean;
  createdAt: number;
  updatedAt: number;
  /** When the current email address was proven (null: unverified). */
  emailVerifiedAt: number | null;
  /** npm's two-factor mode: null (none), 'auth-only' or 'auth-and-writes'. */
  tfaMode: 'auth-only' | 'auth-and-writes' | null;
  /** Base32 TOTP secret once enrolment is confirmed. */
  totpSecret: string | null;
  /** A secret shown for enrolment and not yet confirmed with a code. */
  totpPendingSecret: string | null;
  totpPendingAt: number | null;
  /** The mode asked for when the pending secret was created (npm enable-2fa sends it in step 1). */
  totpPendingMode: 'auth-only' | 'auth-and-writes' | null;
  /** The last accepted TOTP step and the credential that used it (replay rule). */
  totpLastStep: number | null;
  totpLastCredential: string | null;
  /** Random WebAuthn user handle (never the numeric id). */
  webauthnHandle: string | null;
  /** The password was found in a breach corpus at login; shown until changed. */
  passwordLeaked: boolean;
}

export type UserSecurityFields = Pick<UserRecord, 'email' | 'passwordHash' | 'emailVerifiedAt' | 'tfaMode' | 'totpSecret' | 'totpPendingSecret' | 'totpPendingAt' | 'totpPendingMode' |
  'totpLastStep' | 'totpLastCredential' | 'webauthnHandle' | 'passwordLeaked' | 'updatedAt'>;

export interface EmailTokenRecord {
  tokenHash: string;
  userId: number;
  purpose: 'verify' | 'change' | 'recover';
  email: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

export interface WebAuthnCredentialRecord {
  id: string;
  userId: number;
  publicKey: string;
  counter: number;
  transports: string[];
  name: string;
  backedUp: boolean;
  deviceType: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** A browser session (cookie); the cookie carries the id, the store only its hash. */
export interface WebSessionRecord {
  idHash: string;
  userId: number | null;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  absoluteExpiresAt: number;
  ip: string | null;
  userAgent: string | null;
  /** JSON: pending WebAuthn challenges, a half-finished login awaiting its second factor, flashes. */
  data: string;
}

export interface ThrottleRecord {
  key: string;
  failures: number;
  firstFailureAt: number;
  lockedUntil: number | null;
  nextAllowedAt: number;
}

/** npm's web OTP: the CLI polls doneUrl; a person approves at authUrl with a second factor. */
export interface OtpChallengeRecord {
  id: string;
  doneHash: string;
  userId: number;
  createdAt: number;
  expiresAt: number;
  approvedAt: number | null;
  method: 'totp' | 'webauthn' | 'recovery' | null;
  /** Hash of the one-time token handed to the CLI as its `npm-otp` value. */
  otpHash: string | null;
}

export type TokenKind = 'session' | 'api';

export interface TokenRecord {
  id: string;
  userId: number;
  tokenHash: string;
  displayPrefix: string;
  kind: TokenKind;
  name: string | null;
  readonly: boolean;
  cidrWhitelist: string[] | null;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  lastUsedIp: string | null;
  /** Writes with this token need no second factor (automation); never on critical packages. */
  bypass2fa: boolean;
  /** A granular token's packages, scopes and permissions; null for a classic token. */
  scope: TokenScope | null;
}

export interface LoginSessionRecord {
  id: string;
  doneHash: string;
  createAccount: boolean;
  userId: number | null;
  createdAt: number;
  expiresAt: number;
}

export type Access = 'public' | 'restricted';

export interface PackageRecord {
  id: number;
  ecosystem: string;
  name: string;
  createdAt: number;
  modifiedAt: number;
  rev: number;
  access: Access;
  description: string;
  keywords: string;
  latestVersion: string | null;
  deletedAt: number | null;
  /** Only trusted publishers may publish new versions (token and password publishes refused). */
  trustedPublishingOnly: boolean;
  /** Until then, a version may break provenance continuity (declared by a maintainer beforehand). */
  provenanceChangeUntil: number | null;
  /** Marked critical by an administrator: writes need phishing-resistant MFA. */
  critical: boolean;
  /** Critical because of its downloads (set by the periodic ranking job, never by hand); same effect. */
  criticalAuto: boolean;
  /** npm's per-package 2FA setting (`npm access set mfa=…`); see security/authz. */
  mfaPolicy: PackageMfaPolicy;
}

export type PackageMfaPolicy = 'none' | 'publish' | 'automation';

export type ReleaseState = 'published' | 'unpublished';

export interface ReleaseRecord {
  id: number;
  packageId: number;
  version: string;
  state: ReleaseState;
  createdAt: number;
  unpublishedAt: number | null;
  publisherId: number | null;
  /** How the version was published, as JSON ({kind: 'user'|'token'|'trusted-publisher', …}); null for older rows. */
  publishedVia: string | null;
  /** The ecosystem's own metadata for this version, as JSON text (opaque to the core). */
  metadata: string;
  deprecated: string | null;
  /** Precomputed serving fragments owned by the ecosystem adapter (e.g. npm's full and abbreviated version objects). */
  fragmentFull: string;
  fragmentAbbrev: string;
  /** The registry's signatures over the version (JSON `[{keyid, sig}]`); null until signed. */
  signatures: string | null;
  /** Transparency-log index of the version's release.published entry; null for versions published before the log. */
  logIndex?: number | null;
}

export type AttestationKind = 'provenance' | 'publish';

/** A Sigstore bundle kept with a release, as uploaded (provenance) or made here (publish attestation). */
export interface AttestationRecord {
  id: number;
  releaseId: number;
  kind: AttestationKind;
  predicateType: string;
  mediaType: string;
  /** The bundle's JSON text, byte for byte. */
  bundle: string;
  /** JSON of what verification established (identity, source, log entry), for documents and checks. */
  summary: string;
  /** Result of the last source-liveness check: null (never checked or unknown), 'live' or 'gone'. */
  sourceStatus: 'live' | 'gone' | null;
  sourceCheckedAt: number | null;
  createdAt: number;
}

export interface ArtifactRecord {
  id: number;
  releaseId: number;
  ecosystem: string;
  packageName: string;
  filename: string;
  /** Key in the blob store: the hex sha512 of the bytes (content addressed). */
  blobKey: string;
  integrity: string;
  sha1: string;
  size: number;
}

export interface ServedArtifact extends ArtifactRecord {
  packageId: number;
  access: Access;
}

export interface DocumentRecord {
  etag: string;
  body: string;
  modifiedAt: number;
}

/** A position in an audit listing (newest first): events strictly before it come next. */
export interface EventCursor {
  at: number;
  id: number;
}

export interface EventRecord {
  id: number;
  at: number;
  type: string;
  actorId: number | null;
  ecosystem: string | null;
  packageName: string | null;
  version: string | null;
  data: Record<string, unknown>;
  /** The user the event happened to, when that is not the actor (added as an owner, given a role…). */
  subjectId: number | null;
  /** The organization whose audit log shows it (set by the store from `org` or the package's scope). */
  orgId: number | null;
  /** Filled by the audit listings: the actor's and subject's names (null for the registry itself). */
  actorName?: string | null;
  subjectName?: string | null;
}

export interface SearchHit {
  name: string;
  description: string;
  keywords: string;
  latestVersion: string | null;
  modifiedAt: number;
}

export type NewUser = Pick<UserRecord, 'name' | 'email' | 'passwordHash' | 'isAdmin' | 'createdAt' | 'updatedAt'> & Partial<Pick<UserRecord, 'emailVerifiedAt'>>;
export type NewRelease = Omit<ReleaseRecord, 'id' | 'signatures'>;
/** New packages accept token publishes until a maintainer says otherwise. */
export type NewPackage = Omit<PackageRecord, 'id' | 'trustedPublishingOnly' | 'provenanceChangeUntil' | 'critical' | 'criticalAuto' | 'mfaPolicy'>;
export type NewArtifact = Omit<ArtifactRecord, 'id'>;
/**
 * `org` names the organization whose log shows the event; when absent, an event on a package
 * `@<org>/…` whose scope is an organization goes to that org's log.
 */
export type NewEvent = Omit<EventRecord, 'id' | 'subjectId' | 'orgId' | 'actorName' | 'subjectName'> & { subjectId?: number | null; org?: string | null };

export interface TrustedPublisherRecord {
  id: number;
  provider: string;
  issuer: string;
  /** Canonical JSON of the provider's policy. */
  policy: string;
  /** JSON of the immutable ids recorded at first use, or null before it. */
  binding: string | null;
  createdAt: number;
}

/** A publisher trusted for one package (name), with what it may do there. */
export interface PackagePublisherRecord {
  id: string;
  publisherId: number;
  ecosystem: string;
  packageName: string;
  permissions: string[];
  createdBy: number | null;
  createdAt: number;
}

/** Downloads of one package on one UTC day (days since the epoch). */
export interface DownloadCount {
  packageId: number;
  day: number;
  count: number;
}

export interface PackageRef {
  id: number;
  ecosystem: string;
  name: string;
}

export interface PublisherTokenRecord {
  id: string;
  tokenHash: string;
  linkId: string;
  publisherId: number;
  ecosystem: string;
  packageName: string;
  permissions: string[];
  reference: string;
  /** JSON of the verified workload claims the token was minted for (provenance identity binding). */
  identity: string | null;
  createdAt: number;
  expiresAt: number;
}

/** An organization owns the npm scope of the same name (docs/organizations.md). */
export type OrgRole = 'owner' | 'admin' | 'member';
export type TeamPermission = 'read-only' | 'read-write';

export interface OrgRecord {
  id: number;
  name: string;
  createdAt: number;
}

export interface TeamRecord {
  id: number;
  orgId: number;
  name: string;
  description: string;
  createdAt: number;
}

export interface TeamListing extends TeamRecord {
  members: number;
}

export interface TeamGrant {
  teamId: number;
  ecosystem: string;
  packageName: string;
  permission: TeamPermission;
}

/** A transparency-log entry to append: the canonical bytes plus the columns that index them. */
export interface NewLogEntry {
  at: number;
  kind: string;
  ecosystem: string | null;
  packageName: string | null;
  version: string | null;
  /** The canonical encoded entry (src/core/transparency/entry.ts), hashed exactly as given. */
  entry: Uint8Array;
}

export interface LogEntryRecord extends NewLogEntry {
  index: number;
  leafHash: Uint8Array;
}

/** A signed checkpoint of the transparency log (C2SP tlog-checkpoint in a signed note). */
export interface LogCheckpointRecord {
  size: number;
  root: Uint8Array;
  /** The signed note, exactly as served. */
  note: string;
  createdAt: number;
}

export interface LogConsistency {
  size: number;
  entries: number;
  /** Index of the highest entry row, or null when there are none (must be size − 1). */
  maxIndex: number | null;
  mismatches: Array<{ problem: 'entry-without-release' | 'release-without-entry'; index: number; ecosystem: string; name: string; version: string }>;
}

export interface MetadataOps {
  updateUser(id: number, fields: Partial<UserSecurityFields>): Promise<void>;
  /**
   * Records that `credential` used the TOTP code of `step`, atomically with the replay rule: true
   * when no later step was used and this step was not used by another credential; false (nothing
   * written) otherwise, so two requests racing with one code cannot both pass.
   */
  claimTotpStep(userId: number, step: number, credential: string): Promise<boolean>;
  findUserByEmail(email: string): Promise<UserRecord[]>;
  insertEmailToken(t: EmailTokenRecord): Promise<void>;
  findEmailToken(tokenHash: string): Promise<EmailTokenRecord | undefined>;
  /** Marks it used; false when it already was (single use under concurrency). */
  useEmailToken(tokenHash: string, at: number): Promise<boolean>;
  replaceRecoveryCodes(userId: number, codeHashes: readonly string[], at: number): Promise<void>;
  /** Marks one unused code used; false when it does not exist or was used. */
  useRecoveryCode(userId: number, codeHash: string, at: number): Promise<boolean>;
  countUnusedRecoveryCodes(userId: number): Promise<number>;
  insertWebAuthnCredential(c: WebAuthnCredentialRecord): Promise<void>;
  listWebAuthnCredentials(userId: number): Promise<WebAuthnCredentialRecord[]>;
  findWebAuthnCredential(id: string): Promise<WebAuthnCredentialRecord | undefined>;
  updateWebAuthnCredential(id: string, counter: number, lastUsedAt: number): Promise<void>;
  deleteWebAuthnCredential(userId: number, id: string): Promise<boolean>;
  findUserByWebAuthnHandle(handle: string): Promise<UserRecord | undefined>;
  insertWebSession(s: WebSessionRecord): Promise<void>;
  findWebSession(idHash: string): Promise<WebSessionRecord | undefined>;
  updateWebSession(idHash: string, fields: Partial<Omit<WebSessionRecord, 'idHash'>>): Promise<void>;
  deleteWebSession(idHash: string): Promise<void>;
  deleteUserWebSessions(userId: number, exceptIdHash?: string): Promise<void>;
  deleteExpiredWebSessions(now: number): Promise<void>;
  getThrottle(key: string): Promise<ThrottleRecord | undefined>;
  putThrottle(t: ThrottleRecord): Promise<void>;
  deleteThrottle(key: string): Promise<void>;
  insertOtpChallenge(c: OtpChallengeRecord): Promise<void>;
  findOtpChallenge(id: string): Promise<OtpChallengeRecord | undefined>;
  findOtpChallengeByDoneHash(doneHash: string): Promise<OtpChallengeRecord | undefined>;
  findOtpChallengeByOtpHash(otpHash: string): Promise<OtpChallengeRecord | undefined>;
  updateOtpChallenge(id: string, fields: Partial<Pick<OtpChallengeRecord, 'approvedAt' | 'method' | 'otpHash' | 'expiresAt'>>): Promise<void>;
  deleteExpiredOtpChallenges(now: number): Promise<void>;
  /** Records a device for a user; true when it was not known before. */
  recordDevice(userId: number, deviceHash: string, at: number): Promise<boolean>;
  /** The account's audit history: events it is the actor or the subject of, newest first, with names; only those older than `before`. */
  listUserEvents(userId: number, limit: number, before?: EventCursor): Promise<EventRecord[]>;
  /** An organization's audit log, newest first, with names; only events older than `before`. */
  listOrgEvents(orgId: number, limit: number, before?: EventCursor): Promise<EventRecord[]>;
  insertAttestation(a: Omit<AttestationRecord, 'id' | 'sourceStatus' | 'sourceCheckedAt'>): Promise<void>;
  listAttestations(releaseId: number): Promise<AttestationRecord[]>;
  /** Provenance whose source was checked least recently (never-checked first), not checked since `before`. */
  listProvenanceToCheck(before: number, limit: number): Promise<Array<AttestationRecord & { ecosystem: string; packageName: string; version: string }>>;
  setSourceStatus(id: number, status: 'live' | 'gone' | null, at: number): Promise<void>;
  /** Published releases without registry signatures (older than signing), for the backfill. */
  listUnsignedReleases(ecosystem: string, limit: number): Promise<Array<{ releaseId: number; ecosystem: string; name: string; version: string; integrity: string }>>;
  findOrInsertTrustedPublisher(p: Omit<TrustedPublisherRecord, 'id' | 'binding'>): Promise<TrustedPublisherRecord>;
  findTrustedPublisher(id: number): Promise<TrustedPublisherRecord | undefined>;
  setPublisherBinding(id: number, binding: string): Promise<void>;
  insertPackagePublisher(link: PackagePublisherRecord): Promise<void>;
  listPackagePublishers(ecosystem: string, packageName: string): Promise<PackagePublisherRecord[]>;
  deletePackagePublisher(ecosystem: string, packageName: string, id: string): Promise<boolean>;
  /** Deletes the links of `packageName` registered by anyone but `keepCreatedBy`; returns how many. */
  dropPendingPublishers(ecosystem: string, packageName: string, keepCreatedBy: number | null): Promise<number>;
  /** Links a user registered, since `since`, for names that do not exist as packages (pending publishers). */
  countPendingPublishers(userId: number, since: number): Promise<number>;
  /** Records a token use; false when this (issuer, jti) was used before and has not expired. */
  recordOidcTokenUse(issuer: string, jti: string, expiresAt: number, now: number): Promise<boolean>;
  insertPublisherToken(t: PublisherTokenRecord): Promise<void>;
  findPublisherTokenByHash(hash: string): Promise<PublisherTokenRecord | undefined>;
  /** Revokes one minted token (a secret scanner found it in public); false when it was already gone. */
  deletePublisherToken(id: string): Promise<boolean>;

  insertUser(user: NewUser): Promise<UserRecord>;
  findUserByName(name: string): Promise<UserRecord | undefined>;
  findUserById(id: number): Promise<UserRecord | undefined>;
  countUsers(): Promise<number>;

  insertToken(token: TokenRecord): Promise<void>;
  findTokenByHash(hash: string): Promise<TokenRecord | undefined>;
  listTokens(userId: number): Promise<TokenRecord[]>;
  deleteToken(id: string): Promise<boolean>;
  touchToken(id: string, at: number, ip: string | null): Promise<void>;

  insertLoginSession(session: LoginSessionRecord): Promise<void>;
  findLoginSession(id: string): Promise<LoginSessionRecord | undefined>;
  findLoginSessionByDoneHash(hash: string): Promise<LoginSessionRecord | undefined>;
  approveLoginSession(id: string, userId: number): Promise<void>;
  deleteLoginSession(id: string): Promise<boolean>;
  deleteExpiredLoginSessions(now: number): Promise<void>;

  findPackage(ecosystem: string, name: string): Promise<PackageRecord | undefined>;
  /** Inside a transaction: serialises writers of one package (row lock where the engine has one). */
  lockPackage(id: number): Promise<void>;
  insertPackage(pkg: NewPackage): Promise<PackageRecord>;
  updatePackage(id: number, fields: Partial<Omit<PackageRecord, 'id' | 'ecosystem' | 'name'>>): Promise<void>;
  searchPackages(ecosystem: string, text: string, limit: number, offset: number): Promise<SearchHit[]>;

  listReleases(packageId: number): Promise<ReleaseRecord[]>;
  findRelease(packageId: number, version: string): Promise<ReleaseRecord | undefined>;
  insertRelease(release: NewRelease): Promise<ReleaseRecord>;
  updateRelease(id: number, fields: Partial<Pick<ReleaseRecord, 'state' | 'unpublishedAt' | 'deprecated' | 'fragmentFull' | 'fragmentAbbrev' | 'signatures' | 'logIndex'>>): Promise<void>;

  insertArtifact(artifact: NewArtifact): Promise<ArtifactRecord>;
  listArtifacts(releaseId: number): Promise<ArtifactRecord[]>;
  /** The artifact served for a download: only from a published release of a live package. */
  findServedArtifact(ecosystem: string, packageName: string, filename: string): Promise<ServedArtifact | undefined>;
  /** Every blob key any artifact row points at (for orphan checks and garbage collection). */
  listBlobKeys(): Promise<string[]>;
  /** Published releases that have no artifact row (must never exist). */
  listReleasesWithoutArtifacts(): Promise<Array<{ ecosystem: string; name: string; version: string }>>;
  /** Live packages with at least one published release but no served document (must never exist). */
  listPackagesWithoutDocuments(): Promise<Array<{ ecosystem: string; name: string }>>;

  setDependencies(releaseId: number, ecosystem: string, dependencies: readonly string[]): Promise<void>;
  /** Names of packages with a published release that depends on `name`, other than itself. */
  listDependents(ecosystem: string, name: string, limit: number): Promise<string[]>;

  listOwners(packageId: number): Promise<UserRecord[]>;
  addOwner(packageId: number, userId: number, at: number): Promise<void>;
  removeOwner(packageId: number, userId: number): Promise<void>;
  listOwnedPackages(userId: number, ecosystem: string): Promise<string[]>;

  listTags(packageId: number): Promise<Array<{ tag: string; version: string }>>;
  setTag(packageId: number, tag: string, version: string): Promise<void>;
  deleteTag(packageId: number, tag: string): Promise<void>;

  putDocument(ecosystem: string, name: string, form: string, doc: DocumentRecord): Promise<void>;
  getDocument(ecosystem: string, name: string, form: string): Promise<DocumentRecord | undefined>;
  getDocumentEtag(ecosystem: string, name: string, form: string): Promise<string | undefined>;
  deleteDocuments(ecosystem: string, name: string): Promise<void>;

  getSetting(key: string): Promise<string | undefined>;
  putSetting(key: string, value: string): Promise<void>;
  /** Ids and names of every package of an ecosystem (for maintenance passes). */
  listPackageNames(ecosystem: string): Promise<string[]>;

  insertEvent(event: NewEvent): Promise<void>;

  /**
   * Adds the counts to the stored per-day totals (increments, so several processes add up).
   * Atomic on its own; repeated (packageId, day) pairs are summed.
   */
  addDownloads(counts: ReadonlyArray<DownloadCount>): Promise<void>;
  /** Downloads per live package since `sinceDay` (inclusive); packages without any are absent. */
  listDownloadTotals(sinceDay: number): Promise<Array<{ packageId: number; total: number }>>;
  /** Packages not deleted (all ecosystems). */
  countLivePackages(): Promise<number>;
  /** Ids of the packages currently marked critical by the download ranking. */
  listCriticalAuto(): Promise<number[]>;
  /** Sets the ranking's mark on `ids`; returns the packages whose mark actually changed (once, under concurrency). */
  setCriticalAuto(ids: readonly number[], value: boolean): Promise<PackageRef[]>;

  /** Throws UniqueViolation when the name is taken. */
  insertOrg(name: string, at: number): Promise<OrgRecord>;
  findOrg(name: string): Promise<OrgRecord | undefined>;
  /** Adds the member or changes their role. */
  setOrgMember(orgId: number, userId: number, role: OrgRole): Promise<void>;
  /** Removes the member and their team memberships in that org; false when they were not a member. */
  removeOrgMember(orgId: number, userId: number): Promise<boolean>;
  findOrgRole(orgId: number, userId: number): Promise<OrgRole | undefined>;
  listOrgMembers(orgId: number): Promise<Array<{ userId: number; name: string; role: OrgRole }>>;
  /** The organizations a user belongs to, with their role, by name. */
  listUserOrgs(userId: number): Promise<Array<{ name: string; role: OrgRole }>>;
  /** Throws UniqueViolation when the org has a team of that name. */
  insertTeam(orgId: number, name: string, description: string, at: number): Promise<TeamRecord>;
  findTeam(orgId: number, name: string): Promise<TeamRecord | undefined>;
  /** Deletes the team with its memberships and package grants. */
  deleteTeam(teamId: number): Promise<void>;
  /** The org's teams by name, each with its number of members (one query, for listings). */
  listTeams(orgId: number): Promise<TeamListing[]>;
  /** False when the user already was a member. */
  addTeamMember(teamId: number, userId: number): Promise<boolean>;
  removeTeamMember(teamId: number, userId: number): Promise<boolean>;
  listTeamMembers(teamId: number): Promise<string[]>;
  /** Grants or changes the team's permission on a package. */
  setTeamPackage(grant: TeamGrant): Promise<void>;
  removeTeamPackage(teamId: number, ecosystem: string, packageName: string): Promise<boolean>;
  listTeamPackages(teamId: number): Promise<TeamGrant[]>;
  /** The teams with a grant on a package, with their org's name. */
  listPackageTeams(ecosystem: string, packageName: string): Promise<Array<{ orgName: string; teamName: string; permission: TeamPermission }>>;
  /** The strongest permission any of the user's teams in the org has on the package, or null. */
  findTeamPermission(orgId: number, userId: number, ecosystem: string, packageName: string): Promise<TeamPermission | null>;
  /** Live packages whose names start with `prefix` (an npm scope's `@org/`). */
  listPackagesWithPrefix(ecosystem: string, prefix: string): Promise<string[]>;
  /**
   * Appends to the transparency log and returns the entry's index. Takes the log's sequencer lock
   * (held to the end of the transaction), so call it last in a write transaction; the entry and
   * its stored hashes commit or roll back with the rest of the transaction.
   */
  appendLogEntry(entry: NewLogEntry): Promise<number>;
  /** Stored hashes by stored-hash index, in the order asked; refuses an index the log does not have. */
  readLogHashes(ids: readonly number[]): Promise<Uint8Array[]>;
  /** Number of entries in the log (committed ones, or this transaction's view). */
  logSize(): Promise<number>;
  /** Entries from index `from`, at most `count`, in index order. */
  readLogEntries(from: number, count: number): Promise<LogEntryRecord[]>;
  /**
   * For `attestry check`: the log's size against its entry rows, and every disagreement between
   * release.published entries and the releases that point at them (a version's log_index).
   * Releases published before the log existed have no index and are not reported.
   */
  logConsistency(): Promise<LogConsistency>;
  /** Stores a checkpoint unless one for its size exists; true when this call stored it. */
  insertLogCheckpoint(checkpoint: LogCheckpointRecord): Promise<boolean>;
  /** The checkpoint with the largest size, if any. */
  latestLogCheckpoint(): Promise<LogCheckpointRecord | undefined>;
  findLogCheckpoint(size: number): Promise<LogCheckpointRecord | undefined>;
}

export interface MetadataStore extends MetadataOps {
  readonly engine: string;
  /**
   * Changes whenever anything was committed, by this process or (within a few milliseconds)
   * another; null when the engine cannot tell without a query. Lets readers cache derived values.
   */
  changeMarker(): string | null;
  /**
   * Runs `fn` atomically. For the SQLite engine, `fn` must await only the operations of `tx`
   * (and pure computation): other requests' statements share the connection.
   */
  transaction<T>(fn: (tx: MetadataOps) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
