// The start-up (configuration) error of the provenance module: a bad trusted root or key list.
// Not an AttestryError on purpose: it stops the server from starting, it never answers a request.
import type { TrustRootCode } from './codes.ts';

export class TrustRootError extends Error {
  readonly code: TrustRootCode;
  constructor(code: TrustRootCode, message: string) {
    super(message);
    this.name = 'TrustRootError';
    this.code = code;
  }
}
