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
import { bodyUnread } from './body.ts';
import { STATUS_FOR_KIND } from './status.ts';

export interface ServerDeps {
  log: Logger;
  metrics: Metrics;
  handlers: Handler[];
  /** The credential's principal (a token, a password, or anonymous); never a second factor. */
  resolvePrincipal(ctx: RequestContext): Promise<Principal>;
  /** Adds the second factor sent with the request, verified; absent: the principal unchanged. */
  presentSecondFactor?(ctx: RequestContext, principal: Principal): Promise<Principal>;
}

type Resolvers = Pick<ServerDeps, 'resolvePrincipal' | 'presentSecondFactor'>;

/** Paths whose segments are capabilities or secrets; the access log shows them redacted. */
const SECRET_PATHS = [/^(\/-\/v1\/done\/)[^/?]+/, /^(\/-\/user\/token\/)[^/?]+/, /^(\/-\/npm\/v1\/tokens\/token\/)[^/?]+/, /^(\/-\/web\/login\/)[^/?]+/,
  /^(\/-\/web\/(?:verify-email|reset-password|otp)\/)[^/?]+/, /^(\/-\/v1\/otp\/done\/)[^/?]+/];

export function redactPath(path: string): string {
  for (const re of SECRET_PATHS) if (re.test(path)) return path.replace(re, '$1[redacted]');
  return path.length > 300 ? `${path.slice(0, 300)}…` : path;
}

/**
 * One request's state. A class rather than an object literal: its accessors live on the
 * prototype, so a request costs one small allocation, not a handful of closures. Query, request
 * id and log fields are made only when something reads them: most reads never do.
 */
class Exchange implements RequestContext {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly method: string;
  readonly path: string;
  readonly ip: string;
  readonly startedAt = performance.now();
  route = 'unmatched';
  private readonly rawUrl: string;
  private readonly queryAt: number;
  private readonly resolvers: Resolvers;
  private readerP: Promise<Principal> | undefined;
  private principalP: Promise<Principal> | undefined;
  private queryP: URLSearchParams | undefined;
  private requestIdP: string | undefined;
  private logFieldsP: Record<string, unknown> | undefined;

  constructor(req: http.IncomingMessage, res: http.ServerResponse, resolvers: Resolvers) {
    this.req = req;
    this.res = res;
    this.method = req.method ?? 'GET';
    this.rawUrl = req.url ?? '/';
    this.queryAt = this.rawUrl.indexOf('?');
    this.path = this.queryAt === -1 ? this.rawUrl : this.rawUrl.slice(0, this.queryAt);
    this.ip = req.socket.remoteAddress ?? '';
    this.resolvers = resolvers;
  }

  get query(): URLSearchParams {
    return (this.queryP ??= new URLSearchParams(this.queryAt === -1 ? '' : this.rawUrl.slice(this.queryAt + 1)));
  }

  get requestId(): string {
    return (this.requestIdP ??= String(this.req.headers['x-request-id'] ?? '').slice(0, 64) || randomUUID());
  }

  get logFields(): Record<string, unknown> {
    return (this.logFieldsP ??= {});
  }

  reader(): Promise<Principal> {
    return (this.readerP ??= this.resolvers.resolvePrincipal(this));
  }

  principal(): Promise<Principal> {
    const present = this.resolvers.presentSecondFactor;
    return (this.principalP ??= present ? this.reader().then((p) => present(this, p)) : this.reader());
  }
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
      try {
        this.handle(req, res);
      } catch (e) {
        // A bug in one request's bookkeeping must not take the whole registry down.
        deps.log.error('request handling failed', { error: (e as Error)?.stack ?? String(e) });
        res.destroy();
      }
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

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.inFlight++;
    this.started++;
    const ctx = new Exchange(req, res, this.deps);
    let outcome: boolean | Promise<boolean>;
    try {
      outcome = this.runHandlers(ctx, 0);
    } catch (e) {
      this.fail(ctx, e);
      outcome = true;
    }
    // Cached reads answer synchronously; only work that waits for storage goes through promises.
    if (typeof outcome === 'boolean') this.finish(ctx, outcome);
    else outcome.then((handled) => this.finish(ctx, handled), (e: unknown) => {
      this.fail(ctx, e);
      this.finish(ctx, true);
    }).catch((e: unknown) => {
      // A bug in one request's bookkeeping must not take the whole registry down.
      this.deps.log.error('request handling failed', { error: (e as Error)?.stack ?? String(e) });
      res.destroy();
    });
  }

  /** Offers the request to each handler from `from` on, synchronously until one needs to wait. */
  private runHandlers(ctx: Exchange, from: number): boolean | Promise<boolean> {
    const handlers = this.deps.handlers;
    if (handlers.length === 0) {
      // Listening before the services are wired (start-up maintenance may take a while).
      ctx.route = 'starting';
      sendJson(ctx.res, 503, { error: 'The registry is starting; retry shortly' }, { 'retry-after': '2' });
      return true;
    }
    for (let i = from; i < handlers.length; i++) {
      const r = (handlers[i] as Handler)(ctx);
      if (r === true) return true;
      if (r !== false) return r.then((handled) => handled || this.runHandlers(ctx, i + 1));
    }
    return false;
  }

  private finish(ctx: Exchange, handled: boolean): void {
    const { req, res } = ctx;
    if (!handled && !res.headersSent) sendJson(res, 404, { error: 'Not found', code: 'NOT_FOUND' });
    if (bodyUnread(req)) this.discardRest(req, req.socket);
    const seconds = (performance.now() - ctx.startedAt) / 1000;
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
