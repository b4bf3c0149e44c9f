import { isCursor, isEventTypeFilter, MAX_EVENT_PAGE } from '../../registry/control/store/outbox.js';
import type { Store } from '../../registry/control/store/types.js';
import { ok } from '../kit/envelope.js';
import type { Route } from '../kit/server.js';
import { queryInt, queryText, route } from './request.js';

const NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * `GET /events?after=&type=&service=&tenant=&limit=`: the outbox (issue 17 §4), oldest first, so
 * an app that missed a delivery reads on from the last cursor it saw. `next` is where to go on
 * from; null once the end was reached (poll again later from the last event's cursor).
 */
export function eventRoutes(store: Store): Route[] {
  return [
    route('GET', '/events', async (call) => {
      const req = call.req;
      const after = queryText(req, 'after', isCursor, 'a cursor from an earlier answer (<ms>-<seq>)');
      const type = queryText(req, 'type', isEventTypeFilter, 'an event type (e.g. tenant.created) or a family of them (service.*)');
      const service = queryText(req, 'service', (v) => NAME.test(v), 'a service name');
      const tenantId = queryText(req, 'tenant', (v) => NAME.test(v), 'a tenant id');
      const limit = queryInt(req, 'limit', 100, 1, MAX_EVENT_PAGE);
      const page = await store.readEvents({ limit, ...(after ? { after } : {}), ...(type ? { type } : {}), ...(service ? { service } : {}), ...(tenantId ? { tenantId } : {}) });
      return ok(page);
    }),
  ];
}
