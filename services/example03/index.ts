import { ok } from '../kit/envelope.js';
import { errors } from '../kit/errors.js';
import { baseOptions, startService, type RunningService, type ServiceBase, type ServiceRequest } from '../kit/server.js';

/** IMFV's message for a missing input (SOAJS code 172). */
function required(req: ServiceRequest, name: string): string {
  const v = req.query.get(name);
  if (v === null || v === '') throw errors.missingField(name);
  return v;
}

function tenantName(req: ServiceRequest): unknown {
  const cfg = req.soajs?.servicesConfig['example03'];
  return typeof cfg === 'object' && cfg !== null ? ((cfg as Record<string, unknown>)['tenantName'] ?? null) : null;
}

/** The classic SOAJS example03: one service, many tenants, each seeing its own key config. */
export function startExample03(opts: ServiceBase): Promise<RunningService> {
  return startService({
    name: 'example03',
    ...baseOptions(opts),
    extKeyRequired: true,
    routes: [
      {
        method: 'GET',
        path: '/buildName',
        handler: (req) =>
          ok({ tenantName: tenantName(req), fullName: `${req.query.get('firstName') || 'John'} ${required(req, 'lastName')}` }),
      },
      {
        method: 'GET',
        path: '/testGet',
        handler: (req) => ok({ firstName: required(req, 'firstName'), lastName: required(req, 'lastName') }),
      },
    ],
  });
}
