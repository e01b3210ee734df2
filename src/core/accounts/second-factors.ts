// Second factors (AUTHN-1.3, 2.2, 3.1): TOTP with enrolment confirmed by a code, passkeys, ten
// one-time recovery codes (stored hashed), the npm CLI's one-time passwords (a TOTP code, or the
// token a browser approval produced: npm's web OTP), and the state the authorizer needs. Every
// attempt is throttled before any secret is compared; every change is an event and a mail.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { conflict, invalid, notFound, unauthenticated } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { MetadataStore, UserRecord, WebAuthnCredentialRecord } from '../../storage/metadata/store.ts';
import type { MfaState } from '../../security/authz/principal.ts';
import { generateTotpSecret, matchTotp, otpauthUri, totpReplayAllowed } from '../../security/mfa/totp.ts';
import { generateRecoveryCodes, hashRecoveryCode, normaliseRecoveryCode } from '../../security/mfa/recovery-codes.ts';
import {
  authenticationOptions, newUserHandle, registrationOptions, verifyAuthentication, verifyRegistration, type StoredCredential, type WebAuthnPolicy,
} from '../../security/mfa/webauthn.ts';
import { hashToken } from '../../security/tokens/token-format.ts';
import type { Notifier } from './notifier.ts';
import type { Throttling } from './throttling.ts';

/** An enrolment secret not confirmed within this long must be started again. */
export const TOTP_PENDING_TTL_MS = 15 * 60_000;
/** A web-OTP approval is usable this long after the person approved it (the CLI repeats its request with it). */
export const WEB_OTP_TTL_MS = 5 * 60_000;
/** How long the CLI may poll before approving. */
export const WEB_OTP_PENDING_TTL_MS = 10 * 60_000;
const WEB_OTP_PREFIX = 'otp_';

export interface SecondFactorDeps {
  store: MetadataStore;
  throttling: Throttling;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
  /** Null when the public URL cannot host passkeys (browsers refuse WebAuthn on IP addresses). */
  webauthn: WebAuthnPolicy | null;
  /** Shown in authenticator apps. */
  issuer: string;
  publicUrl: string;
}

/**
 * The key-URI format reserves ':' to separate issuer from account, so an issuer naming a host
 * with a port ("Attestry (127.0.0.1:4873)") would make every enrolment fail; the port is kept,
 * after a space, because it tells apart two registries on one host.
 */
const issuerLabel = (issuer: string): string => issuer.replace(/:/g, ' ');

const toStored = (c: WebAuthnCredentialRecord): StoredCredential => ({
  id: c.id, publicKey: c.publicKey, counter: c.counter, transports: c.transports, name: c.name, createdAt: c.createdAt, lastUsedAt: c.lastUsedAt,
  backedUp: c.backedUp, deviceType: c.deviceType,
});

export class SecondFactors {
  private readonly d: SecondFactorDeps;

  constructor(deps: SecondFactorDeps) {
    this.d = deps;
  }

  get passkeysAvailable(): boolean {
    return this.d.webauthn !== null;
  }

  private webauthn(): WebAuthnPolicy {
    if (this.d.webauthn === null) throw conflict('PASSKEYS_UNAVAILABLE', 'Passkeys need the registry to be reached by a host name (not an IP address) over https, or on localhost');
    return this.d.webauthn;
  }

  /** The authorizer's view of a user, before any factor is presented. */
  mfaState(user: UserRecord): MfaState {
    return { emailVerified: user.emailVerifiedAt !== null, enrolled: user.tfaMode !== null, mode: user.tfaMode, presented: 'none' };
  }

  // ---------- TOTP ----------

  /** Step 1 of enrolment: a fresh secret (kept pending until a code confirms it). */
  async startTotp(user: UserRecord, mode: 'auth-only' | 'auth-and-writes' = 'auth-and-writes'): Promise<{ secret: string; uri: string }> {
    if (user.totpSecret !== null) throw conflict('TOTP_ALREADY_ENABLED', 'An authenticator app is already set up; remove it first to set up another');
    const secret = generateTotpSecret();
    const now = this.d.clock();
    await this.d.store.updateUser(user.id, { totpPendingSecret: secret, totpPendingAt: now, totpPendingMode: mode, updatedAt: now });
    return { secret, uri: otpauthUri(secret, user.name, issuerLabel(this.d.issuer)) };
  }

