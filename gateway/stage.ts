import type { RequestContext } from './context.js';
import type { Denial } from './errors.js';

/**
 * A stage returns null to continue or a denial from the error table to stop (Envoy's
 * Continue/StopIteration). Synchronous stages stay synchronous.
 */
export interface Stage {
  readonly name: string;
  run(ctx: RequestContext): Denial | null | Promise<Denial | null>;
}
