// Accounts, credentials and the web-login handshake. Passwords and tokens arrive here as
// plaintext, leave as hashes, and are never logged.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { conflict, forbidden, invalid, notFound, unauthenticated } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { UniqueViolation, type EventCursor, type MetadataStore, type TokenRecord, type UserRecord } from '../../storage/metadata/store.ts';
import { dummyPasswordHash, hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, verifyPassword } from '../../security/passwords/scrypt.ts';
import { displayPrefix, generateToken, hashToken, isWellFormedToken } from '../../security/tokens/token-format.ts';
import type { Principal, UserPrincipal } from '../../security/authz/principal.ts';
import { validateEmail, validateUsername } from './names.ts';
import { addressAllowed } from '../../security/tokens/cidr.ts';
import { scopeCanWrite, type TokenScope } from '../../security/tokens/token-scope.ts';
import type { LeakedPasswordChecker } from '../../security/passwords/leaked.ts';
import type { EmailVerification } from './email-verification.ts';
import type { Notifier } from './notifier.ts';
import type { SecondFactors } from './second-factors.ts';
import type { Throttling } from './throttling.ts';

export interface AccountPolicy {
  registrationOpen: boolean;
  /** Lifetime of tokens minted by a login (npm login), in hours. */
  cliSessionHours: number;
  /** Tokens that can write: default and longest lifetime, in days. */
  writeTokenDefaultDays: number;
  writeTokenMaxDays: number;
  requireVerifiedEmail: boolean;
}

/** The account-security collaborators; absent in administrative commands that only create users. */
export interface AccountSecurityDeps {
  throttling: Throttling;
  secondFactors: SecondFactors;
  emailVerification: EmailVerification;
  notifier: Notifier;
  leaked: LeakedPasswordChecker;
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
  bypass2fa?: boolean;
  /** Granular tokens: the packages and permissions (parsed by parseTokenScope); null or absent: classic. */
  scope?: TokenScope | null;
}

export class AccountService {
  private readonly store: MetadataStore;
  private readonly policy: AccountPolicy;
  private readonly clock: Clock;
  private readonly log: Logger;
  readonly security: AccountSecurityDeps | undefined;

  constructor(store: MetadataStore, policy: AccountPolicy, clock: Clock, log: Logger, security?: AccountSecurityDeps) {
    this.store = store;
    this.policy = policy;
    this.clock = clock;
    this.log = log;
    this.security = security;
  }

  /** How long a token that can write lives when none is asked for, and at most (days): shown to people before they choose. */
  get writeTokenLifetime(): { defaultDays: number; maxDays: number } {
    return { defaultDays: this.policy.writeTokenDefaultDays, maxDays: this.policy.writeTokenMaxDays };
  }

  /** Refuses passwords found in breach corpora (AUTHN-2.4); an unreachable source fails open, logged. */
  private async refuseLeaked(password: string): Promise<void> {
    const result = await this.security?.leaked.check(password);
    if (result === 'unavailable') this.log.warn('leaked-password check unavailable; password accepted unchecked');
    else if (result?.leaked) throw invalid('PASSWORD_LEAKED', 'This password appears in known data breaches; choose another one');
  }

  async register(input: { name: unknown; email: unknown; password: unknown }, options: { admin?: boolean; bypassClosedRegistration?: boolean } = {}): Promise<UserRecord> {
    if (!this.policy.registrationOpen && !options.bypassClosedRegistration) {
      throw forbidden('REGISTRATION_CLOSED', 'Registration is closed on this registry; ask an administrator for an account');
    }
    const name = validateUsername(input.name);
    const email = validateEmail(input.email);
    const password = validatePassword(input.password);
    // A user's name is also their npm scope: an organization's scope cannot be taken by a person.
    if (await this.store.findOrg(name)) throw conflict('USERNAME_TAKEN', `The name ${name} belongs to an organization`);
    await this.refuseLeaked(password);
    const passwordHash = await hashPassword(password);
    const now = this.clock();
    try {
      // An administrator creating an account vouches for its address.
      const user = await this.store.insertUser({ name, email, passwordHash, isAdmin: options.admin === true, createdAt: now, updatedAt: now, emailVerifiedAt: options.bypassClosedRegistration ? now : null });
      await this.store.insertEvent({ at: now, type: 'account.created', actorId: user.id, ecosystem: null, packageName: null, version: null, data: { name } });
      this.log.info('account created', { user: name, admin: user.isAdmin });
      if (user.emailVerifiedAt === null) await this.security?.emailVerification.sendVerification(user);
      return user;
    } catch (e) {
      if (e instanceof UniqueViolation) throw conflict('USERNAME_TAKEN', `The username ${name} is taken`);
      throw e;
    }
  }

