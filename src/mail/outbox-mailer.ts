// Development and test delivery: each message becomes <dir>/<time>-<template>-<random>.eml, the same
// RFC 5322 bytes SMTP would carry. Written to a dot-named temp file and renamed, so a reader polling
// the directory for *.eml never sees half a message.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import MailComposer from 'nodemailer/lib/mail-composer';
import { AttestryError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { checkMessage, messageOptions, newMessageId, parseSender } from './compose.ts';
import type { Sender } from './compose.ts';
import { recipientDomain } from './mailer.ts';
import type { MailMessage, Mailer, MailerOptions } from './mailer.ts';

export class OutboxMailer implements Mailer {
  readonly dir: string;
  readonly #sender: Sender;
  readonly #logger: Logger | undefined;
  #lastStamp = 0;

  constructor(dir: string, from: string, options: MailerOptions = {}) {
    this.dir = dir;
    this.#sender = parseSender(from);
    this.#logger = options.logger;
  }

  async send(message: MailMessage): Promise<{ messageId: string }> {
    checkMessage(message);
    const now = new Date();
    const messageId = newMessageId(this.#sender);
    const bytes = await new MailComposer(messageOptions(this.#sender, message, messageId, now)).compile().build();
    const name = `${this.#stamp(now.getTime())}-${message.template}-${randomBytes(6).toString('hex')}.eml`;
    const temp = join(this.dir, `.${name}.tmp`);
    try {
      await mkdir(this.dir, { recursive: true });
      const file = await open(temp, 'wx', 0o600);
      try {
        await file.writeFile(bytes);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, join(this.dir, name));
    } catch (e) {
      await rm(temp, { force: true }).catch(() => undefined);
      const reason = (e as NodeJS.ErrnoException).code ?? 'error';
      this.#logger?.warn('mail not written', { template: message.template, recipientDomain: recipientDomain(message.to), reason });
      throw new AttestryError('unavailable', 'MAIL_UNAVAILABLE', `could not write to the mail outbox (${reason})`);
    }
    this.#logger?.info('mail written to outbox', { template: message.template, recipientDomain: recipientDomain(message.to), messageId, file: name });
    return { messageId };
  }

  /** Nothing to release; present so both mailers shut down alike. */
  close(): void {}

  /**
   * ISO 8601 basic format (no colons, so the name is valid on every filesystem), strictly increasing
   * within this process so that sorting names sorts messages in the order they were sent.
   */
  #stamp(ms: number): string {
    this.#lastStamp = Math.max(ms, this.#lastStamp + 1);
    return new Date(this.#lastStamp).toISOString().replace(/[-:]/g, '');
  }
}
