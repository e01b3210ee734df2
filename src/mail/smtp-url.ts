// `mail.smtpUrl` → SMTP connection settings. Parsed here rather than by nodemailer, whose URL form
// accepts any transport option as a query parameter (including turning certificate checks off).
import { invalid } from '../core/errors.ts';

export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the first byte (smtps://, port 465 by default). */
  secure: boolean;
  /** Refuse to continue unless STARTTLS succeeds (smtp:// only). */
  requireTLS: boolean;
  auth: { user: string; pass: string } | undefined;
}

const refuse = (why: string) =>
  invalid('MAIL_CONFIG_INVALID', `mail.smtpUrl ${why}: expected smtp://[user:password@]host[:port] or smtps://…`);

/**
 * Credentials never cross the network in clear to another host: when the URL carries a password
 * and the host is not loopback, smtp:// requires STARTTLS. `?requireTLS=false` opts out (a relay on
 * a private network without TLS), `?requireTLS=true` opts in without credentials.
 */
export function parseSmtpUrl(url: string): SmtpSettings {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw refuse('is not a URL');
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw refuse('has an unsupported scheme');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw refuse('has no host');
  if ((u.pathname !== '' && u.pathname !== '/') || u.hash !== '') throw refuse('has a path or fragment');
  for (const key of u.searchParams.keys()) if (key !== 'requireTLS') throw refuse('has an unknown parameter');
  const requireParam = u.searchParams.get('requireTLS');
  if (requireParam !== null && requireParam !== 'true' && requireParam !== 'false') throw refuse('has requireTLS other than true or false');
  const secure = u.protocol === 'smtps:';
  const auth = u.username === '' && u.password === '' ? undefined : { user: decode(u.username), pass: decode(u.password) };
  const requireTLS = !secure && (requireParam === null ? auth !== undefined && !isLoopback(host) : requireParam === 'true');
  return { host, port: u.port === '' ? (secure ? 465 : 587) : Number(u.port), secure, requireTLS, auth };
}

/** The URL as it may appear in logs and errors: scheme, host and port. */
export function describeSmtp(settings: SmtpSettings): string {
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return `${settings.secure ? 'smtps' : 'smtp'}://${host}:${settings.port}`;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw refuse('has a malformed percent-encoding in its credentials');
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}
