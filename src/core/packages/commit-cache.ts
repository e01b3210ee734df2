// Values derived from committed rows, remembered until the next commit anywhere (the store's
// change marker moves). Used for what every read asks and almost nothing changes: a document's
// current ETag, where a tarball lives. Without a marker (PostgreSQL) nothing is remembered.
import type { MetadataStore } from '../../storage/metadata/store.ts';

export class CommitCache<V> {
  private readonly store: MetadataStore;
  private readonly maxEntries: number;
  private readonly entries = new Map<string, V>();
  private marker: string | null = null;

  constructor(store: MetadataStore, maxEntries: number) {
    this.store = store;
    this.maxEntries = maxEntries;
  }

  /** The remembered value, if nothing was committed since it was loaded; never loads. */
  peek(key: string): V | undefined {
    const marker = this.store.changeMarker();
    if (marker === null) return undefined;
    if (marker !== this.marker) {
      this.entries.clear();
      this.marker = marker;
      return undefined;
    }
    return this.entries.get(key);
  }

  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const known = this.peek(key);
    if (known !== undefined) return known;
    const marker = this.store.changeMarker();
    if (marker === null) return load();
    const value = await load();
    // Remember it only if nothing was committed while it was loaded.
    if (value !== undefined && this.store.changeMarker() === marker) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      this.entries.set(key, value);
    }
    return value;
  }
}
