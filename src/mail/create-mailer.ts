// Picks the mailer from configuration: the outbox directory (development, tests) or SMTP. Both at
// once is refused rather than guessed at, because one of them would silently not deliver.
import { invalid } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { defaultFrom } from './mailer.ts';
import type { Mailer } from './mailer.ts';
import { OutboxMailer } from './outbox-mailer.ts';
import { SmtpMailer } from './smtp-mailer.ts';

export interface MailSettings {
  /** `mailOutbox` / ATTESTRY_MAIL_OUTBOX */
  outboxDir?: string | undefined;
  /** `mail.smtpUrl` */
  smtpUrl?: string | undefined;
  /** `mail.from`; defaults to `Attestry <noreply@<publicUrl host>>` */
  from?: string | undefined;
  publicUrl: string;
  smtpTimeoutMs?: number | undefined;
}

/** The configured mailer with a `close` for shutdown, or null when mail is not configured. */
export function createMailer(settings: MailSettings, logger?: Logger): (Mailer & { close(): void }) | null {
  const from = settings.from ?? defaultFrom(settings.publicUrl);
  const common = logger === undefined ? {} : { logger };
  if (settings.outboxDir !== undefined && settings.smtpUrl !== undefined) {
    throw invalid('MAIL_CONFIG_INVALID', 'set either mailOutbox or mail.smtpUrl, not both');
  }
  if (settings.outboxDir !== undefined) {
    return new OutboxMailer(settings.outboxDir, from, common);
  }
  if (settings.smtpUrl !== undefined) {
    return new SmtpMailer(settings.smtpUrl, from, { ...common, ...(settings.smtpTimeoutMs === undefined ? {} : { timeoutMs: settings.smtpTimeoutMs }) });
  }
  return null;
}
