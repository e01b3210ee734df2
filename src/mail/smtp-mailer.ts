// Delivery through an SMTP server (nodemailer). Every failure becomes MAIL_UNAVAILABLE with the
// server's scheme, host and port and nodemailer's error code: never the URL's credentials, and never
// nodemailer's own message, which may quote the SMTP dialogue.
import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import { AttestryError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { checkMessage, messageOptions, newMessageId, parseSender } from './compose.ts';
import type { Sender } from './compose.ts';
import { recipientDomain } from './mailer.ts';
import type { MailMessage, Mailer, MailerOptions } from './mailer.ts';
import { describeSmtp, parseSmtpUrl } from './smtp-url.ts';

export interface SmtpMailerOptions extends MailerOptions {
  /** Upper bound for one send: connecting, the greeting, any silence, and the whole exchange. */
  timeoutMs?: number;
}

export const DEFAULT_SMTP_TIMEOUT_MS = 30_000;

export class SmtpMailer implements Mailer {
  readonly #transport: Transporter;
  readonly #sender: Sender;
  readonly #server: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger | undefined;

  constructor(url: string, from: string, options: SmtpMailerOptions = {}) {
    const settings = parseSmtpUrl(url);
    this.#sender = parseSender(from);
    this.#server = describeSmtp(settings);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_SMTP_TIMEOUT_MS;
    this.#logger = options.logger;
    this.#transport = nodemailer.createTransport({
      host: settings.host,
      port: settings.port,
      secure: settings.secure,
      requireTLS: settings.requireTLS,
      ...(settings.auth === undefined ? {} : { auth: settings.auth }),
      tls: { minVersion: 'TLSv1.2' },
      connectionTimeout: this.#timeoutMs,
      greetingTimeout: this.#timeoutMs,
      socketTimeout: this.#timeoutMs,
      dnsTimeout: this.#timeoutMs,
      logger: false,
      debug: false,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
  }

  async send(message: MailMessage): Promise<{ messageId: string }> {
    checkMessage(message);
    const messageId = newMessageId(this.#sender);
    const fields = { template: message.template, recipientDomain: recipientDomain(message.to) };
    try {
      await this.#transport.sendMail({
        ...messageOptions(this.#sender, message, messageId, new Date()),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      const reason = failureReason(e);
      this.#logger?.warn('mail not sent', { ...fields, server: this.#server, reason });
      throw new AttestryError('unavailable', 'MAIL_UNAVAILABLE', `could not send mail through ${this.#server} (${reason})`);
    }
    this.#logger?.info('mail sent', { ...fields, messageId });
    return { messageId };
  }

  close(): void {
    this.#transport.close();
  }
}

/** nodemailer's error code and the SMTP reply code: enough to diagnose, nothing quoted. */
function failureReason(e: unknown): string {
  const { code, responseCode, name } = (e ?? {}) as { code?: unknown; responseCode?: unknown; name?: unknown };
  const parts = [
    name === 'AbortError' || name === 'TimeoutError' ? 'ETIMEDOUT' : typeof code === 'string' && /^E[A-Z]{1,20}$/.test(code) ? code : 'error',
  ];
  if (typeof responseCode === 'number' && Number.isInteger(responseCode)) parts.push(String(responseCode));
  return parts.join(' ');
}
