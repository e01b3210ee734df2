// Turns a MailMessage into nodemailer's message options, refusing anything that could add a
// recipient or a header: templates interpolate user-controlled values, and a comma or a line break
// in the wrong field would send a one-time link to someone else.
import { randomUUID } from 'node:crypto';
import type { Address, Options as SendMailOptions } from 'nodemailer/lib/mailer';
import { invalid } from '../core/errors.ts';
import type { MailMessage } from './mailer.ts';

/** One bare mailbox: no display name, comments, groups, lists or quoting. */
const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+$/;
const MAX_ADDRESS_LENGTH = 254;
const MAX_SUBJECT_LENGTH = 250;
const TEMPLATE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const HEADER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Headers the mailer owns; a message may not set them through `headers`. */
const RESERVED_HEADERS = new Set([
  'from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'subject', 'date', 'message-id', 'mime-version',
  'content-type', 'content-transfer-encoding', 'content-disposition', 'x-attestry-template', 'auto-submitted',
  'in-reply-to', 'references', 'return-path', 'received',
]);

export const TEMPLATE_HEADER = 'X-Attestry-Template';

export interface Sender {
  address: Address;
  /** The domain Message-IDs are minted under. */
  domain: string;
}

/** Parses `mail.from`: `Name <addr@host>` or `addr@host`. */
export function parseSender(from: string): Sender {
  const m = /^\s*(?:(.*?)\s*<([^<>]+)>|([^<>]+?))\s*$/.exec(from);
  const name = (m?.[1] ?? '').replace(/^"(.*)"$/, '$1');
  const address = m?.[2] ?? m?.[3] ?? '';
  if (!ADDRESS.test(address) || address.length > MAX_ADDRESS_LENGTH || CONTROL.test(name)) {
    throw invalid('MAIL_CONFIG_INVALID', 'mail.from must be "Name <address@host>" or "address@host"');
  }
  return { address: { name, address }, domain: address.slice(address.lastIndexOf('@') + 1) };
}

export function checkRecipient(to: string): void {
  if (to.length > MAX_ADDRESS_LENGTH || !ADDRESS.test(to)) {
    throw invalid('MAIL_RECIPIENT_INVALID', 'the recipient must be a single plain email address');
  }
}

export function checkMessage(message: MailMessage): void {
  checkRecipient(message.to);
  if (!TEMPLATE.test(message.template)) throw invalid('MAIL_TEMPLATE_INVALID', 'template names are lowercase words joined by hyphens');
  if (message.subject.length === 0 || message.subject.length > MAX_SUBJECT_LENGTH || CONTROL.test(message.subject)) {
    throw invalid('MAIL_HEADER_INVALID', 'the subject must be one non-empty line');
  }
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (!HEADER_NAME.test(name) || RESERVED_HEADERS.has(name.toLowerCase()) || CONTROL.test(value) || value.length > 900) {
      throw invalid('MAIL_HEADER_INVALID', `header ${HEADER_NAME.test(name) ? name : '(malformed name)'} may not be set`);
    }
  }
}

export function newMessageId(sender: Sender): string {
  return `<${randomUUID()}@${sender.domain}>`;
}

/** The nodemailer options for one message; the same shape goes to SMTP and to the outbox. */
export function messageOptions(sender: Sender, message: MailMessage, messageId: string, date: Date): SendMailOptions {
  return {
    from: sender.address,
    to: message.to,
    subject: message.subject,
    // A message body ends with a line break (nodemailer adds one to single-part messages anyway);
    // adding it here makes text-only and text+html messages read back the same.
    text: message.text.endsWith('\n') ? message.text : `${message.text}\n`,
    ...(message.html === undefined ? {} : { html: message.html }),
    messageId,
    date,
    headers: { ...message.headers, [TEMPLATE_HEADER]: message.template, 'Auto-Submitted': 'auto-generated' },
    // Quoted-printable keeps long lines (links) under the 998-octet limit and the text readable.
    encoding: 'quoted-printable',
    newline: 'win',
    xMailer: false,
    maxRecipients: 1,
    // Content is always a string; never let a value be read as a file path or a URL to fetch.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}
