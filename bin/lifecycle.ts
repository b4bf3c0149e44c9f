import { AdminError, client, need, out, parse } from './admin.js';

/**
 * `tessera activations …` and `tessera events …`: the apps-in-tenants lifecycle through the
 * registry API (README "Activations", "Events"), like `tenants` and `keys`.
 */

const enc = encodeURIComponent;

interface ActivationRow {
  service: string;
  tenant: { id: string; code: string; name: string };
  state: string;
  implied: boolean;
  message?: string;
}

const row = (a: ActivationRow) => `${a.tenant.id}  ${a.tenant.code.padEnd(8)}  ${a.service.padEnd(12)}  ${a.state.padEnd(8)}${a.implied ? '  (implied by its package)' : ''}${a.message ? `  ${a.message}` : ''}`;

export async function activationsCommand(args: string[]): Promise<void> {
  const { opts, rest } = parse(args, [], ['config', 'tenant', 'service', 'status', 'message', 'state']);
  const usage = 'usage: tessera activations list --tenant ID | add|remove --tenant ID --service NAME | report --service NAME --tenant ID --status finished|failed [--message M] | tenants --service NAME [--state S]';
  if (!['list', 'add', 'remove', 'report', 'tenants'].includes(rest[0] ?? '')) throw new AdminError(usage);
  const c = await client(opts);
  switch (rest[0]) {
    case 'list':
      for (const a of (await c.call('GET', `/tenants/${enc(need(opts, 'tenant'))}/activations`)) as ActivationRow[]) out(row(a));
      return;
    case 'add':
      out(row((await c.call('POST', `/tenants/${enc(need(opts, 'tenant'))}/activations`, { service: need(opts, 'service') })) as ActivationRow));
      return;
    case 'remove':
      out(row((await c.call('DELETE', `/tenants/${enc(need(opts, 'tenant'))}/activations/${enc(need(opts, 'service'))}`)) as ActivationRow));
      return;
    case 'report': {
      const body = { status: need(opts, 'status'), ...(typeof opts['message'] === 'string' ? { message: opts['message'] } : {}) };
      out(row((await c.call('PUT', `/services/${enc(need(opts, 'service'))}/tenants/${enc(need(opts, 'tenant'))}/provisioning`, body)) as ActivationRow));
      return;
    }
    case 'tenants': {
      const state = typeof opts['state'] === 'string' ? `&state=${enc(opts['state'])}` : '';
      let after = '';
      let n = 0;
      for (;;) {
        const page = (await c.call('GET', `/services/${enc(need(opts, 'service'))}/tenants?limit=500${state}${after}`)) as { tenants: ActivationRow[]; next: string | null };
        for (const a of page.tenants) out(row(a));
        n += page.tenants.length;
        if (page.next === null) break;
        after = `&after=${enc(page.next)}`;
      }
      out(`${n} tenants`);
      return;
    }
  }
}

interface EventRow {
  id: string;
  cursor: string;
  timestamp: number;
  type: string;
  tenantId?: string;
  service?: string;
  data: unknown;
}

type Page = { events: EventRow[]; next: string | null };

const line = (e: EventRow) => JSON.stringify({ cursor: e.cursor, id: e.id, time: new Date(e.timestamp).toISOString(), type: e.type, tenantId: e.tenantId, service: e.service, data: e.data });

export async function eventsCommand(args: string[]): Promise<void> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const { opts, rest } = parse(args, [], ['config', 'after', 'type', 'service', 'tenant', 'limit', 'interval']);
  if (rest[0] !== 'list' && rest[0] !== 'tail') throw new AdminError('usage: tessera events list|tail [--after CURSOR] [--type T|family.*] [--service S] [--tenant ID] [--limit N] [--interval SECONDS]');
  const c = await client(opts);
  const filters = (['type', 'service', 'tenant'] as const).map((f) => (typeof opts[f] === 'string' ? `&${f}=${enc(opts[f] as string)}` : '')).join('');
  const limit = typeof opts['limit'] === 'string' ? opts['limit'] : rest[0] === 'list' ? '100' : '1000';
  const page = (after: string | null) => c.call('GET', `/events?limit=${enc(limit)}${filters}${after === null ? '' : `&after=${enc(after)}`}`) as Promise<Page>;
  let after = typeof opts['after'] === 'string' ? opts['after'] : null;
  if (rest[0] === 'list') {
    const p = await page(after);
    for (const e of p.events) out(line(e));
    if (p.next !== null) out(`# more: --after ${p.next}`);
    return;
  }
  // tail: from --after, else from now on (the feed is read to its end first, printing nothing).
  const interval = typeof opts['interval'] === 'string' ? Number(opts['interval']) : 1;
  if (!(interval > 0 && interval <= 3600)) throw new AdminError('--interval takes seconds from 0 to 3600');
  let quiet = after === null;
  for (;;) {
    const p = await page(after);
    if (!quiet) for (const e of p.events) out(line(e));
    if (p.next !== null) after = p.next;
    else if (p.events.length > 0) after = p.events[p.events.length - 1]!.cursor;
    if (p.next === null) {
      // Said once, on stderr (stdout stays one event per line): from here on every event is printed.
      if (quiet) process.stderr.write(`# following after ${after ?? 'the start'}\n`);
      quiet = false;
      await sleep(interval * 1000);
    }
  }
}
