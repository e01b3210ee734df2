// Operational endpoints: liveness/readiness and Prometheus metrics.
import type { Handler, RequestContext } from './context.ts';
import { sendJson, sendText } from './respond.ts';
import type { Metrics } from '../observability/metrics.ts';

export function opsHandler(metrics: Metrics, checkStorage: () => Promise<void>, version: string): Handler {
  const health = async (ctx: RequestContext): Promise<boolean> => {
    ctx.route = 'health';
    try {
      await checkStorage();
      sendJson(ctx.res, 200, { status: 'ok', version });
    } catch (e) {
      sendJson(ctx.res, 503, { status: 'unavailable', error: (e as Error).message });
    }
    return true;
  };
  return (ctx) => {
    if (ctx.path === '/-/health' && ctx.method === 'GET') return health(ctx);
    if (ctx.path === '/-/metrics' && ctx.method === 'GET') {
      ctx.route = 'metrics';
      sendText(ctx.res, 200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8');
      return true;
    }
    return false;
  };
}