  /**
   * Checks a password; the same work is done for unknown users so timing reveals nothing. Throttled
   * per account and per address before the comparison (AUTHN-1.5); a password found in a breach
   * corpus is flagged (and mailed about once) but still accepted, so the person can change it.
   */
  async authenticate(name: unknown, password: unknown, address: string | null = null): Promise<UserRecord> {
    const fail = () => unauthenticated('BAD_CREDENTIALS', 'Incorrect username or password');
    if (typeof name !== 'string' || typeof password !== 'string' || password.length > MAX_PASSWORD_LENGTH) throw fail();
    const user = await this.store.findUserByName(name.toLowerCase());
    const throttling = this.security?.throttling;
    await throttling?.guard('password', user?.id ?? null, address);
    const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
    if (!user || !ok) {
      const locked = await throttling?.failed('password', user?.id ?? null, address);
      if (locked && user && throttling) {
        // The real end of the lock: lockouts grow when they repeat.
        const until = (await throttling.lockedUntil('password', user.id)) ?? this.clock();
        await this.security?.notifier.notice(user, { kind: 'account-locked', until: new Date(until).toISOString() });
      }
      throw fail();
    }
    await throttling?.succeeded('password', user.id, address);
    if (!user.passwordLeaked && this.security) {
      const leaked = await this.security.leaked.check(password);
      if (leaked !== 'unavailable' && leaked.leaked) {
        await this.store.updateUser(user.id, { passwordLeaked: true });
        await this.security.notifier.notice(user, { kind: 'leaked-password' });
        return { ...user, passwordLeaked: true };
      }
    }
    return user;
  }

  /** A password change: the old password, a non-leaked new one; other sessions end, the owner is told. */
  async changePassword(user: UserRecord, oldPassword: unknown, newPassword: unknown, address: string | null): Promise<void> {
    await this.authenticate(user.name, oldPassword, address);
    const password = validatePassword(newPassword);
    await this.refuseLeaked(password);
    const now = this.clock();
    await this.store.updateUser(user.id, { passwordHash: await hashPassword(password), passwordLeaked: false, updatedAt: now });
    await this.store.insertEvent({ at: now, type: 'account.password-changed', actorId: user.id, ecosystem: null, packageName: null, version: null, data: {} });
    await this.store.deleteUserWebSessions(user.id);
    await this.security?.notifier.notice(user, { kind: 'password-changed' });
  }

  /** Sets a new password after account recovery (the link proved the mailbox; the caller checked any second factor). */
  async resetPassword(user: UserRecord, newPassword: unknown): Promise<void> {
    const password = validatePassword(newPassword);
    await this.refuseLeaked(password);
    const now = this.clock();
    await this.store.updateUser(user.id, { passwordHash: await hashPassword(password), passwordLeaked: false, updatedAt: now });
    await this.store.insertEvent({ at: now, type: 'account.password-reset', actorId: user.id, ecosystem: null, packageName: null, version: null, data: {} });
    await this.store.deleteUserWebSessions(user.id);
    await this.security?.throttling.unlock(user.id);
    await this.security?.notifier.notice(user, { kind: 'password-changed' });
  }

  /** Refuses people whose address is unproven, where the policy requires it (tokens, recovery). */
  requireVerifiedEmail(user: UserRecord): void {
    if (this.policy.requireVerifiedEmail && user.emailVerifiedAt === null) {
      throw forbidden('EMAIL_UNVERIFIED', 'Verify your email address first: follow the link in the verification mail, or request a new one in your account settings');
    }
  }

