// The secret-scanning revocation endpoint (docs/secret-scanning.md): a reporter in the format of
// GitHub's secret-scanning partner program posts the tokens it found in public, signed; we answer
// which were ours and valid (now revoked). Off — 404 as if absent — unless reporters are configured.
import type { RequestContext } from '../../../http/context.ts';
import { notFound } from '../../../core/errors.ts';
import { readBody } from '../../../http/body.ts';
import { sendJson } from '../../../http/respond.ts';
import { MAX_REPORT_BYTES, parseScannerReport } from '../../../security/tokens/reporter-signature.ts';
import type { NpmDeps } from '../deps.ts';

export const SECRET_SCANNING_PATH = '/-/npm/v1/secret-scanning/revoke';

export async function revokeReported(d: NpmDeps, ctx: RequestContext): Promise<void> {
  ctx.route = 'npm.secret-scanning.revoke';
  const scanning = d.tokenRevocation;
  if (!scanning) throw notFound('NOT_FOUND', 'Not found');
  // The signature covers the exact bytes, so the body is read raw and verified before parsing.
  const body = await readBody(ctx.req, MAX_REPORT_BYTES);
  const reporter = scanning.reporters.verify(body, ctx.req.headers['github-public-key-identifier'], ctx.req.headers['github-public-key-signature']);
  ctx.logFields.reporter = reporter;
  const findings = parseScannerReport(body);
  const { verdicts } = await scanning.service.revokeReported(findings, reporter);
  ctx.logFields.reported = verdicts.length;
  ctx.logFields.revoked = verdicts.filter((v) => v.label === 'true_positive').length;
  sendJson(ctx.res, 200, verdicts.map((v) => ({ token_raw: v.token, token_type: v.type, label: v.label })));
}
