// Minimal server-rendered HTML with escaping and the security headers every page carries. The
// Content-Security-Policy allows nothing inline: the stylesheet and the one script
// (/-/web/assets/webauthn.js) are files served from this origin.
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const PAGE_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

export const STYLESHEET_PATH = '/-/web/assets/style.css';
export const SCRIPT_PATH = '/-/web/assets/webauthn.js';
export const ICON_PATH = '/-/web/assets/icon.svg';

/** A plain mark, so browsers do not ask for /favicon.ico on every page. */
export const ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1a1a1a"/><path d="M4 12 8 3l4 9M5.5 9h5" stroke="#fff" stroke-width="1.6" fill="none"/></svg>';

export const STYLESHEET = `body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a;line-height:1.4}
header{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;border-bottom:1px solid #ccc;padding-bottom:.5rem}
header form{display:inline;margin:0}header button{margin:0;padding:.2rem .6rem;font-size:.9rem}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem}section{margin:2rem 0;border-top:1px solid #ddd}
.error{color:#a00;border:1px solid #a00;padding:.5rem}.notice{border:1px solid #06a;padding:.5rem}
.secret{font-family:ui-monospace,monospace;font-size:1.1rem;word-break:break-all}
.qr svg{width:14rem;height:14rem}table{border-collapse:collapse;width:100%}
th,td{text-align:left;border-bottom:1px solid #ddd;padding:.3rem;vertical-align:top}
ol.codes{font-family:ui-monospace,monospace;font-size:1.1rem}td:first-child{white-space:nowrap}
input[type=checkbox]{width:auto;margin:0 .4rem 0 0;vertical-align:middle}
`;

export interface PageOptions {
  /** The session's CSRF token, for pages whose script posts JSON (webauthn.js reads it). */
  csrf?: string;
  /** Load /-/web/assets/webauthn.js. */
  script?: boolean;
  /** Markup above the heading (navigation). */
  header?: string;
}

export function page(title: string, body: string, options: PageOptions = {}): string {
  const csrf = options.csrf === undefined ? '' : `<meta name="csrf-token" content="${escapeHtml(options.csrf)}">`;
  const script = options.script ? `<script src="${SCRIPT_PATH}" defer></script>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Attestry</title>${csrf}
<link rel="stylesheet" href="${STYLESHEET_PATH}"><link rel="icon" href="${ICON_PATH}" type="image/svg+xml">${script}
</head><body>${options.header ?? ''}<main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}
