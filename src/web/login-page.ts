// The browser page of npm's web login: the CLI prints (or opens) /-/web/login/<session>, the
// person signs in (or signs up, for `npm adduser`), and the CLI's poll of its doneUrl then
// receives a token. The session id in the URL is an unguessable capability that only the CLI and
// this page know, which is also what protects the form against cross-site submission.
import type { Handler, RequestContext } from '../http/context.ts';
import { isAttestryError } from '../core/errors.ts';
import type { AccountService } from '../core/accounts/account-service.ts';
import { readBody } from '../http/body.ts';
import { escapeHtml, page, PAGE_HEADERS } from './html.ts';

const FORM_LIMIT = 16 * 1024;

function render(ctx: RequestContext, status: number, html: string): void {
  const data = Buffer.from(html);
  ctx.res.writeHead(status, { ...PAGE_HEADERS, 'content-length': data.length });
  ctx.res.end(data);
}

function form(sessionId: string, create: boolean, error?: string, values: { name?: string; email?: string } = {}): string {
  const err = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '';
  const email = create
    ? `<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required value="${escapeHtml(values.email ?? '')}">`
    : '';
  return page(create ? 'Create your account' : 'Log in to the npm CLI', `${err}
<form method="post" action="/-/web/login/${escapeHtml(sessionId)}">
<label for="name">Username</label><input id="name" name="name" autocomplete="username" required value="${escapeHtml(values.name ?? '')}">
${email}
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="${create ? 'new-password' : 'current-password'}" required>
<button type="submit">${create ? 'Create account and log in' : 'Log in'}</button>
</form>`);
}

export function webLoginHandler(accounts: AccountService): Handler {
  return (ctx) => {
    if (!ctx.path.startsWith('/-/web/login/')) return false;
    const m = /^\/-\/web\/login\/([A-Za-z0-9_-]{10,64})$/.exec(ctx.path);
    if (!m) return false;
    return loginPage(accounts, ctx, m[1] as string);
  };
}

async function loginPage(accounts: AccountService, ctx: RequestContext, sessionId: string): Promise<boolean> {
  ctx.route = 'web.login';
  let session;
  try {
    session = await accounts.getWebLogin(sessionId);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    render(ctx, 404, page('Login expired', `<p>${escapeHtml(e.message)}</p>`));
    return true;
  }
  if (session.approved) {
    render(ctx, 200, page('You are logged in', '<p>You can close this window and return to your terminal.</p>'));
    return true;
  }
  if (ctx.method === 'GET') {
    render(ctx, 200, form(sessionId, session.createAccount));
    return true;
  }
  if (ctx.method !== 'POST') return false;
  const fields = new URLSearchParams((await readBody(ctx.req, FORM_LIMIT)).toString('utf8'));
  const name = fields.get('name') ?? '';
  const email = fields.get('email') ?? '';
  const password = fields.get('password') ?? '';
  try {
    const existing = await accounts.findUser(name);
    const user = session.createAccount && !existing
      ? await accounts.register({ name, email, password })
      : await accounts.authenticate(name, password);
    await accounts.approveWebLogin(sessionId, user);
    ctx.logFields.user = user.name;
    render(ctx, 200, page('You are logged in', `<p>Logged in as <strong>${escapeHtml(user.name)}</strong>. You can close this window and return to your terminal.</p>`));
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    render(ctx, e.kind === 'unauthenticated' ? 401 : 400, form(sessionId, session.createAccount, e.message, { name, email }));
  }
  return true;
}
