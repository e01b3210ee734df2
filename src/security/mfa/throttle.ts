// Brute-force limits with backoff (AUTHN-1.5), as pure state transitions: the caller stores one
// ThrottleState per key (an account, or a client address) and kind of secret, checks it before
// verifying a secret, records each failure, and deletes the state on success or on an admin unlock.
//
// Within a window: the first `freeFailures` failures cost nothing; each further one doubles a delay
// from `baseDelayMs` up to `maxDelayMs`; at `lockoutAfter` failures the key is locked for
// `lockoutMs`, and every failure after that locks it again for twice as long, up to `windowMs`.
// The count starts over only once `windowMs` has passed with no failure and no delay or lock in
// force, so a patient attacker gets a handful of guesses a day while a user who mistypes twice a
// day never notices.
import { isIPv4, isIPv6 } from 'node:net';
import { invalid } from '../../core/errors.ts';

export type ThrottleKind = 'password' | 'totp' | 'recovery';

export interface ThrottlePolicy {
  freeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  lockoutAfter: number;
  lockoutMs: number;
  windowMs: number;
}

export interface ThrottleState {
  failures: number;
  firstFailureAt: number;
  lockedUntil: number | null;
  nextAllowedAt: number;
}

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAt: number; locked: boolean };

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * Per-address limits are looser than per-account ones: one address may be a NAT or an office in
 * front of many honest users, while the account limit is what actually stops guessing one secret.
 * Second factors are stricter than passwords: a 6-digit code (3 of them valid at any moment) is a
 * far smaller space, and a user who is asked for one already proved the password.
 */
export const THROTTLE_POLICIES: Record<ThrottleKind, { account: ThrottlePolicy; address: ThrottlePolicy }> = deepFreeze({
  password: {
    account: { freeFailures: 5, baseDelayMs: SECOND, maxDelayMs: 15 * MINUTE, lockoutAfter: 10, lockoutMs: 15 * MINUTE, windowMs: HOUR },
    address: { freeFailures: 20, baseDelayMs: SECOND, maxDelayMs: 5 * MINUTE, lockoutAfter: 100, lockoutMs: 30 * MINUTE, windowMs: HOUR },
  },
  totp: {
    account: { freeFailures: 3, baseDelayMs: 2 * SECOND, maxDelayMs: 5 * MINUTE, lockoutAfter: 5, lockoutMs: 30 * MINUTE, windowMs: 12 * HOUR },
    address: { freeFailures: 10, baseDelayMs: SECOND, maxDelayMs: 5 * MINUTE, lockoutAfter: 30, lockoutMs: 30 * MINUTE, windowMs: HOUR },
  },
  recovery: {
    account: { freeFailures: 2, baseDelayMs: 2 * SECOND, maxDelayMs: 5 * MINUTE, lockoutAfter: 5, lockoutMs: HOUR, windowMs: 24 * HOUR },
    address: { freeFailures: 5, baseDelayMs: 2 * SECOND, maxDelayMs: 5 * MINUTE, lockoutAfter: 20, lockoutMs: HOUR, windowMs: 24 * HOUR },
  },
});

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) if (typeof inner === 'object' && inner !== null) deepFreeze(inner as object);
  return Object.freeze(value);
}

const KINDS: readonly string[] = ['password', 'totp', 'recovery'];

function assertTime(now: number): void {
  if (!Number.isFinite(now)) throw invalid('THROTTLE_TIME_INVALID', 'The throttle clock must be a finite number of milliseconds');
}

/** Refuses a policy that would not throttle, or would overflow; for policies read from config. */
export function validateThrottlePolicy(policy: ThrottlePolicy): void {
  const counts = [policy.freeFailures, policy.lockoutAfter];
  const durations = [policy.baseDelayMs, policy.maxDelayMs, policy.lockoutMs, policy.windowMs];
  const ok =
    [...counts, ...durations].every((n) => Number.isSafeInteger(n) && n >= 0) &&
    policy.lockoutAfter >= 1 &&
    policy.lockoutMs >= 1 &&
    policy.windowMs >= 1 &&
    policy.maxDelayMs >= policy.baseDelayMs;
  if (!ok) throw invalid('THROTTLE_POLICY_INVALID', 'A throttle policy needs non-negative integers, lockoutAfter ≥ 1, lockoutMs ≥ 1, windowMs ≥ 1 and maxDelayMs ≥ baseDelayMs');
}

