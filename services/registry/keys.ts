import { randomBytes } from 'node:crypto';
import { hashExtKey, keyHint, newInternalKey } from '../../registry/view/keys.js';
import { encodeSoajsKey } from '../../registry/control/soajs-key.js';
import { tenantEvents } from '../../registry/control/events.js';
import type { Store } from '../../registry/control/store/types.js';
import type { AppKey, ExtKey, Tenant } from '../../registry/view/types.js';
import { ok } from '../kit/envelope.js';
import type { Reply, Route } from '../kit/server.js';
import { audit, type AuditAction } from './audit.js';
import { compact, readDoc, updateDoc, type Written } from './documents.js';
import { errors } from './errors.js';
import { docReply, etag, route, type Call } from './request.js';
import { bodies, checkBody } from './schemas.js';
import { appIndex, extKeyIndex, keyIndex, withApp, withExtKeys, withKey } from './tenant-parts.js';
import { keyView } from './views.js';

const DAY_SECONDS = 86_400;

/** 512 random bits as lower-case hex: the ext key, shown once and stored only as its SHA-256. */
function newExtKey(tenant: Tenant): { plain: string; hint: string } {
  const hints = new Set(tenant.applications.flatMap((a) => a.keys.flatMap((k) => k.extKeys.map((e) => e.hint))));
  let plain = randomBytes(64).toString('hex');
  // Hints address ext keys in URLs: keep them unique within the tenant.
  for (let n = 0; n < 8 && hints.has(keyHint(plain)); n++) plain = randomBytes(64).toString('hex');
  return { plain, hint: keyHint(plain) };
}

/** ms since epoch of an expiry (null/absent: never). */
function expiryMs(exp: ExtKey['expDate']): number {
  if (exp === null || exp === undefined) return Number.POSITIVE_INFINITY;
  return typeof exp === 'number' ? exp : Date.parse(exp);
}

function futureExpDate(exp: ExtKey['expDate'] | undefined, field: string): ExtKey['expDate'] {
  if (exp === undefined || exp === null) return null;
  if (expiryMs(exp) <= Date.now()) throw errors.badRequest(`body field "${field}" is in the past (ms since epoch or an ISO date)`);
  return exp;
}

/** The answer that carries a new ext key: the only time its plaintext is ever sent. */
function secretReply(plain: string, e: ExtKey, version: number, extra: Record<string, unknown> = {}): Reply {
  return {
    status: 201,
    headers: { etag: etag(version), 'cache-control': 'no-store' },
    json: ok({ extKey: plain, hint: e.hint, env: e.env, expDate: e.expDate ?? null, label: e.label ?? null, ...extra }),
  };
}

