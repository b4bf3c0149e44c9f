import type { RequestContext } from './context.js';
import type { Denial } from './errors.js';

/**
 * What a stage is for, and so when it runs:
 * - `decide`: a pure function of the request's inputs and the snapshot/caches (url, key, route,
 *   security, acl, token, user, authorize, inject). Their result is the request's Decision, which
 *   a connection may keep and reuse for an identical next request instead of running them.
 * - `every-request`: runs for every request after the decision, kept or not, never memoised (rate
 *   limits, quotas, provisioning gates, support-access audit, access log, metrics).
 */
export type StageKind = 'decide' | 'every-request';

/**
 * A stage returns null to continue or a denial from the error table to stop (Envoy's
 * Continue/StopIteration). Synchronous stages stay synchronous.
 */
export interface Stage {
  readonly name: string;
  readonly kind: StageKind;
  run(ctx: RequestContext): Denial | null | Promise<Denial | null>;
}
