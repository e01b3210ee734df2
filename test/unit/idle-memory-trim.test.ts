import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IdleMemoryTrim, memoryReducingCollect } from '../../src/observability/idle-memory-trim.ts';
import type { IdleTrimPolicy } from '../../src/observability/idle-memory-trim.ts';
import type { Logger } from '../../src/core/logger.ts';

const MiB = 1024 * 1024;
const policy: IdleTrimPolicy = { quietMs: 2_000, minGrowthBytes: 24 * MiB, checkEveryMs: 1_000 };
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, debugEnabled: false };

/** A process whose clock, memory and activity the test moves by hand. */
function fakeProcess() {
  const p = { now: 0, rss: 100 * MiB, started: 0, inFlight: 0, collections: 0, rssAfterCollect: 90 * MiB, collectable: true };
  const trim = new IdleMemoryTrim({
    activity: () => ({ started: p.started, inFlight: p.inFlight }),
    collect: () => {
      if (!p.collectable) return false;
      p.collections++;
      p.rss = p.rssAfterCollect;
      return true;
    },
    rss: () => p.rss,
    now: () => p.now,
    log: silent,
  }, policy);
  const tick = () => { p.now += policy.checkEveryMs; return trim.check(); };
  return { p, trim, tick };
}

describe('IdleMemoryTrim: when it does not trim', () => {
  it('not while requests keep arriving, however much memory grew', () => {
    const { p, tick } = fakeProcess();
    p.rss = 400 * MiB;
    for (let i = 0; i < 20; i++) {
      p.started++;
      assert.equal(tick(), false);
    }
    assert.equal(p.collections, 0);
  });

  it('not while a request is in flight, even one that has been running for long', () => {
    const { p, tick } = fakeProcess();
    p.rss = 400 * MiB;
    p.started = 1;
    p.inFlight = 1;
    for (let i = 0; i < 20; i++) assert.equal(tick(), false);
    assert.equal(p.collections, 0);
  });

  it('not before the quiet period has passed', () => {
    const { p, tick } = fakeProcess();
    p.rss = 400 * MiB;
    p.started = 5;
    assert.equal(tick(), false); // sees the new count: quiet starts now
    assert.equal(tick(), false); // 1 s quiet
    assert.equal(p.collections, 0);
  });

  it('not when memory grew less than the threshold since the last trim', () => {
    const { p, tick } = fakeProcess();
    p.rss += 24 * MiB - 1;
    p.started = 5;
    for (let i = 0; i < 10; i++) assert.equal(tick(), false);
    assert.equal(p.collections, 0);
  });

  it('reports no trim when the runtime offers no collection', () => {
    const { p, tick } = fakeProcess();
    p.collectable = false;
    p.rss = 400 * MiB;
    p.started = 5;
    for (let i = 0; i < 5; i++) assert.equal(tick(), false);
  });
});

describe('IdleMemoryTrim: when it trims', () => {
  it('once after a burst, when quiet and grown; not again until memory grows again', () => {
    const { p, tick } = fakeProcess();
    p.started = 1000;
    p.rss = 170 * MiB;
    p.rssAfterCollect = 115 * MiB;
    assert.equal(tick(), false);
    assert.equal(tick(), false);
    assert.equal(tick(), true);
    assert.equal(p.collections, 1);
    for (let i = 0; i < 10; i++) assert.equal(tick(), false);
    // A little more work that does not grow memory past the new floor: no second trim.
    p.started++;
    p.rss = 115 * MiB + 10 * MiB;
    for (let i = 0; i < 10; i++) assert.equal(tick(), false);
    // Another burst that does.
    p.started += 500;
    p.rss = 115 * MiB + 30 * MiB;
    assert.equal(tick(), false);
    assert.equal(tick(), false);
    assert.equal(tick(), true);
    assert.equal(p.collections, 2);
  });
});

describe('memoryReducingCollect', () => {
  it('collects in this runtime without exposing gc as a global', () => {
    const collect = memoryReducingCollect();
    assert.equal(collect(), true);
    assert.equal((globalThis as { gc?: unknown }).gc, undefined);
  });
});
