// The metadata store written once in portable SQL; the engine differences live in the drivers.
import type { SqlDatabase, SqlExecutor, SqlValue } from './driver.ts';
import type {
  ArtifactRecord, DocumentRecord, DownloadCount, EmailTokenRecord, EventRecord, LoginSessionRecord, MetadataOps, MetadataStore, NewArtifact, NewEvent,
  AttestationRecord, NewPackage, NewRelease, NewUser, OtpChallengeRecord, PackageMfaPolicy, PackagePublisherRecord, PackageRecord, PackageRef, PublisherTokenRecord, ReleaseRecord,
  SearchHit, ServedArtifact, ThrottleRecord, TokenRecord, TrustedPublisherRecord, UserRecord, UserSecurityFields, WebAuthnCredentialRecord, WebSessionRecord,
  EventCursor, OrgRecord, OrgRole, TeamGrant, TeamListing, TeamPermission, TeamRecord, LogConsistency, LogEntryRecord, NewLogEntry, LogCheckpointRecord,
} from '../store.ts';
import { decodeTokenScope } from '../../../security/tokens/token-scope.ts';
import { leafHash, storedHashCount, storedHashesForRecord } from '../../../security/transparency/merkle.ts';

type Row = Record<string, unknown>;

const bool = (v: unknown): boolean => v === 1 || v === true || v === '1';
const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/**
 * A closed-set column read back. An unknown value is a fault, not a default: reading a mangled
 * `tfa_mode` as "no second factor" would switch off a user's 2FA.
 */
function oneOf<T extends string>(v: unknown, allowed: readonly T[], column: string): T {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  throw new Error(`metadata store: unexpected value in ${column}`);
}
const oneOfOrNull = <T extends string>(v: unknown, allowed: readonly T[], column: string): T | null =>
  (v === null || v === undefined ? null : oneOf(v, allowed, column));

const toUser = (r: Row): UserRecord => ({
  id: num(r.id), name: String(r.name), email: String(r.email), passwordHash: String(r.password_hash),
  isAdmin: bool(r.is_admin), createdAt: num(r.created_at), updatedAt: num(r.updated_at),
  emailVerifiedAt: numOrNull(r.email_verified_at), tfaMode: oneOfOrNull(r.tfa_mode, ['auth-only', 'auth-and-writes'], 'users.tfa_mode'),
  totpSecret: strOrNull(r.totp_secret), totpPendingSecret: strOrNull(r.totp_pending_secret), totpPendingAt: numOrNull(r.totp_pending_at),
  totpPendingMode: oneOfOrNull(r.totp_pending_mode, ['auth-only', 'auth-and-writes'], 'users.totp_pending_mode'),
  totpLastStep: numOrNull(r.totp_last_step), totpLastCredential: strOrNull(r.totp_last_credential), webauthnHandle: strOrNull(r.webauthn_handle),
  passwordLeaked: bool(r.password_leaked),
});

const toEmailToken = (r: Row): EmailTokenRecord => ({
  tokenHash: String(r.token_hash), userId: num(r.user_id), purpose: oneOf(r.purpose, ['verify', 'change', 'recover'], 'email_tokens.purpose'),
  email: String(r.email), createdAt: num(r.created_at), expiresAt: num(r.expires_at), usedAt: numOrNull(r.used_at),
});

const toWebAuthnCredential = (r: Row): WebAuthnCredentialRecord => ({
  id: String(r.id), userId: num(r.user_id), publicKey: String(r.public_key), counter: num(r.counter),
  transports: JSON.parse(String(r.transports)) as string[], name: String(r.name), backedUp: bool(r.backed_up),
  deviceType: String(r.device_type), createdAt: num(r.created_at), lastUsedAt: numOrNull(r.last_used_at),
});

const toWebSession = (r: Row): WebSessionRecord => ({
  idHash: String(r.id_hash), userId: numOrNull(r.user_id), csrfToken: String(r.csrf_token), createdAt: num(r.created_at),
  lastSeenAt: num(r.last_seen_at), expiresAt: num(r.expires_at), absoluteExpiresAt: num(r.absolute_expires_at),
  ip: strOrNull(r.ip), userAgent: strOrNull(r.user_agent), data: String(r.data),
});

const toThrottle = (r: Row): ThrottleRecord => ({
  key: String(r.key), failures: num(r.failures), firstFailureAt: num(r.first_failure_at), lockedUntil: numOrNull(r.locked_until),
  nextAllowedAt: num(r.next_allowed_at),
});

const toOtpChallenge = (r: Row): OtpChallengeRecord => ({
  id: String(r.id), doneHash: String(r.done_hash), userId: num(r.user_id), createdAt: num(r.created_at), expiresAt: num(r.expires_at),
  approvedAt: numOrNull(r.approved_at), method: oneOfOrNull(r.method, ['totp', 'webauthn', 'recovery'], 'otp_challenges.method'),
  otpHash: strOrNull(r.otp_hash),
});

const toEvent = (r: Row): EventRecord => ({
  id: num(r.id), at: num(r.at), type: String(r.type), actorId: numOrNull(r.actor_id), ecosystem: strOrNull(r.ecosystem),
  packageName: strOrNull(r.package_name), version: strOrNull(r.version), data: JSON.parse(String(r.data)) as Record<string, unknown>,
  subjectId: numOrNull(r.subject_id ?? null), orgId: numOrNull(r.org_id ?? null),
  ...('actor_name' in r ? { actorName: strOrNull(r.actor_name), subjectName: strOrNull(r.subject_name) } : {}),
});

const PACKAGE_MFA_POLICIES: readonly PackageMfaPolicy[] = ['none', 'publish', 'automation'];
/** Events with the names of who acted and whom it concerned, for audit listings. */
const NAMED_EVENTS = 'SELECT e.*, a.name AS actor_name, s.name AS subject_name FROM events e LEFT JOIN users a ON a.id = e.actor_id LEFT JOIN users s ON s.id = e.subject_id';

/** The condition (and its arguments) for events listed after `before`, in (at, id) descending order. */
const olderThan = (before: EventCursor | undefined): [string, number[]] =>
  before ? [' AND (e.at < ? OR (e.at = ? AND e.id < ?))', [before.at, before.at, before.id]] : ['', []];

const toToken = (r: Row): TokenRecord => ({
  id: String(r.id), userId: num(r.user_id), tokenHash: String(r.token_hash), displayPrefix: String(r.display_prefix),
  kind: r.kind === 'api' ? 'api' : 'session', name: strOrNull(r.name), readonly: bool(r.readonly),
  cidrWhitelist: r.cidr_whitelist ? (JSON.parse(String(r.cidr_whitelist)) as string[]) : null,
  createdAt: num(r.created_at), expiresAt: numOrNull(r.expires_at), lastUsedAt: numOrNull(r.last_used_at), lastUsedIp: strOrNull(r.last_used_ip),
  bypass2fa: bool(r.bypass_2fa), scope: r.scope ? decodeTokenScope(String(r.scope)) : null,
});

const toLogin = (r: Row): LoginSessionRecord => ({
  id: String(r.id), doneHash: String(r.done_hash), createAccount: bool(r.create_account), userId: numOrNull(r.user_id),
  createdAt: num(r.created_at), expiresAt: num(r.expires_at),
});

const toPackage = (r: Row): PackageRecord => ({
  id: num(r.id), ecosystem: String(r.ecosystem), name: String(r.name), createdAt: num(r.created_at), modifiedAt: num(r.modified_at),
  rev: num(r.rev), access: r.access === 'restricted' ? 'restricted' : 'public', description: String(r.description),
  keywords: String(r.keywords), latestVersion: strOrNull(r.latest_version), deletedAt: numOrNull(r.deleted_at),
  trustedPublishingOnly: Boolean(num(r.trusted_publishing_only ?? 0)),
  provenanceChangeUntil: numOrNull(r.provenance_change_until ?? null),
  critical: bool(r.critical),
  criticalAuto: bool(r.critical_auto),
  mfaPolicy: oneOf(r.mfa_policy ?? 'none', PACKAGE_MFA_POLICIES, 'packages.mfa_policy'),
});

