import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeUnpublish } from '../../src/core/policies/unpublish-policy.ts';
import type { UnpublishFacts, UnpublishPolicy, UnpublishVerdict } from '../../src/core/policies/unpublish-policy.ts';

const HOUR = 3_600_000;
const PUBLISHED = Date.UTC(2025, 0, 1);
const policy: UnpublishPolicy = { windowHours: 72, allowAfterWindowWithoutDependents: true };
const strict: UnpublishPolicy = { windowHours: 72, allowAfterWindowWithoutDependents: false };

/** Facts `ageMs` after publishing; a single owner and no dependents unless overridden. */
const facts = (ageMs: number, over: Partial<UnpublishFacts> = {}): UnpublishFacts => ({
  now: PUBLISHED + ageMs, publishedAt: PUBLISHED, ownerCount: 1, dependents: [], ...over,
});

function refused(v: UnpublishVerdict, code: string): string {
  assert.equal(v.allowed, false, JSON.stringify(v));
  assert.ok(!v.allowed);
  assert.equal(v.code, code);
  assert.equal(typeof v.message, 'string');
  return v.message;
}

describe('judgeUnpublish: refusals', () => {
  it('after the window, a version other packages depend on stays (UNPUBLISH_HAS_DEPENDENTS)', () => {
    refused(judgeUnpublish(policy, facts(73 * HOUR, { dependents: ['app'] })), 'UNPUBLISH_HAS_DEPENDENTS');
    refused(judgeUnpublish(policy, facts(365 * 24 * HOUR, { dependents: ['a', 'b'], ownerCount: 1 })), 'UNPUBLISH_HAS_DEPENDENTS');
  });

  it('names at most 5 dependents in the message', () => {
    const dependents = ['dep-one', 'dep-two', 'dep-three', 'dep-four', 'dep-five', 'dep-six', 'dep-seven'];
    const message = refused(judgeUnpublish(policy, facts(100 * HOUR, { dependents })), 'UNPUBLISH_HAS_DEPENDENTS');
    for (const d of dependents.slice(0, 5)) assert.ok(message.includes(d), `names ${d}`);
    for (const d of dependents.slice(5)) assert.ok(!message.includes(d), `does not name ${d}`);
  });

  it('names every dependent when there are 5 or fewer', () => {
    const dependents = ['@s/one', 'two', 'three'];
    const message = refused(judgeUnpublish(policy, facts(100 * HOUR, { dependents })), 'UNPUBLISH_HAS_DEPENDENTS');
    for (const d of dependents) assert.ok(message.includes(d), `names ${d}`);
  });

  it('after the window, a version of a package with several owners stays (UNPUBLISH_MULTIPLE_OWNERS)', () => {
    refused(judgeUnpublish(policy, facts(73 * HOUR, { ownerCount: 2 })), 'UNPUBLISH_MULTIPLE_OWNERS');
    refused(judgeUnpublish(policy, facts(73 * HOUR, { ownerCount: 10 })), 'UNPUBLISH_MULTIPLE_OWNERS');
  });

  it('dependents are reported before multiple owners', () => {
    refused(judgeUnpublish(policy, facts(73 * HOUR, { ownerCount: 3, dependents: ['x'] })), 'UNPUBLISH_HAS_DEPENDENTS');
  });

  it('a policy that disallows unpublishing after the window refuses it whatever the facts (UNPUBLISH_WINDOW_CLOSED)', () => {
    refused(judgeUnpublish(strict, facts(73 * HOUR)), 'UNPUBLISH_WINDOW_CLOSED');
    refused(judgeUnpublish(strict, facts(73 * HOUR, { dependents: ['x'], ownerCount: 2 })), 'UNPUBLISH_WINDOW_CLOSED');
    refused(judgeUnpublish(strict, facts(72 * HOUR)), 'UNPUBLISH_WINDOW_CLOSED');
  });

  it('a zero-hour window is always closed', () => {
    refused(judgeUnpublish({ windowHours: 0, allowAfterWindowWithoutDependents: false }, facts(0)), 'UNPUBLISH_WINDOW_CLOSED');
    refused(judgeUnpublish({ windowHours: 0, allowAfterWindowWithoutDependents: true }, facts(1, { dependents: ['x'] })), 'UNPUBLISH_HAS_DEPENDENTS');
  });
});

describe('judgeUnpublish: the window boundary', () => {
  it('one millisecond before the window closes is still within it', () => {
    assert.deepEqual(judgeUnpublish(strict, facts(72 * HOUR - 1, { dependents: ['x'], ownerCount: 2 })), { allowed: true, reason: 'within-window' });
  });

  it('exactly at the boundary the window is closed', () => {
    refused(judgeUnpublish(strict, facts(72 * HOUR)), 'UNPUBLISH_WINDOW_CLOSED');
    refused(judgeUnpublish(policy, facts(72 * HOUR, { dependents: ['x'] })), 'UNPUBLISH_HAS_DEPENDENTS');
    assert.deepEqual(judgeUnpublish(policy, facts(72 * HOUR)), { allowed: true, reason: 'no-dependents-single-owner' });
  });

  it('honours the configured window length', () => {
    const short: UnpublishPolicy = { windowHours: 1, allowAfterWindowWithoutDependents: false };
    assert.equal(judgeUnpublish(short, facts(HOUR - 1)).allowed, true);
    refused(judgeUnpublish(short, facts(HOUR)), 'UNPUBLISH_WINDOW_CLOSED');
  });
});

describe('judgeUnpublish: allowed', () => {
  it('within the window, whatever the dependents and owners', () => {
    for (const p of [policy, strict]) {
      for (const age of [0, 1, HOUR, 71 * HOUR]) {
        assert.deepEqual(judgeUnpublish(p, facts(age, { dependents: ['a', 'b'], ownerCount: 5 })), { allowed: true, reason: 'within-window' });
      }
    }
  });

  it('after the window, with no dependents and a single owner', () => {
    for (const age of [73 * HOUR, 1000 * 24 * HOUR]) {
      assert.deepEqual(judgeUnpublish(policy, facts(age)), { allowed: true, reason: 'no-dependents-single-owner' });
    }
  });
});
