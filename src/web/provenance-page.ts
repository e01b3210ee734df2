// BP-6: a version's provenance for people, at /-/web/provenance/<name>@<version>: where and how
// it was built, with links to the source, the commit, the run and the transparency-log entry —
// and, every time, the reminder that provenance is evidence about origin, not about safety.
// Everything shown comes from the verified certificate, but is still escaped, and only https
// URLs become links.
import type { Handler, RequestContext } from '../http/context.ts';
import { isAttestryError } from '../core/errors.ts';
import type { Ecosystem } from '../core/packages/ecosystem.ts';
import { summaryOf, type ProvenanceService } from '../core/packages/provenance-service.ts';
import { escapeHtml, page, PAGE_HEADERS } from './html.ts';

/** Where the public-good Rekor's entries can be looked up by index. */
const PUBLIC_REKOR_SEARCH = 'https://search.sigstore.dev/?logIndex=';

function render(ctx: RequestContext, status: number, html: string): void {
  const data = Buffer.from(html);
  ctx.res.writeHead(status, { ...PAGE_HEADERS, 'content-length': data.length });
  ctx.res.end(data);
}

const link = (href: string | null, text: string | null): string => {
  if (!text) return '<em>not in the certificate</em>';
  return href && /^https:\/\/[^\s"'<>]+$/.test(href) ? `<a href="${escapeHtml(href)}" rel="nofollow noopener">${escapeHtml(text)}</a>` : `<code>${escapeHtml(text)}</code>`;
};

/** A commit link where the forge's layout is known (GitHub and GitLab both serve /commit/<sha>). */
function commitUrl(repo: string | null, commit: string | null): string | null {
  if (!repo || !commit || !/^[0-9a-f]{40,64}$/.test(commit)) return null;
  return /^https:\/\/(github\.com|gitlab\.com)\//.test(repo) ? `${repo}${repo.includes('gitlab.com') ? '/-' : ''}/commit/${commit}` : null;
}

export function provenancePageHandler(eco: Ecosystem, provenance: ProvenanceService): Handler {
  return (ctx) => {
    if (!ctx.path.startsWith('/-/web/provenance/') || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return false;
    let spec: string;
    try {
      spec = decodeURIComponent(ctx.path.slice('/-/web/provenance/'.length));
    } catch {
      return false;
    }
    const at = spec.lastIndexOf('@');
    if (at <= 0) return false;
    return show(ctx, eco, provenance, spec.slice(0, at), spec.slice(at + 1)).then(() => true);
  };
}

async function show(ctx: RequestContext, eco: Ecosystem, provenance: ProvenanceService, name: string, version: string): Promise<void> {
  ctx.route = 'web.provenance';
  const title = `${name}@${version}`;
  let found;
  try {
    found = await provenance.attestations(await ctx.principal(), eco, name, version);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    render(ctx, e.kind === 'not_found' ? 404 : 403, page(title, `<p>${escapeHtml(e.message)}</p>`));
    return;
  }
  if (!found.provenance) {
    render(ctx, 404, page(title, '<p>This version was published <strong>without provenance</strong>: nothing links it to a source repository or a build.</p>'));
    return;
  }
  const s = summaryOf(found.provenance);
  const tlog = s.transparencyLog;
  const entry = tlog
    ? link(s.trustRoot === 'public-good' ? `${PUBLIC_REKOR_SEARCH}${encodeURIComponent(tlog.logIndex)}` : null,
      `entry ${tlog.logIndex}${tlog.integratedTime === null ? '' : `, ${new Date(tlog.integratedTime).toISOString()}`}`)
    : '<em>none</em>';
  const gone = found.provenance.sourceStatus === 'gone'
    ? '<p class="error" role="alert">The source repository this provenance names <strong>no longer exists</strong>: the evidence can no longer be inspected.</p>'
    : '';
  const row = (k: string, v: string) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`;
  render(ctx, 200, page(`Provenance of ${title}`, `${gone}
<p>This version was built by a CI workflow whose identity was verified when it was published.
<strong>Provenance says where and how it was built; it does not say the code is safe.</strong></p>
<dl>
${row('Source repository', link(s.sourceRepository, s.sourceRepository))}
${row('Commit', link(commitUrl(s.sourceRepository, s.commit), s.commit))}
${row('Ref', link(null, s.ref))}
${row('Build instructions', link(null, s.buildConfig))}
${row('Builder', link(null, s.builder))}
${row('Build run', link(s.runInvocation, s.runInvocation))}
${row('Identity issuer', link(null, s.issuer))}
${row('Transparency log', entry)}
${row('Signed', link(null, s.signedAt))}
${row('Predicate', link(null, s.predicateType))}
${row('Registry attestation', found.publish ? 'signed by this registry\'s key (<code>/-/npm/v1/keys</code>)' : '<em>none</em>')}
</dl>
<p>Check it yourself: <code>npx attestry verify ${escapeHtml(title)} --registry &lt;this registry&gt;</code></p>`));
}