/** Whether an attempt may be made now; if not, when (ms) it may. */
export function throttleCheck(state: ThrottleState | undefined, now: number): ThrottleDecision {
  assertTime(now);
  if (state === undefined) return { allowed: true };
  if (state.lockedUntil !== null && now < state.lockedUntil) return { allowed: false, retryAt: state.lockedUntil, locked: true };
  if (now < state.nextAllowedAt) return { allowed: false, retryAt: state.nextAllowedAt, locked: false };
  return { allowed: true };
}

/** The moment since which nothing has restricted the key: the window is measured from there. */
function quietSince(state: ThrottleState): number {
  return Math.max(state.firstFailureAt, state.nextAllowedAt, state.lockedUntil ?? -Infinity);
}

function lockFor(failures: number, policy: ThrottlePolicy): number {
  const exponent = Math.min(failures - policy.lockoutAfter, 52);
  return Math.max(policy.lockoutMs, Math.min(policy.windowMs, policy.lockoutMs * 2 ** exponent));
}

function delayFor(failures: number, policy: ThrottlePolicy): number {
  if (failures <= policy.freeFailures) return 0;
  // Capping the exponent keeps 2^n finite (0 × Infinity would be NaN for a zero base delay).
  const exponent = Math.min(failures - policy.freeFailures - 1, 52);
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
}

/** New state after a failure (the count starts over after windowMs without failures or restrictions). */
export function throttleFailure(state: ThrottleState | undefined, policy: ThrottlePolicy, now: number): ThrottleState {
  assertTime(now);
  validateThrottlePolicy(policy);
  const previous = state !== undefined && now - quietSince(state) < policy.windowMs ? state : undefined;
  const failures = (previous?.failures ?? 0) + 1;
  const firstFailureAt = previous?.firstFailureAt ?? now;
  // Concurrent attempts can both pass the check; a restriction already in force is never shortened.
  const earlierLock = previous?.lockedUntil ?? null;
  const earlierNext = previous?.nextAllowedAt ?? now;
  if (failures >= policy.lockoutAfter) {
    const lockedUntil = Math.max(now + lockFor(failures, policy), earlierLock ?? -Infinity);
    return { failures, firstFailureAt, lockedUntil, nextAllowedAt: Math.max(lockedUntil, earlierNext) };
  }
  return { failures, firstFailureAt, lockedUntil: earlierLock, nextAllowedAt: Math.max(now + delayFor(failures, policy), earlierNext) };
}

function userPart(userId: number | null): string | null {
  if (userId === null) return null;
  if (!Number.isSafeInteger(userId) || userId < 0) throw invalid('THROTTLE_USER_INVALID', 'A throttle key needs a non-negative integer user id');
  return String(userId);
}

/** The eight 16-bit groups of an IPv6 address already validated by isIPv6, or null. */
function hextets(address: string): number[] | null {
  // A dotted IPv4 tail (::ffff:1.2.3.4) is rewritten as the two groups it stands for.
  const text = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`);
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const left = parse(halves[0] ?? '');
  const right = halves.length === 2 ? parse(halves[1] ?? '') : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...left, ...Array<number>(missing).fill(0), ...right];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/**
 * IPv4 as is; IPv6 by its /64, because one host usually owns a whole /64 and could otherwise rotate
 * addresses within it. IPv4 carried in IPv6 (mapped ::ffff:a.b.c.d, and the NAT64 prefix
 * 64:ff9b::/96 that puts all of the IPv4 internet behind one /64) is keyed by the IPv4 address.
 */
export function normaliseThrottleAddress(address: string): string {
  // A zone id (fe80::1%eth0) names the local interface, not the client.
  const bare = typeof address !== 'string' ? '' : address.includes(':') ? address.replace(/%[^%]*$/, '') : address;
  if (isIPv4(bare)) return bare;
  const groups = isIPv6(bare) ? hextets(bare.toLowerCase()) : null;
  if (groups === null) throw invalid('THROTTLE_ADDRESS_INVALID', 'A throttle key needs an IP address');
  const [g0, g1, g2, g3, g4, g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  const mapped = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff;
  const nat64 = g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0;
  if (mapped || nat64) return [g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff].join('.');
  return `${[g0, g1, g2, g3].map((g) => g.toString(16)).join(':')}::/64`;
}

/** Keys used to store state: 'password:acct:<userId>', 'password:ip:<address normalised: IPv4, or IPv6 /64>'. */
export function throttleKeys(kind: ThrottleKind, userId: number | null, address: string | null): { account: string | null; address: string | null } {
  if (!KINDS.includes(kind)) throw invalid('THROTTLE_KIND_INVALID', 'Unknown throttle kind');
  const user = userPart(userId);
  return {
    account: user === null ? null : `${kind}:acct:${user}`,
    address: address === null ? null : `${kind}:ip:${normaliseThrottleAddress(address)}`,
  };
}