/** /tenants/:id/applications/:appId/keys: internal keys, their config and their ext keys. */
export function keyRoutes(store: Store, env: string, soajsKeyPassword?: string): Route[] {
  const base = '/tenants/:id/applications/:appId/keys';

  /** A key in SOAJS's format for this tenant, application and internal key (configured password only). */
  function soajsExtKey(tenant: Tenant, appId: string, iKey: string): { plain: string; hint: string } {
    if (!soajsKeyPassword) throw errors.badRequest('body field "format": SOAJS-format keys need soajs.keyPassword (TESSERA_SOAJS_KEY_PASSWORD)');
    const pkg = tenant.applications.find((a) => a.appId === appId)?.package ?? '';
    try {
      const plain = encodeSoajsKey({ tenantId: tenant.id, internalKey: iKey, packageCode: pkg }, soajsKeyPassword);
      return { plain, hint: keyHint(plain) };
    } catch (err) {
      throw errors.badRequest(`body field "format": ${(err as Error).message}`);
    }
  }

  /** Changes key `:iKey` of the URL's application with `change`, and audits `action`. */
  async function writeKey(
    call: Call,
    action: AuditAction,
    change: (key: AppKey, tenant: Tenant, written: (extKeyIndex: number) => void) => AppKey,
    details: (key: AppKey) => Record<string, unknown> = () => ({}),
  ): Promise<{ w: Written<Tenant>; key: AppKey }> {
    const { id, appId, iKey } = call.req.params as Record<string, string>;
    let at = -1;
    let j = -1;
    let n = -1;
    let next = null as AppKey | null;
    const w = await updateDoc(
      store,
      'tenant',
      id!,
      call.ifMatch,
      (tenant) => {
        at = appIndex(tenant, appId!);
        const app = tenant.applications[at]!;
        j = keyIndex(app, iKey!);
        next = change(app.keys[j]!, tenant, (i) => (n = i));
        return withApp(tenant, at, withKey(app, j, next));
      },
      // Validation errors name the field as the request did: `geo.allow`, `config.dev`.
      () =>
        n >= 0
          ? { label: 'extKey', prefix: `applications[${at}].keys[${j}].extKeys[${n}]` }
          : { label: 'key', prefix: `applications[${at}].keys[${j}]` },
      tenantEvents,
    );
    const key = next!;
    await audit(store, call, action, {
      resource: action === 'set-key-config' ? 'key' : 'extKey',
      resourceId: action === 'set-key-config' ? iKey! : String(details(key)['hint'] ?? ''),
      before: w.before,
      after: w.after,
      details: { tenant: id, appId, key: iKey, ...details(key) },
    });
    return { w, key };
  }

  return [
    route('GET', base, async (call) => {
      const found = await readDoc(store, 'tenant', call.req.params['id']!);
      const app = found.doc.applications[appIndex(found.doc, call.req.params['appId']!)]!;
      return docReply(app.keys.map(keyView), found.version);
    }),

    route('GET', `${base}/:iKey`, async (call) => {
      const found = await readDoc(store, 'tenant', call.req.params['id']!);
      const app = found.doc.applications[appIndex(found.doc, call.req.params['appId']!)]!;
      return docReply(keyView(app.keys[keyIndex(app, call.req.params['iKey']!)]!), found.version);
    }),

    route(
      'POST',
      base,
      async (call) => {
        const { id, appId } = call.req.params as Record<string, string>;
        const body = checkBody(bodies.key, call.req.body);
        let at = -1;
        let j = -1;
        let created = null as AppKey | null;
        const w = await updateDoc(
          store,
          'tenant',
          id!,
          call.ifMatch,
          (tenant) => {
            at = appIndex(tenant, appId!);
            const taken = new Set(tenant.applications.flatMap((a) => a.keys.map((k) => k.key)));
            let iKey = newInternalKey();
            for (let n = 0; n < 5 && taken.has(iKey); n++) iKey = newInternalKey();
            created = compact({ key: iKey, config: body.config, extKeys: [] });
            const app = tenant.applications[at]!;
            j = app.keys.length;
            return withApp(tenant, at, { ...app, keys: [...app.keys, created] });
          },
          () => ({ label: 'key', prefix: `applications[${at}].keys[${j}]` }),
          tenantEvents,
        );
        const key = created!;
        await audit(store, call, 'create-key', {
          resource: 'key',
          resourceId: key.key,
          before: w.before,
          after: w.after,
          details: { tenant: id, appId },
        });
        return docReply(keyView(key), w.after!, 201);
      },
      true,
    ),

    route(
      'PUT',
      `${base}/:iKey/config`,
      async (call) => {
        const config = checkBody(bodies.keyConfig, call.req.body);
        const { w, key } = await writeKey(call, 'set-key-config', (k) => ({ ...k, config }));
        return docReply(keyView(key), w.after!);
      },
      true,
    ),

    route(
      'POST',
      `${base}/:iKey/extKeys`,
      async (call) => {
        const body = checkBody(bodies.extKey, call.req.body);
        const expDate = futureExpDate(body.expDate, 'expDate');
        let plain = '';
        let entry = null as ExtKey | null;
        const { w } = await writeKey(
          call,
          'create-ext-key',
          (k, tenant, written) => {
            const made = body.format === 'soajs' ? soajsExtKey(tenant, call.req.params['appId']!, k.key) : newExtKey(tenant);
            plain = made.plain;
            written(k.extKeys.length);
            entry = compact({
              keyHash: hashExtKey(made.plain),
              hint: made.hint,
              env: body.env ?? env,
              expDate,
              geo: body.geo,
              device: body.device,
              label: body.label,
            });
            return withExtKeys(k, [...k.extKeys, entry]);
          },
          () => ({ hint: entry!.hint }),
        );
        return secretReply(plain, entry!, w.after!);
      },
      true,
    ),

    route(
      'POST',
      `${base}/:iKey/extKeys/:hint/rotate`,
      async (call) => {
        const body = checkBody(bodies.rotate, call.req.body);
        const overlapMs = (body.overlapSeconds ?? DAY_SECONDS) * 1000;
        const newExp = body.expDate === undefined ? undefined : futureExpDate(body.expDate, 'expDate');
        const hint = call.req.params['hint']!;
        let plain = '';
        let fresh = null as ExtKey | null;
        let old = null as ExtKey | null;
        const { w } = await writeKey(
          call,
          'rotate-ext-key',
          (k, tenant, written) => {
            const n = extKeyIndex(k, hint);
            written(n + 1);
            const previous = k.extKeys[n]!;
            const now = Date.now();
            // The old key stays valid for the overlap, never longer than it already would.
            old = { ...previous, expDate: Math.min(expiryMs(previous.expDate), now + overlapMs) };
            const made = newExtKey(tenant);
            plain = made.plain;
            const inherited = expiryMs(previous.expDate) > now ? (previous.expDate ?? null) : null;
            fresh = compact({
              keyHash: hashExtKey(made.plain),
              hint: made.hint,
              env: previous.env,
              expDate: newExp === undefined ? inherited : newExp,
              geo: previous.geo,
              device: previous.device,
              label: previous.label,
            });
            const extKeys = [...k.extKeys];
            extKeys.splice(n, 1, old, fresh);
            return withExtKeys(k, extKeys);
          },
          () => ({ hint, newHint: fresh!.hint, previousExpDate: old!.expDate }),
        );
        return secretReply(plain, fresh!, w.after!, { previous: { hint, expDate: old!.expDate } });
      },
      true,
    ),

    route('DELETE', `${base}/:iKey/extKeys/:hint`, async (call) => {
      const hint = call.req.params['hint']!;
      const { w } = await writeKey(
        call,
        'revoke-ext-key',
        (k) => {
          const n = extKeyIndex(k, hint);
          return withExtKeys(
            k,
            k.extKeys.filter((_, i) => i !== n),
          );
        },
        () => ({ hint }),
      );
      return { status: 200, headers: { etag: etag(w.after!) }, json: ok({ hint, revoked: true }) };
    }),
  ];
}
