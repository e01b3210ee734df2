// The messages Attestry sends. Each says what happened, when, and what to do if it was not you.
// Values that come from users (names, devices, addresses) are flattened to one short line in the
// text and escaped in the html; the only secret a mail ever carries is the one-time link of a
// verification or recovery mail.
import { invalid } from '../core/errors.ts';
import type { MailMessage } from './mailer.ts';

export type Factor = 'totp' | 'passkey' | 'security-key';

export type SecurityNotice =
  | { kind: 'password-changed' }
  | { kind: 'email-changed'; oldEmail: string; newEmail: string }
  | { kind: 'factor-added'; factor: Factor; name?: string }
  | { kind: 'factor-removed'; factor: Factor; name?: string }
  | { kind: 'recovery-code-used'; remaining: number }
  | { kind: 'recovery-codes-regenerated' }
  | { kind: 'token-created'; tokenName: string | null; readonly: boolean }
  /** A secret scanner reported the token public and it was revoked; `packageName` for a trusted-publishing token. */
  | { kind: 'token-leaked-revoked'; tokenName: string | null; url: string | null; packageName?: string }
  | { kind: 'trusted-publisher-added'; packageName: string; provider: string }
  | { kind: 'trusted-publisher-removed'; packageName: string }
  | { kind: 'new-device-login'; device: string; address: string | null }
  | { kind: 'account-locked'; until: string }
  | { kind: 'leaked-password' };

/** A run of a paragraph: literal wording, a user-controlled value (quoted or not), or a link. */
type Run = string | { value: string; quoted: boolean } | { link: string };
type Paragraph = Run[];

const v = (value: string): Run => ({ value, quoted: true });
const plain = (value: string): Run => ({ value, quoted: false });
const link = (url: string): Run => ({ link: url });

const MAX_VALUE_LENGTH = 200;
/** Fewer remaining recovery codes than this earns a nudge to generate new ones. */
const LOW_RECOVERY_CODES = 3;

export function verificationMail(to: string, user: string, link: string, expiresInHours: number): MailMessage {
  return render(to, 'verify-email', 'Verify your email address', user, [
    ['Someone, hopefully you, asked to use this address for the account ', v(user), '. To confirm it, open this link within ', duration(expiresInHours), ':'],
    [oneTimeLink(link)],
    ['The link works once.'],
    ['If this was not you, ignore this message: the address stays unverified and nothing else happens.'],
  ]);
}

/** The account-recovery (password reset) mail: only ever sent to a verified address. */
export function recoveryMail(to: string, user: string, link: string, expiresInHours: number): MailMessage {
  return render(to, 'account-recovery', 'Recover your account', user, [
    ['Someone, hopefully you, asked to recover the account ', v(user), '. To choose a new password, open this link within ', duration(expiresInHours), ':'],
    [oneTimeLink(link)],
    ['The link works once. Your two-factor methods stay as they are.'],
    ['If this was not you, ignore this message: your password stays the same. Someone knows your username and email address, so expect phishing attempts.'],
  ]);
}

export function securityNoticeMail(to: string, user: string, notice: SecurityNotice, at: Date, settingsUrl: string): MailMessage {
  if (Number.isNaN(at.getTime())) throw invalid('MAIL_TEMPLATE_INPUT_INVALID', 'the time of a notice must be a valid date');
  const { subject, what, ifNotYou } = describe(notice, user);
  return render(to, notice.kind, subject, user, [
    ...what,
    ['When: ', when(at)],
    ['If this was you, there is nothing to do. ', ...ifNotYou],
    ['Account settings: ', link(httpUrl(settingsUrl))],
  ]);
}

interface Description {
  subject: string;
  what: Paragraph[];
  ifNotYou: Run[];
}

