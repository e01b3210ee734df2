// Setting up and removing second factors: the authenticator app (a QR code and the key as text,
// confirmed by a code), new recovery codes (shown once, never stored in the clear), removing a
// passkey. Passkeys are added by webauthn.js through passkeys-api.ts.
import QRCode from 'qrcode';
import { conflict, isAttestryError } from '../../core/errors.ts';
import { TOTP_PENDING_TTL_MS } from '../../core/accounts/second-factors.ts';
import { otpauthUri } from '../../security/mfa/totp.ts';
import type { UserRecord } from '../../storage/metadata/store.ts';
import { escapeHtml } from '../html.ts';
import { accountChange } from './account.ts';
import { alert, factorsOf, retryAfter, sessionCredential, statusOf, type WebRequest } from '../web-context.ts';

/**
 * The issuer authenticator apps show: the words app.ts gives SecondFactors, with the ':' the
 * key-URI format reserves made a space, as SecondFactors does for the URI of startTotp.
 */
export const totpIssuer = (publicUrl: string): string => `Attestry (${new URL(publicUrl).host})`.replace(/:/g, ' ');

/** Groups of four, as people type keys into apps; apps ignore the spaces. */
const grouped = (secret: string) => secret.replace(/(.{4})(?=.)/g, '$1 ');

export async function startTotp(req: WebRequest): Promise<void> {
  const user = req.user;
  if (!user) return req.redirectToLogin('/-/web/account');
  try {
    await req.deps.secondFactors.startTotp(user, 'auth-and-writes');
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    await req.flash(e.message);
    return req.redirect('/-/web/account');
  }
  req.redirect('/-/web/account/totp');
}

async function renderEnrolment(req: WebRequest, user: UserRecord, status: number, error: string): Promise<void> {
  const secret = user.totpPendingSecret as string;
  const svg = await QRCode.toString(otpauthUri(secret, user.name, totpIssuer(req.deps.publicUrl)), { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
  req.html(status, 'Set up an authenticator app', `${error}
<ol><li>Open your authenticator app and add an account by scanning this code:
<figure class="qr" role="img" aria-label="QR code holding the key shown below">${svg}</figure></li>
<li>Or type this key into the app: <code id="totp-secret" class="secret" data-secret="${escapeHtml(secret)}">${escapeHtml(grouped(secret))}</code></li>
<li>Enter the 6-digit code the app now shows.</li></ol>
<form method="post" action="/-/web/account/totp/confirm">${req.csrfField()}
<label for="totp-code">Code from the app</label><input id="totp-code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit" id="totp-confirm">Turn on</button></form>
<p><a href="/-/web/account">Cancel</a></p>`);
}

export async function showTotpEnrolment(req: WebRequest): Promise<void> {
  const user = req.user;
  if (!user) return req.redirectToLogin();
  if (user.totpSecret !== null) return req.redirect('/-/web/account');
  if (user.totpPendingSecret === null || user.totpPendingAt === null || req.deps.clock() - user.totpPendingAt > TOTP_PENDING_TTL_MS) {
    await req.flash('The set-up took too long: start it again.');
    return req.redirect('/-/web/account');
  }
  await renderEnrolment(req, user, 200, '');
}

/** Recovery codes, right after they were made: this response is the only place they ever appear. */
function showRecoveryCodes(req: WebRequest, codes: string[], intro: string): void {
  const text = `Attestry recovery codes\n\n${codes.join('\n')}\n\nEach code works once.\n`;
  req.html(200, 'Your recovery codes', `<p role="status">${escapeHtml(intro)}</p>
<p><strong>Save them now: they will not be shown again.</strong> Each code works once, when you cannot use your app or passkey.</p>
<ol class="codes" id="recovery-codes">${codes.map((c) => `<li><code>${escapeHtml(c)}</code></li>`).join('')}</ol>
<p><a download="attestry-recovery-codes.txt" href="data:text/plain;charset=utf-8,${encodeURIComponent(text)}">Download them as a text file</a></p>
<p><a href="/-/web/account" id="recovery-done">I have saved them</a></p>`);
}

export async function confirmTotp(req: WebRequest): Promise<void> {
  const user = req.user;
  if (!user) return req.redirectToLogin('/-/web/account');
  let codes: string[];
  try {
    codes = await req.deps.secondFactors.confirmTotp(user, req.field('code'), req.ip);
  } catch (e) {
    if (!isAttestryError(e)) throw e;
    retryAfter(req, e);
    if (user.totpPendingSecret === null) {
      await req.flash(e.message);
      return req.redirect('/-/web/account');
    }
    return renderEnrolment(req, user, statusOf(e), alert(e));
  }
  req.ctx.logFields.user = user.name;
  if (codes.length === 0) {
    await req.flash('The authenticator app is on. Your recovery codes stay as they were.');
    return req.redirect('/-/web/account');
  }
  showRecoveryCodes(req, codes, 'The authenticator app is on. These are your recovery codes.');
}

export async function regenerateRecoveryCodes(req: WebRequest): Promise<void> {
  const user = req.user;
  if (!user) return req.redirectToLogin('/-/web/account');
  if (!(await factorsOf(req.deps, user)).any) {
    return accountChange(req, () => Promise.reject(conflict('MFA_NOT_ENABLED', 'Add an authenticator app or a passkey first: recovery codes stand in for them')));
  }
  const codes = await req.deps.secondFactors.regenerateRecoveryCodes(user);
  req.ctx.logFields.user = user.name;
  showRecoveryCodes(req, codes, 'These are your new recovery codes; the old ones no longer work.');
}

export const disableTotp = (req: WebRequest): Promise<void> => accountChange(req, async (user) => {
  const session = req.session;
  if (!session) throw conflict('LOGIN_REQUIRED', 'Log in again');
  await req.deps.accounts.authenticate(user.name, req.field('password'), req.ip);
  await req.deps.secondFactors.verifyTotp(user, req.field('code').trim(), sessionCredential(session), req.ip);
  await req.deps.secondFactors.disableTotp(user);
  await req.deps.webSessions.destroyOthers(user.id, session);
  return 'The authenticator app was removed. Other browsers were logged out.';
});

export const removePasskey = (req: WebRequest): Promise<void> => accountChange(req, async (user) => {
  await req.deps.accounts.authenticate(user.name, req.field('password'), req.ip);
  await req.deps.secondFactors.removePasskey(user, req.field('id'));
  await req.deps.webSessions.destroyOthers(user.id, req.session);
  return 'The passkey was removed. Other browsers were logged out.';
});
