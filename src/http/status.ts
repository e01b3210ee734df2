// The HTTP status for each kind of core error; protocol adapters shape the body.
import type { ErrorKind } from '../core/errors.ts';

export const STATUS_FOR_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
};
