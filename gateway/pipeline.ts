import type { KeyCache } from '../registry/cache.js';
import type { Authenticator } from './stages/token.js';
import type { RequestContext } from './context.js';
import type { Denial } from './errors.js';
import type { Stage } from './stage.js';
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
}

/** The stages in request order (architecture.md): a fixed array, built once. */
export function createStages(deps: PipelineDeps): readonly Stage[] {
  return Object.freeze([
    createUrlStage(),
    createKeyStage(deps.keys),
    createRouteStage(),
    createSecurityStage(),
    createAclStage(),
    createTokenStage(deps.authenticator),
    createUserStage(),
    createAuthorizeStage(),
    createInjectStage(deps.inject),
  ]);
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
