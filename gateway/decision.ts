import type { CompiledApi, CompiledServiceAcl, EffectiveAcl } from '../registry/view/acl.js';
import type { CachedUser, KeyEntry } from '../registry/view/cache.js';
import type { PackageEntry, ServiceEntry } from '../registry/view/snapshot.js';
import type { ServiceVersion } from '../registry/view/types.js';
import type { TokenClaims } from './authenticator.js';
import type { GatewayUser } from './user.js';

export type AclLevel = 'user' | 'application' | 'package';
export type TokenSource = 'query' | 'header' | 'bearer';

/**
 * What the decide stages make of one request: everything they set, in one object. A new one is
 * made for each request the stages run for; once they are done nothing writes to it again, so a
 * connection may keep it by reference and hand it to its next identical request
 * (decision-memo.ts) — the every-request stages still run for that one.
 */
export class Decision {
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
}
