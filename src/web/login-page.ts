// The browser page of npm's web login: the CLI prints (or opens) /-/web/login/<session>, the
// person signs in (or signs up, for `npm adduser`), and the CLI's poll of its doneUrl then
// receives a token. The session id in the URL is an unguessable capability that only the CLI and
// this page know, which is also what protects the password form against cross-site submission.
// An account with a second factor continues at /-/web/second-factor (a browser session with a
// CSRF token from there on), which approves this CLI login once the factor is proven; the
// browser itself is not logged in (or out) by a CLI login.
import { isAttestryError } from '../core/errors.ts';
import type { UserRecord } from '../storage/metadata/store.ts';
import { escapeHtml } from './html.ts';
import { alert, factorsOf, retryAfter, statusOf, type WebRequest } from './web-context.ts';

function form(sessionId: string, create: boolean, error = '', values: { name?: string; email?: string } = {}): string {
  const email = create
    ? `<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required value="${escapeHtml(values.email ?? '')}">`
    : '';
  return `${error}
<form method="post" action="/-/web/login/${escapeHtml(sessionId)}">
<label for="name">Username</label><input id="name" name="name" autocomplete="username" required value="${escapeHtml(values.name ?? '')}">
${email}
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="${create ? 'new-password' : 'current-password'}" required>
<button type="submit" id="cli-login-submit">${create ? 'Create account and log in' : 'Log in'}</button>
</form>`;
}

const loggedIn = (name?: string) => name
  ? `<p role="status">Logged in as <strong>${escapeHtml(name)}</strong>. You can close this window and return to your terminal.</p>`
  : '<p role="status">You can close this window and return to your terminal.</p>';

export async function npmLoginPage(req: WebRequest, sessionId: string): Promise<void> {
  const { accounts } = req.deps;
  let state;
  try {
    state = await accounts.getWebLogin(sessionId);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    return req.html(404, 'Login expired', alert(e));
  }
  if (state.approved) return req.html(200, 'You are logged in', loggedIn());
  const title = state.createAccount ? 'Create your account' : 'Log in to the npm CLI';
  if (req.ctx.method !== 'POST') return req.html(200, title, form(sessionId, state.createAccount));

  const name = req.field('name');
  const email = req.field('email');
  let user: UserRecord;
  let created = false;
  try {
    const existing = await accounts.findUser(name);
    if (state.createAccount && !existing) {
      user = await accounts.register({ name, email, password: req.field('password') });
      created = true;
    } else {
      user = await accounts.authenticate(name, req.field('password'), req.ip);
    }
    if (!created && (await factorsOf(req.deps, user)).any) {
      // Only this page ever puts a CLI login into returnTo (see completeLogin). A browser logged in
      // to the website stays logged in: the half-finished CLI login rides along in its session.
      const pending = { pendingUserId: user.id, pendingAt: req.deps.clock(), returnTo: `/-/web/login/${sessionId}` };
      if (req.session?.user) {
        Object.assign(req.session.data, pending);
        await req.saveSession();
      } else {
        await req.replaceSession(null, pending);
      }
      return req.redirect('/-/web/second-factor');
    }
    await accounts.approveWebLogin(sessionId, user);
    await accounts.recordLogin(user, req.userAgent, req.ip);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    retryAfter(req, e);
    return req.html(statusOf(e), title, form(sessionId, state.createAccount, alert(e), { name, email }));
  }
  req.ctx.logFields.user = user.name;
  req.html(200, 'You are logged in', loggedIn(user.name));
}
