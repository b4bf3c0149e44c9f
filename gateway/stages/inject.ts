import type { KeyEntry } from '../../registry/view/cache.js';
import type { InjectWire } from '../../registry/view/inject-contract.js';
import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import type { Stage } from '../stage.js';
import type { GatewayUser } from '../user.js';

/**
 * A `soajsinjectobj` in the making for one (key or user, service version): the fixed part built
 * once, and the last whole header with the per-request fields it was built from — a client sends
 * the same User-Agent from the same address call after call, and then the header is reused as is.
 */
export interface InjectMemo {
  readonly key: KeyEntry;
  readonly extKey: string | null;
  /** From `{` up to the per-request fields. */
  readonly head: string;
  /** `,"urac":…,"param":…` for a user, else ''. */
  readonly urac: string;
  lastUserAgent: string | undefined;
  lastIp: string;
  lastHost: string;
  lastPort: number;
  last: string | null;
}

/**
 * A key's inject headers by service version (its flags object), for one snapshot build (the flags
 * objects are that build's; two builds may share a version). Kept here, beside the stage that
 * makes them, not in the registry's key entries: the cache stays the registry's, the memo the
 * data plane's, and a key evicted from the cache takes its memo with it.
 */
const keyMemos = new WeakMap<KeyEntry, { serial: number; byFlags: Map<object, InjectMemo> }>();

/** JSON with every non-ASCII character escaped: header values must be latin1, JSON stays equal. */
const NON_ASCII = /[\u007f-\uffff]/;
const NON_ASCII_ALL = /[\u007f-\uffff]/g;

export function asciiJson(value: unknown): string {
  const json = JSON.stringify(value);
  return NON_ASCII.test(json) ? json.replace(NON_ASCII_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge, `over` wins; arrays are replaced, not merged. Inputs are not modified. */
export function deepMerge(base: Readonly<Record<string, unknown>>, over: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/** Key config seen by `service`: `commonFields` spread at the top, then the service's own entry (SOAJS). */
export function serviceConfig(config: Readonly<Record<string, unknown>>, service: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const common = config['commonFields'];
  if (isPlainObject(common)) for (const [k, v] of Object.entries(common)) out[k] = v;
  if (config[service] !== undefined) out[service] = config[service];
  return out;
}

export interface InjectOptions {
  /** What services use to call each other back through the gateway. */
  awareness: () => { host: string; port: number };
  maxBytes: number;
}

/**
 * The part of the header fixed for (ext key, service, flags) within one snapshot: built once, kept
 * in the key's per-snapshot memo.
 */
function keyPart(ctx: RequestContext, key: KeyEntry, cfg: Record<string, unknown> | null): string {
  const flags = ctx.flags!;
  const t = key.tenant;
  const tenant: InjectWire['tenant'] = {
    id: t.id,
    name: t.name,
    code: t.code,
    locked: t.locked,
    type: t.type,
    ...(t.main ? { main: t.main } : {}),
    ...(flags.tenant_Profile && t.profile ? { profile: t.profile } : {}),
  };
  const acl = flags.provision_ACL === true;
  const application: InjectWire['application'] = {
    product: key.product,
    package: key.packageCode,
    appId: key.appId,
    ...(acl ? { acl: key.appRawAcl ?? undefined, acl_all_env: key.appRawAclAllEnv ?? undefined } : {}),
  };
  const pkg: InjectWire['package'] = acl ? { acl: ctx.pkg?.rawAcl ?? undefined, acl_all_env: ctx.pkg?.rawAclAllEnv } : {};
  const head: Pick<InjectWire, 'tenant' | 'key' | 'application' | 'package'> = {
    tenant,
    key: { config: serviceConfig(cfg ?? key.config, ctx.serviceName), iKey: key.iKey, eKey: ctx.extKey },
    application,
    package: pkg,
  };
  const json = asciiJson(head);
  return json.slice(0, -1); // left open: per-request fields follow
}

function uracPart(user: GatewayUser, ctx: RequestContext): string {
  const flags = ctx.flags!;
  const urac: NonNullable<InjectWire['urac']> = {
    _id: user.id,
    username: user.username,
    // SOAJS URI-encodes names in the header; its service side decodes them.
    firstName: encodeURIComponent(user.firstName),
    lastName: encodeURIComponent(user.lastName),
    email: user.email,
    groups: user.groups,
    tenant: user.tenant,
    ...(flags.urac_Profile ? { profile: user.profile ?? {} } : {}),
    ...(flags.urac_Config && user.config ? { config: user.config } : {}),
  };
  const param: NonNullable<InjectWire['param']> = { urac_Profile: flags.urac_Profile ?? false, urac_ACL: flags.urac_ACL ?? false };
  return `,"urac":${asciiJson(urac)},"param":${asciiJson(param)}`;
}

function newMemo(key: KeyEntry, extKey: string | null, head: string, urac: string): InjectMemo {
  return { key, extKey, head, urac, lastUserAgent: undefined, lastIp: '', lastHost: '', lastPort: -1, last: null };
}

/** inject: the `soajsinjectobj` header for keyed services (soajs-reference §2.13). */
export function createInjectStage(opts: InjectOptions): Stage {
  return {
    name: 'inject',
    kind: 'decide',
    run(ctx: RequestContext): Denial | null {
      if (!ctx.keyed) return null;
      const key = ctx.key!;
      const user = ctx.user;
      // Keyed by the flags object: one per (service, version) in a snapshot, and both memos live
      // no longer than their snapshot.
      const flags = ctx.flags!;
      let m: InjectMemo | undefined;
      if (user !== null) {
        m = user.memo.get(flags);
        if (m === undefined || m.key !== key || m.extKey !== ctx.extKey) {
          const head = keyPart(ctx, key, user.config === null ? null : deepMerge(key.config, user.config));
          m = newMemo(key, ctx.extKey, head, flags.urac ? uracPart(user, ctx) : '');
          user.memo.set(flags, m);
        }
      } else {
        let memos = keyMemos.get(key);
        if (memos === undefined || memos.serial !== ctx.snapshot.serial) {
          memos = { serial: ctx.snapshot.serial, byFlags: new Map() };
          keyMemos.set(key, memos);
        }
        m = memos.byFlags.get(flags);
        if (m === undefined) {
          m = newMemo(key, ctx.extKey, keyPart(ctx, key, null), '');
          memos.byFlags.set(flags, m);
        }
      }
      const userAgent = ctx.headers.userAgent;
      const aw = opts.awareness();
      if (m.last !== null && m.lastUserAgent === userAgent && m.lastIp === ctx.clientIp && m.lastPort === aw.port && m.lastHost === aw.host) {
        ctx.inject = m.last;
        return null;
      }
      const json =
        `${m.head},"device":${asciiJson(userAgent ?? '')},"geo":{"ip":${JSON.stringify(ctx.clientIp)}}` +
        m.urac +
        `,"awareness":{"host":${JSON.stringify(aw.host)},"port":${aw.port}}}`;
      if (json.length > opts.maxBytes) return ERRORS.UPSTREAM_ERROR;
      m.last = json;
      m.lastUserAgent = userAgent;
      m.lastIp = ctx.clientIp;
      m.lastPort = aw.port;
      m.lastHost = aw.host;
      ctx.inject = m.last;
      return null;
    },
  };
}
