import type { CompiledAcl } from '../registry/view/acl.js';
import type { InjectMemo } from './stages/inject.js';

/** The user a verified token resolves to, as seen from the key's tenant. */
export interface GatewayUser {
  readonly id: string;
  readonly username: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly email: string;
  /** Groups that apply in the key's tenant (home groups, or the membership's groups). */
  readonly groups: readonly string[];
  readonly tenant: { readonly id: string; readonly code: string };
  readonly profile: Readonly<Record<string, unknown>> | null;
  /** User-level ACL for the key in use (first existing level of the user precedence), or null. */
  readonly acl: CompiledAcl | null;
  /**
   * The ACL is an override written inside the tenant: bounded by what the tenant holds at each
   * request. Group packages (level 3) are holdings themselves and need no bound.
   */
  readonly aclOverride: boolean;
  /** For an override: the (service, version)s the tenant holds whole, where no request needs the bound checked. */
  readonly heldWhole: ReadonlyMap<string, ReadonlySet<string>> | null;
  /** `user.config.keys[<internal key>].config`, deep-merged over the key config for the service. */
  readonly config: Readonly<Record<string, unknown>> | null;
  /**
   * Inject headers by service version (its flags object). A GatewayUser lives for one (user
   * version, key, snapshot build), so only the key and ext key used must be checked.
   */
  readonly memo: Map<object, InjectMemo>;
}
