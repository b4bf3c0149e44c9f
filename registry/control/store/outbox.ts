import { randomBytes } from 'node:crypto';
import type { EventDraft, EventPage, EventQuery, StoredEvent } from './types.js';

/**
 * What both stores share about the outbox (issue 17 §2): cursors, event ids, the checks of what a
 * writer and a reader give, and the paging of `readEvents` — so that a feed reads the same from
 * either store. The stores only keep the events and hand out batches.
 *
 *   cursor  <ms>-<seq>   a Redis stream id; the file store makes the same: ms never goes back,
 *                        seq counts events within one ms
 *   id      evt_<ms base 36, 9><16 hex random>   time-ordered, unique even across a store reset
 */

export const DEFAULT_RETENTION_DAYS = 30;
/** The most events one `readEvents` answers. */
export const MAX_EVENT_PAGE = 1000;
/** The most events one `readEvents` looks at: a filter matching nothing must not read a month of events in one call. */
export const MAX_EVENT_SCAN = 10_000;

const DAY_MS = 86_400_000;
const CURSOR = /^(\d{1,15})-(\d{1,15})$/;
const TYPE = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$/;
const TYPE_FILTER = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*(?:\.\*)?$/;
const MAX_NAME = 128;

export function isCursor(s: string): boolean {
  return CURSOR.test(s);
}

/** `[ms, seq]` of a cursor; throws on anything else (a caller's bug: the API checks its parameters first). */
export function parseCursor(s: string): [number, number] {
  const m = CURSOR.exec(s);
  if (!m) throw new TypeError(`event cursor "${s}" is not <ms>-<seq>`);
  return [Number(m[1]), Number(m[2])];
}

export function compareCursors(a: string, b: string): number {
  const [am, as] = parseCursor(a);
  const [bm, bs] = parseCursor(b);
  return am - bm || as - bs;
}

export function isEventType(s: string): boolean {
  return s.length <= MAX_NAME && TYPE.test(s);
}

/** An exact type, or a family with a trailing `.*`. */
export function isEventTypeFilter(s: string): boolean {
  return s.length <= MAX_NAME + 2 && TYPE_FILTER.test(s);
}

/** The retention as ms; a store refuses to open with anything but a positive number of days. */
export function retentionMs(days: number | undefined): number {
  const d = days ?? DEFAULT_RETENTION_DAYS;
  if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0) throw new RangeError(`events.retentionDays must be a positive number of days, not ${String(d)}`);
  return Math.round(d * DAY_MS);
}

/** An event ready to store: its payload serialized once, and the random part of its id. */
export interface PreparedEvent {
  readonly draft: EventDraft;
  readonly json: string;
  readonly nonce: string;
}

function checkName(what: string, v: unknown): void {
  if (v === undefined) return;
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_NAME) throw new TypeError(`event ${what} must be a non-empty string of at most ${MAX_NAME} characters`);
}

/**
 * Checks a write's events before anything is written (a bad event fails the whole write: the
 * change must not happen without it) and serializes their payloads.
 */
export function prepareEvents(drafts: readonly EventDraft[] | undefined): PreparedEvent[] {
  if (drafts === undefined) return [];
  if (!Array.isArray(drafts)) throw new TypeError('events must be an array');
  return drafts.map((d: EventDraft) => {
    if (typeof d !== 'object' || d === null) throw new TypeError('an event must be an object');
    if (typeof d.type !== 'string' || !isEventType(d.type)) throw new TypeError(`event type "${String(d.type)}" must be lower-case words joined by dots`);
    checkName('tenantId', d.tenantId);
    checkName('service', d.service);
    if (typeof d.data !== 'object' || d.data === null || Array.isArray(d.data)) throw new TypeError(`event ${d.type}: data must be an object`);
    return { draft: d, json: JSON.stringify(d.data), nonce: randomBytes(8).toString('hex') };
  });
}

export function eventId(ms: number, nonce: string): string {
  return `evt_${ms.toString(36).padStart(9, '0')}${nonce}`;
}

/** The stored form of a prepared event at `cursor`. */
export function storedEvent(cursor: string, p: { type: string; tenantId?: string | undefined; service?: string | undefined; json: string; nonce: string }): StoredEvent {
  const [ms] = parseCursor(cursor);
  return {
    id: eventId(ms, p.nonce),
    cursor,
    timestamp: ms,
    type: p.type,
    ...(p.tenantId ? { tenantId: p.tenantId } : {}),
    ...(p.service ? { service: p.service } : {}),
    data: JSON.parse(p.json) as Record<string, unknown>,
  };
}

export function checkQuery(q: EventQuery): void {
  if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_EVENT_PAGE) throw new RangeError(`readEvents: limit must be an integer from 1 to ${MAX_EVENT_PAGE}`);
  if (q.after !== undefined) parseCursor(q.after);
  if (q.type !== undefined && !isEventTypeFilter(q.type)) throw new TypeError(`readEvents: type "${q.type}" is no event type`);
}

function matches(q: EventQuery, e: StoredEvent): boolean {
  if (q.type !== undefined) {
    if (q.type.endsWith('.*') ? !e.type.startsWith(q.type.slice(0, -1)) : e.type !== q.type) return false;
  }
  if (q.service !== undefined && e.service !== q.service) return false;
  return q.tenantId === undefined || e.tenantId === q.tenantId;
}

/** Up to `count` events after `after` (null: from the oldest), in order. */
export type EventBatches = (after: string | null, count: number) => Promise<StoredEvent[]>;

/**
 * One page of the feed over a store's batches: the events matching the query, and where to go on
 * from. `next` is null only when nothing after the last event looked at exists; a page cut by the
 * limit or by MAX_EVENT_SCAN gives the cursor of the last event looked at.
 */
export async function pageEvents(q: EventQuery, batches: EventBatches): Promise<EventPage> {
  checkQuery(q);
  const filtered = q.type !== undefined || q.service !== undefined || q.tenantId !== undefined;
  // One more than a page: an unfiltered read then knows whether more follow without asking again.
  const size = filtered ? Math.max(q.limit + 1, 256) : q.limit + 1;
  const events: StoredEvent[] = [];
  let after = q.after ?? null;
  let scanned = 0;
  for (;;) {
    const batch = await batches(after, size);
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i]!;
      scanned += 1;
      if (matches(q, e)) events.push(e);
      if (events.length === q.limit || scanned >= MAX_EVENT_SCAN) {
        const more = i < batch.length - 1 || (await batches(e.cursor, 1)).length > 0;
        return { events, next: more ? e.cursor : null };
      }
    }
    if (batch.length < size) return { events, next: null };
    after = batch[batch.length - 1]!.cursor;
  }
}
