// The HTTP edge: one node:http server, a request context, handlers tried in order, an access log
// line and metrics for every request, and a graceful shutdown that lets in-flight writes finish.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { isAttestryError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Principal } from '../security/authz/principal.ts';
import type { Handler, RequestContext } from './context.ts';
import { sendJson } from './respond.ts';
import { STATUS_FOR_KIND } from './status.ts';

export interface ServerDeps {
  log: Logger;
  metrics: Metrics;
  handlers: Handler[];
  resolvePrincipal(ctx: RequestContext): Promise<Principal>;
}

/** Paths whose segments are capabilities or secrets; the access log shows them redacted. */
const SECRET_PATHS = [/^(\/-\/v1\/done\/)[^/?]+/, /^(\/-\/user\/token\/)[^/?]+/, /^(\/-\/npm\/v1\/tokens\/token\/)[^/?]+/, /^(\/-\/web\/login\/)[^/?]+/];

export function redactPath(path: string): string {
  for (const re of SECRET_PATHS) if (re.test(path)) return path.replace(re, '$1[redacted]');
  return path.length > 300 ? `${path.slice(0, 300)}…` : path;
}

const SHUTDOWN_GRACE_MS = 30_000;
const DISCARD_GRACE_MS = 5_000;

export class HttpServer {
  private readonly server: http.Server;
  private readonly deps: ServerDeps;
  private inFlight = 0;
  private started = 0;
  private drained: (() => void) | undefined;

  constructor(deps: ServerDeps) {
    this.deps = deps;
    this.server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 300_000, headersTimeout: 60_000 }, (req, res) => {
      // A bug in one request's bookkeeping must not take the whole registry down.
      this.handle(req, res).catch((e: unknown) => {
        deps.log.error('request handling failed', { error: (e as Error)?.stack ?? String(e) });
        res.destroy();
      });
    });
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const socket = req.socket;
    this.inFlight++;
    this.started++;
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    let principal: Promise<Principal> | undefined;
    let query: URLSearchParams | undefined;
    let requestId: string | undefined;
    // Query and request id are made only when something reads them: most reads never do.
    const ctx: RequestContext = {
      req,
      res,
      method: req.method ?? 'GET',
      path: q === -1 ? rawUrl : rawUrl.slice(0, q),
      get query() {
        return (query ??= new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1)));
      },
      ip: req.socket.remoteAddress ?? '',
      get requestId() {
        return (requestId ??= String(req.headers['x-request-id'] ?? '').slice(0, 64) || randomUUID());
      },
      route: 'unmatched',
      logFields: {},
      principal: () => (principal ??= this.deps.resolvePrincipal(ctx)),
    };
    try {
      if (this.deps.handlers.length === 0) {
        // Listening before the services are wired (start-up maintenance may take a while).
        ctx.route = 'starting';
        sendJson(res, 503, { error: 'The registry is starting; retry shortly' }, { 'retry-after': '2' });
        return;
      }
      let handled = false;
      for (const h of this.deps.handlers) {
        if ((handled = await h(ctx))) break;
      }
      if (!handled) sendJson(res, 404, { error: 'Not found', code: 'NOT_FOUND' });
    } catch (e) {
      this.fail(ctx, e);
    } finally {
      if (!req.complete) this.discardRest(req, socket);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.deps.metrics.observeRequest(ctx.route, ctx.method, res.statusCode, seconds);
      if (ctx.route !== 'health' && ctx.route !== 'metrics') {
        // Reads outnumber writes a million to one: successful reads are logged at debug (the
        // metrics count them); writes, refusals and failures at info.
        const quiet = (ctx.method === 'GET' || ctx.method === 'HEAD') && res.statusCode < 400;
        if (!quiet || this.deps.log.debugEnabled) (quiet ? this.deps.log.debug : this.deps.log.info)('request', {
          requestId: ctx.requestId, method: ctx.method, path: redactPath(ctx.path), route: ctx.route,
          status: res.statusCode, ms: Math.round(seconds * 10_000) / 10, ip: ctx.ip, ...ctx.logFields,
        });
      }
      if (--this.inFlight === 0) this.drained?.();
    }
  }

  /**
   * After answering a request whose body was not read (a refusal), half-close the connection so
   * the answer is delivered, discard what the client still sends, and cut it off after a grace
   * period: an endless body cannot hold the socket.
   */
  private discardRest(req: http.IncomingMessage, socket: Socket): void {
    socket.end();
    req.resume();
    setTimeout(() => socket.destroy(), DISCARD_GRACE_MS).unref();
  }

  private fail(ctx: RequestContext, e: unknown): void {
    if (ctx.res.headersSent) {
      ctx.res.destroy();
      return;
    }
    if (isAttestryError(e)) {
      sendJson(ctx.res, STATUS_FOR_KIND[e.kind], { error: e.message, code: e.code });
      return;
    }
    this.deps.log.error('unhandled error', { requestId: ctx.requestId, route: ctx.route, error: (e as Error)?.stack ?? String(e) });
    sendJson(ctx.res, 500, { error: 'Internal server error', requestId: ctx.requestId });
  }

  /** How much work the server has seen: lets idle-time housekeeping know when it is idle. */
  activity(): { started: number; inFlight: number } {
    return { started: this.started, inFlight: this.inFlight };
  }

  /** Stops accepting connections and waits (bounded) for in-flight requests to finish. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inFlight > 0) {
      await Promise.race([
        new Promise<void>((resolve) => (this.drained = resolve)),
        new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref()),
      ]);
    }
    this.server.closeAllConnections();
    await closed;
  }
}
