// Accounts, credentials and the web-login handshake. Passwords and tokens arrive here as
// plaintext, leave as hashes, and are never logged.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { conflict, forbidden, invalid, notFound, unauthenticated } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { UniqueViolation, type MetadataStore, type TokenRecord, type UserRecord } from '../../storage/metadata/store.ts';
import { dummyPasswordHash, hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, verifyPassword } from '../../security/passwords/scrypt.ts';
import { displayPrefix, generateToken, hashToken, isWellFormedToken } from '../../security/tokens/token-format.ts';
import type { Principal, UserPrincipal } from '../../security/authz/principal.ts';
import { validateEmail, validateUsername } from './names.ts';
import { addressAllowed } from '../../security/tokens/cidr.ts';

export interface AccountPolicy {
  registrationOpen: boolean;
  /** Lifetime of tokens minted by a login. */
  sessionTokenDays: number;
}

/** How long a web login may stay pending before the CLI's poll URL stops working. */
export const WEB_LOGIN_TTL_MS = 10 * 60 * 1000;
export const MAX_TOKEN_NAME_LENGTH = 100;

export interface IssuedToken {
  token: string;
  record: TokenRecord;
}

export interface NewTokenOptions {
  kind: 'session' | 'api';
  name?: string | null;
  readonly?: boolean;
  cidrWhitelist?: string[] | null;
  expiresInDays?: number | null;
}

export class AccountService {
  private readonly store: MetadataStore;
  private readonly policy: AccountPolicy;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(store: MetadataStore, policy: AccountPolicy, clock: Clock, log: Logger) {
    this.store = store;
    this.policy = policy;
    this.clock = clock;
    this.log = log;
  }

  async register(input: { name: unknown; email: unknown; password: unknown }, options: { admin?: boolean; bypassClosedRegistration?: boolean } = {}): Promise<UserRecord> {
    if (!this.policy.registrationOpen && !options.bypassClosedRegistration) {
      throw forbidden('REGISTRATION_CLOSED', 'Registration is closed on this registry; ask an administrator for an account');
    }
    const name = validateUsername(input.name);
    const email = validateEmail(input.email);
    const password = validatePassword(input.password);
    const passwordHash = await hashPassword(password);
    const now = this.clock();
    try {
      const user = await this.store.insertUser({ name, email, passwordHash, isAdmin: options.admin === true, createdAt: now, updatedAt: now });
      await this.store.insertEvent({ at: now, type: 'account.created', actorId: user.id, ecosystem: null, packageName: null, version: null, data: { name } });
      this.log.info('account created', { user: name, admin: user.isAdmin });
      return user;
    } catch (e) {
      if (e instanceof UniqueViolation) throw conflict('USERNAME_TAKEN', `The username ${name} is taken`);
      throw e;
    }
  }

  /** Checks a password; the same work is done for unknown users so timing reveals nothing. */
  async authenticate(name: unknown, password: unknown): Promise<UserRecord> {
    const fail = () => unauthenticated('BAD_CREDENTIALS', 'Incorrect username or password');
    if (typeof name !== 'string' || typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH) throw fail();
    const user = await this.store.findUserByName(name.toLowerCase());
    const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
    if (!user || !ok) throw fail();
    return user;
  }

  findUser(name: string): Promise<UserRecord | undefined> {
    return this.store.findUserByName(name.toLowerCase());
  }

  async issueToken(user: UserRecord, options: NewTokenOptions): Promise<IssuedToken> {
    const token = generateToken();
    const now = this.clock();
    const days = options.expiresInDays ?? (options.kind === 'session' ? this.policy.sessionTokenDays : null);
    const record: TokenRecord = {
      id: randomUUID(),
      userId: user.id,
      tokenHash: hashToken(token),
      displayPrefix: displayPrefix(token),
      kind: options.kind,
      name: options.name ? options.name.slice(0, MAX_TOKEN_NAME_LENGTH) : null,
      readonly: options.readonly === true,
      cidrWhitelist: options.cidrWhitelist && options.cidrWhitelist.length > 0 ? options.cidrWhitelist : null,
      createdAt: now,
      expiresAt: days ? now + days * 86_400_000 : null,
      lastUsedAt: null,
      lastUsedIp: null,
    };
    await this.store.insertToken(record);
    await this.store.insertEvent({ at: now, type: 'token.created', actorId: user.id, ecosystem: null, packageName: null, version: null, data: { tokenId: record.id, kind: record.kind, readonly: record.readonly } });
    return { token, record };
  }

