/**
 * `soajsinjectobj` on the wire: what the gateway tells a service about a keyed request, in SOAJS's
 * shape (soajs-reference §2.13), stated once for the side that writes it (gateway/stages/inject.ts)
 * and the side that reads it (services/kit/inject.ts). Sent with the gateway's signature
 * (inject-signature.ts). Fields marked optional are sent only when the service's flags ask.
 */
export interface InjectWire {
  readonly tenant: {
    readonly id: string;
    readonly code: string;
    readonly name: string;
    readonly type: string;
    readonly locked: boolean;
    readonly main?: { readonly id: string; readonly code: string };
    /** `tenant_Profile` */
    readonly profile?: Readonly<Record<string, unknown>>;
  };
  readonly key: {
    /** The key's config for this service: `commonFields` spread at the top, then `<service>: {...}`. */
    readonly config: Readonly<Record<string, unknown>>;
    readonly iKey: string;
    readonly eKey: string | null;
  };
  readonly application: {
    readonly product: string;
    readonly package: string;
    readonly appId: string;
    /** `provision_ACL` */
    readonly acl?: unknown;
    readonly acl_all_env?: unknown;
  };
  /** `provision_ACL`: the package's ACL. */
  readonly package: { readonly acl?: unknown; readonly acl_all_env?: unknown };
  /** The client's User-Agent. */
  readonly device: string;
  readonly geo: { readonly ip: string };
  /** The logged-in user, when there is one and the service has `urac` on. */
  readonly urac?: {
    readonly _id: string;
    readonly username: string;
    /** URI-encoded, as SOAJS sends names; the service side decodes them. */
    readonly firstName: string;
    readonly lastName: string;
    readonly email: string;
    readonly groups: readonly string[];
    /** The user's home tenant. */
    readonly tenant: { readonly id: string; readonly code: string };
    /** `urac_Profile` */
    readonly profile?: Readonly<Record<string, unknown>>;
    /** `urac_Config`: the user's config for the key in use. */
    readonly config?: Readonly<Record<string, unknown>>;
  };
  readonly param?: { readonly urac_Profile: boolean; readonly urac_ACL: boolean };
  /** Where a service calls the gateway back. */
  readonly awareness: { readonly host: string; readonly port: number };
}