  /** Step 2: a code from the app proves it holds the secret; returns the (new) recovery codes. */
  async confirmTotp(user: UserRecord, code: unknown, address: string | null): Promise<string[]> {
    const mode = user.tfaMode ?? user.totpPendingMode ?? 'auth-and-writes';
    const now = this.d.clock();
    if (user.totpPendingSecret === null || user.totpPendingAt === null || now - user.totpPendingAt > TOTP_PENDING_TTL_MS) {
      throw conflict('TOTP_NOT_STARTED', 'Start setting up the authenticator app again: the secret was not confirmed in time');
    }
    await this.d.throttling.guard('totp', user.id, address);
    const step = typeof code === 'string' ? matchTotp(user.totpPendingSecret, code.trim(), now) : null;
    if (step === null) {
      await this.failed('totp', user, address);
      throw invalid('OTP_INVALID', 'That code is not right; check the time on your device and try the current code');
    }
    await this.d.throttling.succeeded('totp', user.id, address);
    await this.d.store.updateUser(user.id, {
      totpSecret: user.totpPendingSecret, totpPendingSecret: null, totpPendingAt: null, totpPendingMode: null, tfaMode: mode, totpLastStep: step, totpLastCredential: 'enrolment', updatedAt: now,
    });
    await this.event(user.id, 'mfa.totp-enabled', { mode });
    await this.d.notifier.notice(user, { kind: 'factor-added', factor: 'totp' });
    return this.hasRecoveryCodes(user.id).then((has) => (has ? [] : this.regenerateRecoveryCodes(user, { quiet: true })));
  }

  async setMode(user: UserRecord, mode: 'auth-only' | 'auth-and-writes'): Promise<void> {
    if (user.tfaMode === null) throw conflict('MFA_NOT_ENABLED', 'Two-factor authentication is not enabled');
    await this.d.store.updateUser(user.id, { tfaMode: mode, updatedAt: this.d.clock() });
    await this.event(user.id, 'mfa.mode-changed', { mode });
  }

  /**
   * Drops an enrolment that was never confirmed. npm does this by itself when enable-2fa is run
   * again after an abandoned attempt, so it is neither an event nor a mail: no factor changed.
   */
  async cancelPendingTotp(user: UserRecord): Promise<void> {
    await this.d.store.updateUser(user.id, { totpPendingSecret: null, totpPendingAt: null, totpPendingMode: null, updatedAt: this.d.clock() });
  }

  /** Removes the authenticator app (the caller has checked the password and a current factor). */
  async disableTotp(user: UserRecord): Promise<void> {
    const now = this.d.clock();
    const passkeys = await this.d.store.listWebAuthnCredentials(user.id);
    await this.d.store.updateUser(user.id, {
      totpSecret: null, totpPendingSecret: null, totpPendingAt: null, totpPendingMode: null, totpLastStep: null, totpLastCredential: null,
      tfaMode: passkeys.length > 0 ? user.tfaMode : null, updatedAt: now,
    });
    if (passkeys.length === 0) await this.forgetRecoveryCodes(user.id, now);
    await this.event(user.id, 'mfa.totp-disabled', {});
    await this.d.notifier.notice(user, { kind: 'factor-removed', factor: 'totp' });
  }

  /**
   * With no factor left, recovery codes recover nothing; kept, they would outlive the factor and
   * stop the next enrolment from showing fresh ones (it only generates codes when none remain).
   */
  private async forgetRecoveryCodes(userId: number, now: number): Promise<void> {
    await this.d.store.replaceRecoveryCodes(userId, [], now);
  }

