// What every account page works with: the services, the request, its browser session (cookie
// set whenever the session is created or replaced), the parsed form, and the ways to answer
// (a page, a redirect, JSON for webauthn.js). Refusals are shown with their stable code in
// `data-code`, so tests (and people reporting problems) can name them.
import type { RequestContext } from '../http/context.ts';
import { STATUS_FOR_KIND } from '../http/status.ts';
import { sendJson } from '../http/respond.ts';
import type { AttestryError } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
import type { AccountService } from '../core/accounts/account-service.ts';
import type { EmailVerification } from '../core/accounts/email-verification.ts';
import type { SecondFactors } from '../core/accounts/second-factors.ts';
import type { OrgService } from '../core/orgs/org-service.ts';
import type { PackageService } from '../core/packages/package-service.ts';
import type { Ecosystem } from '../core/packages/ecosystem.ts';
import type { ResolvedSession, SessionData, WebSessions } from '../core/accounts/web-sessions.ts';
import type { MetadataStore, UserRecord, WebAuthnCredentialRecord } from '../storage/metadata/store.ts';
import type { UserPrincipal } from '../security/authz/principal.ts';
import { clearedSessionCookie, sessionCookie } from './cookies.ts';
import { escapeHtml, page, PAGE_HEADERS } from './html.ts';

export interface WebDeps {
  accounts: AccountService;
  secondFactors: SecondFactors;
  emailVerification: EmailVerification;
  webSessions: WebSessions;
  store: MetadataStore;
  clock: Clock;
  publicUrl: string;
  /** The organization and package-access pages (src/web/pages/orgs.ts, package-access.ts). */
  orgs: OrgService;
  packages: PackageService;
  /** The ecosystem those pages show packages of (npm). */
  eco: Ecosystem;
}

/** A password was right this long ago at most, or the second step starts over. */
export const PENDING_LOGIN_MS = 10 * 60_000;
/** A WebAuthn challenge answers within this long, once. */
export const CHALLENGE_TTL_MS = 5 * 60_000;

/** Where a login may return to: pages of this site a person asked for, nothing else (no open redirect). */
const RETURN_TO = /^\/-\/web\/(?:account|account\/security|account\/totp|otp\/[A-Za-z0-9_-]{16,64}|orgs|org\/[A-Za-z0-9._~%-]{1,300}(?:\/audit|\/team\/[A-Za-z0-9._~%-]{1,300})?|package\/[A-Za-z0-9._~%@/-]{1,430}\/access)$/;
/** The npm CLI's web login (set only by that page, never from a request: see login-page.ts). */
export const CLI_LOGIN_PATH = /^\/-\/web\/login\/([A-Za-z0-9_-]{10,64})$/;

export const safeReturnTo = (value: unknown): string | undefined =>
  typeof value === 'string' && RETURN_TO.test(value) ? value : undefined;

export class WebRequest {
  readonly ctx: RequestContext;
  readonly deps: WebDeps;
  session: ResolvedSession | undefined;
  fields: Record<string, unknown> = {};

  constructor(ctx: RequestContext, deps: WebDeps, session: ResolvedSession | undefined) {
    this.ctx = ctx;
    this.deps = deps;
    this.session = session;
  }

  get user(): UserRecord | null {
    return this.session?.user ?? null;
  }

  get ip(): string | null {
    return this.ctx.ip || null;
  }

  get userAgent(): string {
    const ua = this.ctx.req.headers['user-agent'];
    return typeof ua === 'string' && ua.trim() !== '' ? ua.slice(0, 200) : 'unknown browser';
  }

  /** A posted field as a string ('' when absent or not a string). */
  field(name: string): string {
    const v = this.fields[name];
    return typeof v === 'string' ? v : '';
  }

  private get secure(): boolean {
    return this.deps.publicUrl.startsWith('https:');
  }

  private adopt(s: ResolvedSession): ResolvedSession {
    this.session = s;
    this.ctx.res.setHeader('set-cookie', sessionCookie(s.cookie, this.secure));
    return s;
  }

  /** A session for a visitor who is not logged in, so forms can carry a CSRF token. */
  async ensureSession(): Promise<ResolvedSession> {
    return this.session ?? this.adopt(await this.deps.webSessions.create(null, this.ip, this.userAgent));
  }

  /** A new session id whenever privilege changes (login, a half-finished login), so a planted id is worthless. */
  async replaceSession(userId: number | null, data: SessionData = {}): Promise<ResolvedSession> {
    return this.adopt(await this.deps.webSessions.elevate(this.session, userId, this.ip, this.userAgent, data));
  }

