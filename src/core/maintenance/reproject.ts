// Served fragments and documents bake in things that can change without any package changing:
// the public URL (tarball URLs) and the document format itself. At start-up, if the ecosystem's
// projection key differs from the one the stored documents were rendered with, every release
// fragment and document is re-rendered, one package per transaction.
import type { Logger } from '../logger.ts';
import type { Clock } from '../clock.ts';
import type { MetadataStore } from '../../storage/metadata/store.ts';
import type { Ecosystem } from '../packages/ecosystem.ts';
import { rebuildDocuments, releaseView } from '../packages/projection.ts';

export async function reprojectIfNeeded(store: MetadataStore, eco: Ecosystem, clock: Clock, log: Logger, options: { force?: boolean } = {}): Promise<number> {
  const settingKey = `${eco.id}.projection`;
  const stored = await store.getSetting(settingKey);
  if (stored === eco.projectionKey && !options.force) return 0;
  const names = await store.listPackageNames(eco.id);
  if (stored !== undefined) log.warn('re-rendering served documents', { ecosystem: eco.id, packages: names.length, reason: 'projection changed (public URL or format)' });
  for (const name of names) {
    await store.transaction(async (tx) => {
      const pkg = await tx.findPackage(eco.id, name);
      if (!pkg) return;
      await tx.lockPackage(pkg.id);
      for (const r of await tx.listReleases(pkg.id)) {
        const fragments = eco.renderRelease(await releaseView(tx, pkg, r));
        await tx.updateRelease(r.id, { fragmentFull: fragments.full, fragmentAbbrev: fragments.abbrev });
      }
      await rebuildDocuments(tx, eco, pkg, pkg.modifiedAt);
    });
  }
  await store.putSetting(settingKey, eco.projectionKey);
  if (stored !== undefined) log.info('served documents re-rendered', { ecosystem: eco.id, packages: names.length, at: clock() });
  return names.length;
}
