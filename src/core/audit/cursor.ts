// Audit listings are paged by position, not by offset: a page starts after the last event of the
// one before (newest first, ties on the time broken by id), so events recorded meanwhile neither
// repeat nor push others off a page.
import { invalid } from '../errors.ts';
import type { EventCursor, EventRecord } from '../../storage/metadata/store.ts';

/** The `before` value that continues a listing after `e`: `<at>.<id>`. */
export function cursorAfter(e: Pick<EventRecord, 'at' | 'id'>): string {
  return `${e.at}.${e.id}`;
}

/** A `before` parameter, or undefined when absent; anything else than a cursor is refused. */
export function parseEventCursor(raw: string | null | undefined): EventCursor | undefined {
  if (raw === null || raw === undefined || raw === '') return undefined;
  const m = /^(\d{1,15})\.(\d{1,15})$/.exec(raw);
  if (!m) throw invalid('BAD_CURSOR', '`before` is the `next` value of a previous page');
  return { at: Number(m[1]), id: Number(m[2]) };
}