  async endSession(): Promise<void> {
    if (this.session) await this.deps.webSessions.destroy(this.session);
    this.session = undefined;
    this.ctx.res.setHeader('set-cookie', clearedSessionCookie(this.secure));
  }

  forgetDeadCookie(): void {
    this.ctx.res.setHeader('set-cookie', clearedSessionCookie(this.secure));
  }

  async saveSession(): Promise<void> {
    if (this.session) await this.deps.webSessions.save(this.session);
  }

  /** A one-time message for the next page this session shows. */
  async flash(message: string): Promise<void> {
    const s = await this.ensureSession();
    s.data.flash = message;
    await this.deps.webSessions.save(s);
  }

  async takeFlash(): Promise<string> {
    const message = this.session?.data.flash;
    if (!this.session || message === undefined) return '';
    delete this.session.data.flash;
    await this.deps.webSessions.save(this.session);
    return `<p class="notice" role="status">${escapeHtml(message)}</p>`;
  }

  csrfField(): string {
    return this.session ? `<input type="hidden" name="_csrf" value="${escapeHtml(this.session.record.csrfToken)}">` : '';
  }

  /** A page: the site header, and the CSRF meta tag plus webauthn.js when the page runs passkey ceremonies. */
  html(status: number, title: string, body: string, options: { script?: boolean } = {}): void {
    const html = page(title, body, {
      header: this.header(),
      ...(options.script && this.session ? { script: true, csrf: this.session.record.csrfToken } : {}),
    });
    const data = Buffer.from(html);
    this.ctx.res.writeHead(status, { ...PAGE_HEADERS, 'content-length': data.length });
    this.ctx.res.end(this.ctx.method === 'HEAD' ? undefined : data);
  }

  /** 303: the browser follows with a GET, so a reload never repeats the POST. */
  redirect(location: string): void {
    this.ctx.res.writeHead(303, { location, 'cache-control': 'no-store', 'content-length': 0 });
    this.ctx.res.end();
  }

  /** To the login page, coming back here afterwards when this is a page one may return to. */
  redirectToLogin(returnTo: string = this.ctx.path): void {
    const back = safeReturnTo(returnTo);
    this.redirect(back ? `/-/web/login?returnTo=${encodeURIComponent(back)}` : '/-/web/login');
  }

  json(status: number, body: unknown): void {
    sendJson(this.ctx.res, status, body, { 'x-content-type-options': 'nosniff' });
  }

  private header(): string {
    const user = this.user;
    if (!user) return '<header><strong>Attestry</strong> <a href="/-/web/login">Log in</a> <a href="/-/web/signup">Sign up</a></header>';
    return `<header><strong>Attestry</strong> <span>Signed in as <strong>${escapeHtml(user.name)}</strong></span>
<a href="/-/web/account">Account</a> <a href="/-/web/orgs">Organizations</a> <a href="/-/web/account/security">Security history</a>
<form method="post" action="/-/web/logout">${this.csrfField()}<button type="submit" id="logout">Log out</button></form></header>`;
  }
}

export const statusOf = (e: AttestryError): number => STATUS_FOR_KIND[e.kind];

/** A refusal as people see it; the code is for tests and support requests. */
export function alert(e: AttestryError): string {
  return `<p class="error" role="alert" data-code="${escapeHtml(e.code)}">${escapeHtml(e.message)}</p>`;
}

/** The Retry-After a throttled attempt was told, as a header. */
export function retryAfter(req: WebRequest, e: AttestryError): void {
  const seconds = e.detail?.retryAfterSeconds;
  if (typeof seconds === 'number' && !req.ctx.res.headersSent) req.ctx.res.setHeader('retry-after', String(seconds));
}

export interface Factors {
  totp: boolean;
  passkeys: WebAuthnCredentialRecord[];
  /** Any second factor at all: a login with a password must then prove one. */
  any: boolean;
}

export async function factorsOf(deps: WebDeps, user: UserRecord): Promise<Factors> {
  const passkeys = await deps.secondFactors.passkeys(user.id);
  const totp = user.totpSecret !== null;
  return { totp, passkeys, any: totp || passkeys.length > 0 };
}

/** TOTP's replay rule needs an id for "the credential that presented the code": this browser session. */
export const sessionCredential = (s: ResolvedSession): string => `web:${s.record.idHash.slice(0, 16)}`;

export function principalOf(deps: WebDeps, user: UserRecord): UserPrincipal {
  return { kind: 'user', userId: user.id, name: user.name, isAdmin: user.isAdmin, token: null, mfa: deps.secondFactors.mfaState(user) };
}

export const when = (ms: number | null): string =>
  ms === null ? '—' : `<time datetime="${new Date(ms).toISOString()}">${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC</time>`;