  /** A login from a device (client) the account has not used before is mailed about (AUTHN-1.4). */
  async recordLogin(user: UserRecord, device: string, address: string | null): Promise<void> {
    const now = this.clock();
    const label = device.slice(0, 200);
    const fresh = await this.store.recordDevice(user.id, createHash('sha256').update(label).digest('hex'), now);
    await this.store.insertEvent({ at: now, type: 'account.login', actorId: user.id, ecosystem: null, packageName: null, version: null, data: { device: label, address, newDevice: fresh } });
    if (fresh) await this.security?.notifier.notice(user, { kind: 'new-device-login', device: label, address });
  }

  /** The account's own audit events, newest first (its security history). */
  userEvents(userId: number, limit: number, before?: EventCursor): ReturnType<MetadataStore['listUserEvents']> {
    return this.store.listUserEvents(userId, limit, before);
  }

  findUserById(id: number): Promise<UserRecord | undefined> {
    return this.store.findUserById(id);
  }

  /**
   * Adds to a person's principal the second factor their request presented (`npm-otp`): a TOTP
   * code (replay-checked per credential) or a web-OTP approval token. Refuses a wrong one.
   */
  async withPresentedOtp(principal: UserPrincipal, otp: string, address: string | null): Promise<UserPrincipal> {
    const security = this.security;
    const user = await this.store.findUserById(principal.userId);
    if (!security || !user) return principal;
    const credential = principal.token ? `token:${principal.token.id}` : 'password';
    const presented = await security.secondFactors.verifyPresented(user, otp.trim(), credential, address);
    return { ...principal, mfa: { ...security.secondFactors.mfaState(user), presented } };
  }

  findUser(name: string): Promise<UserRecord | undefined> {
    return this.store.findUserByName(name.toLowerCase());
  }

  async issueToken(user: UserRecord, options: NewTokenOptions): Promise<IssuedToken> {
    const token = generateToken();
    const now = this.clock();
    const scope = options.scope ?? null;
    // A granular token is bounded like a write token whenever its scope can write: its lifetime is
    // the policy's default when none is asked for, and never beyond the policy's maximum.
    const writes = options.readonly !== true && (scope === null || scopeCanWrite(scope));
    if (options.kind === 'api' && writes && options.expiresInDays !== undefined && options.expiresInDays !== null && options.expiresInDays > this.policy.writeTokenMaxDays) {
      throw invalid('BAD_EXPIRY', `Tokens that can write live at most ${this.policy.writeTokenMaxDays} days on this registry`);
    }
    // Login tokens are short (CLI sessions); write tokens default to a week (after Shai-Hulud).
    const lifetimeMs = options.kind === 'session'
      ? this.policy.cliSessionHours * 3_600_000
      : (options.expiresInDays ?? (writes ? this.policy.writeTokenDefaultDays : null)) === null ? null : (options.expiresInDays ?? this.policy.writeTokenDefaultDays) * 86_400_000;
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
      expiresAt: lifetimeMs === null ? null : now + lifetimeMs,
      lastUsedAt: null,
      lastUsedIp: null,
      bypass2fa: options.bypass2fa === true,
      scope,
    };
    await this.store.insertToken(record);
    await this.store.insertEvent({ at: now, type: 'token.created', actorId: user.id, ecosystem: null, packageName: null, version: null, data: { tokenId: record.id, kind: record.kind, readonly: record.readonly, bypass2fa: record.bypass2fa, scope: record.scope } });
    if (record.kind === 'api') await this.security?.notifier.notice(user, { kind: 'token-created', tokenName: record.name, readonly: record.readonly });
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
    return {
      kind: 'user', userId: user.id, name: user.name, isAdmin: user.isAdmin, token: { id: record.id, readonly: record.readonly, kind: record.kind, bypass2fa: record.bypass2fa, scope: record.scope },
      mfa: this.mfaState(user),
    };
  }

  async resolvePassword(name: string, password: string, address: string | null = null): Promise<UserPrincipal> {
    const user = await this.authenticate(name, password, address);
    return { kind: 'user', userId: user.id, name: user.name, isAdmin: user.isAdmin, token: null, mfa: this.mfaState(user) };
  }

  private mfaState(user: UserRecord): UserPrincipal['mfa'] {
    return { emailVerified: user.emailVerifiedAt !== null, enrolled: user.tfaMode !== null, mode: user.tfaMode, presented: 'none' };
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
