// The account's security history: every sign-in and every change to how the account is
// protected, newest first — what the account did, and what others did to it (made it an owner of
// a package, gave it a role in an organization or a team, revoked its token for a secret scanner),
// from the audit events the account is the actor or the subject of, with who did it.
import type { EventCursor, EventRecord, UserRecord } from '../../storage/metadata/store.ts';
import { escapeHtml } from '../html.ts';
import { when, type WebRequest } from '../web-context.ts';
import { describeScope } from './tokens.ts';
import { decodeTokenScope } from '../../security/tokens/token-scope.ts';
import { parseEventCursor } from '../../core/audit/cursor.ts';
import { pageLinks } from './audit-paging.ts';

/** Audit events are read in windows; publishing events are left out of what is shown. */
const WINDOW = 500;
const MAX_WINDOWS = 10;
const SHOWN = 100;
const SECURITY_EVENT = /^(account|mfa|token|trusted-publisher)\./;
/** Changes to who may act on packages and organizations; the rest of their logs is the org's page. */
const ACCESS_EVENTS = new Set([
  'owner.added', 'owner.removed', 'org.created', 'org.member-set', 'org.member-removed', 'team.member-added', 'team.member-removed', 'package.mfa-policy-changed',
]);
const shown = (e: EventRecord): boolean => SECURITY_EVENT.test(e.type) || ACCESS_EVENTS.has(e.type);

const LABELS: Record<string, string> = {
  'account.created': 'Account created',
  'account.login': 'Signed in',
  'account.email-verified': 'Email address verified',
  'account.email-changed': 'Email address changed',
  'account.password-changed': 'Password changed',
  'account.password-reset': 'Password reset by email',
  'account.recovery-refused': 'Account recovery refused',
  'mfa.totp-enabled': 'Authenticator app added',
  'mfa.totp-disabled': 'Authenticator app removed',
  'mfa.mode-changed': 'Two-factor mode changed',
  'mfa.passkey-added': 'Passkey added',
  'mfa.passkey-removed': 'Passkey removed',
  'mfa.recovery-codes-generated': 'New recovery codes made',
  'mfa.recovery-code-used': 'Recovery code used',
  'mfa.cli-approved': 'Command-line request approved',
  'token.created': 'Token created',
  'token.revoked': 'Token revoked',
  'token.revoked-by-scanner': 'Token revoked: found exposed by a secret scanner',
  'trusted-publisher.added': 'Trusted publisher added',
  'trusted-publisher.removed': 'Trusted publisher removed',
  'trusted-publisher.policy-changed': 'Trusted publisher policy changed',
  'trusted-publisher.bypassed': 'Published without the trusted publisher',
  'owner.added': 'Package owner added',
  'owner.removed': 'Package owner removed',
  'org.created': 'Organization created',
  'org.member-set': 'Organization role set',
  'org.member-removed': 'Removed from an organization',
  'team.member-added': 'Added to a team',
  'team.member-removed': 'Removed from a team',
  'package.mfa-policy-changed': 'Package two-factor policy changed',
};

/** Ids that mean nothing to a person are left out; everything else shown is escaped. */
const HIDDEN_KEYS = new Set(['tokenId', 'credentialId']);
const NAMES: Record<string, string> = {
  newDevice: 'new device', readonly: 'read-only', bypass2fa: 'no second factor for writes', previousRole: 'previous role',
  mfaPolicy: 'two-factor policy', previous: 'before',
};

/** A token's scope as the event stored it; anything unreadable is left out rather than guessed. */
function scopeOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  try {
    return describeScope(decodeTokenScope(JSON.stringify(value)));
  } catch {
    return null;
  }
}

function details(e: EventRecord): string {
  const parts: string[] = [];
  if (e.packageName) parts.push(`package ${escapeHtml(e.packageName)}${e.version ? `@${escapeHtml(e.version)}` : ''}`);
  for (const [key, value] of Object.entries(e.data)) {
    if (key === 'scope') {
      const scope = scopeOf(value);
      if (scope !== null) parts.push(`scope: ${scope}`);
      continue;
    }
    if (HIDDEN_KEYS.has(key) || value === null || value === undefined || typeof value === 'object') continue;
    const name = NAMES[key] ?? key;
    if (typeof value === 'boolean') {
      if (value) parts.push(escapeHtml(name));
      continue;
    }
    parts.push(`${escapeHtml(name)}: ${escapeHtml(String(value).slice(0, 200))}`);
  }
  return parts.join('; ');
}

/** Who acted: the account itself, another person, or nobody (the registry: a scanner, a job). */
function actor(e: EventRecord, user: UserRecord): string {
  if (e.actorName === null || e.actorName === undefined) return 'the registry';
  return e.actorName === user.name ? 'you' : escapeHtml(e.actorName);
}

export async function showSecurityHistory(req: WebRequest): Promise<void> {
  const user = req.user;
  if (!user) return req.redirectToLogin();
  const before = parseEventCursor(req.ctx.query.get('before'));
  // Windows are read until the page is full (publishes, say, are not shown and may fill whole
  // windows); a bounded number per page, after which the link goes on from where reading stopped.
  const events: EventRecord[] = [];
  let cursor: EventCursor | undefined = before;
  let last: EventRecord | undefined;
  for (let w = 0; w < MAX_WINDOWS && last === undefined; w++) {
    const read = await req.deps.accounts.userEvents(user.id, WINDOW, cursor);
    for (const e of read) {
      if (!shown(e)) continue;
      if (events.length === SHOWN) {
        last = events.at(-1);
        break;
      }
      events.push(e);
    }
    const end = read.at(-1);
    if (last !== undefined || read.length < WINDOW || end === undefined) break;
    cursor = end;
    if (w === MAX_WINDOWS - 1) last = end;
  }
  const rows = events.map((e) => `<tr data-event="${escapeHtml(e.type)}"><td>${when(e.at)}</td><td>${escapeHtml(LABELS[e.type] ?? e.type)}</td>
<td data-by>${actor(e, user)}</td><td>${details(e)}</td></tr>`).join('\n');
  req.html(200, 'Security history', `<p>Sign-ins and changes to how <strong>${escapeHtml(user.name)}</strong> is protected, and what others
did to the account (package ownership, organization roles, teams), newest first.
If something here was not you, <a href="/-/web/account">change your password</a> and review your second factors and tokens.</p>
<table id="security-history"><thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">By</th><th scope="col">Details</th></tr></thead>
<tbody>${rows}</tbody></table>${pageLinks('/-/web/account/security', last, before !== undefined)}`);
}
