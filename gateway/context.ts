import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CompiledApi, CompiledServiceAcl, EffectiveAcl } from '../registry/acl.js';
import type { CachedUser, KeyEntry } from '../registry/cache.js';
import type { PackageEntry, ServiceEntry, Snapshot } from '../registry/snapshot.js';
import type { ServiceVersion } from '../registry/types.js';
import type { TokenClaims } from './auth.js';
import { ClientHeaders } from './client-headers.js';
import type { GatewayUser } from './user.js';

export type AclLevel = 'user' | 'application' | 'package';
export type TokenSource = 'query' | 'header' | 'bearer';

/**
 * Everything one request carries through the stages. Every field is declared and set here, so all
 * contexts share one shape; a stage fills what it resolves and later stages read it.
 */
export class RequestContext {
  /** Pinned once: the request never sees two registry versions. */
  readonly snapshot: Snapshot;
  /** The client's headers as the gateway reads them, and the list forwarded upstream. */
  readonly headers: ClientHeaders;
  clientIp = '';
  /** Normalised path without query. */
  path = '/';
  /** Raw query without `?`, '' when none. */
  query = '';
  serviceName = '';
  service: ServiceEntry | null = null;
  requestedVersion: string | null = null;
  version: string | null = null;
  flags: Readonly<ServiceVersion> | null = null;
  /** `extKeyRequired` of the chosen version: tenant context, ACL and inject apply. */
  keyed = false;
  /** The API path ACLs are matched against (no query, no trailing slash). */
  aclPath = '/';
  /** Path + query sent upstream. */
  upstreamPath = '/';
  extKey: string | null = null;
  /** SHA-256 of `extKey`: what the key cache is keyed by. */
  keyHash: string | null = null;
  key: KeyEntry | null = null;
  /** The key's package in this request's snapshot; null when it does not exist (152). */
  pkg: PackageEntry | null = null;
  /** Key-level ACL entry for the service (application override, else package). */
  serviceAcl: CompiledServiceAcl | null = null;
  aclLevel: AclLevel | null = null;
  acl: EffectiveAcl | null = null;
  api: CompiledApi | null = null;
  isPublic = false;
  token: string | null = null;
  tokenSource: TokenSource | null = null;
  user: GatewayUser | null = null;
  /** The verified token's claims and the user cache entry `user` came from; null for tokens nothing can revalidate (legacy). */
  tokenClaims: TokenClaims | null = null;
  userEntry: CachedUser = null;
  /** The serialised `soajsinjectobj`, when the service is keyed. */
  inject: string | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    snapshot: Snapshot,
  ) {
    this.snapshot = snapshot;
    this.headers = new ClientHeaders(req.headers);
  }
}