const toRelease = (r: Row): ReleaseRecord => ({
  id: num(r.id), packageId: num(r.package_id), version: String(r.version), state: r.state === 'unpublished' ? 'unpublished' : 'published',
  createdAt: num(r.created_at), unpublishedAt: numOrNull(r.unpublished_at), publisherId: numOrNull(r.publisher_id),
  metadata: String(r.metadata), deprecated: strOrNull(r.deprecated), fragmentFull: String(r.fragment_full), fragmentAbbrev: String(r.fragment_abbrev),
  publishedVia: strOrNull(r.published_via), signatures: strOrNull(r.signatures ?? null), logIndex: numOrNull(r.log_index ?? null),
});

/** A BLOB/BYTEA column: node:sqlite gives a Uint8Array, pg a Buffer. */
function bytes(v: unknown, column: string): Buffer {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new Error(`metadata store: ${column} is not bytes`);
}

const toLogCheckpoint = (r: Row): LogCheckpointRecord => ({
  size: num(r.size), root: bytes(r.root, 'tlog_checkpoints.root'), note: String(r.note), createdAt: num(r.created_at),
});
const toLogEntry = (r: Row): LogEntryRecord => ({
  index: num(r.idx), at: num(r.at), kind: String(r.kind), ecosystem: strOrNull(r.ecosystem), packageName: strOrNull(r.package_name),
  version: strOrNull(r.version), entry: bytes(r.entry, 'tlog_entries.entry'), leafHash: bytes(r.leaf_hash, 'tlog_entries.leaf_hash'),
});

const toAttestation = (r: Row): AttestationRecord => ({
  id: num(r.id), releaseId: num(r.release_id), kind: r.kind === 'publish' ? 'publish' : 'provenance', predicateType: String(r.predicate_type),
  mediaType: String(r.media_type), bundle: String(r.bundle), summary: String(r.summary),
  sourceStatus: r.source_status === 'live' || r.source_status === 'gone' ? r.source_status : null,
  sourceCheckedAt: numOrNull(r.source_checked_at), createdAt: num(r.created_at),
});

const toTrustedPublisher = (r: Row): TrustedPublisherRecord => ({
  id: num(r.id), provider: String(r.provider), issuer: String(r.issuer), policy: String(r.policy), binding: strOrNull(r.binding), createdAt: num(r.created_at),
});
const toPackagePublisher = (r: Row): PackagePublisherRecord => ({
  id: String(r.id), publisherId: num(r.publisher_id), ecosystem: String(r.ecosystem), packageName: String(r.package_name),
  permissions: JSON.parse(String(r.permissions)) as string[], createdBy: numOrNull(r.created_by), createdAt: num(r.created_at),
});
const toPublisherToken = (r: Row): PublisherTokenRecord => ({
  id: String(r.id), tokenHash: String(r.token_hash), linkId: String(r.link_id), publisherId: num(r.publisher_id), ecosystem: String(r.ecosystem),
  packageName: String(r.package_name), permissions: JSON.parse(String(r.permissions)) as string[], reference: String(r.reference),
  identity: strOrNull(r.identity ?? null), createdAt: num(r.created_at), expiresAt: num(r.expires_at),
});

const toArtifact = (r: Row): ArtifactRecord => ({
  id: num(r.id), releaseId: num(r.release_id), ecosystem: String(r.ecosystem), packageName: String(r.package_name),
  filename: String(r.filename), blobKey: String(r.blob_key), integrity: String(r.integrity), sha1: String(r.sha1), size: num(r.size),
});

const ORG_ROLES: readonly OrgRole[] = ['owner', 'admin', 'member'];
const TEAM_PERMISSIONS: readonly TeamPermission[] = ['read-only', 'read-write'];
const toOrg = (r: Row): OrgRecord => ({ id: num(r.id), name: String(r.name), createdAt: num(r.created_at) });
const toTeam = (r: Row): TeamRecord => ({ id: num(r.id), orgId: num(r.org_id), name: String(r.name), description: String(r.description ?? ''), createdAt: num(r.created_at) });
const toTeamGrant = (r: Row): TeamGrant => ({
  teamId: num(r.team_id), ecosystem: String(r.ecosystem), packageName: String(r.package_name), permission: oneOf(r.permission, TEAM_PERMISSIONS, 'team_packages.permission'),
});

const PACKAGE_COLUMNS: Record<string, string> = {
  createdAt: 'created_at', modifiedAt: 'modified_at', rev: 'rev', access: 'access', description: 'description',
  keywords: 'keywords', latestVersion: 'latest_version', deletedAt: 'deleted_at', trustedPublishingOnly: 'trusted_publishing_only',
  provenanceChangeUntil: 'provenance_change_until', critical: 'critical', criticalAuto: 'critical_auto', mfaPolicy: 'mfa_policy',
};
const USER_COLUMNS: Record<keyof UserSecurityFields, string> = {
  email: 'email', passwordHash: 'password_hash', emailVerifiedAt: 'email_verified_at', tfaMode: 'tfa_mode', totpSecret: 'totp_secret',
  totpPendingSecret: 'totp_pending_secret', totpPendingAt: 'totp_pending_at', totpPendingMode: 'totp_pending_mode', totpLastStep: 'totp_last_step',
  totpLastCredential: 'totp_last_credential', webauthnHandle: 'webauthn_handle', passwordLeaked: 'password_leaked', updatedAt: 'updated_at',
};
const WEB_SESSION_COLUMNS: Record<keyof Omit<WebSessionRecord, 'idHash'>, string> = {
  userId: 'user_id', csrfToken: 'csrf_token', createdAt: 'created_at', lastSeenAt: 'last_seen_at', expiresAt: 'expires_at',
  absoluteExpiresAt: 'absolute_expires_at', ip: 'ip', userAgent: 'user_agent', data: 'data',
};
const OTP_CHALLENGE_COLUMNS: Record<'approvedAt' | 'method' | 'otpHash' | 'expiresAt', string> = {
  approvedAt: 'approved_at', method: 'method', otpHash: 'otp_hash', expiresAt: 'expires_at',
};
const RELEASE_COLUMNS: Record<string, string> = {
  state: 'state', unpublishedAt: 'unpublished_at', deprecated: 'deprecated', fragmentFull: 'fragment_full', fragmentAbbrev: 'fragment_abbrev', signatures: 'signatures',
  logIndex: 'log_index',
};

/** Rows per multi-row statement: far below either engine's bound-parameter limit. */
const BATCH_ROWS = 300;

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

function updateSet(fields: Record<string, unknown>, columns: Record<string, string>): { set: string; params: SqlValue[] } {
  const parts: string[] = [];
  const params: SqlValue[] = [];
  for (const [k, v] of Object.entries(fields)) {
    const col = columns[k];
    if (!col || v === undefined) continue;
    parts.push(`${col} = ?`);
    // Flags are INTEGER columns on both engines.
    params.push(typeof v === 'boolean' ? (v ? 1 : 0) : (v as SqlValue));
  }
  return { set: parts.join(', '), params };
}

class SqlOps implements MetadataOps {
  protected readonly x: SqlExecutor;
  protected readonly dialect: SqlDatabase['dialect'];

  constructor(x: SqlExecutor, dialect: SqlDatabase['dialect']) {
    this.x = x;
    this.dialect = dialect;
  }

