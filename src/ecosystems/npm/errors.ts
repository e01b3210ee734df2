// Core errors in npm's wire format: `{"error": "<human message>", "code": "<stable code>"}`.
// npm prints `body.error`; the www-authenticate header picks npm's explanation for a 401.
import type { ServerResponse } from 'node:http';
import { isAttestryError } from '../../core/errors.ts';
import { sendJson } from '../../http/respond.ts';
import { STATUS_FOR_KIND } from '../../http/status.ts';

export function sendNpmError(res: ServerResponse, e: unknown): boolean {
  if (!isAttestryError(e)) return false;
  const status = STATUS_FOR_KIND[e.kind];
  const headers: Record<string, string> = {};
  // A wrong or reused one-time password asks for another (npm re-prompts on `OTP`).
  if (status === 401) headers['www-authenticate'] = e.code.startsWith('OTP_') ? 'OTP' : e.code === 'BAD_CREDENTIALS' ? 'Basic realm="attestry"' : 'Bearer realm="attestry"';
  if (status === 429 && typeof e.detail?.retryAfterSeconds === 'number') headers['retry-after'] = String(e.detail.retryAfterSeconds);
  // `message` too: npm's OIDC exchange logs `body.message` when it falls back to stored credentials.
  sendJson(res, status, { error: e.message, message: e.message, code: e.code, ...(e.detail ?? {}) }, headers);
  return true;
}
