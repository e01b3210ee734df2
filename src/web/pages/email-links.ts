// The pages behind emailed links: verifying an address (at sign-up or for an email change), and
// account recovery (asking for a link; choosing a new password with it, plus a second factor
// when the account has one). Opening a link only shows a button; the POST spends it.
import { invalid, isAttestryError } from '../../core/errors.ts';
import { validatePassword } from '../../core/accounts/account-service.ts';
import type { UserRecord } from '../../storage/metadata/store.ts';
import { inspectEmailLink } from '../email-links.ts';
import { escapeHtml } from '../html.ts';
import { alert, factorsOf, retryAfter, sessionCredential, statusOf, type WebRequest } from '../web-context.ts';

const secretField = (secret: string) => `<input type="hidden" name="secret" value="${escapeHtml(secret)}">`;
const MAX_EMAIL_LENGTH = 254;

export async function showVerifyEmail(req: WebRequest, secret: string): Promise<void> {
  const title = 'Verify your email address';
  try {
    await inspectEmailLink(req.deps.store, req.deps.clock, secret, ['verify', 'change']);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    return req.html(statusOf(e), title, `${alert(e)}<p>Request a new link from your <a href="/-/web/account">account settings</a>.</p>`);
  }
  await req.ensureSession();
  req.html(200, title, `<p>Confirm that this address is yours.</p>
<form method="post" action="/-/web/verify-email">${req.csrfField()}${secretField(secret)}
<button type="submit" id="verify-email">Verify my email address</button></form>`);
}

export async function submitVerifyEmail(req: WebRequest): Promise<void> {
  const title = 'Verify your email address';
  try {
    const { purpose } = await inspectEmailLink(req.deps.store, req.deps.clock, req.field('secret'), ['verify', 'change']);
    const { email } = await req.deps.emailVerification.consume(req.field('secret'), purpose);
    req.html(200, title, `<p role="status" id="email-verified">Your email address <strong>${escapeHtml(email)}</strong> is verified.</p>
<p><a href="/-/web/account">Go to your account</a></p>`);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    req.html(statusOf(e), title, `${alert(e)}<p>Request a new link from your <a href="/-/web/account">account settings</a>.</p>`);
  }
}

export async function showForgotPassword(req: WebRequest): Promise<void> {
  await req.ensureSession();
  req.html(200, 'Forgot your password?', `<p>Enter the verified email address of your account; we will send a link to choose a new password.</p>
<form method="post" action="/-/web/forgot-password">${req.csrfField()}
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required>
<button type="submit" id="forgot-submit">Send the link</button></form>`);
}

export async function submitForgotPassword(req: WebRequest): Promise<void> {
  const email = req.field('email').trim();
  // The answer is the same whether or not an account uses the address: no enumeration.
  if (email.length > 0 && email.length <= MAX_EMAIL_LENGTH) await req.deps.emailVerification.requestRecovery(email);
  req.html(200, 'Check your mail', `<p role="status" id="recovery-sent">If an account with a verified address <strong>${escapeHtml(email)}</strong> exists, we sent it a link to choose a new password. The link works once, for one hour.</p>`);
}

function resetForm(req: WebRequest, secret: string, secondFactor: boolean, error = ''): string {
  const code = secondFactor
    ? `<label for="code">A code from your authenticator app, or one of your recovery codes</label>
<input id="code" name="code" autocomplete="one-time-code" required>`
    : '';
  return `${error}<form method="post" action="/-/web/reset-password">${req.csrfField()}${secretField(secret)}
<label for="password">New password</label><input id="password" name="password" type="password" autocomplete="new-password" required>
${code}<button type="submit" id="reset-submit">Change the password</button></form>`;
}

export async function showResetPassword(req: WebRequest, secret: string): Promise<void> {
  const title = 'Choose a new password';
  let user: UserRecord;
  try {
    ({ user } = await inspectEmailLink(req.deps.store, req.deps.clock, secret, ['recover']));
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    return req.html(statusOf(e), title, `${alert(e)}<p><a href="/-/web/forgot-password">Request a new link</a></p>`);
  }
  await req.ensureSession();
  req.html(200, title, resetForm(req, secret, (await factorsOf(req.deps, user)).any));
}

/**
 * Everything that can be refused is checked before the link is spent — the password rules, the
 * leaked-password check and the second factor — so a typo does not cost the person their link.
 */
export async function submitResetPassword(req: WebRequest): Promise<void> {
  const title = 'Choose a new password';
  const secret = req.field('secret');
  const { accounts, emailVerification, secondFactors } = req.deps;
  let user: UserRecord;
  try {
    ({ user } = await inspectEmailLink(req.deps.store, req.deps.clock, secret, ['recover']));
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    return req.html(statusOf(e), title, `${alert(e)}<p><a href="/-/web/forgot-password">Request a new link</a></p>`);
  }
  const factors = await factorsOf(req.deps, user);
  try {
    const password = validatePassword(req.field('password'));
    const leaked = await accounts.security?.leaked.check(password);
    if (leaked !== undefined && leaked !== 'unavailable' && leaked.leaked) {
      throw invalid('PASSWORD_LEAKED', 'This password appears in known data breaches; choose another one');
    }
    if (factors.any) {
      const code = req.field('code').trim();
      if (code === '') throw invalid('SECOND_FACTOR_REQUIRED', 'This account has two-factor authentication: enter a code from your app or a recovery code');
      const session = await req.ensureSession();
      if (factors.totp && /^\d{6}$/.test(code)) await secondFactors.verifyTotp(user, code, sessionCredential(session), req.ip);
      else await secondFactors.useRecoveryCode(user, code, req.ip);
    }
    const used = await emailVerification.consume(secret, 'recover');
    if (used.user.id !== user.id) throw invalid('EMAIL_LINK_INVALID', 'This link is not valid; request a new one');
    await accounts.resetPassword(used.user, password);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    retryAfter(req, e);
    return req.html(statusOf(e), title, resetForm(req, secret, factors.any, alert(e)));
  }
  req.ctx.logFields.user = user.name;
  // Every session of the account ended with the reset; this browser starts over at the login.
  await req.replaceSession(null);
  await req.flash('Your password was changed. Log in with the new one.');
  req.redirect('/-/web/login');
}