  /**
   * Checks a TOTP code presented by `credential` (a token id, a web session, or 'password').
   * A code is accepted again only from the same credential within its step — `npm unpublish --otp`
   * sends it with several requests — and never from another credential (the replay rule).
   */
  async verifyTotp(user: UserRecord, code: string, credential: string, address: string | null): Promise<void> {
    if (user.totpSecret === null) throw unauthenticated('OTP_INVALID', 'No authenticator app is set up for this account');
    await this.d.throttling.guard('totp', user.id, address);
    const now = this.d.clock();
    const step = matchTotp(user.totpSecret, code, now);
    const last = user.totpLastStep === null ? null : { step: user.totpLastStep, credential: user.totpLastCredential ?? '' };
    // The row read with the user answers most replays; the claim decides races between requests.
    if (step === null || !totpReplayAllowed(last, step, credential) || !(await this.d.store.claimTotpStep(user.id, step, credential))) {
      await this.failed('totp', user, address);
      throw unauthenticated(step === null ? 'OTP_INVALID' : 'OTP_REUSED', step === null ? 'The one-time password is not right' : 'This one-time password was already used; wait for the next one');
    }
    await this.d.throttling.succeeded('totp', user.id, address);
  }

  /**
   * What an `npm-otp` header proves: a 6-digit TOTP code, or the token a browser approval gave
   * the CLI (web OTP; 'webauthn' when the person approved with a passkey).
   */
  async verifyPresented(user: UserRecord, otp: string, credential: string, address: string | null): Promise<'totp' | 'webauthn'> {
    if (otp.startsWith(WEB_OTP_PREFIX)) {
      const c = otp.length <= 100 ? await this.d.store.findOtpChallengeByOtpHash(hashToken(otp)) : undefined;
      if (!c || c.userId !== user.id || c.approvedAt === null || c.expiresAt <= this.d.clock()) {
        throw unauthenticated('OTP_INVALID', 'This one-time approval is not valid (expired, or for another account); approve again');
      }
      return c.method === 'webauthn' ? 'webauthn' : 'totp';
    }
    if (!/^\d{6}$/.test(otp)) throw unauthenticated('OTP_INVALID', 'A one-time password is 6 digits');
    await this.verifyTotp(user, otp, credential, address);
    return 'totp';
  }

  // ---------- recovery codes ----------

  async regenerateRecoveryCodes(user: UserRecord, options: { quiet?: boolean } = {}): Promise<string[]> {
    const codes = generateRecoveryCodes();
    const now = this.d.clock();
    await this.d.store.replaceRecoveryCodes(user.id, codes.map(hashRecoveryCode), now);
    await this.event(user.id, 'mfa.recovery-codes-generated', {});
    if (!options.quiet) await this.d.notifier.notice(user, { kind: 'recovery-codes-regenerated' });
    return codes;
  }

  async remainingRecoveryCodes(userId: number): Promise<number> {
    return this.d.store.countUnusedRecoveryCodes(userId);
  }

  private async hasRecoveryCodes(userId: number): Promise<boolean> {
    return (await this.d.store.countUnusedRecoveryCodes(userId)) > 0;
  }

  /** Spends one recovery code (each works once); throttled like TOTP. */
  async useRecoveryCode(user: UserRecord, input: string, address: string | null): Promise<void> {
    await this.d.throttling.guard('recovery', user.id, address);
    const normalised = normaliseRecoveryCode(input);
    const now = this.d.clock();
    if (normalised === null || !(await this.d.store.useRecoveryCode(user.id, hashRecoveryCode(normalised), now))) {
      await this.failed('recovery', user, address);
      throw unauthenticated('RECOVERY_CODE_INVALID', 'That recovery code is not valid, or was already used');
    }
    await this.d.throttling.succeeded('recovery', user.id, address);
    const remaining = await this.d.store.countUnusedRecoveryCodes(user.id);
    await this.event(user.id, 'mfa.recovery-code-used', { remaining });
    await this.d.notifier.notice(user, { kind: 'recovery-code-used', remaining });
  }

  // ---------- passkeys ----------

