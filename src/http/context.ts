// Per-request state handed to handlers. The principal is resolved lazily: public reads never pay
// for a credential lookup.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../security/authz/principal.ts';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** Raw path (still percent-encoded), without the query string. */
  path: string;
  readonly query: URLSearchParams;
  ip: string;
  readonly requestId: string;
  /** Set by the handler that takes the request; a bounded name for logs and metrics. */
  route: string;
  /** Extra fields for the access log line (never secrets). */
  readonly logFields: Record<string, unknown>;
  /** Who is asking, with any second factor sent with the request (npm-otp) verified. */
  principal(): Promise<Principal>;
  /**
   * Who is asking, for a read: the credential is checked, a second factor is not. Reads never need
   * one, and verifying it would count a wrong code again on every GET a command makes (the
   * brute-force throttle), and would answer a wrong code on a hidden package differently from a
   * missing one.
   */
  reader(): Promise<Principal>;
}

/**
 * Takes the request (true, or a promise of true) or leaves it to the next handler (false). A
 * handler that does not recognise the path answers false synchronously: the hot read path
 * should not pay a promise and a microtask per handler it passes.
 */
export type Handler = (ctx: RequestContext) => boolean | Promise<boolean>;
