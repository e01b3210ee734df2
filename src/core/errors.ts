// Typed errors for the whole domain. Every refusal carries a stable `code` (tests assert the code,
// never the message) and a `kind` that each protocol edge maps to its own wire format
// (the npm adapter maps kinds to HTTP statuses and `{"error": ...}` bodies).

export type ErrorKind =
  | 'invalid' // the request is malformed or violates a rule about its content
  | 'unauthenticated' // no or bad credentials
  | 'forbidden' // authenticated, but not allowed
  | 'not_found'
  | 'conflict' // the state on the server disagrees (version exists, rev mismatch)
  | 'too_large'
  | 'rate_limited'
  | 'unavailable'; // a dependency (database, blob store) failed

export class AttestryError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  /** Extra machine-readable detail safe to show the client (never secrets). */
  readonly detail: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, code: string, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.name = 'AttestryError';
    this.kind = kind;
    this.code = code;
    this.detail = detail;
  }
}

export const invalid = (code: string, message: string, detail?: Record<string, unknown>): AttestryError =>
  new AttestryError('invalid', code, message, detail);
export const forbidden = (code: string, message: string, detail?: Record<string, unknown>): AttestryError =>
  new AttestryError('forbidden', code, message, detail);
export const notFound = (code: string, message: string): AttestryError => new AttestryError('not_found', code, message);
export const conflict = (code: string, message: string, detail?: Record<string, unknown>): AttestryError =>
  new AttestryError('conflict', code, message, detail);
export const unauthenticated = (code: string, message: string): AttestryError =>
  new AttestryError('unauthenticated', code, message);
export const tooLarge = (code: string, message: string, detail?: Record<string, unknown>): AttestryError =>
  new AttestryError('too_large', code, message, detail);

export const isAttestryError = (e: unknown): e is AttestryError => e instanceof AttestryError;
