import type { KeyCache } from '../registry/view/cache.js';
import type { Authenticator } from './authenticator.js';
import type { RequestContext } from './context.js';
import type { Denial } from './errors.js';
import type { Stage, StageKind } from './stage.js';
import { createAclStage } from './stages/acl.js';
import { createAuthorizeStage } from './stages/authorize.js';
import { createInjectStage, type InjectOptions } from './stages/inject.js';
import { createKeyStage } from './stages/key.js';
import { createRouteStage } from './stages/route.js';
import { createSecurityStage } from './stages/security.js';
import { createTokenStage } from './stages/token.js';
import { createUrlStage } from './stages/url.js';
import { createUserStage } from './stages/user.js';

export interface PipelineDeps {
  keys: KeyCache;
  authenticator: Authenticator | null;
  inject: InjectOptions;
  /** ms since the epoch (expiries); tests inject a clock. */
  now?: () => number;
  /** CORS on: OPTIONS requests are preflights, answered by the url stage. */
  cors?: boolean;
}

/** The decide stages in request order (architecture.md): a fixed array, built once. */
export function createStages(deps: PipelineDeps): readonly Stage[] {
  return stagesOf('decide', [
    createUrlStage({ cors: deps.cors ?? true }),
    createKeyStage(deps.keys, deps.now ? { now: deps.now } : {}),
    createRouteStage(),
    createSecurityStage(),
    createAclStage(),
    createTokenStage(deps.authenticator),
    createUserStage(),
    createAuthorizeStage(),
    createInjectStage(deps.inject),
  ]);
}

/**
 * A list of stages of one kind, checked once when the gateway is built (fastify checks its hooks
 * when they are added, never per request): a stage in the wrong list would be skipped by a kept
 * decision, or memoised, without anyone noticing.
 */
export function stagesOf(kind: StageKind, stages: readonly Stage[]): readonly Stage[] {
  for (const s of stages) {
    if (s.kind !== kind) throw new Error(`stage "${s.name}" is a ${s.kind} stage, listed with the ${kind} stages`);
    if (typeof s.run !== 'function') throw new Error(`stage "${s.name}" has no run function`);
  }
  return Object.freeze([...stages]);
}

export type PipelineDone = (ctx: RequestContext, denial: Denial | null, err?: unknown) => void;

/**
 * Runs the stages with a plain loop; synchronous stages stay synchronous, and only a stage that
 * returns a promise makes the rest of this request asynchronous.
 */
export function runPipeline(stages: readonly Stage[], ctx: RequestContext, done: PipelineDone, from = 0): void {
  for (let i = from; i < stages.length; i++) {
    let v: Denial | null | Promise<Denial | null>;
    try {
      v = stages[i]!.run(ctx);
    } catch (err) {
      done(ctx, null, err);
      return;
    }
    if (v instanceof Promise) {
      const next = i + 1;
      v.then(
        (d) => (d !== null ? done(ctx, d) : runPipeline(stages, ctx, done, next)),
        (err: unknown) => done(ctx, null, err),
      );
      return;
    }
    if (v !== null) {
      done(ctx, v);
      return;
    }
  }
  done(ctx, null);
}
