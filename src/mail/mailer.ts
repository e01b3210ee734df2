// The mail port. Core code sends through `Mailer`; app.ts picks the implementation (an outbox
// directory for development and tests, or SMTP). Message bodies carry one-time links, so nothing
// here logs them: a sent message is logged as recipient domain + template + message id.
import type { Logger } from '../core/logger.ts';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** The template that produced the message, for logs and tests (e.g. 'verify-email'). */
  template: string;
  headers?: Record<string, string>;
}

export interface Mailer {
  send(message: MailMessage): Promise<{ messageId: string }>;
}

/** What both mailers accept besides their destination. */
export interface MailerOptions {
  logger?: Logger;
}

/** `Attestry <noreply@host>` for the registry's public URL: the default `mail.from`. */
export function defaultFrom(publicUrl: string): string {
  return `Attestry <noreply@${new URL(publicUrl).hostname}>`;
}

/** The part of an address that is safe to log: who runs the mailbox, not whose it is. */
export function recipientDomain(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}