  async passkeys(userId: number): Promise<WebAuthnCredentialRecord[]> {
    return this.d.store.listWebAuthnCredentials(userId);
  }

  async passkeyRegistrationOptions(user: UserRecord): Promise<{ options: unknown; challenge: string }> {
    let handle = user.webauthnHandle;
    if (handle === null) {
      handle = newUserHandle();
      await this.d.store.updateUser(user.id, { webauthnHandle: handle });
    }
    const existing = (await this.d.store.listWebAuthnCredentials(user.id)).map(toStored);
    return registrationOptions(this.webauthn(), { id: user.id, name: user.name, handle }, existing);
  }

  async addPasskey(user: UserRecord, response: unknown, challenge: string, name: string): Promise<WebAuthnCredentialRecord> {
    const now = this.d.clock();
    const label = name.trim().slice(0, 64) || 'Passkey';
    const c = await verifyRegistration(this.webauthn(), response, challenge, label, now);
    const record: WebAuthnCredentialRecord = { ...c, userId: user.id, name: label };
    await this.d.store.insertWebAuthnCredential(record);
    // A passkey is a second factor: writes then ask for one (npm's auth-and-writes).
    if (user.tfaMode === null) await this.d.store.updateUser(user.id, { tfaMode: 'auth-and-writes', updatedAt: now });
    await this.event(user.id, 'mfa.passkey-added', { name: label, credentialId: c.id.slice(0, 16) });
    await this.d.notifier.notice(user, { kind: 'factor-added', factor: 'passkey', name: label });
    if (!(await this.hasRecoveryCodes(user.id))) await this.regenerateRecoveryCodes(user, { quiet: true });
    return record;
  }

  async removePasskey(user: UserRecord, id: string): Promise<void> {
    const all = await this.d.store.listWebAuthnCredentials(user.id);
    const found = all.find((c) => c.id === id);
    if (!found || !(await this.d.store.deleteWebAuthnCredential(user.id, id))) throw notFound('PASSKEY_NOT_FOUND', 'No such passkey on your account');
    if (all.length === 1 && user.totpSecret === null) {
      const now = this.d.clock();
      await this.d.store.updateUser(user.id, { tfaMode: null, updatedAt: now });
      await this.forgetRecoveryCodes(user.id, now);
    }
    await this.event(user.id, 'mfa.passkey-removed', { name: found.name });
    await this.d.notifier.notice(user, { kind: 'factor-removed', factor: 'passkey', name: found.name });
  }

  /** Options for a passkey sign-in (no username: discoverable credentials) or a second-factor check of a known user. */
  async passkeyAuthenticationOptions(user: UserRecord | null): Promise<{ options: unknown; challenge: string }> {
    const allow = user ? (await this.d.store.listWebAuthnCredentials(user.id)).map(toStored) : null;
    return authenticationOptions(this.webauthn(), allow);
  }

  /** Verifies an assertion; returns the user it belongs to. For a known user, only that user's passkeys count. */
  async verifyPasskey(response: unknown, challenge: string, expectedUser: UserRecord | null): Promise<UserRecord> {
    const id = typeof response === 'object' && response !== null ? (response as { id?: unknown }).id : undefined;
    const record = typeof id === 'string' && id.length <= 1024 ? await this.d.store.findWebAuthnCredential(id) : undefined;
    if (!record || (expectedUser && record.userId !== expectedUser.id)) throw unauthenticated('WEBAUTHN_UNKNOWN_CREDENTIAL', 'This passkey is not registered here');
    const user = await this.d.store.findUserById(record.userId);
    if (!user) throw unauthenticated('WEBAUTHN_UNKNOWN_CREDENTIAL', 'This passkey is not registered here');
    const now = this.d.clock();
    const { credential, userHandle } = await verifyAuthentication(this.webauthn(), response, challenge, [toStored(record)], now);
    // A discoverable credential names its user; it must be the one the credential was registered to.
    if (userHandle !== null && user.webauthnHandle !== null && userHandle !== user.webauthnHandle) {
      throw unauthenticated('WEBAUTHN_AUTHENTICATION_FAILED', 'The passkey does not belong to this account');
    }
    await this.d.store.updateWebAuthnCredential(record.id, credential.counter, now);
    return user;
  }

