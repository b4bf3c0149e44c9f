import t from 'tap';
import { lease, type RateWindow } from '../../registry/view/rate-window.js';

/** The sliding window counter, leased in batches (registry/view/rate-window.ts; the Redis Lua is the same arithmetic). */

t.test('a window starts whole at its first use and grants no more than the limit, however it is asked', async (t) => {
  let w: RateWindow | undefined;
  const at = (now: number, want: number) => {
    const r = lease(w, now, 10, 60_000, want);
    w = r.window;
    return r.lease;
  };
  t.match(at(1_000, 4), { granted: 4, remaining: 6, resetMs: 60_000 }, 'anchored at the first lease');
  t.match(at(2_000, 4), { granted: 4, remaining: 2, resetMs: 59_000 });
  t.match(at(3_000, 4), { granted: 2, remaining: 0 }, 'the last two, not four');
  const empty = at(4_000, 1);
  t.equal(empty.granted, 0, 'nothing left');
  t.equal(empty.retryMs, 57_000, 'no previous window: a token frees when this one ends');
});

t.test('the previous window counts by how much of it still overlaps', async (t) => {
  let w: RateWindow | undefined;
  const at = (now: number, want: number) => {
    const r = lease(w, now, 10, 10_000, want);
    w = r.window;
    return r.lease;
  };
  t.equal(at(0, 10).granted, 10, 'window 0 used up');
  // 2.5 s into window 1: 75 % of the previous 10 still count → 7.5 used, 2 free.
  t.match(at(12_500, 10), { granted: 2, remaining: 0 });
  const blocked = at(12_600, 1);
  t.equal(blocked.granted, 0);
  t.ok(blocked.retryMs > 0 && blocked.retryMs <= 7_400, `frees as the previous share shrinks (${blocked.retryMs} ms)`);
  const later = at(12_600 + blocked.retryMs, 1);
  t.equal(later.granted, 1, 'and one is there when it said');
  t.match(at(40_000, 10), { granted: 10 }, 'two windows later nothing of the past counts');
});

t.test('want 0 or a limit already passed never grants', async (t) => {
  const r = lease({ anchor: 0, index: 0, current: 12, previous: 0 }, 1_000, 10, 60_000, 5);
  t.equal(r.lease.granted, 0);
  t.equal(r.window.current, 12, 'nothing added');
});
