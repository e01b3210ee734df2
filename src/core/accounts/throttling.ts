// Brute-force limits (AUTHN-1.5) applied to the store: every password, TOTP and recovery-code
// attempt is checked against two counters — the account's and the client address's — before any
// secret is compared, and a failure advances both. The arithmetic (free failures, exponential
// backoff, lockout) is the pure policy in security/mfa/throttle.ts.
import { AttestryError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { MetadataStore, ThrottleRecord } from '../../storage/metadata/store.ts';
import { THROTTLE_POLICIES, throttleCheck, throttleFailure, throttleKeys, type ThrottleState } from '../../security/mfa/throttle.ts';

export type AttemptKind = 'password' | 'totp' | 'recovery';

const toState = (r: ThrottleRecord | undefined): ThrottleState | undefined =>
  r && { failures: r.failures, firstFailureAt: r.firstFailureAt, lockedUntil: r.lockedUntil, nextAllowedAt: r.nextAllowedAt };

export class Throttling {
  private readonly store: MetadataStore;
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(store: MetadataStore, clock: Clock, log: Logger) {
    this.store = store;
    this.clock = clock;
    this.log = log;
  }

  /** Refuses (429) while either counter says wait; the answer says until when. */
  async guard(kind: AttemptKind, userId: number | null, address: string | null): Promise<void> {
    const keys = throttleKeys(kind, userId, address);
    const now = this.clock();
    for (const key of [keys.account, keys.address]) {
      if (key === null) continue;
      const verdict = throttleCheck(toState(await this.store.getThrottle(key)), now);
      if (!verdict.allowed) {
        const seconds = Math.max(1, Math.ceil((verdict.retryAt - now) / 1000));
        throw new AttestryError('rate_limited', verdict.locked ? 'ACCOUNT_LOCKED' : 'TOO_MANY_ATTEMPTS',
          verdict.locked
            ? `Too many failed attempts: sign-in is locked for ${Math.ceil(seconds / 60)} more minute(s). It unlocks by itself; an administrator can unlock it sooner (attestry user unlock)`
            : `Too many failed attempts; try again in ${seconds} second(s)`,
          { retryAfterSeconds: seconds });
      }
    }
  }

  /** Records a failure on both counters; returns true when this failure locked the account. */
  async failed(kind: AttemptKind, userId: number | null, address: string | null): Promise<boolean> {
    const keys = throttleKeys(kind, userId, address);
    const policies = THROTTLE_POLICIES[kind];
    const now = this.clock();
    let locked = false;
    for (const [key, policy] of [[keys.account, policies.account], [keys.address, policies.address]] as const) {
      if (key === null) continue;
      // Read and write under the row lock (PostgreSQL), so parallel guesses cannot share one count.
      await this.store.transaction(async (tx) => {
        const before = toState(await tx.getThrottle(key));
        const after = throttleFailure(before, policy, now);
        await tx.putThrottle({ key, ...after });
        if (key === keys.account && after.lockedUntil !== null && (before?.lockedUntil ?? 0) < now) locked = true;
      });
    }
    if (locked) this.log.warn('account locked after repeated failures', { kind, userId });
    return locked;
  }

  /** A success clears the account's counter (the address's stays: one address may be attacking many accounts). */
  async succeeded(kind: AttemptKind, userId: number | null, address: string | null): Promise<void> {
    const key = throttleKeys(kind, userId, address).account;
    if (key !== null) await this.store.deleteThrottle(key);
  }

  /** When the account's lock for `kind` ends, or null when it is not locked. */
  async lockedUntil(kind: AttemptKind, userId: number): Promise<number | null> {
    const key = throttleKeys(kind, userId, null).account;
    const until = key === null ? null : ((await this.store.getThrottle(key))?.lockedUntil ?? null);
    return until !== null && until > this.clock() ? until : null;
  }

  /** The documented unlock path: an administrator (or the account's own recovery) clears every counter of the account. */
  async unlock(userId: number): Promise<void> {
    for (const kind of ['password', 'totp', 'recovery'] as const) {
      const key = throttleKeys(kind, userId, null).account;
      if (key !== null) await this.store.deleteThrottle(key);
    }
  }
}