  /** Resolves a bearer token to its principal, or refuses. */
  async resolveToken(raw: string, ip: string | null): Promise<UserPrincipal> {
    const refuse = () => unauthenticated('INVALID_TOKEN', 'The token is invalid, expired or revoked; log in again');
    if (!isWellFormedToken(raw)) throw refuse();
    const record = await this.store.findTokenByHash(hashToken(raw));
    const now = this.clock();
    if (!record || (record.expiresAt !== null && record.expiresAt <= now)) throw refuse();
    if (record.cidrWhitelist && !addressAllowed(ip ?? '', record.cidrWhitelist)) {
      throw unauthenticated('TOKEN_IP_NOT_ALLOWED', 'This token may not be used from your IP address');
    }
    const user = await this.store.findUserById(record.userId);
    if (!user) throw refuse();
    // Last-use bookkeeping is advisory; coarse-grained so reads don't turn into writes.
    if (record.lastUsedAt === null || now - record.lastUsedAt > 60_000 || record.lastUsedIp !== ip) {
      await this.store.touchToken(record.id, now, ip);
    }
    return { kind: 'user', userId: user.id, name: user.name, isAdmin: user.isAdmin, token: { id: record.id, readonly: record.readonly, kind: record.kind } };
  }

  async resolvePassword(name: string, password: string): Promise<UserPrincipal> {
    const user = await this.authenticate(name, password);
    return { kind: 'user', userId: user.id, name: user.name, isAdmin: user.isAdmin, token: null };
  }

  async listTokens(principal: UserPrincipal): Promise<TokenRecord[]> {
    return this.store.listTokens(principal.userId);
  }

  /** Revokes by token id or by the full token value; only the owner's own tokens. */
  async revokeToken(principal: UserPrincipal, idOrToken: string): Promise<void> {
    const records = await this.store.listTokens(principal.userId);
    const match = isWellFormedToken(idOrToken)
      ? records.find((r) => r.tokenHash === hashToken(idOrToken))
      : records.find((r) => r.id === idOrToken);
    if (!match) throw notFound('TOKEN_NOT_FOUND', 'No such token');
    await this.store.deleteToken(match.id);
    await this.store.insertEvent({ at: this.clock(), type: 'token.revoked', actorId: principal.userId, ecosystem: null, packageName: null, version: null, data: { tokenId: match.id } });
  }

  /** Logout: forget the token if it exists. Idempotent, because the CLI aborts on any error. */
  async logout(raw: string): Promise<void> {
    if (!isWellFormedToken(raw)) return;
    const record = await this.store.findTokenByHash(hashToken(raw));
    if (record) await this.store.deleteToken(record.id);
  }

  // --- web login: the CLI gets a browser URL (loginUrl) and a secret poll URL (doneUrl) ---

  async startWebLogin(createAccount: boolean): Promise<{ sessionId: string; doneSecret: string }> {
    const now = this.clock();
    await this.store.deleteExpiredLoginSessions(now);
    const sessionId = randomBytes(18).toString('base64url');
    const doneSecret = randomBytes(32).toString('base64url');
    await this.store.insertLoginSession({ id: sessionId, doneHash: hashToken(doneSecret), createAccount, userId: null, createdAt: now, expiresAt: now + WEB_LOGIN_TTL_MS });
    return { sessionId, doneSecret };
  }

  async getWebLogin(sessionId: string): Promise<{ createAccount: boolean; approved: boolean }> {
    const s = await this.store.findLoginSession(sessionId);
    if (!s || s.expiresAt <= this.clock()) throw notFound('LOGIN_EXPIRED', 'This login link has expired; run the login command again');
    return { createAccount: s.createAccount, approved: s.userId !== null };
  }

  async approveWebLogin(sessionId: string, user: UserRecord): Promise<void> {
    const s = await this.store.findLoginSession(sessionId);
    if (!s || s.expiresAt <= this.clock()) throw notFound('LOGIN_EXPIRED', 'This login link has expired; run the login command again');
    if (s.userId !== null) throw conflict('LOGIN_ALREADY_APPROVED', 'This login was already completed');
    await this.store.approveLoginSession(s.id, user.id);
  }

  /** The CLI's poll: pending until approved, then a token exactly once. */
  async pollWebLogin(doneSecret: string): Promise<{ status: 'pending' } | { status: 'done'; token: string }> {
    const s = await this.store.findLoginSessionByDoneHash(hashToken(doneSecret));
    if (!s || s.expiresAt <= this.clock()) throw notFound('LOGIN_EXPIRED', 'This login has expired or was already used; run the login command again');
    if (s.userId === null) return { status: 'pending' };
    const user = await this.store.findUserById(s.userId);
    // Single use: only the poll that deletes the session gets the token.
    if (!user || !(await this.store.deleteLoginSession(s.id))) throw notFound('LOGIN_EXPIRED', 'This login was already used');
    const { token } = await this.issueToken(user, { kind: 'session', name: 'web login' });
    return { status: 'done', token };
  }
}

export function validatePassword(password: unknown): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw invalid('INVALID_PASSWORD', `Passwords are ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
  return password;
}

export type { Principal };
