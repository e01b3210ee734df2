// Abandoned-domain check (AUTHN-2.1): before an account is recovered by email, the address's domain
// must still receive mail. A domain that lapsed can be re-registered by anyone, who would then
// receive the recovery mail; so "abandoned" needs positive evidence from DNS (NXDOMAIN, a null MX,
// or no MX, A or AAAA record), while a DNS failure is only "unknown" and the caller decides.
import { Resolver } from 'node:dns/promises';
import { domainToASCII } from 'node:url';
import { invalid } from '../../core/errors.ts';

export interface MailResolver {
  resolveMx(domain: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolve4?(d: string): Promise<string[]>;
  resolve6?(d: string): Promise<string[]>;
}

export type DomainVerdict = 'deliverable' | 'abandoned' | 'unknown';

const DEFAULT_TIMEOUT_MS = 5000;
/** RFC 5321's limits: 64 + '@' + 255, and 253 characters for a domain name without its root dot. */
const MAX_EMAIL_LENGTH = 320;
const MAX_DOMAIN_LENGTH = 253;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** What node:dns reports when the name does not exist at all (NXDOMAIN). */
const NO_SUCH_DOMAIN = 'ENOTFOUND';
/** What node:dns reports when the name exists but has no record of the asked type. */
const NO_SUCH_RECORD = 'ENODATA';
const TIMED_OUT = 'ETIMEOUT';

/** The ASCII (punycode) domain of an email address; refuses anything that is not a DNS host name. */
export function mailDomainOf(email: string): string {
  const refuse = (): never => {
    throw invalid('MAIL_DOMAIN_INVALID', 'The email address has no domain that DNS could resolve');
  };
  if (typeof email !== 'string' || email.length > MAX_EMAIL_LENGTH) return refuse();
  const at = email.lastIndexOf('@');
  if (at < 1 || at === email.length - 1) return refuse();
  const domain = email.slice(at + 1).toLowerCase().replace(/\.$/, '');
  // Only letters, marks, digits, hyphens and dots go on to domainToASCII: it is the URL host
  // parser, which drops tabs and newlines, percent-decodes, and stops at "/", "?" or "#", so
  // "exam\nple.org" or "example.org/x" would otherwise come out as "example.org". This also
  // refuses address literals ([192.0.2.1]), which have no domain to check.
  if (!/^[\p{L}\p{M}\p{N}.-]+$/u.test(domain)) return refuse();
  const ascii = domainToASCII(domain);
  if (ascii === '' || ascii.length > MAX_DOMAIN_LENGTH) return refuse();
  const labels = ascii.split('.');
  if (!labels.every((l) => LABEL.test(l)) || /^[0-9]+$/.test(labels[labels.length - 1] as string)) return refuse();
  return ascii;
}

const codeOf = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

/** The lookup's result, or a rejection with node:dns's ETIMEOUT code once `ms` have passed. */
function lookup<T>(query: () => Promise<T>, ms: number): Promise<T> {
  // Started inside a promise chain so a resolver that throws synchronously still rejects.
  const answer = Promise.resolve().then(query);
  // The lookup may settle after the timeout; that outcome is deliberately ignored.
  answer.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('DNS lookup timed out'), { code: TIMED_OUT })), ms);
  });
  return Promise.race([answer, timeout]).finally(() => clearTimeout(timer));
}

/** A null MX (RFC 7505) is the single exchange "." — node:dns reports it as "". */
const isNullMx = (exchange: string): boolean => exchange === '' || exchange === '.';

async function addressVerdict(domain: string, resolver: MailResolver, timeoutMs: number): Promise<DomainVerdict> {
  const queries = [resolver.resolve4, resolver.resolve6].filter((q) => q !== undefined);
  const results = await Promise.allSettled(queries.map((q) => lookup(() => q.call(resolver, domain), timeoutMs)));
  if (results.some((r) => r.status === 'fulfilled' && Array.isArray(r.value) && r.value.length > 0)) return 'deliverable';
  // A resolver without both lookups can show an address exists, never that none does.
  if (queries.length < 2) return 'unknown';
  const absent = results.every((r) =>
    r.status === 'fulfilled' ? Array.isArray(r.value) : codeOf(r.reason) === NO_SUCH_RECORD || codeOf(r.reason) === NO_SUCH_DOMAIN);
  return absent ? 'abandoned' : 'unknown';
}

/**
 * MX records (not the null MX "." of RFC 7505) → deliverable; NXDOMAIN or only a null MX →
 * abandoned; no MX but an A/AAAA record → deliverable (implicit MX, RFC 5321 §5.1); no MX and no
 * address → abandoned; timeouts, SERVFAIL, refusals and anything unexpected → unknown.
 */
export async function checkMailDomain(email: string, resolver: MailResolver, options: { timeoutMs?: number } = {}): Promise<DomainVerdict> {
  const domain = mailDomainOf(email);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw invalid('MAIL_DOMAIN_TIMEOUT_INVALID', 'The DNS timeout must be a positive integer (ms)');
  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = await lookup(() => resolver.resolveMx(domain), timeoutMs);
  } catch (e) {
    const code = codeOf(e);
    if (code === NO_SUCH_DOMAIN) return 'abandoned';
    if (code !== NO_SUCH_RECORD) return 'unknown';
    records = [];
  }
  if (!Array.isArray(records) || !records.every((r) => typeof r?.exchange === 'string')) return 'unknown';
  if (records.some((r) => !isNullMx(r.exchange))) return 'deliverable';
  if (records.length > 0) return 'abandoned';
  return addressVerdict(domain, resolver, timeoutMs);
}

/**
 * A MailResolver over node:dns: the system's name servers, or `servers` ("127.0.0.1:5353") when
 * given. Each query is bounded by `timeoutMs` × `tries`; checkMailDomain's timeout bounds the whole.
 */
export function createMailResolver(options: { servers?: string[]; timeoutMs?: number; tries?: number } = {}): MailResolver {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
  if (options.servers !== undefined) resolver.setServers(options.servers);
  return {
    resolveMx: (domain) => resolver.resolveMx(domain),
    resolve4: (domain) => resolver.resolve4(domain),
    resolve6: (domain) => resolver.resolve6(domain),
  };
}

export const systemResolver: MailResolver = createMailResolver();
