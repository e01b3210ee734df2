// Logging in on the website: a password, then — when the account has a second factor — a second
// step (an authenticator-app code, a recovery code, or a passkey); or a passkey alone, with no
// username (a discoverable credential is a password and a second factor in one). Logging out.
import { isAttestryError } from '../../core/errors.ts';
import type { UserRecord } from '../../storage/metadata/store.ts';
import { escapeHtml } from '../html.ts';
import {
  alert, CLI_LOGIN_PATH, factorsOf, PENDING_LOGIN_MS, retryAfter, safeReturnTo, sessionCredential, statusOf, type Factors, type WebRequest,
} from '../web-context.ts';

/**
 * Ends a login whose every factor was proven. When the half-finished login came from the npm
 * CLI's login page (`returnTo` set by that page alone, never from a request), the CLI's login is
 * approved and the browser session stays what it was; otherwise it becomes the user's.
 * Returns where to go next.
 */
export async function completeLogin(req: WebRequest, user: UserRecord, returnTo: string | undefined): Promise<string> {
  const { accounts } = req.deps;
  req.ctx.logFields.user = user.name;
  const cli = returnTo === undefined ? null : CLI_LOGIN_PATH.exec(returnTo);
  if (cli) {
    await accounts.approveWebLogin(cli[1] as string, user);
    await accounts.recordLogin(user, req.userAgent, req.ip);
    const session = req.session;
    if (session) {
      delete session.data.pendingUserId;
      delete session.data.pendingAt;
      delete session.data.returnTo;
      await req.saveSession();
    }
    return returnTo as string;
  }
  await req.replaceSession(user.id);
  await accounts.recordLogin(user, req.userAgent, req.ip);
  return safeReturnTo(returnTo) ?? '/-/web/account';
}

/** The person whose password was right within the last few minutes, waiting for their second factor. */
export async function pendingUser(req: WebRequest): Promise<UserRecord | undefined> {
  const data = req.session?.data;
  if (!data || data.pendingUserId === undefined || data.pendingAt === undefined) return undefined;
  if (req.deps.clock() - data.pendingAt > PENDING_LOGIN_MS) return undefined;
  return req.deps.accounts.findUserById(data.pendingUserId);
}

function loginForm(req: WebRequest, returnTo: string | undefined, name = '', error = ''): string {
  const back = returnTo ? `<input type="hidden" name="returnTo" value="${escapeHtml(returnTo)}">` : '';
  const passkey = req.deps.secondFactors.passkeysAvailable
    ? `<section><h2>Or use a passkey</h2>
<form data-webauthn="authenticate" data-options-url="/-/web/passkeys/login/options" data-verify-url="/-/web/passkeys/login/verify">${back}
<button type="submit" id="login-passkey">Sign in with a passkey</button>
<p role="alert" data-webauthn-error></p></form></section>`
    : '';
  return `${error}
<form method="post" action="/-/web/login">${req.csrfField()}${back}
<label for="name">Username</label><input id="name" name="name" autocomplete="username" required value="${escapeHtml(name)}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" id="login-submit">Log in</button>
</form>
<p><a href="/-/web/forgot-password">Forgot your password?</a> · <a href="/-/web/signup">Create an account</a></p>
${passkey}`;
}

export async function showLogin(req: WebRequest): Promise<void> {
  const returnTo = safeReturnTo(req.ctx.query.get('returnTo'));
  if (req.user) return req.redirect(returnTo ?? '/-/web/account');
  await req.ensureSession();
  req.html(200, 'Log in', `${await req.takeFlash()}${loginForm(req, returnTo)}`, { script: true });
}

export async function submitLogin(req: WebRequest): Promise<void> {
  const returnTo = safeReturnTo(req.field('returnTo'));
  const name = req.field('name');
  let user: UserRecord;
  try {
    user = await req.deps.accounts.authenticate(name, req.field('password'), req.ip);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    retryAfter(req, e);
    return req.html(statusOf(e), 'Log in', loginForm(req, returnTo, name, alert(e)), { script: true });
  }
  if ((await factorsOf(req.deps, user)).any) {
    await req.replaceSession(null, { pendingUserId: user.id, pendingAt: req.deps.clock(), ...(returnTo ? { returnTo } : {}) });
    return req.redirect('/-/web/second-factor');
  }
  req.redirect(await completeLogin(req, user, returnTo));
}

function secondFactorForm(req: WebRequest, factors: Factors, error = ''): string {
  const totp = factors.totp
    ? `<section><h2>Authenticator app</h2>
<form method="post" action="/-/web/second-factor">${req.csrfField()}<input type="hidden" name="method" value="totp">
<label for="totp-code">The 6-digit code your app shows</label>
<input id="totp-code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit" id="submit-totp">Continue</button></form></section>`
    : '';
  const passkey = factors.passkeys.length > 0 && req.deps.secondFactors.passkeysAvailable
    ? `<section><h2>Passkey</h2>
<form data-webauthn="authenticate" data-options-url="/-/web/passkeys/second-factor/options" data-verify-url="/-/web/passkeys/second-factor/verify">
<button type="submit" id="second-factor-passkey">Use a passkey</button>
<p role="alert" data-webauthn-error></p></form></section>`
    : '';
  return `${error}<p>Your password was right. Now confirm it is you with your second factor.</p>${totp}${passkey}
<section><h2>Recovery code</h2><p>Lost your device? Each recovery code works once.</p>
<form method="post" action="/-/web/second-factor">${req.csrfField()}<input type="hidden" name="method" value="recovery">
<label for="recovery-code">Recovery code</label><input id="recovery-code" name="code" autocomplete="off" required>
<button type="submit" id="submit-recovery">Use the recovery code</button></form></section>
<p><a href="/-/web/login">Start again</a></p>`;
}

export async function showSecondFactor(req: WebRequest): Promise<void> {
  const user = await pendingUser(req);
  if (!user) return req.redirect('/-/web/login');
  req.html(200, 'Two-factor authentication', secondFactorForm(req, await factorsOf(req.deps, user)), { script: true });
}

export async function submitSecondFactor(req: WebRequest): Promise<void> {
  const user = await pendingUser(req);
  const session = req.session;
  if (!user || !session) return req.redirect('/-/web/login');
  const code = req.field('code').trim();
  try {
    if (req.field('method') === 'recovery') await req.deps.secondFactors.useRecoveryCode(user, code, req.ip);
    else await req.deps.secondFactors.verifyTotp(user, code, sessionCredential(session), req.ip);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    retryAfter(req, e);
    return req.html(statusOf(e), 'Two-factor authentication', secondFactorForm(req, await factorsOf(req.deps, user), alert(e)), { script: true });
  }
  req.redirect(await completeLogin(req, user, session.data.returnTo));
}

export async function logout(req: WebRequest): Promise<void> {
  await req.endSession();
  req.redirect('/-/web/login');
}
