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
  logFields: Record<string, unknown>;
  principal(): Promise<Principal>;
}

export type Handler = (ctx: RequestContext) => Promise<boolean>;
