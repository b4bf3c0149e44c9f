import type { Socket } from 'node:net';
import type { CachedUser, KeyCache, KeyEntry } from '../registry/cache.js';
import type { PackageEntry, ServiceEntry } from '../registry/snapshot.js';
import type { CompiledApi, CompiledServiceAcl, EffectiveAcl } from '../registry/acl.js';
import type { ServiceVersion } from '../registry/types.js';
import type { TokenClaims } from './auth.js';
import type { AclLevel, RequestContext, TokenSource } from './context.js';
import type { Authenticator } from './stages/token.js';
import type { GatewayUser } from './user.js';

/**
 * What one allowed request was decided to be (every field the stages set), with everything the
 * decision was made from: the request's own inputs, the snapshot, and the mutable things the
 * snapshot does not cover (the key cache's entry, the token's expiry, the user cache's entry).
 */
export class Decision {
  // inputs
  /** The snapshot build (its serial, not the object: an idle connection must not keep a whole old snapshot alive). */
  readonly serial: number;
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly keyHeader: string | undefined;
  readonly authorization: string | undefined;
  readonly accessToken: string | undefined;
  readonly userAgent: string | undefined;
  readonly clientIp: string;
  readonly keyHash: string | null;
  readonly tokenClaims: TokenClaims | null;
  readonly userEntry: CachedUser;
  // outputs
  readonly path: string;
  readonly query: string;
  readonly serviceName: string;
  readonly service: ServiceEntry | null;
  readonly requestedVersion: string | null;
  readonly version: string | null;
  readonly flags: Readonly<ServiceVersion> | null;
  readonly keyed: boolean;
  readonly aclPath: string;
  readonly upstreamPath: string;
  readonly extKey: string | null;
  readonly key: KeyEntry | null;
  readonly pkg: PackageEntry | null;
  readonly serviceAcl: CompiledServiceAcl | null;
  readonly aclLevel: AclLevel | null;
  readonly acl: EffectiveAcl | null;
  readonly api: CompiledApi | null;
  readonly isPublic: boolean;
  readonly token: string | null;
  readonly tokenSource: TokenSource | null;
  readonly user: GatewayUser | null;
  readonly inject: string | null;

  constructor(ctx: RequestContext) {
    this.serial = ctx.snapshot.serial;
    this.method = ctx.req.method;
    this.url = ctx.req.url;
    this.keyHeader = ctx.headers.key;
    this.authorization = ctx.headers.authorization;
    this.accessToken = ctx.headers.accessToken;
    this.userAgent = ctx.headers.userAgent;
    this.clientIp = ctx.clientIp;
    this.keyHash = ctx.keyHash;
    this.tokenClaims = ctx.tokenClaims;
    this.userEntry = ctx.userEntry;
    this.path = ctx.path;
    this.query = ctx.query;
    this.serviceName = ctx.serviceName;
    this.service = ctx.service;
    this.requestedVersion = ctx.requestedVersion;
    this.version = ctx.version;
    this.flags = ctx.flags;
    this.keyed = ctx.keyed;
    this.aclPath = ctx.aclPath;
    this.upstreamPath = ctx.upstreamPath;
    this.extKey = ctx.extKey;
    this.key = ctx.key;
    this.pkg = ctx.pkg;
    this.serviceAcl = ctx.serviceAcl;
    this.aclLevel = ctx.aclLevel;
    this.acl = ctx.acl;
    this.api = ctx.api;
    this.isPublic = ctx.isPublic;
    this.token = ctx.token;
    this.tokenSource = ctx.tokenSource;
    this.user = ctx.user;
    this.inject = ctx.inject;
  }

  applyTo(ctx: RequestContext): void {
    ctx.keyHash = this.keyHash;
    ctx.tokenClaims = this.tokenClaims;
    ctx.userEntry = this.userEntry;
    ctx.path = this.path;
    ctx.query = this.query;
    ctx.serviceName = this.serviceName;
    ctx.service = this.service;
    ctx.requestedVersion = this.requestedVersion;
    ctx.version = this.version;
    ctx.flags = this.flags;
    ctx.keyed = this.keyed;
    ctx.aclPath = this.aclPath;
    ctx.upstreamPath = this.upstreamPath;
    ctx.extKey = this.extKey;
    ctx.key = this.key;
    ctx.pkg = this.pkg;
    ctx.serviceAcl = this.serviceAcl;
    ctx.aclLevel = this.aclLevel;
    ctx.acl = this.acl;
    ctx.api = this.api;
    ctx.isPublic = this.isPublic;
    ctx.token = this.token;
    ctx.tokenSource = this.tokenSource;
    ctx.user = this.user;
    ctx.inject = this.inject;
  }
}

const kDecision = Symbol('tessera.decision');
type DecidingSocket = Socket & { [kDecision]?: Decision };

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
    const key = d.key;
    if (
      d.serial !== ctx.snapshot.serial ||
      (key !== null && (d.keyHash === null || this.keys.get(d.keyHash) !== key || (key.expires !== Infinity && key.expires <= this.now()))) ||
      (d.tokenClaims !== null && !this.auth!.holds!(d.tokenClaims, d.userEntry))
    ) {
      this.forget(ctx);
      return false;
    }
    d.applyTo(ctx);
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
    if (socket !== null && keep) socket[kDecision] = new Decision(ctx);
    else this.forget(ctx);
  }
}