  async insertUser(u: NewUser): Promise<UserRecord> {
    const row = await this.x.get<Row>(
      'INSERT INTO users (name, email, password_hash, is_admin, created_at, updated_at, email_verified_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *',
      [u.name, u.email, u.passwordHash, u.isAdmin ? 1 : 0, u.createdAt, u.updatedAt, u.emailVerifiedAt ?? null],
    );
    return toUser(row as Row);
  }
  async findUserByName(name: string): Promise<UserRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM users WHERE name = ?', [name]);
    return r && toUser(r);
  }
  async findUserById(id: number): Promise<UserRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM users WHERE id = ?', [id]);
    return r && toUser(r);
  }
  async countUsers(): Promise<number> {
    const r = await this.x.get<Row>('SELECT COUNT(*) AS n FROM users');
    return num(r?.n ?? 0);
  }
  async claimTotpStep(userId: number, step: number, credential: string): Promise<boolean> {
    // The same rule as totpReplayAllowed (security/mfa/totp.ts), decided by the row itself.
    return (await this.x.run(
      `UPDATE users SET totp_last_step = ?, totp_last_credential = ?
       WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ? OR (totp_last_step = ? AND totp_last_credential = ? AND ? <> ''))`,
      [step, credential, userId, step, step, credential, credential],
    )).changes > 0;
  }
  async updateUser(id: number, fields: Partial<UserSecurityFields>): Promise<void> {
    const { set, params } = updateSet(fields, USER_COLUMNS);
    if (set) await this.x.run(`UPDATE users SET ${set} WHERE id = ?`, [...params, id]);
  }
  async findUserByEmail(email: string): Promise<UserRecord[]> {
    // Same expression as the users_email_lower index.
    return (await this.x.all<Row>('SELECT * FROM users WHERE LOWER(email) = LOWER(?) ORDER BY id', [email])).map(toUser);
  }
  async findUserByWebAuthnHandle(handle: string): Promise<UserRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM users WHERE webauthn_handle = ?', [handle]);
    return r && toUser(r);
  }

  async insertEmailToken(t: EmailTokenRecord): Promise<void> {
    await this.x.run('INSERT INTO email_tokens (token_hash, user_id, purpose, email, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [t.tokenHash, t.userId, t.purpose, t.email, t.createdAt, t.expiresAt, t.usedAt]);
  }
  async findEmailToken(tokenHash: string): Promise<EmailTokenRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM email_tokens WHERE token_hash = ?', [tokenHash]);
    return r && toEmailToken(r);
  }
  async useEmailToken(tokenHash: string, at: number): Promise<boolean> {
    // One conditional UPDATE: of two concurrent uses exactly one changes the row.
    return (await this.x.run('UPDATE email_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL', [at, tokenHash])).changes > 0;
  }

  async replaceRecoveryCodes(userId: number, codeHashes: readonly string[], at: number): Promise<void> {
    await this.x.run('DELETE FROM recovery_codes WHERE user_id = ?', [userId]);
    if (codeHashes.length === 0) return;
    await this.x.run(`INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ${codeHashes.map(() => '(?, ?, ?)').join(', ')}`,
      codeHashes.flatMap((h) => [userId, h, at]));
  }
  async useRecoveryCode(userId: number, codeHash: string, at: number): Promise<boolean> {
    return (await this.x.run('UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL', [at, userId, codeHash])).changes > 0;
  }
  async countUnusedRecoveryCodes(userId: number): Promise<number> {
    const r = await this.x.get<Row>('SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL', [userId]);
    return num(r?.n ?? 0);
  }

  async insertWebAuthnCredential(c: WebAuthnCredentialRecord): Promise<void> {
    await this.x.run(
      `INSERT INTO webauthn_credentials (id, user_id, public_key, counter, transports, name, backed_up, device_type, created_at, last_used_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [c.id, c.userId, c.publicKey, c.counter, JSON.stringify(c.transports), c.name, c.backedUp ? 1 : 0, c.deviceType, c.createdAt, c.lastUsedAt],
    );
  }
  async listWebAuthnCredentials(userId: number): Promise<WebAuthnCredentialRecord[]> {
    return (await this.x.all<Row>('SELECT * FROM webauthn_credentials WHERE user_id = ? ORDER BY created_at, id', [userId])).map(toWebAuthnCredential);
  }
  async findWebAuthnCredential(id: string): Promise<WebAuthnCredentialRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM webauthn_credentials WHERE id = ?', [id]);
    return r && toWebAuthnCredential(r);
  }
  async updateWebAuthnCredential(id: string, counter: number, lastUsedAt: number): Promise<void> {
    await this.x.run('UPDATE webauthn_credentials SET counter = ?, last_used_at = ? WHERE id = ?', [counter, lastUsedAt, id]);
  }
  async deleteWebAuthnCredential(userId: number, id: string): Promise<boolean> {
    return (await this.x.run('DELETE FROM webauthn_credentials WHERE user_id = ? AND id = ?', [userId, id])).changes > 0;
  }

  async insertWebSession(s: WebSessionRecord): Promise<void> {
    await this.x.run(
      `INSERT INTO web_sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, absolute_expires_at, ip, user_agent, data)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [s.idHash, s.userId, s.csrfToken, s.createdAt, s.lastSeenAt, s.expiresAt, s.absoluteExpiresAt, s.ip, s.userAgent, s.data],
    );
  }
  async findWebSession(idHash: string): Promise<WebSessionRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM web_sessions WHERE id_hash = ?', [idHash]);
    return r && toWebSession(r);
  }
  async updateWebSession(idHash: string, fields: Partial<Omit<WebSessionRecord, 'idHash'>>): Promise<void> {
    const { set, params } = updateSet(fields, WEB_SESSION_COLUMNS);
    if (set) await this.x.run(`UPDATE web_sessions SET ${set} WHERE id_hash = ?`, [...params, idHash]);
  }
  async deleteWebSession(idHash: string): Promise<void> {
    await this.x.run('DELETE FROM web_sessions WHERE id_hash = ?', [idHash]);
  }
  async deleteUserWebSessions(userId: number, exceptIdHash?: string): Promise<void> {
    if (exceptIdHash === undefined) await this.x.run('DELETE FROM web_sessions WHERE user_id = ?', [userId]);
    else await this.x.run('DELETE FROM web_sessions WHERE user_id = ? AND id_hash <> ?', [userId, exceptIdHash]);
  }
  async deleteExpiredWebSessions(now: number): Promise<void> {
    await this.x.run('DELETE FROM web_sessions WHERE expires_at < ? OR absolute_expires_at < ?', [now, now]);
  }

  async getThrottle(key: string): Promise<ThrottleRecord | undefined> {
    // Inside a PostgreSQL transaction the row stays locked until the caller's putThrottle, so
    // parallel guesses cannot all read the same count (SQLite's BEGIN IMMEDIATE already serialises).
    const lock = this.dialect === 'postgres' ? ' FOR UPDATE' : '';
    const r = await this.x.get<Row>(`SELECT * FROM throttles WHERE key = ?${lock}`, [key]);
    return r && toThrottle(r);
  }
  async putThrottle(t: ThrottleRecord): Promise<void> {
    await this.x.run(
      `INSERT INTO throttles (key, failures, first_failure_at, locked_until, next_allowed_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, first_failure_at = excluded.first_failure_at,
         locked_until = excluded.locked_until, next_allowed_at = excluded.next_allowed_at`,
      [t.key, t.failures, t.firstFailureAt, t.lockedUntil, t.nextAllowedAt],
    );
  }
  async deleteThrottle(key: string): Promise<void> {
    await this.x.run('DELETE FROM throttles WHERE key = ?', [key]);
  }

  async insertOtpChallenge(c: OtpChallengeRecord): Promise<void> {
    await this.x.run(
      'INSERT INTO otp_challenges (id, done_hash, user_id, created_at, expires_at, approved_at, method, otp_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [c.id, c.doneHash, c.userId, c.createdAt, c.expiresAt, c.approvedAt, c.method, c.otpHash],
    );
  }
  async findOtpChallenge(id: string): Promise<OtpChallengeRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM otp_challenges WHERE id = ?', [id]);
    return r && toOtpChallenge(r);
  }
  async findOtpChallengeByDoneHash(doneHash: string): Promise<OtpChallengeRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM otp_challenges WHERE done_hash = ?', [doneHash]);
    return r && toOtpChallenge(r);
  }
  async findOtpChallengeByOtpHash(otpHash: string): Promise<OtpChallengeRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM otp_challenges WHERE otp_hash = ?', [otpHash]);
    return r && toOtpChallenge(r);
  }
  async updateOtpChallenge(id: string, fields: Partial<Pick<OtpChallengeRecord, 'approvedAt' | 'method' | 'otpHash' | 'expiresAt'>>): Promise<void> {
    const { set, params } = updateSet(fields, OTP_CHALLENGE_COLUMNS);
    if (set) await this.x.run(`UPDATE otp_challenges SET ${set} WHERE id = ?`, [...params, id]);
  }
  async deleteExpiredOtpChallenges(now: number): Promise<void> {
    await this.x.run('DELETE FROM otp_challenges WHERE expires_at < ?', [now]);
  }

  async recordDevice(userId: number, deviceHash: string, at: number): Promise<boolean> {
    // The primary key decides "new" atomically: of two first logins at once, one is told it is new.
    const inserted = await this.x.run('INSERT INTO known_devices (user_id, device_hash, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [userId, deviceHash, at, at]);
    if (inserted.changes > 0) return true;
    await this.x.run('UPDATE known_devices SET last_seen_at = ? WHERE user_id = ? AND device_hash = ?', [at, userId, deviceHash]);
    return false;
  }
  async listUserEvents(userId: number, limit: number, before?: EventCursor): Promise<EventRecord[]> {
    const [older, args] = olderThan(before);
    // A UNION rather than OR, so each half uses its own index.
    return (await this.x.all<Row>(
      `SELECT * FROM (${NAMED_EVENTS} WHERE e.actor_id = ?${older} UNION ${NAMED_EVENTS} WHERE e.subject_id = ?${older}) u ORDER BY at DESC, id DESC LIMIT ?`,
      [userId, ...args, userId, ...args, limit])).map(toEvent);
  }
  async listOrgEvents(orgId: number, limit: number, before?: EventCursor): Promise<EventRecord[]> {
    const [older, args] = olderThan(before);
    return (await this.x.all<Row>(`${NAMED_EVENTS} WHERE e.org_id = ?${older} ORDER BY e.at DESC, e.id DESC LIMIT ?`, [orgId, ...args, limit])).map(toEvent);
  }

  async findOrInsertTrustedPublisher(p: Omit<TrustedPublisherRecord, 'id' | 'binding'>): Promise<TrustedPublisherRecord> {
    const find = () => this.x.get<Row>('SELECT * FROM trusted_publishers WHERE provider = ? AND issuer = ? AND policy = ?', [p.provider, p.issuer, p.policy]);
    const existing = await find();
    if (existing) return toTrustedPublisher(existing);
    const r = await this.x.get<Row>('INSERT INTO trusted_publishers (provider, issuer, policy, binding, created_at) VALUES (?, ?, ?, NULL, ?) RETURNING *',
      [p.provider, p.issuer, p.policy, p.createdAt]);
    return toTrustedPublisher(r as Row);
  }
  async findTrustedPublisher(id: number): Promise<TrustedPublisherRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM trusted_publishers WHERE id = ?', [id]);
    return r && toTrustedPublisher(r);
  }
  async setPublisherBinding(id: number, binding: string): Promise<void> {
    // Only the first use binds: a later, different binding never overwrites it.
    await this.x.run('UPDATE trusted_publishers SET binding = ? WHERE id = ? AND binding IS NULL', [binding, id]);
  }
  async insertPackagePublisher(l: PackagePublisherRecord): Promise<void> {
    await this.x.run('INSERT INTO package_publishers (id, publisher_id, ecosystem, package_name, permissions, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [l.id, l.publisherId, l.ecosystem, l.packageName, JSON.stringify(l.permissions), l.createdBy, l.createdAt]);
  }
  async listPackagePublishers(ecosystem: string, packageName: string): Promise<PackagePublisherRecord[]> {
    return (await this.x.all<Row>('SELECT * FROM package_publishers WHERE ecosystem = ? AND package_name = ? ORDER BY created_at, id', [ecosystem, packageName])).map(toPackagePublisher);
  }
  async deletePackagePublisher(ecosystem: string, packageName: string, id: string): Promise<boolean> {
    return (await this.x.run('DELETE FROM package_publishers WHERE ecosystem = ? AND package_name = ? AND id = ?', [ecosystem, packageName, id])).changes > 0;
  }
  async dropPendingPublishers(ecosystem: string, packageName: string, keepCreatedBy: number | null): Promise<number> {
    return (await this.x.run('DELETE FROM package_publishers WHERE ecosystem = ? AND package_name = ? AND (created_by IS NULL OR created_by <> ?)',
      [ecosystem, packageName, keepCreatedBy ?? -1])).changes;
  }
  async countPendingPublishers(userId: number, since: number): Promise<number> {
    const r = await this.x.get<Row>(
      `SELECT COUNT(*) AS n FROM package_publishers pp WHERE pp.created_by = ? AND pp.created_at > ?
       AND NOT EXISTS (SELECT 1 FROM packages p WHERE p.ecosystem = pp.ecosystem AND p.name = pp.package_name)`, [userId, since]);
    return num(r?.n ?? 0);
  }
  async recordOidcTokenUse(issuer: string, jti: string, expiresAt: number, now: number): Promise<boolean> {
    await this.x.run('DELETE FROM oidc_token_uses WHERE expires_at < ?', [now]);
    // The primary key makes the second use of a jti fail atomically, across processes too.
    const r = await this.x.run('INSERT INTO oidc_token_uses (issuer, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [issuer, jti, expiresAt]);
    return r.changes > 0;
  }
  async insertPublisherToken(t: PublisherTokenRecord): Promise<void> {
    await this.x.run(
      `INSERT INTO publisher_tokens (id, token_hash, link_id, publisher_id, ecosystem, package_name, permissions, reference, identity, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [t.id, t.tokenHash, t.linkId, t.publisherId, t.ecosystem, t.packageName, JSON.stringify(t.permissions), t.reference, t.identity, t.createdAt, t.expiresAt],
    );
  }

  async insertAttestation(a: Omit<AttestationRecord, 'id' | 'sourceStatus' | 'sourceCheckedAt'>): Promise<void> {
    await this.x.run(
      `INSERT INTO attestations (release_id, kind, predicate_type, media_type, bundle, summary, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [a.releaseId, a.kind, a.predicateType, a.mediaType, a.bundle, a.summary, a.createdAt],
    );
  }
  async listAttestations(releaseId: number): Promise<AttestationRecord[]> {
    return (await this.x.all<Row>('SELECT * FROM attestations WHERE release_id = ? ORDER BY id', [releaseId])).map(toAttestation);
  }
  async listProvenanceToCheck(before: number, limit: number): Promise<Array<AttestationRecord & { ecosystem: string; packageName: string; version: string }>> {
    const rows = await this.x.all<Row>(
      `SELECT a.*, p.ecosystem AS ecosystem, p.name AS package_name, r.version AS version FROM attestations a
       JOIN releases r ON r.id = a.release_id JOIN packages p ON p.id = r.package_id
       WHERE a.kind = 'provenance' AND r.state = 'published' AND (a.source_checked_at IS NULL OR a.source_checked_at < ?)
       ORDER BY a.source_checked_at IS NOT NULL, a.source_checked_at, a.id LIMIT ?`,
      [before, limit],
    );
    return rows.map((r) => ({ ...toAttestation(r), ecosystem: String(r.ecosystem), packageName: String(r.package_name), version: String(r.version) }));
  }
  async setSourceStatus(id: number, status: 'live' | 'gone' | null, at: number): Promise<void> {
    await this.x.run('UPDATE attestations SET source_status = ?, source_checked_at = ? WHERE id = ?', [status, at, id]);
  }
  async listUnsignedReleases(ecosystem: string, limit: number): Promise<Array<{ releaseId: number; ecosystem: string; name: string; version: string; integrity: string }>> {
    const rows = await this.x.all<Row>(
      `SELECT r.id AS release_id, p.ecosystem, p.name, r.version, a.integrity FROM releases r
       JOIN packages p ON p.id = r.package_id JOIN artifacts a ON a.release_id = r.id
       WHERE r.signatures IS NULL AND p.ecosystem = ? ORDER BY r.id LIMIT ?`,
      [ecosystem, limit],
    );
    return rows.map((r) => ({ releaseId: num(r.release_id), ecosystem: String(r.ecosystem), name: String(r.name), version: String(r.version), integrity: String(r.integrity) }));
  }
  async findPublisherTokenByHash(hash: string): Promise<PublisherTokenRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM publisher_tokens WHERE token_hash = ?', [hash]);
    return r && toPublisherToken(r);
  }
  async deletePublisherToken(id: string): Promise<boolean> {
    return (await this.x.run('DELETE FROM publisher_tokens WHERE id = ?', [id])).changes > 0;
  }

  async insertToken(t: TokenRecord): Promise<void> {
    await this.x.run(
      `INSERT INTO tokens (id, user_id, token_hash, display_prefix, kind, name, readonly, cidr_whitelist, created_at, expires_at, last_used_at, last_used_ip, bypass_2fa, scope)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [t.id, t.userId, t.tokenHash, t.displayPrefix, t.kind, t.name, t.readonly ? 1 : 0, t.cidrWhitelist ? JSON.stringify(t.cidrWhitelist) : null,
        t.createdAt, t.expiresAt, t.lastUsedAt, t.lastUsedIp, t.bypass2fa ? 1 : 0, t.scope ? JSON.stringify(t.scope) : null],
    );
  }
  async findTokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM tokens WHERE token_hash = ?', [hash]);
    return r && toToken(r);
  }
  async listTokens(userId: number): Promise<TokenRecord[]> {
    return (await this.x.all<Row>('SELECT * FROM tokens WHERE user_id = ? ORDER BY created_at, id', [userId])).map(toToken);
  }
  async deleteToken(id: string): Promise<boolean> {
    return (await this.x.run('DELETE FROM tokens WHERE id = ?', [id])).changes > 0;
  }
  async touchToken(id: string, at: number, ip: string | null): Promise<void> {
    await this.x.run('UPDATE tokens SET last_used_at = ?, last_used_ip = ? WHERE id = ?', [at, ip, id]);
  }

  async insertLoginSession(s: LoginSessionRecord): Promise<void> {
    await this.x.run('INSERT INTO login_sessions (id, done_hash, create_account, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      [s.id, s.doneHash, s.createAccount ? 1 : 0, s.userId, s.createdAt, s.expiresAt]);
  }
  async findLoginSession(id: string): Promise<LoginSessionRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM login_sessions WHERE id = ?', [id]);
    return r && toLogin(r);
  }
  async findLoginSessionByDoneHash(hash: string): Promise<LoginSessionRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM login_sessions WHERE done_hash = ?', [hash]);
    return r && toLogin(r);
  }
  async approveLoginSession(id: string, userId: number): Promise<void> {
    await this.x.run('UPDATE login_sessions SET user_id = ? WHERE id = ?', [userId, id]);
  }
  async deleteLoginSession(id: string): Promise<boolean> {
    return (await this.x.run('DELETE FROM login_sessions WHERE id = ?', [id])).changes > 0;
  }
  async deleteExpiredLoginSessions(now: number): Promise<void> {
    await this.x.run('DELETE FROM login_sessions WHERE expires_at < ?', [now]);
  }

  async findPackage(ecosystem: string, name: string): Promise<PackageRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM packages WHERE ecosystem = ? AND name = ?', [ecosystem, name]);
    return r && toPackage(r);
  }
  async lockPackage(id: number): Promise<void> {
    // SQLite's BEGIN IMMEDIATE already holds the database write lock.
    if (this.dialect === 'postgres') await this.x.run('SELECT id FROM packages WHERE id = ? FOR UPDATE', [id]);
  }
  async insertPackage(p: NewPackage): Promise<PackageRecord> {
    const r = await this.x.get<Row>(
      `INSERT INTO packages (ecosystem, name, created_at, modified_at, rev, access, description, keywords, latest_version, deleted_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [p.ecosystem, p.name, p.createdAt, p.modifiedAt, p.rev, p.access, p.description, p.keywords, p.latestVersion, p.deletedAt],
    );
    return toPackage(r as Row);
  }
  async updatePackage(id: number, fields: Partial<PackageRecord>): Promise<void> {
    const { set, params } = updateSet(fields, PACKAGE_COLUMNS);
    if (set) await this.x.run(`UPDATE packages SET ${set} WHERE id = ?`, [...params, id]);
  }
  async searchPackages(ecosystem: string, text: string, limit: number, offset: number): Promise<SearchHit[]> {
    const like = `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = await this.x.all<Row>(
      `SELECT name, description, keywords, latest_version, modified_at FROM packages
       WHERE ecosystem = ? AND deleted_at IS NULL AND access = 'public' AND latest_version IS NOT NULL
         AND (LOWER(name) LIKE ? ESCAPE '\\' OR LOWER(description) LIKE ? ESCAPE '\\' OR LOWER(keywords) LIKE ? ESCAPE '\\')
       ORDER BY CASE WHEN LOWER(name) = ? THEN 0 WHEN LOWER(name) LIKE ? ESCAPE '\\' THEN 1 ELSE 2 END, name
       LIMIT ? OFFSET ?`,
      [ecosystem, like, like, like, text.toLowerCase(), like, limit, offset],
    );
    return rows.map((r) => ({
      name: String(r.name), description: String(r.description), keywords: String(r.keywords),
      latestVersion: strOrNull(r.latest_version), modifiedAt: num(r.modified_at),
    }));
  }

  async listReleases(packageId: number): Promise<ReleaseRecord[]> {
    return (await this.x.all<Row>('SELECT * FROM releases WHERE package_id = ? ORDER BY created_at, id', [packageId])).map(toRelease);
  }
  async findRelease(packageId: number, version: string): Promise<ReleaseRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM releases WHERE package_id = ? AND version = ?', [packageId, version]);
    return r && toRelease(r);
  }
  async insertRelease(rel: NewRelease): Promise<ReleaseRecord> {
    const r = await this.x.get<Row>(
      `INSERT INTO releases (package_id, version, state, created_at, unpublished_at, publisher_id, metadata, deprecated, fragment_full, fragment_abbrev, published_via)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [rel.packageId, rel.version, rel.state, rel.createdAt, rel.unpublishedAt, rel.publisherId, rel.metadata, rel.deprecated, rel.fragmentFull, rel.fragmentAbbrev, rel.publishedVia],
    );
    return toRelease(r as Row);
  }
  async updateRelease(id: number, fields: Partial<ReleaseRecord>): Promise<void> {
    const { set, params } = updateSet(fields, RELEASE_COLUMNS);
    if (set) await this.x.run(`UPDATE releases SET ${set} WHERE id = ?`, [...params, id]);
  }

  async insertArtifact(a: NewArtifact): Promise<ArtifactRecord> {
    const r = await this.x.get<Row>(
      `INSERT INTO artifacts (release_id, ecosystem, package_name, filename, blob_key, integrity, sha1, size)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [a.releaseId, a.ecosystem, a.packageName, a.filename, a.blobKey, a.integrity, a.sha1, a.size],
    );
    return toArtifact(r as Row);
  }
  async listArtifacts(releaseId: number): Promise<ArtifactRecord[]> {
    return (await this.x.all<Row>('SELECT * FROM artifacts WHERE release_id = ? ORDER BY id', [releaseId])).map(toArtifact);
  }
  async findServedArtifact(ecosystem: string, packageName: string, filename: string): Promise<ServedArtifact | undefined> {
    const r = await this.x.get<Row>(
      `SELECT a.*, r.package_id AS package_id, p.access AS access FROM artifacts a
       JOIN releases r ON r.id = a.release_id JOIN packages p ON p.id = r.package_id
       WHERE a.ecosystem = ? AND a.package_name = ? AND a.filename = ? AND r.state = 'published' AND p.deleted_at IS NULL`,
      [ecosystem, packageName, filename],
    );
    return r && { ...toArtifact(r), packageId: num(r.package_id), access: r.access === 'restricted' ? 'restricted' : 'public' };
  }
  async listBlobKeys(): Promise<string[]> {
    return (await this.x.all<Row>('SELECT DISTINCT blob_key FROM artifacts')).map((r) => String(r.blob_key));
  }

  async listReleasesWithoutArtifacts(): Promise<Array<{ ecosystem: string; name: string; version: string }>> {
    const rows = await this.x.all<Row>(
      `SELECT p.ecosystem, p.name, r.version FROM releases r JOIN packages p ON p.id = r.package_id
       WHERE r.state = 'published' AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.release_id = r.id)`,
    );
    return rows.map((r) => ({ ecosystem: String(r.ecosystem), name: String(r.name), version: String(r.version) }));
  }
  async listPackagesWithoutDocuments(): Promise<Array<{ ecosystem: string; name: string }>> {
    const rows = await this.x.all<Row>(
      `SELECT p.ecosystem, p.name FROM packages p
       WHERE p.deleted_at IS NULL AND EXISTS (SELECT 1 FROM releases r WHERE r.package_id = p.id AND r.state = 'published')
         AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.ecosystem = p.ecosystem AND d.name = p.name)`,
    );
    return rows.map((r) => ({ ecosystem: String(r.ecosystem), name: String(r.name) }));
  }

  async setDependencies(releaseId: number, ecosystem: string, deps: readonly string[]): Promise<void> {
    for (const d of new Set(deps)) {
      await this.x.run('INSERT INTO release_dependencies (release_id, ecosystem, dependency) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [releaseId, ecosystem, d]);
    }
  }
  async listDependents(ecosystem: string, name: string, limit: number): Promise<string[]> {
    const rows = await this.x.all<Row>(
      `SELECT DISTINCT p.name FROM release_dependencies d
       JOIN releases r ON r.id = d.release_id JOIN packages p ON p.id = r.package_id
       WHERE d.ecosystem = ? AND d.dependency = ? AND r.state = 'published' AND p.name <> ? AND p.deleted_at IS NULL
       ORDER BY p.name LIMIT ?`,
      [ecosystem, name, name, limit],
    );
    return rows.map((r) => String(r.name));
  }

  async listOwners(packageId: number): Promise<UserRecord[]> {
    return (await this.x.all<Row>(
      'SELECT u.* FROM package_owners o JOIN users u ON u.id = o.user_id WHERE o.package_id = ? ORDER BY o.added_at, u.name', [packageId],
    )).map(toUser);
  }
  async addOwner(packageId: number, userId: number, at: number): Promise<void> {
    await this.x.run('INSERT INTO package_owners (package_id, user_id, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [packageId, userId, at]);
  }
  async removeOwner(packageId: number, userId: number): Promise<void> {
    await this.x.run('DELETE FROM package_owners WHERE package_id = ? AND user_id = ?', [packageId, userId]);
  }
  async listOwnedPackages(userId: number, ecosystem: string): Promise<string[]> {
    return (await this.x.all<Row>(
      `SELECT p.name FROM package_owners o JOIN packages p ON p.id = o.package_id
       WHERE o.user_id = ? AND p.ecosystem = ? AND p.deleted_at IS NULL ORDER BY p.name`, [userId, ecosystem],
    )).map((r) => String(r.name));
  }

  async listTags(packageId: number): Promise<Array<{ tag: string; version: string }>> {
    return (await this.x.all<Row>('SELECT tag, version FROM dist_tags WHERE package_id = ? ORDER BY tag', [packageId]))
      .map((r) => ({ tag: String(r.tag), version: String(r.version) }));
  }
  async setTag(packageId: number, tag: string, version: string): Promise<void> {
    await this.x.run(
      'INSERT INTO dist_tags (package_id, tag, version) VALUES (?, ?, ?) ON CONFLICT (package_id, tag) DO UPDATE SET version = excluded.version',
      [packageId, tag, version],
    );
  }
  async deleteTag(packageId: number, tag: string): Promise<void> {
    await this.x.run('DELETE FROM dist_tags WHERE package_id = ? AND tag = ?', [packageId, tag]);
  }

  async putDocument(ecosystem: string, name: string, form: string, d: DocumentRecord): Promise<void> {
    await this.x.run(
      `INSERT INTO documents (ecosystem, name, form, etag, body, modified_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (ecosystem, name, form) DO UPDATE SET etag = excluded.etag, body = excluded.body, modified_at = excluded.modified_at`,
      [ecosystem, name, form, d.etag, d.body, d.modifiedAt],
    );
  }
  async getDocument(ecosystem: string, name: string, form: string): Promise<DocumentRecord | undefined> {
    const r = await this.x.get<Row>('SELECT etag, body, modified_at FROM documents WHERE ecosystem = ? AND name = ? AND form = ?', [ecosystem, name, form]);
    return r && { etag: String(r.etag), body: String(r.body), modifiedAt: num(r.modified_at) };
  }
  async getDocumentEtag(ecosystem: string, name: string, form: string): Promise<string | undefined> {
    const r = await this.x.get<Row>('SELECT etag FROM documents WHERE ecosystem = ? AND name = ? AND form = ?', [ecosystem, name, form]);
    return r ? String(r.etag) : undefined;
  }
  async deleteDocuments(ecosystem: string, name: string): Promise<void> {
    await this.x.run('DELETE FROM documents WHERE ecosystem = ? AND name = ?', [ecosystem, name]);
  }

  async getSetting(key: string): Promise<string | undefined> {
    const r = await this.x.get<Row>('SELECT value FROM settings WHERE key = ?', [key]);
    return r ? String(r.value) : undefined;
  }
  async putSetting(key: string, value: string): Promise<void> {
    await this.x.run('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }
  async listPackageNames(ecosystem: string): Promise<string[]> {
    return (await this.x.all<Row>('SELECT name FROM packages WHERE ecosystem = ? ORDER BY id', [ecosystem])).map((r) => String(r.name));
  }

  async insertEvent(e: NewEvent): Promise<void> {
    // The org whose log shows it: named, or the organization owning the package's `@scope/`.
    const scope = e.packageName?.startsWith('@') ? e.packageName.slice(1, Math.max(1, e.packageName.indexOf('/'))) : null;
    const org = e.org ?? scope;
    await this.x.run(`INSERT INTO events (at, type, actor_id, ecosystem, package_name, version, data, subject_id, org_id)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT id FROM orgs WHERE name = ?))`,
      [e.at, e.type, e.actorId, e.ecosystem, e.packageName, e.version, JSON.stringify(e.data), e.subjectId ?? null, org]);
  }

  async addDownloads(counts: ReadonlyArray<DownloadCount>): Promise<void> {
    // One row per key (PostgreSQL refuses a statement that updates a row twice), in key order so
    // that two processes flushing at once lock rows in the same order and never deadlock.
    const merged = new Map<string, DownloadCount>();
    for (const c of counts) {
      if (c.count <= 0) continue;
      const key = `${c.packageId}:${c.day}`;
      const had = merged.get(key);
      merged.set(key, had ? { ...had, count: had.count + c.count } : { ...c });
    }
    const rows = [...merged.values()].sort((a, b) => a.packageId - b.packageId || a.day - b.day);
    for (const batch of chunks(rows, BATCH_ROWS)) {
      await this.x.run(
        `INSERT INTO package_downloads (package_id, day, count) VALUES ${batch.map(() => '(?, ?, ?)').join(', ')}
         ON CONFLICT (package_id, day) DO UPDATE SET count = package_downloads.count + excluded.count`,
        batch.flatMap((c) => [c.packageId, c.day, c.count]),
      );
    }
  }
  async listDownloadTotals(sinceDay: number): Promise<Array<{ packageId: number; total: number }>> {
    const rows = await this.x.all<Row>(
      `SELECT d.package_id, SUM(d.count) AS total FROM package_downloads d JOIN packages p ON p.id = d.package_id
       WHERE d.day >= ? AND p.deleted_at IS NULL GROUP BY d.package_id ORDER BY d.package_id`,
      [sinceDay],
    );
    return rows.map((r) => ({ packageId: num(r.package_id), total: num(r.total) }));
  }
  async countLivePackages(): Promise<number> {
    const r = await this.x.get<Row>('SELECT COUNT(*) AS n FROM packages WHERE deleted_at IS NULL');
    return num(r?.n ?? 0);
  }
  async listCriticalAuto(): Promise<number[]> {
    return (await this.x.all<Row>('SELECT id FROM packages WHERE critical_auto = 1 ORDER BY id')).map((r) => num(r.id));
  }
  async setCriticalAuto(ids: readonly number[], value: boolean): Promise<PackageRef[]> {
    const changed: PackageRef[] = [];
    const flag = value ? 1 : 0;
    for (const batch of chunks([...new Set(ids)].sort((a, b) => a - b), BATCH_ROWS)) {
      // Conditional: of two processes making the same change, only one sees the row change.
      const rows = await this.x.all<Row>(
        `UPDATE packages SET critical_auto = ? WHERE critical_auto <> ? AND id IN (${batch.map(() => '?').join(', ')}) RETURNING id, ecosystem, name`,
        [flag, flag, ...batch],
      );
      for (const r of rows) changed.push({ id: num(r.id), ecosystem: String(r.ecosystem), name: String(r.name) });
    }
    return changed.sort((a, b) => a.id - b.id);
  }

  async insertOrg(name: string, at: number): Promise<OrgRecord> {
    const r = await this.x.get<Row>('INSERT INTO orgs (name, created_at) VALUES (?, ?) RETURNING *', [name, at]);
    return toOrg(r as Row);
  }
  async findOrg(name: string): Promise<OrgRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM orgs WHERE name = ?', [name]);
    return r && toOrg(r);
  }
  async setOrgMember(orgId: number, userId: number, role: OrgRole): Promise<void> {
    await this.x.run(
      'INSERT INTO org_members (org_id, user_id, role) VALUES (?, ?, ?) ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role',
      [orgId, userId, role],
    );
  }
  async removeOrgMember(orgId: number, userId: number): Promise<boolean> {
    // Leaving the org ends every team membership in it, so no grant outlives the membership.
    await this.x.run('DELETE FROM team_members WHERE user_id = ? AND team_id IN (SELECT id FROM teams WHERE org_id = ?)', [userId, orgId]);
    return (await this.x.run('DELETE FROM org_members WHERE org_id = ? AND user_id = ?', [orgId, userId])).changes > 0;
  }
  async findOrgRole(orgId: number, userId: number): Promise<OrgRole | undefined> {
    const r = await this.x.get<Row>('SELECT role FROM org_members WHERE org_id = ? AND user_id = ?', [orgId, userId]);
    return r && oneOf(r.role, ORG_ROLES, 'org_members.role');
  }
  async listOrgMembers(orgId: number): Promise<Array<{ userId: number; name: string; role: OrgRole }>> {
    const rows = await this.x.all<Row>('SELECT u.id, u.name, m.role FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = ? ORDER BY u.name', [orgId]);
    return rows.map((r) => ({ userId: num(r.id), name: String(r.name), role: oneOf(r.role, ORG_ROLES, 'org_members.role') }));
  }
  async listUserOrgs(userId: number): Promise<Array<{ name: string; role: OrgRole }>> {
    const rows = await this.x.all<Row>('SELECT o.name, m.role FROM org_members m JOIN orgs o ON o.id = m.org_id WHERE m.user_id = ? ORDER BY o.name', [userId]);
    return rows.map((r) => ({ name: String(r.name), role: oneOf(r.role, ORG_ROLES, 'org_members.role') }));
  }
  async insertTeam(orgId: number, name: string, description: string, at: number): Promise<TeamRecord> {
    const r = await this.x.get<Row>('INSERT INTO teams (org_id, name, description, created_at) VALUES (?, ?, ?, ?) RETURNING *', [orgId, name, description, at]);
    return toTeam(r as Row);
  }
  async findTeam(orgId: number, name: string): Promise<TeamRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM teams WHERE org_id = ? AND name = ?', [orgId, name]);
    return r && toTeam(r);
  }
  async deleteTeam(teamId: number): Promise<void> {
    await this.x.run('DELETE FROM team_members WHERE team_id = ?', [teamId]);
    await this.x.run('DELETE FROM team_packages WHERE team_id = ?', [teamId]);
    await this.x.run('DELETE FROM teams WHERE id = ?', [teamId]);
  }
  async listTeams(orgId: number): Promise<TeamListing[]> {
    const rows = await this.x.all<Row>('SELECT t.*, (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id) AS members FROM teams t WHERE t.org_id = ? ORDER BY t.name', [orgId]);
    return rows.map((r) => ({ ...toTeam(r), members: Number(r.members) }));
  }
  async addTeamMember(teamId: number, userId: number): Promise<boolean> {
    return (await this.x.run('INSERT INTO team_members (team_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING', [teamId, userId])).changes > 0;
  }
  async removeTeamMember(teamId: number, userId: number): Promise<boolean> {
    return (await this.x.run('DELETE FROM team_members WHERE team_id = ? AND user_id = ?', [teamId, userId])).changes > 0;
  }
  async listTeamMembers(teamId: number): Promise<string[]> {
    return (await this.x.all<Row>('SELECT u.name FROM team_members t JOIN users u ON u.id = t.user_id WHERE t.team_id = ? ORDER BY u.name', [teamId]))
      .map((r) => String(r.name));
  }
  async setTeamPackage(g: TeamGrant): Promise<void> {
    await this.x.run(
      `INSERT INTO team_packages (team_id, ecosystem, package_name, permission) VALUES (?, ?, ?, ?)
       ON CONFLICT (team_id, ecosystem, package_name) DO UPDATE SET permission = excluded.permission`,
      [g.teamId, g.ecosystem, g.packageName, g.permission],
    );
  }
  async removeTeamPackage(teamId: number, ecosystem: string, packageName: string): Promise<boolean> {
    return (await this.x.run('DELETE FROM team_packages WHERE team_id = ? AND ecosystem = ? AND package_name = ?', [teamId, ecosystem, packageName])).changes > 0;
  }
  async listTeamPackages(teamId: number): Promise<TeamGrant[]> {
    return (await this.x.all<Row>('SELECT * FROM team_packages WHERE team_id = ? ORDER BY ecosystem, package_name', [teamId])).map(toTeamGrant);
  }
  async listPackageTeams(ecosystem: string, packageName: string): Promise<Array<{ orgName: string; teamName: string; permission: TeamPermission }>> {
    const rows = await this.x.all<Row>(
      `SELECT o.name AS org_name, t.name AS team_name, g.permission FROM team_packages g JOIN teams t ON t.id = g.team_id JOIN orgs o ON o.id = t.org_id
       WHERE g.ecosystem = ? AND g.package_name = ? ORDER BY o.name, t.name`,
      [ecosystem, packageName],
    );
    return rows.map((r) => ({ orgName: String(r.org_name), teamName: String(r.team_name), permission: oneOf(r.permission, TEAM_PERMISSIONS, 'team_packages.permission') }));
  }
  async findTeamPermission(orgId: number, userId: number, ecosystem: string, packageName: string): Promise<TeamPermission | null> {
    const rows = await this.x.all<Row>(
      `SELECT DISTINCT g.permission FROM team_packages g JOIN team_members m ON m.team_id = g.team_id JOIN teams t ON t.id = g.team_id
       WHERE t.org_id = ? AND m.user_id = ? AND g.ecosystem = ? AND g.package_name = ?`,
      [orgId, userId, ecosystem, packageName],
    );
    const perms = rows.map((r) => oneOf(r.permission, TEAM_PERMISSIONS, 'team_packages.permission'));
    return perms.includes('read-write') ? 'read-write' : perms.includes('read-only') ? 'read-only' : null;
  }
  async listPackagesWithPrefix(ecosystem: string, prefix: string): Promise<string[]> {
    // substr rather than LIKE: scope names may contain LIKE's wildcard `_`.
    return (await this.x.all<Row>(
      'SELECT name FROM packages WHERE ecosystem = ? AND deleted_at IS NULL AND substr(name, 1, ?) = ? ORDER BY name',
      [ecosystem, prefix.length, prefix],
    )).map((r) => String(r.name));
  }

  // ---- transparency log (docs/transparency.md) ----

  async appendLogEntry(e: NewLogEntry): Promise<number> {
    // The sequencer: PostgreSQL locks the one state row until commit (READ COMMITTED re-reads it
    // after the wait, so a second writer sees the first one's size); SQLite's BEGIN IMMEDIATE
    // already serialises every writer.
    const state = await this.x.get<Row>(`SELECT size FROM tlog_state WHERE id = 1${this.dialect === 'postgres' ? ' FOR UPDATE' : ''}`);
    if (!state) throw new Error('metadata store: tlog_state has no row');
    const index = num(state.size);
    const leaf = leafHash(e.entry);
    // Read inside this transaction: the siblings are the hashes this lock holder's view committed.
    const hashes = await storedHashesForRecord(index, leaf, { readHashes: (ids) => this.readLogHashes(ids) });
    await this.x.run(
      'INSERT INTO tlog_entries (idx, at, kind, ecosystem, package_name, version, entry, leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [index, e.at, e.kind, e.ecosystem, e.packageName, e.version, Buffer.from(e.entry), leaf],
    );
    const first = storedHashCount(index);
    await this.x.run(
      `INSERT INTO tlog_hashes (id, hash) VALUES ${hashes.map(() => '(?, ?)').join(', ')}`,
      hashes.flatMap((h, i) => [first + i, Buffer.from(h)]),
    );
    // Guarded so a sequencer bug (two writers with one size) fails loudly instead of forking the log.
    const moved = await this.x.run('UPDATE tlog_state SET size = ? WHERE id = 1 AND size = ?', [index + 1, index]);
    if (moved.changes !== 1) throw new Error('metadata store: the transparency log moved under its lock');
    return index;
  }
  async readLogHashes(ids: readonly number[]): Promise<Uint8Array[]> {
    const found = new Map<number, Buffer>();
    for (const part of chunks([...new Set(ids)], BATCH_ROWS)) {
      const rows = await this.x.all<Row>(`SELECT id, hash FROM tlog_hashes WHERE id IN (${part.map(() => '?').join(', ')})`, part);
      for (const r of rows) found.set(num(r.id), bytes(r.hash, 'tlog_hashes.hash'));
    }
    return ids.map((id) => {
      const h = found.get(id);
      if (!h) throw new Error(`metadata store: no stored log hash ${id}`);
      return h;
    });
  }
  async logSize(): Promise<number> {
    const r = await this.x.get<Row>('SELECT size FROM tlog_state WHERE id = 1');
    return r ? num(r.size) : 0;
  }
  async readLogEntries(from: number, count: number): Promise<LogEntryRecord[]> {
    return (await this.x.all<Row>('SELECT * FROM tlog_entries WHERE idx >= ? AND idx < ? ORDER BY idx', [from, from + count])).map(toLogEntry);
  }
  async logConsistency(): Promise<LogConsistency> {
    const counts = await this.x.get<Row>('SELECT COUNT(*) AS n, MAX(idx) AS max_idx FROM tlog_entries');
    const orphanEntries = await this.x.all<Row>(
      `SELECT e.idx, e.ecosystem, e.package_name, e.version FROM tlog_entries e
       LEFT JOIN packages p ON p.ecosystem = e.ecosystem AND p.name = e.package_name
       LEFT JOIN releases r ON r.package_id = p.id AND r.version = e.version
       WHERE e.kind = 'release.published' AND (r.id IS NULL OR r.log_index IS NULL OR r.log_index <> e.idx)
       ORDER BY e.idx LIMIT 100`,
    );
    const orphanReleases = await this.x.all<Row>(
      `SELECT r.log_index, p.ecosystem, p.name, r.version FROM releases r
       JOIN packages p ON p.id = r.package_id
       LEFT JOIN tlog_entries e ON e.idx = r.log_index
       WHERE r.log_index IS NOT NULL AND (e.idx IS NULL OR e.kind <> 'release.published' OR e.ecosystem <> p.ecosystem OR e.package_name <> p.name OR e.version <> r.version)
       ORDER BY r.log_index LIMIT 100`,
    );
    return {
      size: await this.logSize(), entries: num(counts?.n ?? 0), maxIndex: numOrNull(counts?.max_idx ?? null),
      mismatches: [
        ...orphanEntries.map((r) => ({ problem: 'entry-without-release' as const, index: num(r.idx), ecosystem: String(r.ecosystem), name: String(r.package_name), version: String(r.version) })),
        ...orphanReleases.map((r) => ({ problem: 'release-without-entry' as const, index: num(r.log_index), ecosystem: String(r.ecosystem), name: String(r.name), version: String(r.version) })),
      ],
    };
  }
  async insertLogCheckpoint(c: LogCheckpointRecord): Promise<boolean> {
    const r = await this.x.run('INSERT INTO tlog_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [c.size, Buffer.from(c.root), c.note, c.createdAt]);
    return r.changes === 1;
  }
  async latestLogCheckpoint(): Promise<LogCheckpointRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM tlog_checkpoints ORDER BY size DESC LIMIT 1');
    return r ? toLogCheckpoint(r) : undefined;
  }
  async findLogCheckpoint(size: number): Promise<LogCheckpointRecord | undefined> {
    const r = await this.x.get<Row>('SELECT * FROM tlog_checkpoints WHERE size = ?', [size]);
    return r ? toLogCheckpoint(r) : undefined;
  }
}

export class SqlMetadataStore extends SqlOps implements MetadataStore {
  readonly engine: string;
  private readonly db: SqlDatabase;

  constructor(db: SqlDatabase) {
    super(db, db.dialect);
    this.db = db;
    this.engine = db.dialect;
  }

  transaction<T>(fn: (tx: MetadataOps) => Promise<T>): Promise<T> {
    return this.db.transaction((x) => fn(new SqlOps(x, this.db.dialect)));
  }

  /** Outside a caller's transaction the delete and the insert still commit together: never zero codes after a crash. */
  override replaceRecoveryCodes(userId: number, codeHashes: readonly string[], at: number): Promise<void> {
    return this.transaction((tx) => tx.replaceRecoveryCodes(userId, codeHashes, at));
  }

  /** Outside a caller's transaction the lock, the entry, its hashes and the new size still commit together. */
  override appendLogEntry(entry: NewLogEntry): Promise<number> {
    return this.transaction((tx) => tx.appendLogEntry(entry));
  }

  /** A flush commits whole or not at all: a failed one can be retried without counting twice. */
  override addDownloads(counts: ReadonlyArray<DownloadCount>): Promise<void> {
    return this.transaction((tx) => tx.addDownloads(counts));
  }

  changeMarker(): string | null {
    return this.db.changeMarker();
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
