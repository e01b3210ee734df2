// IPv4 CIDR allow-lists for tokens (what `npm token create --cidr` sends).
import { isIPv4 } from 'node:net';
import { invalid } from '../../core/errors.ts';

const MAX_ENTRIES = 32;

function toInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => (acc << 8) + Number(part), 0) >>> 0;
}

export function parseCidrList(list: unknown): string[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list) || list.length > MAX_ENTRIES) throw invalid('BAD_CIDR', `cidr_whitelist must be a list of at most ${MAX_ENTRIES} IPv4 CIDRs`);
  return list.map((entry) => {
    const m = typeof entry === 'string' ? /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(entry) : null;
    if (!m || !isIPv4(m[1] as string) || Number(m[2]) > 32) throw invalid('BAD_CIDR', `Not an IPv4 CIDR: ${String(entry).slice(0, 50)}`);
    return entry as string;
  });
}

/** Whether `address` (as the socket reports it, possibly IPv4-mapped IPv6) is inside one of `cidrs`. */
export function addressAllowed(address: string, cidrs: readonly string[]): boolean {
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (!isIPv4(ip)) return false;
  const n = toInt(ip);
  return cidrs.some((c) => {
    const [base, bits] = c.split('/') as [string, string];
    const b = Number(bits);
    const mask = b === 0 ? 0 : (~0 << (32 - b)) >>> 0;
    return (n & mask) === (toInt(base) & mask);
  });
}
