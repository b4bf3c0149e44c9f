import type { Route } from '../kit/server.js';
import { errors } from './errors.js';

const READERS: readonly string[] = ['owner', 'viewer'];
const WRITERS: readonly string[] = ['owner'];

/**
 * Defence in depth behind the gateway's ACL: every registry route checks for itself that the
 * caller came with a key of the platform's own tenant and is in its `owner` group (any method) or
 * `viewer` group (reads). A tenant that somehow got an ACL entry for `registry` — an override, an
 * imported package, a mistake in a product — still reaches nothing here.
 */
export function platformOnly(ownerTenant: string, routes: readonly Route[]): Route[] {
  return routes.map((r) => {
    const allowed = r.method === 'GET' ? READERS : WRITERS;
    return {
      ...r,
      handler(req) {
        const soajs = req.soajs;
        if (!soajs?.urac) throw errors.notLoggedIn();
        // The groups in the context are the caller's groups in the key's tenant (gateway, user stage).
        if (soajs.tenant.code !== ownerTenant || !soajs.urac.groups.some((g) => allowed.includes(g))) throw errors.notPlatform();
        return r.handler(req);
      },
    };
  });
}
