// The JSON endpoints webauthn.js calls, two per ceremony: options (a fresh challenge, kept in the
// browser session with an expiry) and verify (the challenge is taken out before it is checked, so
// it answers once). Ceremonies: adding a passkey (logged in), signing in with one and no username
// (a discoverable credential), a passkey as the second step of a password login, and approving
// npm's web OTP.
import { invalid, notFound, unauthenticated } from '../../core/errors.ts';
import type { SessionData } from '../../core/accounts/web-sessions.ts';
import type { UserRecord } from '../../storage/metadata/store.ts';
import { completeLogin, pendingUser } from './login.ts';
import { CHALLENGE_TTL_MS, safeReturnTo, type WebRequest } from '../web-context.ts';

type Purpose = NonNullable<SessionData['webauthn']>['purpose'];
const OTP_ID = /^[A-Za-z0-9_-]{16,64}$/;

async function issue(req: WebRequest, purpose: Purpose, made: { options: unknown; challenge: string }): Promise<void> {
  const session = await req.ensureSession();
  session.data.webauthn = { challenge: made.challenge, purpose, expiresAt: req.deps.clock() + CHALLENGE_TTL_MS };
  await req.saveSession();
  req.json(200, made.options);
}

/** The challenge issued for `purpose`, removed from the session whatever happens next. */
async function take(req: WebRequest, purpose: Purpose): Promise<string> {
  const session = req.session;
  const waiting = session?.data.webauthn;
  if (session && waiting) {
    delete session.data.webauthn;
    await req.saveSession();
  }
  if (!waiting || waiting.purpose !== purpose || waiting.expiresAt <= req.deps.clock()) {
    throw invalid('WEBAUTHN_CHALLENGE_INVALID', 'The passkey request expired or was already answered; try again');
  }
  return waiting.challenge;
}

function loggedIn(req: WebRequest): UserRecord {
  if (!req.user) throw unauthenticated('LOGIN_REQUIRED', 'Your session has ended; log in again');
  return req.user;
}

async function pending(req: WebRequest): Promise<UserRecord> {
  const user = await pendingUser(req);
  if (!user) throw unauthenticated('LOGIN_PENDING_EXPIRED', 'The login took too long; start again with your password');
  return user;
}

async function openChallengeOf(req: WebRequest, user: UserRecord): Promise<string> {
  const id = req.field('challenge');
  const expired = () => notFound('OTP_CHALLENGE_EXPIRED', 'This approval request has expired or is for another account; run the command again');
  if (!OTP_ID.test(id)) throw expired();
  if ((await req.deps.secondFactors.webOtpChallenge(id)).userId !== user.id) throw expired();
  return id;
}

export async function registerOptions(req: WebRequest): Promise<void> {
  await issue(req, 'register', await req.deps.secondFactors.passkeyRegistrationOptions(loggedIn(req)));
}

export async function registerVerify(req: WebRequest): Promise<void> {
  const user = loggedIn(req);
  const challenge = await take(req, 'register');
  const added = await req.deps.secondFactors.addPasskey(user, req.fields.credential, challenge, req.field('name'));
  req.ctx.logFields.user = user.name;
  await req.flash(`The passkey "${added.name}" was added.`);
  req.json(200, { redirect: '/-/web/account' });
}

export async function loginOptions(req: WebRequest): Promise<void> {
  await issue(req, 'login', await req.deps.secondFactors.passkeyAuthenticationOptions(null));
}

export async function loginVerify(req: WebRequest): Promise<void> {
  const challenge = await take(req, 'login');
  const user = await req.deps.secondFactors.verifyPasskey(req.fields.credential, challenge, null);
  req.json(200, { redirect: await completeLogin(req, user, safeReturnTo(req.field('returnTo'))) });
}

export async function secondFactorOptions(req: WebRequest): Promise<void> {
  await issue(req, 'second-factor', await req.deps.secondFactors.passkeyAuthenticationOptions(await pending(req)));
}

export async function secondFactorVerify(req: WebRequest): Promise<void> {
  const user = await pending(req);
  const returnTo = req.session?.data.returnTo;
  const challenge = await take(req, 'second-factor');
  await req.deps.secondFactors.verifyPasskey(req.fields.credential, challenge, user);
  req.json(200, { redirect: await completeLogin(req, user, returnTo) });
}

export async function approveOptions(req: WebRequest): Promise<void> {
  const user = loggedIn(req);
  await openChallengeOf(req, user);
  await issue(req, 'approve', await req.deps.secondFactors.passkeyAuthenticationOptions(user));
}

export async function approveVerify(req: WebRequest): Promise<void> {
  const user = loggedIn(req);
  const challenge = await take(req, 'approve');
  const id = await openChallengeOf(req, user);
  await req.deps.secondFactors.verifyPasskey(req.fields.credential, challenge, user);
  await req.deps.secondFactors.approveWebOtp(id, user, 'webauthn');
  req.ctx.logFields.user = user.name;
  req.json(200, { redirect: `/-/web/otp/${id}` });
}

export async function confirmOptions(req: WebRequest): Promise<void> {
  await issue(req, 'confirm', await req.deps.secondFactors.passkeyAuthenticationOptions(loggedIn(req)));
}

/** A passkey confirms the person for the next changes (PASSKEY_CONFIRMATION_MS), then back to the page. */
export async function confirmVerify(req: WebRequest): Promise<void> {
  const user = loggedIn(req);
  const challenge = await take(req, 'confirm');
  await req.deps.secondFactors.verifyPasskey(req.fields.credential, challenge, user);
  const session = await req.ensureSession();
  session.data.passkeyConfirmedAt = req.deps.clock();
  await req.saveSession();
  req.ctx.logFields.user = user.name;
  req.json(200, { redirect: safeReturnTo(req.field('returnTo')) ?? '/-/web/account' });
}