function describe(notice: SecurityNotice, user: string): Description {
  const account: Run[] = ['your account ', v(user)];
  switch (notice.kind) {
    case 'password-changed':
      return {
        subject: 'Your password was changed',
        what: [['The password of ', ...account, ' was changed.']],
        ifNotYou: ['If it was not you, someone else can sign in as you: recover your account to set a new password, then check your two-factor methods, access tokens and security history. If you cannot sign in, contact the registry administrators.'],
      };
    case 'email-changed':
      return {
        subject: 'Your email address was changed',
        what: [['The email address of ', ...account, ' was changed from ', v(notice.oldEmail), ' to ', v(notice.newEmail), '.']],
        ifNotYou: ['If it was not you, sign in, change the address back and change your password. If you cannot sign in, contact the registry administrators and forward them this message.'],
      };
    case 'factor-added':
      return {
        subject: `A ${factorLabel(notice.factor)} was added to your account`,
        what: [['A ', factorLabel(notice.factor), ...factorName(notice.name), ' was added as a second factor to ', ...account, '.']],
        ifNotYou: ['If it was not you, someone else can sign in as you: remove it in your account settings, change your password and review your access tokens.'],
      };
    case 'factor-removed':
      return {
        subject: `A ${factorLabel(notice.factor)} was removed from your account`,
        what: [['The ', factorLabel(notice.factor), ...factorName(notice.name), ' was removed from the second factors of ', ...account, '.']],
        ifNotYou: ['If it was not you, someone else can sign in as you: change your password, set up your second factor again and review your access tokens.'],
      };
    case 'recovery-code-used': {
      const remaining = Math.max(0, Math.trunc(notice.remaining));
      const left: Paragraph = [`${remaining} recovery ${remaining === 1 ? 'code remains' : 'codes remain'}.`];
      if (remaining < LOW_RECOVERY_CODES) left.push(' Generate new codes in your account settings before you run out.');
      return {
        subject: 'A recovery code was used to sign in',
        what: [['A recovery code was used to sign in to ', ...account, '. It cannot be used again.'], left],
        ifNotYou: ['If it was not you, someone has your password and one of your recovery codes: change your password and generate new recovery codes now.'],
      };
    }
    case 'recovery-codes-regenerated':
      return {
        subject: 'New recovery codes were generated',
        what: [['New recovery codes were generated for ', ...account, '. The previous codes no longer work.']],
        ifNotYou: ['If it was not you, someone else can sign in as you: change your password and generate new recovery codes, then keep them somewhere safe.'],
      };
    case 'token-created':
      return {
        subject: 'A new access token was created',
        what: [[
          `A new ${notice.readonly ? 'read-only' : 'read-write'} access token `,
          ...(notice.tokenName === null ? ['without a name'] : [v(notice.tokenName)]),
          ' was created for ', ...account, '.',
          ...(notice.readonly ? [] : [' It can publish packages you maintain.']),
        ]],
        ifNotYou: ['If it was not you, revoke the token in your account settings now, change your password and check the recent versions of your packages.'],
      };
    case 'token-leaked-revoked':
      // The place comes from the reporter, not from us: shown without its scheme, so that the
      // only link in a notice stays the settings page.
      return {
        subject: 'An access token was found in public and revoked',
        what: [
          [
            ...(notice.packageName === undefined
              ? ['The access token ', ...(notice.tokenName === null ? ['without a name'] : [v(notice.tokenName)]), ' of ', ...account]
              : ['A trusted-publishing token for the package ', v(notice.packageName), ', whose trusted publisher was added by ', ...account]),
            ' was reported by a secret scanner as published',
            ...(notice.url === null ? [] : [' at ', v(notice.url.replace(/^[a-z][a-z0-9+.-]*:\/*/i, ''))]),
            '. It has been revoked and no longer works.',
          ],
          ['Remove it from where it was published and replace it where it was used with a new token.'],
        ],
        ifNotYou: ['If it was not you who published it, or you are unsure, check the recent versions of your packages and your security history: whoever found the token may have used it before it was revoked.'],
      };
    case 'trusted-publisher-added':
      return {
        subject: 'A trusted publisher was added to a package',
        what: [['A trusted publisher on ', v(notice.provider), ' was added to the package ', v(notice.packageName), ' by ', ...account, '. CI workflows it names can now publish the package without a token.']],
        ifNotYou: ['If it was not you, remove it in the package settings now, change your password and check the recent versions of the package.'],
      };
    case 'trusted-publisher-removed':
      return {
        subject: 'A trusted publisher was removed from a package',
        what: [['A trusted publisher was removed from the package ', v(notice.packageName), ' by ', ...account, '.']],
        ifNotYou: ['If it was not you, someone else can act as you: change your password, review the package owners and add the trusted publisher again.'],
      };
    case 'new-device-login':
      return {
        subject: 'New sign-in to your account',
        what: [['Someone signed in to ', ...account, ' from a device not seen before: ', v(notice.device), ...(notice.address === null ? [] : [', address ', v(notice.address)]), '.']],
        ifNotYou: ['If it was not you, someone has your credentials: change your password now and review your two-factor methods, access tokens and security history.'],
      };
    case 'account-locked':
      return {
        subject: 'Sign-in to your account is locked',
        what: [['After repeated failed sign-in attempts, signing in to ', ...account, ' is locked until ', plain(notice.until), '.']],
        ifNotYou: ['If it was not you, someone is guessing your credentials and the lock is holding them off. Sign in after that time, or ask the registry administrators to unlock the account sooner; change your password if you use it anywhere else.'],
      };
    case 'leaked-password':
      return {
        subject: 'Your password appears in a list of leaked passwords',
        what: [['The password of ', ...account, ' appears in a public list of passwords leaked from other sites, so attackers will try it. Change it now in your account settings.']],
        ifNotYou: ['If you did not sign in just now, someone else did with your password: change it immediately and review your security history.'],
      };
  }
}

function factorLabel(factor: Factor): string {
  return factor === 'totp' ? 'authenticator app' : factor === 'passkey' ? 'passkey' : 'security key';
}

function factorName(name: string | undefined): Run[] {
  return name === undefined || name === '' ? [] : [' named ', v(name)];
}

function render(to: string, template: string, subject: string, user: string, paragraphs: Paragraph[]): MailMessage {
  const all: Paragraph[] = [['Hello ', plain(user), ','], ...paragraphs];
  const footer = 'Attestry sends this message to the address of the account it concerns; it cannot be turned off.';
  return {
    to,
    template,
    subject: `Attestry: ${subject}`,
    text: `${all.map((p) => p.map(runText).join('')).join('\n\n')}\n\n-- \n${footer}\n`,
    html:
      '<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.4">\n' +
      all.map((p) => `<p>${p.map(runHtml).join('')}</p>\n`).join('') +
      `<hr><p style="color:#555;font-size:smaller">${escapeHtml(footer)}</p>\n</body></html>\n`,
  };
}

function runText(run: Run): string {
  if (typeof run === 'string') return run;
  if ('link' in run) return run.link;
  return run.quoted ? `"${oneLine(run.value)}"` : oneLine(run.value);
}

function runHtml(run: Run): string {
  if (typeof run === 'string') return escapeHtml(run);
  if ('link' in run) return `<a href="${escapeHtml(run.link)}">${escapeHtml(run.link)}</a>`;
  const value = escapeHtml(oneLine(run.value));
  return run.quoted ? `&ldquo;<strong>${value}</strong>&rdquo;` : value;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/**
 * One short line: no control characters (a user agent with a line break must not start a new
 * paragraph of made-up instructions) and no bidirectional overrides (which can make text read
 * differently from what it is).
 */
function oneLine(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  const flat = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').trim();
  const chars = [...flat];
  return chars.length > MAX_VALUE_LENGTH ? `${chars.slice(0, MAX_VALUE_LENGTH - 1).join('')}…` : flat;
}

function oneTimeLink(url: string): Run {
  return link(httpUrl(url));
}

function httpUrl(url: string): string {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  if (u === undefined || (u.protocol !== 'https:' && u.protocol !== 'http:')) {
    throw invalid('MAIL_TEMPLATE_INPUT_INVALID', 'links in mail must be absolute http(s) URLs');
  }
  return u.href;
}

function duration(hours: number): string {
  if (!Number.isFinite(hours) || hours <= 0) throw invalid('MAIL_TEMPLATE_INPUT_INVALID', 'a link must expire after a positive time');
  if (hours >= 1 && Number.isInteger(hours)) return `${hours} ${hours === 1 ? 'hour' : 'hours'}`;
  const minutes = Math.max(1, Math.round(hours * 60));
  return `${minutes} ${minutes === 1 ? 'minute' : 'minutes'}`;
}

function when(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
