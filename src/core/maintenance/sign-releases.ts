// Versions published before the registry signed anything get their signatures at start-up, so
// every version a client sees carries `dist.signatures` (npm reports unsigned versions of a
// registry that serves keys as "missing"). Signing is cheap; the caller re-renders documents.
import type { Logger } from '../logger.ts';
import type { MetadataStore } from '../../storage/metadata/store.ts';
import type { Ecosystem } from '../packages/ecosystem.ts';
import type { KeySource } from '../../security/signing/registry-keys.ts';

const BATCH = 500;

/** Signs every unsigned release of `eco`; returns how many were signed. */
export async function signUnsignedReleases(store: MetadataStore, eco: Ecosystem, keys: KeySource, log: Logger): Promise<number> {
  const signer = keys.active();
  let signed = 0;
  for (;;) {
    const batch = await store.listUnsignedReleases(eco.id, BATCH);
    if (batch.length === 0) break;
    await store.transaction(async (tx) => {
      for (const r of batch) {
        const sig = signer.sign(Buffer.from(eco.signaturePayload({ name: r.name, version: r.version, integrity: r.integrity }))).toString('base64');
        await tx.updateRelease(r.releaseId, { signatures: JSON.stringify([{ keyid: signer.keyId, sig }]) });
      }
    });
    signed += batch.length;
    if (batch.length < BATCH) break;
  }
  if (signed > 0) log.info('signed versions published before registry signatures', { ecosystem: eco.id, versions: signed, keyId: signer.keyId });
  return signed;
}
