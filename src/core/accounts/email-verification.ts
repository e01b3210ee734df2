// Proving an email address (AUTHN-1.1/1.2): expiring, single-use links for verifying the address
// at sign-up, for changing it (sent to the new address; the old one is told), and for account
// recovery by email (only to a verified address whose domain still receives mail, AUTHN-2.1).
// The link carries a random secret; the store keeps its hash.
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { forbidden, notFound } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { EmailTokenRecord, MetadataStore, UserRecord } from '../../storage/metadata/store.ts';
import { hashToken } from '../../security/tokens/token-format.ts';
import { checkMailDomain, type MailResolver } from '../../security/email/mail-domain.ts';
import type { Notifier } from './notifier.ts';

export const EMAIL_LINK_TTL_MS = 24 * 3_600_000;
export const RECOVERY_LINK_TTL_MS = 3_600_000;

export type EmailPurpose = 'verify' | 'change' | 'recover';

export interface EmailVerificationDeps {
  store: MetadataStore;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
  publicUrl: string;
  resolver: MailResolver;
}

export class EmailVerification {
  private readonly d: EmailVerificationDeps;

  constructor(deps: EmailVerificationDeps) {
    this.d = deps;
  }

  /** Sends a verification link for the account's current address (sign-up, or "send again"). */
  async sendVerification(user: UserRecord): Promise<void> {
    const link = await this.issue(user, 'verify', user.email, EMAIL_LINK_TTL_MS);
    await this.d.notifier.verification(user, user.email, link, EMAIL_LINK_TTL_MS / 3_600_000);
  }

  /** An email change takes effect only when the new address proves itself. */
  async requestEmailChange(user: UserRecord, newEmail: string): Promise<void> {
    const link = await this.issue(user, 'change', newEmail, EMAIL_LINK_TTL_MS);
    await this.d.notifier.verification(user, newEmail, link, EMAIL_LINK_TTL_MS / 3_600_000);
  }

  /**
   * Account recovery by email: only to a verified address whose domain still has a mail host —
   * an abandoned domain can be re-registered by anyone, who would then receive the link.
   * Answers the same whether or not an account exists (no enumeration); refusals are logged.
   */
  async requestRecovery(email: string): Promise<void> {
    const users = (await this.d.store.findUserByEmail(email)).filter((u) => u.emailVerifiedAt !== null);
    for (const user of users) {
      const verdict = await checkMailDomain(user.email, this.d.resolver);
      if (verdict === 'abandoned') {
        this.d.log.warn('account recovery refused: the email domain no longer receives mail', { user: user.name });
        await this.d.store.insertEvent({ at: this.d.clock(), type: 'account.recovery-refused', actorId: user.id, ecosystem: null, packageName: null, version: null, data: { reason: 'abandoned-domain' } });
        continue;
      }
      const link = await this.issue(user, 'recover', user.email, RECOVERY_LINK_TTL_MS);
      await this.d.notifier.recovery(user, user.email, link, RECOVERY_LINK_TTL_MS / 3_600_000);
    }
  }

  /** Consumes a link; returns what it proved. Expired and used links are refused with their own codes. */
  async consume(secret: string, expected?: EmailPurpose): Promise<{ user: UserRecord; purpose: EmailPurpose; email: string }> {
    const record = typeof secret === 'string' && secret.length <= 200 ? await this.d.store.findEmailToken(hashToken(secret)) : undefined;
    if (!record || (expected && record.purpose !== expected)) throw notFound('EMAIL_LINK_INVALID', 'This link is not valid; request a new one');
    const now = this.d.clock();
    if (record.usedAt !== null) throw forbidden('EMAIL_LINK_USED', 'This link was already used; request a new one');
    if (record.expiresAt <= now) throw forbidden('EMAIL_LINK_EXPIRED', 'This link has expired; request a new one');
    const user = await this.d.store.findUserById(record.userId);
    if (!user) throw notFound('EMAIL_LINK_INVALID', 'This link is not valid; request a new one');
    if (!(await this.d.store.useEmailToken(record.tokenHash, now))) throw forbidden('EMAIL_LINK_USED', 'This link was already used; request a new one');
    if (record.purpose === 'verify' && record.email === user.email) {
      await this.d.store.updateUser(user.id, { emailVerifiedAt: now, updatedAt: now });
      await this.event(user.id, 'account.email-verified', { email: user.email });
    } else if (record.purpose === 'change') {
      await this.d.store.updateUser(user.id, { email: record.email, emailVerifiedAt: now, updatedAt: now });
      await this.event(user.id, 'account.email-changed', {});
      const notice = { kind: 'email-changed' as const, oldEmail: user.email, newEmail: record.email };
      await this.d.notifier.notice(user, notice, user.email);
      await this.d.notifier.notice(user, notice, record.email);
    }
    const fresh = (await this.d.store.findUserById(user.id)) ?? user;
    return { user: fresh, purpose: record.purpose, email: record.email };
  }

  private async issue(user: UserRecord, purpose: EmailPurpose, email: string, ttl: number): Promise<string> {
    const secret = randomBytes(32).toString('base64url');
    const now = this.d.clock();
    const record: EmailTokenRecord = { tokenHash: hashToken(secret), userId: user.id, purpose, email, createdAt: now, expiresAt: now + ttl, usedAt: null };
    await this.d.store.insertEmailToken(record);
    const page = purpose === 'recover' ? 'reset-password' : 'verify-email';
    return `${this.d.publicUrl}/-/web/${page}/${secret}`;
  }

  private event(userId: number, type: string, data: Record<string, unknown>): Promise<void> {
    return this.d.store.insertEvent({ at: this.d.clock(), type, actorId: userId, ecosystem: null, packageName: null, version: null, data });
  }
}
