import { loadConfig } from '../config/load.js';

/**
 * `tessera tenants …` and `tessera keys …`: a client of the registry API through a gateway, so the
 * CLI gets the same authorisation, validation and audit trail as any administrator.
 */
export class AdminError extends Error {}

type Opts = Record<string, string | true>;

export function parse(args: string[], flags: readonly string[], valued: readonly string[]): { opts: Opts; rest: string[] } {
  const opts: Opts = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) rest.push(a);
    else if (flags.includes(a.slice(2))) opts[a.slice(2)] = true;
    else if (valued.includes(a.slice(2))) {
      const v = args[++i];
      if (v === undefined) throw new AdminError(`${a} needs a value`);
      opts[a.slice(2)] = v;
    } else throw new AdminError(`unknown option ${a}`);
  }
  return { opts, rest };
}

export function need(opts: Opts, name: string): string {
  const v = opts[name];
  if (typeof v !== 'string' || v === '') throw new AdminError(`--${name} is required`);
  return v;
}

export interface Client {
  call(method: string, path: string, body?: unknown): Promise<unknown>;
}

export async function client(opts: Opts): Promise<Client> {
  const config = loadConfig({ file: typeof opts['config'] === 'string' ? opts['config'] : undefined });
  const base = config.admin.url.replace(/\/$/, '');
  const key = config.admin.key;
  if (!key) throw new AdminError('no admin key: set TESSERA_ADMIN_KEY (the owner tenant\'s ext key) or admin.key in the config');
  let token = config.admin.token;
  if (!token) {
    if (!config.admin.user || !config.admin.password) {
      throw new AdminError('no credentials: set TESSERA_ADMIN_TOKEN, or TESSERA_ADMIN_USER and TESSERA_ADMIN_PASSWORD');
    }
    const r = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { key, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: config.admin.user, password: config.admin.password }).toString(),
    }).catch((err: unknown) => {
      throw new AdminError(`cannot reach ${base}: ${(err as Error).message}`);
    });
    const body = (await r.json()) as { access_token?: string };
    if (r.status !== 200 || !body.access_token) throw new AdminError(`login failed (${r.status}): ${JSON.stringify(body)}`);
    token = body.access_token;
  }
  return {
    async call(method, path, body) {
      const r = await fetch(`${base}/registry${path}`, {
        method,
        headers: { key, authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }).catch((err: unknown) => {
        throw new AdminError(`cannot reach ${base}: ${(err as Error).message}`);
      });
      const json = (await r.json().catch(() => null)) as { result?: boolean; data?: unknown; errors?: { details?: { code: number; message: string }[] } } | null;
      if (!r.ok || json?.result !== true) {
        const d = json?.errors?.details?.[0];
        throw new AdminError(d ? `${r.status} code ${d.code}: ${d.message}` : `${r.status}: ${JSON.stringify(json)}`);
      }
      return json.data;
    },
  };
}

export const out = (v: unknown) => process.stdout.write(`${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}\n`);

export async function tenantsCommand(args: string[]): Promise<void> {
  const { opts, rest } = parse(args, [], ['config']);
  if (rest[0] !== 'list') throw new AdminError('usage: tessera tenants list');
  const c = await client(opts);
  type Page = { records: { id: string; code: string; name: string; applications?: unknown[] }[]; total: number };
  let total = 0;
  for (let start = 0; ; start += 500) {
    const page = (await c.call('GET', `/tenants?start=${start}&limit=500`)) as Page;
    for (const t of page.records) out(`${t.id}  ${t.code.padEnd(8)}  ${t.name}  (${t.applications?.length ?? 0} applications)`);
    total = page.total;
    if (page.records.length === 0 || start + page.records.length >= total) break;
  }
  out(`${total} tenants`);
}

export async function keysCommand(args: string[]): Promise<void> {
  const { opts, rest } = parse(args, [], ['config', 'tenant', 'app', 'ikey', 'hint', 'env', 'label', 'expires', 'overlap']);
  const c = await client(opts);
  const tenant = need(opts, 'tenant');
  const app = () => `/tenants/${encodeURIComponent(tenant)}/applications/${encodeURIComponent(need(opts, 'app'))}`;
  switch (rest[0]) {
    case 'list': {
      const t = (await c.call('GET', `/tenants/${encodeURIComponent(tenant)}`)) as {
        applications: { appId: string; package: string; keys: { key: string; extKeys: { hint: string; env: string; expDate: unknown; label?: string }[] }[] }[];
      };
      for (const a of t.applications) {
        for (const k of a.keys) {
          for (const e of k.extKeys) out(`${a.appId}  ${a.package}  ${k.key}  …${e.hint}  ${e.env}  ${e.expDate ?? 'never'}  ${e.label ?? ''}`);
        }
      }
      return;
    }
    case 'create': {
      let iKey = typeof opts['ikey'] === 'string' ? opts['ikey'] : undefined;
      if (iKey === undefined) iKey = ((await c.call('POST', `${app()}/keys`, {})) as { key: string }).key;
      const body: Record<string, unknown> = {};
      if (typeof opts['env'] === 'string') body['env'] = opts['env'];
      if (typeof opts['label'] === 'string') body['label'] = opts['label'];
      if (typeof opts['expires'] === 'string') body['expDate'] = opts['expires'];
      const r = (await c.call('POST', `${app()}/keys/${iKey}/extKeys`, body)) as { extKey: string; hint: string };
      out({ ...r, iKey, note: 'the ext key is shown this once; it is stored only as a hash' });
      return;
    }
    case 'rotate': {
      const body = typeof opts['overlap'] === 'string' ? { overlapSeconds: Number(opts['overlap']) } : {};
      const r = await c.call('POST', `${app()}/keys/${need(opts, 'ikey')}/extKeys/${need(opts, 'hint')}/rotate`, body);
      out(r);
      return;
    }
    case 'revoke': {
      await c.call('DELETE', `${app()}/keys/${need(opts, 'ikey')}/extKeys/${need(opts, 'hint')}`);
      out(`revoked …${need(opts, 'hint')}`);
      return;
    }
    default:
      throw new AdminError('usage: tessera keys list|create|rotate|revoke --tenant ID [--app APPID --ikey IKEY --hint HINT]');
  }
}
