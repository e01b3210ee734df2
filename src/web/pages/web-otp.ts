// npm's web OTP: a command that needs a second factor prints /-/web/otp/<id>; the person, logged
// in here as the account the command runs as, approves it with an authenticator-app code or a
// passkey (passkey approvals count as phishing-resistant: the CLI's token says 'webauthn').
import { isAttestryError, notFound } from '../../core/errors.ts';
import type { UserRecord } from '../../storage/metadata/store.ts';
import { escapeHtml } from '../html.ts';
import { alert, factorsOf, retryAfter, sessionCredential, statusOf, type WebRequest } from '../web-context.ts';

const TITLE = 'Approve a command-line request';
const approved = '<p role="status" id="otp-approved">Approved. You can close this window and return to your terminal.</p>';

/** The challenge when it is this person's and still open; otherwise the page has answered. */
async function openChallenge(req: WebRequest, user: UserRecord, id: string): Promise<boolean> {
  try {
    const c = await req.deps.secondFactors.webOtpChallenge(id);
    // Someone else's request looks exactly like an expired one: ids reveal nothing.
    if (c.userId !== user.id) {
      req.html(404, TITLE, alert(notFound('OTP_CHALLENGE_EXPIRED', 'This approval request has expired or is for another account; run the command again')));
      return false;
    }
    if (c.approved) {
      req.html(200, TITLE, approved);
      return false;
    }
    return true;
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    req.html(statusOf(e), TITLE, alert(e));
    return false;
  }
}

async function approvalForm(req: WebRequest, user: UserRecord, id: string, error = ''): Promise<string> {
  const factors = await factorsOf(req.deps, user);
  const totp = factors.totp
    ? `<form method="post" action="/-/web/otp/${escapeHtml(id)}">${req.csrfField()}
<label for="otp-code">The 6-digit code your authenticator app shows</label>
<input id="otp-code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit" id="otp-approve">Approve</button></form>`
    : '';
  const passkey = factors.passkeys.length > 0 && req.deps.secondFactors.passkeysAvailable
    ? `<form data-webauthn="authenticate" data-options-url="/-/web/passkeys/approve/options" data-verify-url="/-/web/passkeys/approve/verify">
<input type="hidden" name="challenge" value="${escapeHtml(id)}"><button type="submit" id="otp-approve-passkey">Approve with a passkey</button>
<p role="alert" data-webauthn-error></p></form>`
    : '';
  const none = factors.any ? '' : '<p>This account has no second factor to approve with. Add one in your <a href="/-/web/account">account settings</a>.</p>';
  return `${error}<p>A command run as <strong>${escapeHtml(user.name)}</strong> (for example <code>npm publish</code>) asks for your second factor.
Approve only if you started it just now.</p>${totp}${passkey}${none}`;
}

export async function showWebOtp(req: WebRequest, id: string): Promise<void> {
  const user = req.user;
  if (!user) return req.redirectToLogin(`/-/web/otp/${id}`);
  if (!(await openChallenge(req, user, id))) return;
  req.html(200, TITLE, await approvalForm(req, user, id), { script: true });
}

export async function submitWebOtp(req: WebRequest, id: string): Promise<void> {
  const user = req.user;
  const session = req.session;
  if (!user || !session) return req.redirectToLogin(`/-/web/otp/${id}`);
  if (!(await openChallenge(req, user, id))) return;
  try {
    await req.deps.secondFactors.verifyTotp(user, req.field('code').trim(), sessionCredential(session), req.ip);
    await req.deps.secondFactors.approveWebOtp(id, user, 'totp');
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    retryAfter(req, e);
    return req.html(statusOf(e), TITLE, await approvalForm(req, user, id, alert(e)), { script: true });
  }
  req.ctx.logFields.user = user.name;
  req.html(200, TITLE, approved);
}
