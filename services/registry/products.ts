import type { Store } from '../../registry/control/store/types.js';
import type { Product } from '../../registry/view/types.js';
import type { Route } from '../kit/server.js';
import { compact } from './documents.js';
import { errors } from './errors.js';
import { applyMergePatch } from './merge-patch.js';
import { resourceRoutes } from './resource.js';
import { bodies, checkBody, sameId, type ProductBody } from './schemas.js';
import { applicationsUsing, describeUses } from './usage.js';

function productOf(code: string, body: ProductBody): Product {
  return compact({ code, name: body.name, description: body.description, packages: body.packages ?? [] });
}

/** Refuses a change that drops packages applications still use (their keys would stop working: 152). */
export async function checkDroppedPackages(store: Store, current: Product, next: Product): Promise<void> {
  const kept = new Set(next.packages.map((p) => p.code));
  const dropped = new Set(current.packages.map((p) => p.code).filter((c) => !kept.has(c)));
  if (dropped.size === 0) return;
  const uses = await applicationsUsing(store, (app) => dropped.has(app.package));
  if (uses.length > 0) {
    throw errors.inUse(`Packages ${[...new Set(uses.map((u) => u.package))].join(', ')} of product "${current.code}" are still used by: ${describeUses(uses)}.`);
  }
}

/** /products: the product documents, packages included. */
export function productRoutes(store: Store): Route[] {
  return resourceRoutes(store, {
    kind: 'product',
    collection: '/products',
    param: 'code',
    sortKey: (p) => p.code,
    create(call) {
      const body = checkBody(bodies.productCreate, call.req.body);
      return { id: body.code, doc: productOf(body.code, body) };
    },
    replaceBody(call, code) {
      const body = checkBody(bodies.productReplace, call.req.body);
      sameId('code', body.code, code);
      return body;
    },
    async replace(body, current, code) {
      const next = productOf(code, body);
      await checkDroppedPackages(store, current, next);
      return next;
    },
    async patch(current, patch, code) {
      const body = checkBody(bodies.productReplace, applyMergePatch(current, patch));
      sameId('code', body.code, code);
      const next = productOf(code, body);
      await checkDroppedPackages(store, current, next);
      return next;
    },
    async beforeDelete(current, code) {
      const codes = new Set(current.packages.map((p) => p.code));
      const uses = await applicationsUsing(store, (app) => app.product === code || codes.has(app.package));
      if (uses.length > 0) throw errors.inUse(`Product "${code}" is still used by: ${describeUses(uses)}.`);
    },
  });
}
