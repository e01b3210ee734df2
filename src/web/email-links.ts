// Looking at an emailed link without spending it. Opening a link only shows a page with a
// button (mail scanners fetch links; a GET must not verify an address or spend a reset link),
// and the reset page must know whether to ask for a second factor before the link is used.
// The refusals match EmailVerification.consume's codes, which stays the one place links are used.
import type { Clock } from '../core/clock.ts';
import { forbidden, notFound } from '../core/errors.ts';
import type { EmailPurpose } from '../core/accounts/email-verification.ts';
import type { MetadataStore, UserRecord } from '../storage/metadata/store.ts';
import { hashToken } from '../security/tokens/token-format.ts';

export async function inspectEmailLink(store: MetadataStore, clock: Clock, secret: string, purposes: readonly EmailPurpose[]): Promise<{ user: UserRecord; purpose: EmailPurpose }> {
  const invalidLink = () => notFound('EMAIL_LINK_INVALID', 'This link is not valid; request a new one');
  if (typeof secret !== 'string' || secret.length > 200) throw invalidLink();
  const record = await store.findEmailToken(hashToken(secret));
  if (!record || !purposes.includes(record.purpose)) throw invalidLink();
  if (record.usedAt !== null) throw forbidden('EMAIL_LINK_USED', 'This link was already used; request a new one');
  if (record.expiresAt <= clock()) throw forbidden('EMAIL_LINK_EXPIRED', 'This link has expired; request a new one');
  const user = await store.findUserById(record.userId);
  if (!user) throw invalidLink();
  return { user, purpose: record.purpose };
}
