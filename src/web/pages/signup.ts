// Signing up: a name, an address (verified by the link mailed at once) and a password that is
// not in a breach corpus. The new account is logged in; its settings page says what to do next.
import { isAttestryError } from '../../core/errors.ts';
import { MIN_PASSWORD_LENGTH } from '../../security/passwords/scrypt.ts';
import { escapeHtml } from '../html.ts';
import { alert, retryAfter, statusOf, type WebRequest } from '../web-context.ts';

function signupForm(req: WebRequest, values: { name?: string; email?: string } = {}, error = ''): string {
  return `${error}
<form method="post" action="/-/web/signup">${req.csrfField()}
<label for="name">Username</label><input id="name" name="name" autocomplete="username" required value="${escapeHtml(values.name ?? '')}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required value="${escapeHtml(values.email ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="new-password" required aria-describedby="password-help">
<p id="password-help">At least ${MIN_PASSWORD_LENGTH} characters. Passwords found in known data breaches are refused.</p>
<button type="submit" id="signup-submit">Create account</button>
</form>
<p>Already have an account? <a href="/-/web/login">Log in</a></p>`;
}

export async function showSignup(req: WebRequest): Promise<void> {
  if (req.user) return req.redirect('/-/web/account');
  await req.ensureSession();
  req.html(200, 'Create your account', signupForm(req));
}

export async function submitSignup(req: WebRequest): Promise<void> {
  const values = { name: req.field('name'), email: req.field('email') };
  try {
    const user = await req.deps.accounts.register({ ...values, password: req.field('password') });
    req.ctx.logFields.user = user.name;
    await req.replaceSession(user.id);
    await req.flash(`Welcome, ${user.name}. We sent a link to ${user.email}: open it to verify your address.`);
    req.redirect('/-/web/account');
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    retryAfter(req, e);
    req.html(statusOf(e), 'Create your account', signupForm(req, values, alert(e)));
  }
}
