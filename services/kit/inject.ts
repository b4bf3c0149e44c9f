import type { InjectWire } from '../../registry/view/inject-contract.js';

/**
 * What the gateway tells a service about the caller, as the SOAJS service framework exposes it
 * (`tenant`, `servicesConfig`, `urac`, `awareness`): read from `soajsinjectobj`, whose wire shape
 * is registry/view/inject-contract.ts.
 */
export interface SoajsContext {
  tenant: {
    id: string;
    code: string;
    name: string;
    type?: string;
    locked?: boolean;
    main?: { id: string; code: string };
    key: { iKey: string; eKey: string };
    application: { product: string; package: string; appId: string };
  };
  /** Key config for this service: `{commonFields entries…, <service>: {...}}`. */
  servicesConfig: Record<string, unknown>;
  urac: {
    _id: string;
    username: string;
    firstName: string;
    lastName: string;
    email: string;
    groups: string[];
    tenant: { id: string; code: string };
    profile?: Record<string, unknown>;
    config?: Record<string, unknown>;
  } | null;
  device: string;
  geo: { ip: string };
  awareness: { host: string; port: number } | null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function decode(s: unknown): string {
  if (typeof s !== 'string') return '';
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses the header; null when absent or not the shape the gateway sends. */
export function parseInject(header: string | undefined): SoajsContext | null {
  if (!header) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(header);
  } catch {
    return null;
  }
  // Read field by field against the wire contract: a service never trusts the header's shape blindly.
  if (!isObject(raw)) return null;
  const wire = raw as Partial<Record<keyof InjectWire, unknown>>;
  if (!isObject(wire.tenant) || !isObject(wire.key) || !isObject(wire.application)) return null;
  const t = wire.tenant;
  const k = wire.key;
  const a = wire.application;
  const u = isObject(wire.urac) ? wire.urac : null;
  const aw = isObject(wire.awareness) ? wire.awareness : null;
  return {
    tenant: {
      id: String(t['id']),
      code: String(t['code']),
      name: String(t['name']),
      ...(typeof t['type'] === 'string' ? { type: t['type'] } : {}),
      ...(typeof t['locked'] === 'boolean' ? { locked: t['locked'] } : {}),
      ...(isObject(t['main']) ? { main: t['main'] as { id: string; code: string } } : {}),
      key: { iKey: String(k['iKey']), eKey: String(k['eKey']) },
      application: { product: String(a['product']), package: String(a['package']), appId: String(a['appId']) },
    },
    servicesConfig: isObject(k['config']) ? k['config'] : {},
    urac: u
      ? {
          _id: String(u['_id']),
          username: String(u['username']),
          firstName: decode(u['firstName']),
          lastName: decode(u['lastName']),
          email: String(u['email'] ?? ''),
          groups: Array.isArray(u['groups']) ? u['groups'].map(String) : [],
          tenant: isObject(u['tenant']) ? { id: String(u['tenant']['id']), code: String(u['tenant']['code']) } : { id: '', code: '' },
          ...(isObject(u['profile']) ? { profile: u['profile'] } : {}),
          ...(isObject(u['config']) ? { config: u['config'] } : {}),
        }
      : null,
    device: typeof wire.device === 'string' ? wire.device : '',
    geo: isObject(wire.geo) ? { ip: String(wire.geo['ip'] ?? '') } : { ip: '' },
    awareness: aw ? { host: String(aw['host']), port: Number(aw['port']) } : null,
  };
}
