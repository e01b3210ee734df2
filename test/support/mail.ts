// Reading the mail Attestry sends, the way a recipient would: from the outbox directory
// (ATTESTRY_MAIL_OUTBOX) or from a real SMTP receiver on loopback. Messages are parsed from their
// bytes (headers unfolded, RFC 2047 words and quoted-printable/base64 bodies decoded, multipart
// walked) rather than trusted from whatever produced them.
import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** The outbox file name (outbox only). */
  file?: string;
  /** The To header's address(es), without display names. */
  to: string;
  /** The From header, decoded (`Name <address>`). */
  from: string;
  subject: string;
  /** The text/plain part, line breaks as `\n`. */
  text: string;
  /** The text/html part, when there is one. */
  html?: string;
  /** The X-Attestry-Template header. */
  template: string | null;
  /** Every header, names lowercased, values unfolded and decoded; repeated headers joined by `\n`. */
  headers: Record<string, string>;
  /** SMTP only: the envelope the client gave. */
  envelope?: { from: string; to: string[] };
}

const POLL_MS = 25;
const DEFAULT_TIMEOUT_MS = 5_000;

/** Reads every .eml in the outbox dir, parsed, oldest first (the outbox names sort by time). */
export function readOutbox(dir: string): ReceivedMail[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const mails: ReceivedMail[] = [];
  // Temp files are dot-named and do not end in .eml: only complete messages are read.
  for (const name of names.filter((n) => n.endsWith('.eml') && !n.startsWith('.')).sort()) {
    let raw: Buffer;
    try {
      raw = readFileSync(join(dir, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed while we listed
      throw e;
    }
    mails.push({ file: name, ...parseMail(raw) });
  }
  return mails;
}

/** Polls the outbox until a message matching `match` appears; throws with the list of what did arrive. */
export async function waitForMail(dir: string, match: (m: ReceivedMail) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ReceivedMail> {
  return poll(() => readOutbox(dir), match, timeoutMs, `the outbox ${dir}`);
}

/** The first http(s) link in a mail's text (the first matching `pattern`, when given). */
export function linkIn(mail: ReceivedMail, pattern?: RegExp): string {
  for (const m of mail.text.matchAll(/https?:\/\/[^\s<>"']+/g)) {
    const link = m[0].replace(/[.,;:!?)\]]+$/, '');
    if (pattern === undefined || pattern.test(link)) return link;
  }
  throw new Error(`no link${pattern === undefined ? '' : ` matching ${pattern}`} in the mail "${mail.subject}" to ${mail.to}`);
}

export interface SmtpReceiver {
  /** smtp://user:pass@127.0.0.1:<port> */
  url: string;
  messages: ReceivedMail[];
  /** Every AUTH the receiver was offered, accepted or not. */
  logins: { username: string; password: string }[];
  waitFor(match: (m: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

export interface SmtpReceiverOptions {
  /** Answer every AUTH with 535 (a server that refuses the configured credentials). */
  rejectAuth?: boolean;
}

/**
 * A real SMTP receiver on loopback, no STARTTLS (nothing to trust on loopback), requiring AUTH and
 * accepting any credentials unless told to refuse them.
 */
export async function startSmtpReceiver(options: SmtpReceiverOptions = {}): Promise<SmtpReceiver> {
  const messages: ReceivedMail[] = [];
  const logins: { username: string; password: string }[] = [];
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authOptional: false,
    authMethods: ['PLAIN', 'LOGIN'],
    size: 1024 * 1024,
    onAuth(auth, _session, callback) {
      logins.push({ username: auth.username ?? '', password: auth.password ?? '' });
      if (options.rejectAuth === true) callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
      else callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', callback);
      stream.on('end', () => {
        const from = session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address;
        messages.push({ ...parseMail(Buffer.concat(chunks)), envelope: { from, to: session.envelope.rcptTo.map((r) => r.address) } });
        callback(null);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://user:pass@127.0.0.1:${port}`,
    messages,
    logins,
    waitFor: (match, timeoutMs = DEFAULT_TIMEOUT_MS) => poll(() => messages, match, timeoutMs, `the SMTP receiver on port ${port}`),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function poll(read: () => ReceivedMail[], match: (m: ReceivedMail) => boolean, timeoutMs: number, where: string): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mails = read();
    const found = mails.find(match);
    if (found !== undefined) return found;
    if (Date.now() >= deadline) {
      const arrived = mails.map((m) => `  [${m.template ?? '?'}] to ${m.to}: ${m.subject}`).join('\n');
      throw new Error(`no matching mail arrived in ${where} within ${timeoutMs} ms; arrived:\n${arrived || '  (nothing)'}`);
    }
    await sleep(POLL_MS);
  }
}

/** Parses one RFC 5322 message (the bytes of an .eml file or an SMTP DATA payload). */
export function parseMail(raw: Buffer): Omit<ReceivedMail, 'file' | 'envelope'> {
  // latin1 maps bytes 1:1 to code units, so bodies can be split and decoded byte-exactly.
  const [head, body] = splitEntity(raw.toString('latin1'));
  const headers = parseHeaders(head);
  const parts: { text?: string; html?: string } = {};
  collectParts(headers, body, parts);
  const to = headers['to'] ?? '';
  const addresses = [...to.matchAll(/<([^<>]*)>/g)].map((m) => m[1]);
  return {
    to: addresses.length > 0 ? addresses.join(', ') : to.trim(),
    from: headers['from'] ?? '',
    subject: headers['subject'] ?? '',
    text: parts.text ?? '',
    ...(parts.html === undefined ? {} : { html: parts.html }),
    template: headers['x-attestry-template'] ?? null,
    headers,
  };
}

function splitEntity(entity: string): [string, string] {
  const m = /\r?\n\r?\n/.exec(entity);
  return m === null ? [entity, ''] : [entity.slice(0, m.index), entity.slice(m.index + m[0].length)];
}

function parseHeaders(head: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r?\n(?=[ \t])/g, '').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = decodeWords(Buffer.from(line.slice(colon + 1).trim(), 'latin1').toString('utf8'));
    headers[name] = name in headers ? `${headers[name]}\n${value}` : value;
  }
  return headers;
}

/** RFC 2047: adjacent encoded words of one charset are joined as bytes (a character may span two). */
function decodeWords(value: string): string {
  const WORD = /=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=/g;
  let out = '';
  let last = 0;
  let pending: { charset: string; bytes: Buffer[] } | null = null;
  const flush = () => {
    if (pending !== null) out += decodeText(Buffer.concat(pending.bytes), pending.charset);
    pending = null;
  };
  for (const m of value.matchAll(WORD)) {
    const [, rawCharset = '', encoding = '', data = ''] = m;
    const charset = rawCharset.replace(/\*.*$/, '').toLowerCase();
    const between = value.slice(last, m.index);
    if (pending === null || !/^[ \t]*$/.test(between) || pending.charset !== charset) {
      flush();
      out += between;
    }
    const bytes = encoding.toUpperCase() === 'B' ? Buffer.from(data, 'base64') : qpBytes(data.replace(/_/g, ' '));
    pending ??= { charset, bytes: [] };
    pending.bytes.push(bytes);
    last = m.index + m[0].length;
  }
  flush();
  return out + value.slice(last);
}

function parseContentType(value: string): { type: string; params: Record<string, string> } {
  const [type = '', ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const m of rest.join(';').matchAll(/\s*([^=\s;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)/g)) {
    const [, key = '', raw = ''] = m;
    params[key.toLowerCase()] = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
  }
  return { type: type.trim().toLowerCase(), params };
}

function collectParts(headers: Record<string, string>, body: string, into: { text?: string; html?: string }): void {
  const { type, params } = parseContentType(headers['content-type'] ?? 'text/plain; charset=us-ascii');
  if (type.startsWith('multipart/')) {
    for (const part of multipartBodies(body, params['boundary'] ?? '')) {
      const [head, partBody] = splitEntity(part);
      collectParts(parseHeaders(head), partBody, into);
    }
    return;
  }
  if (/^\s*attachment/i.test(headers['content-disposition'] ?? '')) return;
  const key = type === 'text/plain' ? 'text' : type === 'text/html' ? 'html' : null;
  if (key === null || into[key] !== undefined) return;
  const bytes = transferDecode(body, (headers['content-transfer-encoding'] ?? '7bit').trim().toLowerCase());
  into[key] = decodeText(bytes, params['charset'] ?? 'us-ascii').replace(/\r\n/g, '\n');
}

/** The bodies between `--boundary` lines, up to `--boundary--`; the CRLF before a delimiter is the delimiter's. */
function multipartBodies(body: string, boundary: string): string[] {
  if (boundary === '') throw new Error('multipart message without a boundary');
  const escaped = boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const delimiter = new RegExp(`(?:^|\\r?\\n)--${escaped}(--)?[ \\t]*(?:\\r?\\n|$)`, 'g');
  const parts: string[] = [];
  let start = -1;
  for (const m of body.matchAll(delimiter)) {
    if (start >= 0) parts.push(body.slice(start, m.index));
    if (m[1] === '--') return parts;
    start = m.index + m[0].length;
  }
  throw new Error(`multipart message without its closing boundary ${boundary}`);
}

function transferDecode(body: string, encoding: string): Buffer {
  if (encoding === 'quoted-printable') return qpBytes(body.replace(/=[ \t]*\r?\n/g, ''));
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64');
  return Buffer.from(body, 'latin1');
}

function qpBytes(latin1: string): Buffer {
  const out = Buffer.allocUnsafe(latin1.length);
  let n = 0;
  for (let i = 0; i < latin1.length; i++) {
    const hi = latin1.charCodeAt(i) === 0x3d ? hexValue(latin1.charCodeAt(i + 1)) : -1;
    const lo = hi < 0 ? -1 : hexValue(latin1.charCodeAt(i + 2));
    if (lo >= 0) {
      out[n++] = hi * 16 + lo;
      i += 2;
    } else {
      out[n++] = latin1.charCodeAt(i);
    }
  }
  return out.subarray(0, n);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function decodeText(bytes: Buffer, charset: string): string {
  const label = charset.toLowerCase() === 'us-ascii' ? 'utf-8' : charset;
  return new TextDecoder(label, { fatal: true }).decode(bytes);
}
