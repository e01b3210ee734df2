// Browser sessions: a random id in a cookie (the store keeps its hash), a synchronizer CSRF token
// per session, an idle timeout (default 2 h, like the public npm registry) and an absolute one.
// A session is replaced by a new id whenever its privilege changes (login, second factor), so a
// session id planted before login is worthless after it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { MetadataStore, UserRecord, WebSessionRecord } from '../../storage/metadata/store.ts';

export interface WebSessionPolicy {
  idleMs: number;
  absoluteMs: number;
}

/** What a page may keep between requests of one session (never secrets of the account). */
export interface SessionData {
  /** A WebAuthn challenge waiting for its answer, and what it is for. */
  webauthn?: { challenge: string; purpose: 'register' | 'login' | 'second-factor' | 'approve' | 'confirm'; expiresAt: number };
  /** A password was right; the second factor is still to come. */
  pendingUserId?: number;
  pendingAt?: number;
  /** Where to go after login. */
  returnTo?: string;
  /** A one-time message for the next page. */
  flash?: string;
  /** Recovery codes to show once, right after they were generated. */
  freshRecoveryCodes?: string[];
  /** When the person last confirmed it is them with a passkey ("sudo" for changes: a few minutes). */
  passkeyConfirmedAt?: number;
}

export interface ResolvedSession {
  cookie: string;
  record: WebSessionRecord;
  data: SessionData;
  user: UserRecord | null;
}

const hashId = (id: string) => createHash('sha256').update(id).digest('hex');
/** Touching a session is a write; do it at most this often. */
const TOUCH_EVERY_MS = 60_000;

export class WebSessions {
  private readonly store: MetadataStore;
  private readonly clock: Clock;
  readonly policy: WebSessionPolicy;

  constructor(store: MetadataStore, clock: Clock, policy: WebSessionPolicy) {
    this.store = store;
    this.clock = clock;
    this.policy = policy;
  }

  async create(userId: number | null, ip: string | null, userAgent: string | null, data: SessionData = {}): Promise<ResolvedSession> {
    const now = this.clock();
    const cookie = randomBytes(32).toString('base64url');
    const record: WebSessionRecord = {
      idHash: hashId(cookie), userId, csrfToken: randomBytes(32).toString('base64url'), createdAt: now, lastSeenAt: now,
      expiresAt: now + this.policy.idleMs, absoluteExpiresAt: now + this.policy.absoluteMs, ip, userAgent: userAgent?.slice(0, 300) ?? null, data: JSON.stringify(data),
    };
    await this.store.insertWebSession(record);
    return { cookie, record, data, user: userId === null ? null : ((await this.store.findUserById(userId)) ?? null) };
  }

  /** The live session for a cookie value, sliding its idle expiry; undefined when absent or expired. */
  async resolve(cookie: string | undefined): Promise<ResolvedSession | undefined> {
    if (!cookie || cookie.length > 100) return undefined;
    const record = await this.store.findWebSession(hashId(cookie));
    const now = this.clock();
    if (!record) return undefined;
    if (record.expiresAt <= now || record.absoluteExpiresAt <= now) {
      await this.store.deleteWebSession(record.idHash);
      return undefined;
    }
    if (now - record.lastSeenAt > TOUCH_EVERY_MS) {
      const expiresAt = Math.min(now + this.policy.idleMs, record.absoluteExpiresAt);
      await this.store.updateWebSession(record.idHash, { lastSeenAt: now, expiresAt });
      record.lastSeenAt = now;
      record.expiresAt = expiresAt;
    }
    const user = record.userId === null ? null : ((await this.store.findUserById(record.userId)) ?? null);
    return { cookie, record, data: JSON.parse(record.data) as SessionData, user };
  }

  async save(s: ResolvedSession): Promise<void> {
    await this.store.updateWebSession(s.record.idHash, { data: JSON.stringify(s.data) });
  }

  /** Replaces the session with a new id for `userId` (login, or leaving a half-finished login). */
  async elevate(s: ResolvedSession | undefined, userId: number | null, ip: string | null, userAgent: string | null, data: SessionData = {}): Promise<ResolvedSession> {
    if (s) await this.store.deleteWebSession(s.record.idHash);
    return this.create(userId, ip, userAgent, data);
  }

  async destroy(s: ResolvedSession): Promise<void> {
    await this.store.deleteWebSession(s.record.idHash);
  }

  /** Everywhere else: after a password change or a factor removal, other sessions end. */
  async destroyOthers(userId: number, keep: ResolvedSession | undefined): Promise<void> {
    await this.store.deleteUserWebSessions(userId, keep?.record.idHash);
  }

  csrfValid(s: ResolvedSession, token: unknown): boolean {
    if (typeof token !== 'string' || token.length !== s.record.csrfToken.length) return false;
    return timingSafeEqual(Buffer.from(token), Buffer.from(s.record.csrfToken));
  }
}
