// Paging of the audit pages (the org's log, the account's security history): a link to the next,
// older page, and one back to the newest; `before` is the cursor the JSON APIs call `next`.
import type { EventRecord } from '../../storage/metadata/store.ts';
import { cursorAfter } from '../../core/audit/cursor.ts';

/** Navigation below a page of events; `lastShown` is set when there may be older events. */
export function pageLinks(path: string, lastShown: Pick<EventRecord, 'at' | 'id'> | undefined, paged: boolean): string {
  const links = [
    ...(lastShown ? [`<a href="${path}?before=${cursorAfter(lastShown)}" id="older-events" rel="next">Older events</a>`] : []),
    ...(paged ? [`<a href="${path}" id="newest-events">Newest events</a>`] : []),
  ];
  return links.length === 0 ? '' : `<nav aria-label="Pages of events"><p>${links.join(' · ')}</p></nav>`;
}
