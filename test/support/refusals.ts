// Asserting a typed refusal: the stable code and kind, never the message.
import assert from 'node:assert/strict';
import { isAttestryError, type ErrorKind } from '../../src/core/errors.ts';

export function assertRefused(fn: () => unknown, code: string, kind: ErrorKind, label: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAttestryError(e), `expected an AttestryError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.kind, kind);
    return true;
  }, label);
}
