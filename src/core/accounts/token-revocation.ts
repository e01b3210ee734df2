// Revoking tokens a secret scanner found in public (docs/secret-scanning.md). The reporter has
// already been authenticated (security/tokens/reporter-signature.ts); here each reported value
// that is one of our live tokens — a user's or a trusted-publishing token — is deleted, the event
// audited for its owner, and the owner mailed. The answer per token is only "was valid / was
// not": nothing about whose it was, and the mail goes out after the answer is computed so that
// the response time does not depend on how many owners were notified.
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { Notifier, SecurityNotice } from './notifier.ts';
import type { MetadataStore } from '../../storage/metadata/store.ts';
import { hashToken, isWellFormedToken } from '../../security/tokens/token-format.ts';
import type { ScannerFinding } from '../../security/tokens/reporter-signature.ts';

export type ScanLabel = 'true_positive' | 'false_positive';

export interface ScanVerdict {
  token: string;
  type: string;
  label: ScanLabel;
}

export interface RevocationOutcome {
  verdicts: ScanVerdict[];
  /** Settles when every owner's mail was handed to the mailer (never rejects: the Notifier logs failures). */
  notified: Promise<void>;
}

export interface TokenRevocationDeps {
  store: MetadataStore;
  notifier: Notifier;
  clock: Clock;
  log: Logger;
}

interface Notice {
  userId: number;
  notice: SecurityNotice;
}

export const SCANNER_EVENT = 'token.revoked-by-scanner';

export class TokenRevocation {
  private readonly d: TokenRevocationDeps;

  constructor(deps: TokenRevocationDeps) {
    this.d = deps;
  }

  /** `reporter` is the key id that signed the report (recorded, never a secret). */
  async revokeReported(findings: readonly ScannerFinding[], reporter: string): Promise<RevocationOutcome> {
    // A token reported twice gets the same answer twice (the second lookup would miss it).
    const labels = new Map<string, ScanLabel>();
    const notices: Notice[] = [];
    for (const f of findings) {
      if (labels.has(f.token)) continue;
      labels.set(f.token, await this.revokeOne(f, reporter, notices));
    }
    const verdicts = findings.map((f) => ({ token: f.token, type: f.type, label: labels.get(f.token) ?? 'false_positive' }));
    return { verdicts, notified: this.notify(notices) };
  }

  private async revokeOne(f: ScannerFinding, reporter: string, notices: Notice[]): Promise<ScanLabel> {
    // The checksum rejects random strings offline, before any lookup.
    if (!isWellFormedToken(f.token)) return 'false_positive';
    const hash = hashToken(f.token);
    const now = this.d.clock();
    const userToken = await this.d.store.findTokenByHash(hash);
    if (userToken) {
      const deleted = await this.d.store.transaction(async (tx) => {
        if (!(await tx.deleteToken(userToken.id))) return false;
        await tx.insertEvent({ at: now, type: SCANNER_EVENT, actorId: null, subjectId: userToken.userId, ecosystem: null, packageName: null, version: null,
          data: { tokenId: userToken.id, kind: userToken.kind, reporter, url: f.url } });
        return true;
      });
      if (!deleted) return 'false_positive'; // revoked concurrently: it is not valid now
      this.d.log.warn('token revoked: reported public by a secret scanner', { tokenId: userToken.id, userId: userToken.userId, reporter });
      notices.push({ userId: userToken.userId, notice: { kind: 'token-leaked-revoked', tokenName: userToken.name, url: f.url } });
      // An expired token is deleted all the same, but it was no longer valid.
      return userToken.expiresAt === null || userToken.expiresAt > now ? 'true_positive' : 'false_positive';
    }
    const minted = await this.d.store.findPublisherTokenByHash(hash);
    if (minted) {
      const links = await this.d.store.listPackagePublishers(minted.ecosystem, minted.packageName);
      const owner = links.find((l) => l.id === minted.linkId)?.createdBy ?? null;
      const deleted = await this.d.store.transaction(async (tx) => {
        if (!(await tx.deletePublisherToken(minted.id))) return false;
        await tx.insertEvent({ at: now, type: SCANNER_EVENT, actorId: null, subjectId: owner, ecosystem: minted.ecosystem, packageName: minted.packageName, version: null,
          data: { tokenId: minted.id, kind: 'trusted-publisher', reporter, url: f.url } });
        return true;
      });
      if (!deleted) return 'false_positive';
      this.d.log.warn('trusted-publishing token revoked: reported public by a secret scanner', { tokenId: minted.id, package: minted.packageName, reporter });
      if (owner !== null) notices.push({ userId: owner, notice: { kind: 'token-leaked-revoked', tokenName: null, url: f.url, packageName: minted.packageName } });
      return minted.expiresAt > now ? 'true_positive' : 'false_positive';
    }
    return 'false_positive';
  }

  private async notify(notices: readonly Notice[]): Promise<void> {
    for (const n of notices) {
      try {
        const user = await this.d.store.findUserById(n.userId);
        if (user) await this.d.notifier.notice(user, n.notice);
      } catch (e) {
        this.d.log.error('could not notify the owner of a revoked token', { userId: n.userId, error: (e as Error).message });
      }
    }
  }
}
