import type { Socket } from 'node:net';
import type { KeyCache } from '../registry/view/cache.js';
import type { RequestContext } from './context.js';
import type { Decision } from './decision.js';
import type { Authenticator } from './authenticator.js';

/**
 * An allowed request's decision, kept by reference, with what it was made from: the request's own
 * inputs, the snapshot build, and the mutable things the snapshot does not cover (the key cache's
 * entry, the token's expiry, the user cache's entry — these live in the decision itself).
 */
class Kept {
  /** The snapshot build (its serial, not the object: an idle connection must not keep a whole old snapshot alive). */
  readonly serial: number;
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly keyHeader: string | undefined;
  readonly authorization: string | undefined;
  readonly accessToken: string | undefined;
  readonly userAgent: string | undefined;
  readonly clientIp: string;
  readonly decision: Decision;

  constructor(ctx: RequestContext) {
    this.serial = ctx.snapshot.serial;
    this.method = ctx.req.method;
    this.url = ctx.req.url;
    this.keyHeader = ctx.headers.key;
    this.authorization = ctx.headers.authorization;
    this.accessToken = ctx.headers.accessToken;
    this.userAgent = ctx.headers.userAgent;
    this.clientIp = ctx.clientIp;
    this.decision = ctx.decision;
  }
}

const kDecision = Symbol('tessera.decision');
type DecidingSocket = Socket & { [kDecision]?: Kept };

/**
 * The last allowed decision of each client connection, reused for its next request when that
 * request is the same (method, URL, key, tokens, User-Agent, client address) and nothing it was
 * decided from has changed. A keep-alive client repeating a call is the common case, and running
 * the stages again for it cost up to ~8 % of a proxied request's CPU in situ — mostly the first touch of
 * the snapshot's, caches' and memos' objects, not the work.
 *
 * What may change under a kept decision, and how it is caught:
 * - products, packages, ACLs, services, signing keys, revocations, env: all in the snapshot, and
 *   the decision holds for its own snapshot build only (builds are numbered, never reused);
 * - the tenant, application and key: the key cache entry must be the very same object (a tenant
 *   change evicts it), and an ext key with an expiry is checked against the clock;
 * - the token and user: the authenticator's `holds` (expiry, same user cache entry).
 * Denials are never kept, nor decisions resting on a token nothing can revalidate (legacy SOAJS
 * tokens). A connection holds at most one decision, its last request's, and only if that request
 * was allowed; a stale one is dropped when found.
 */
export class DecisionMemo {
  /** Requests answered from a kept decision, and decisions made by the stages (for /awarenessStat). */
  reused = 0;
  made = 0;

  constructor(
    private readonly keys: KeyCache,
    private readonly auth: Authenticator | null,
    private readonly now: () => number = Date.now,
  ) {}

  /** Fills `ctx` from its connection's kept decision when that still applies; false: run the stages. */
  reuse(ctx: RequestContext): boolean {
    const socket = ctx.req.socket as DecidingSocket | null;
    const d = socket?.[kDecision];
    if (d === undefined) return false;
    const h = ctx.headers;
    if (
      d.url !== ctx.req.url ||
      d.method !== ctx.req.method ||
      d.keyHeader !== h.key ||
      d.authorization !== h.authorization ||
      d.accessToken !== h.accessToken ||
      d.userAgent !== h.userAgent ||
      d.clientIp !== ctx.clientIp
    ) {
      return false;
    }
    // The same request: from here a failed check means the decision is stale for good. Dropped, so
    // that an idle connection does not keep an evicted key, user or old build alive.
    const decided = d.decision;
    const key = decided.key;
    if (
      d.serial !== ctx.snapshot.serial ||
      (key !== null && (decided.keyHash === null || this.keys.get(decided.keyHash) !== key || (key.expires !== Infinity && key.expires <= this.now()))) ||
      (decided.tokenClaims !== null && !this.auth!.holds!(decided.tokenClaims, decided.userEntry))
    ) {
      this.forget(ctx);
      return false;
    }
    ctx.decision = decided;
    this.reused++;
    return true;
  }

  /** A denied or failed request: its connection keeps nothing (a decision is only ever the last request's). */
  forget(ctx: RequestContext): void {
    const socket = ctx.req.socket as DecidingSocket | null;
    if (socket !== null && socket[kDecision] !== undefined) socket[kDecision] = undefined;
  }

  /** Keeps an allowed request's decision for its connection's next request. */
  remember(ctx: RequestContext): void {
    this.made++;
    const socket = ctx.req.socket as DecidingSocket | null;
    const keep =
      (ctx.key === null || ctx.keyHash !== null) &&
      (ctx.token === null || (ctx.tokenClaims !== null && this.auth?.holds !== undefined));
    if (socket !== null && keep) socket[kDecision] = new Kept(ctx);
    else this.forget(ctx);
  }
}
