// Mail to people about their own accounts: the verification link, and a notice for every
// critical change (AUTHN-1.4). Sending never fails the change itself — a mail outage must not
// stop a password change — but it is logged (recipient domain and template only).
import type { Logger } from '../logger.ts';
import type { UserRecord } from '../../storage/metadata/store.ts';
import type { Mailer } from '../../mail/mailer.ts';
import { recipientDomain } from '../../mail/mailer.ts';
import { recoveryMail, securityNoticeMail, verificationMail, type SecurityNotice } from '../../mail/templates.ts';

export type { SecurityNotice };

export class Notifier {
  private readonly mailer: Mailer;
  private readonly log: Logger;
  private readonly settingsUrl: string;

  constructor(mailer: Mailer, log: Logger, publicUrl: string) {
    this.mailer = mailer;
    this.log = log;
    this.settingsUrl = `${publicUrl}/-/web/account`;
  }

  async verification(user: Pick<UserRecord, 'name'>, to: string, link: string, expiresInHours: number): Promise<void> {
    await this.deliver(verificationMail(to, user.name, link, expiresInHours));
  }

  async recovery(user: Pick<UserRecord, 'name'>, to: string, link: string, expiresInHours: number): Promise<void> {
    await this.deliver(recoveryMail(to, user.name, link, expiresInHours));
  }

  /** `to` defaults to the account's address; an email change notifies the old and the new one. */
  async notice(user: Pick<UserRecord, 'name' | 'email'>, notice: SecurityNotice, to: string = user.email): Promise<void> {
    await this.deliver(securityNoticeMail(to, user.name, notice, new Date(), this.settingsUrl));
  }

  private async deliver(message: Parameters<Mailer['send']>[0]): Promise<void> {
    try {
      const { messageId } = await this.mailer.send(message);
      this.log.info('mail sent', { template: message.template, domain: recipientDomain(message.to), messageId });
    } catch (e) {
      this.log.error('mail could not be sent', { template: message.template, domain: recipientDomain(message.to), error: (e as Error).message });
    }
  }
}
