// The transparency log's HTTP surface (docs/transparency.md, "Serving"): C2SP tlog-tiles paths
// under /-/tlog/, proofs, lookup by version, and /-/changes. Ecosystem-agnostic, so it sits beside
// the other handlers rather than in an ecosystem adapter. Errors use the server's JSON format.
import type { Handler, RequestContext } from './context.ts';
import { sendJson, sendText } from './respond.ts';
import { invalid, unauthenticated } from '../core/errors.ts';
import { DEFAULT_CHANGES_LIMIT, parseCount, type LogService } from '../core/transparency/log-service.ts';
import { parseTilePath } from '../security/transparency/tiles.ts';

const PREFIX = '/-/tlog/';
const IMMUTABLE = 'public, max-age=31536000, immutable';
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

export interface TlogRoutesDeps {
  log: LogService;
  /** false: only logged-in users may read the log (transparency.public). */
  public: boolean;
}

export function tlogHandler(d: TlogRoutesDeps): Handler {
  const requireReader = async (ctx: RequestContext): Promise<void> => {
    if (d.public) return;
    if ((await ctx.reader()).kind !== 'user') throw unauthenticated('TLOG_LOGIN_REQUIRED', 'This registry serves its transparency log to logged-in users only');
  };

  const sendBytes = (ctx: RequestContext, data: Buffer, full: boolean): void => {
    ctx.res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length, 'cache-control': full ? IMMUTABLE : 'no-cache' });
    ctx.res.end(data);
  };

  const serve = async (ctx: RequestContext, rest: string): Promise<boolean> => {
    await requireReader(ctx);
    if (rest === 'checkpoint') {
      ctx.route = 'tlog.checkpoint';
      sendText(ctx.res, 200, (await d.log.checkpoint()).note, 'text/plain; charset=utf-8', { 'cache-control': 'no-cache' });
      return true;
    }
    if (rest === 'key') {
      ctx.route = 'tlog.key';
      sendText(ctx.res, 200, `${d.log.verifierKey}\n`, 'text/plain; charset=utf-8', { 'cache-control': 'no-cache' });
      return true;
    }
    if (rest.startsWith('tile/')) {
      ctx.route = 'tlog.tile';
      let tile;
      try {
        tile = parseTilePath(rest);
      } catch {
        throw invalid('TLOG_BAD_TILE_PATH', 'Not a canonical tile path (C2SP tlog-tiles)');
      }
      const answer = tile.kind === 'hash' ? await d.log.hashTile(tile) : await d.log.entryBundle(tile);
      sendBytes(ctx, answer.data, answer.full);
      return true;
    }
    if (rest === 'proof/inclusion') {
      ctx.route = 'tlog.proof.inclusion';
      const p = await d.log.inclusionProof(parseCount(ctx.query.get('index'), 'index'), parseCount(ctx.query.get('size'), 'size'));
      sendJson(ctx.res, 200, { index: p.index, size: p.size, leafHash: b64(p.leafHash), proof: p.proof.map(b64) });
      return true;
    }
    if (rest === 'proof/consistency') {
      ctx.route = 'tlog.proof.consistency';
      const p = await d.log.consistencyProof(parseCount(ctx.query.get('from'), 'from'), parseCount(ctx.query.get('to'), 'to'));
      sendJson(ctx.res, 200, { from: p.from, to: p.to, proof: p.proof.map(b64) });
      return true;
    }
    if (rest.startsWith('lookup/')) {
      ctx.route = 'tlog.lookup';
      const { ecosystem, name, version } = parseLookup(rest.slice('lookup/'.length));
      const found = await d.log.lookup(await ctx.reader(), ecosystem, name, version);
      // `?size=<s>`: with the inclusion proof of that entry in the tree of size s (by name@version).
      const sizeText = ctx.query.get('size');
      if (sizeText === null) {
        sendJson(ctx.res, 200, { index: found.index, entry: b64(found.entry) });
        return true;
      }
      const p = await d.log.inclusionProof(found.index, parseCount(sizeText, 'size'));
      sendJson(ctx.res, 200, { index: found.index, entry: b64(found.entry), size: p.size, leafHash: b64(p.leafHash), proof: p.proof.map(b64) });
      return true;
    }
    return false;
  };

  const changes = async (ctx: RequestContext): Promise<boolean> => {
    ctx.route = 'changes';
    await requireReader(ctx);
    const limitText = ctx.query.get('limit');
    const page = await d.log.changes(parseCount(ctx.query.get('since') ?? '0', 'since'), limitText === null ? DEFAULT_CHANGES_LIMIT : parseCount(limitText, 'limit'));
    sendJson(ctx.res, 200, page);
    return true;
  };

  return (ctx) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return false;
    if (ctx.path.startsWith(PREFIX)) return serve(ctx, ctx.path.slice(PREFIX.length));
    if (ctx.path === '/-/changes') return changes(ctx);
    return false;
  };
}

/** `<ecosystem>/<url-encoded name>@<version>`; the version follows the last `@` (scoped names start with one). */
function parseLookup(rest: string): { ecosystem: string; name: string; version: string } {
  const bad = () => invalid('TLOG_BAD_LOOKUP', 'Expected /-/tlog/lookup/<ecosystem>/<url-encoded name>@<version>');
  const slash = rest.indexOf('/');
  if (slash <= 0) throw bad();
  let spec: string;
  try {
    spec = decodeURIComponent(rest.slice(slash + 1));
  } catch {
    throw bad();
  }
  const at = spec.lastIndexOf('@');
  if (at <= 0 || at === spec.length - 1) throw bad();
  return { ecosystem: rest.slice(0, slash), name: spec.slice(0, at), version: spec.slice(at + 1) };
}