  // ---------- npm's web OTP ----------

  /** A challenge the CLI can poll while the person approves it in the browser. */
  async startWebOtp(userId: number): Promise<{ authUrl: string; doneUrl: string }> {
    const now = this.d.clock();
    await this.d.store.deleteExpiredOtpChallenges(now);
    // Not a UUID: npm redacts UUIDs in what it prints, which would hide the very URL the person must open.
    const id = randomBytes(18).toString('base64url');
    const done = randomBytes(32).toString('base64url');
    await this.d.store.insertOtpChallenge({ id, doneHash: hashToken(done), userId, createdAt: now, expiresAt: now + WEB_OTP_PENDING_TTL_MS, approvedAt: null, method: null, otpHash: null });
    return { authUrl: `${this.d.publicUrl}/-/web/otp/${id}`, doneUrl: `${this.d.publicUrl}/-/v1/otp/done/${done}` };
  }

  async webOtpChallenge(id: string): Promise<{ userId: number; approved: boolean }> {
    const c = await this.d.store.findOtpChallenge(id);
    if (!c || c.expiresAt <= this.d.clock()) throw notFound('OTP_CHALLENGE_EXPIRED', 'This approval request has expired; run the command again');
    return { userId: c.userId, approved: c.approvedAt !== null };
  }

  /** The person approved (after proving a factor in the browser). */
  async approveWebOtp(id: string, user: UserRecord, method: 'totp' | 'webauthn'): Promise<void> {
    const c = await this.d.store.findOtpChallenge(id);
    const now = this.d.clock();
    if (!c || c.expiresAt <= now) throw notFound('OTP_CHALLENGE_EXPIRED', 'This approval request has expired; run the command again');
    if (c.userId !== user.id) throw notFound('OTP_CHALLENGE_EXPIRED', 'This approval request is for another account');
    if (c.approvedAt !== null) throw conflict('OTP_ALREADY_APPROVED', 'This request was already approved');
    await this.d.store.updateOtpChallenge(id, { approvedAt: now, method });
    await this.event(user.id, 'mfa.cli-approved', { method });
  }

  /** The CLI's poll: pending, then (exactly once) the token it sends as `npm-otp`. */
  async pollWebOtp(done: string): Promise<{ status: 'pending' } | { status: 'done'; token: string }> {
    const c = done.length <= 100 ? await this.d.store.findOtpChallengeByDoneHash(hashToken(done)) : undefined;
    const now = this.d.clock();
    if (!c || c.expiresAt <= now) throw notFound('OTP_CHALLENGE_EXPIRED', 'This approval request has expired or was already used');
    if (c.approvedAt === null) return { status: 'pending' };
    if (c.otpHash !== null) throw notFound('OTP_CHALLENGE_EXPIRED', 'This approval was already collected');
    const token = `${WEB_OTP_PREFIX}${randomBytes(24).toString('base64url')}`;
    await this.d.store.updateOtpChallenge(c.id, { otpHash: hashToken(token), expiresAt: now + WEB_OTP_TTL_MS });
    return { status: 'done', token };
  }

  /** Counts a failed attempt; the failure that locks the account is mailed, with the lock's real end. */
  private async failed(kind: 'totp' | 'recovery', user: UserRecord, address: string | null): Promise<void> {
    if (!(await this.d.throttling.failed(kind, user.id, address))) return;
    const until = (await this.d.throttling.lockedUntil(kind, user.id)) ?? this.d.clock();
    await this.d.notifier.notice(user, { kind: 'account-locked', until: new Date(until).toISOString() });
  }

  private event(userId: number, type: string, data: Record<string, unknown>): Promise<void> {
    return this.d.store.insertEvent({ at: this.d.clock(), type, actorId: userId, ecosystem: null, packageName: null, version: null, data });
  }
}
