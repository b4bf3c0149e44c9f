import type { Store } from '../../registry/control/store/types.js';
import type { Product } from '../../registry/view/types.js';
import { ok } from '../kit/envelope.js';
import type { Route } from '../kit/server.js';
import { audit } from './audit.js';
import { compact, createDoc, deleteDoc, readDoc, updateDoc } from './documents.js';
import { errors } from './errors.js';
import { applyMergePatch } from './merge-patch.js';
import { byString, docReply, page, patchRoute, route } from './request.js';
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
  return [
    route('GET', '/products', async (call) => {
      const all = (await store.list('product')).map((v) => v.doc).sort(byString((p) => p.code));
      return ok(page(call.req, all));
    }),

    route('GET', '/products/:code', async (call) => {
      const found = await readDoc(store, 'product', call.req.params['code']!);
      return docReply(found.doc, found.version);
    }),

    route(
      'POST',
      '/products',
      async (call) => {
        const body = checkBody(bodies.productCreate, call.req.body);
        const w = await createDoc(store, 'product', body.code, productOf(body.code, body));
        await audit(store, call, 'create', { resource: 'product', resourceId: body.code, before: w.before, after: w.after });
        return docReply(w.doc, w.after!, 201);
      },
      true,
    ),

    route(
      'PUT',
      '/products/:code',
      async (call) => {
        const code = call.req.params['code']!;
        const body = checkBody(bodies.productReplace, call.req.body);
        sameId('code', body.code, code);
        const w = await updateDoc(store, 'product', code, call.ifMatch, async (current) => {
          const next = productOf(code, body);
          await checkDroppedPackages(store, current, next);
          return next;
        });
        await audit(store, call, 'replace', { resource: 'product', resourceId: code, before: w.before, after: w.after });
        return docReply(w.doc, w.after!);
      },
      true,
    ),

    patchRoute('/products/:code', async (call, patch) => {
      const code = call.req.params['code']!;
      const w = await updateDoc(store, 'product', code, call.ifMatch, async (current) => {
        const body = checkBody(bodies.productReplace, applyMergePatch(current, patch));
        sameId('code', body.code, code);
        const next = productOf(code, body);
        await checkDroppedPackages(store, current, next);
        return next;
      });
      await audit(store, call, 'patch', { resource: 'product', resourceId: code, before: w.before, after: w.after });
      return docReply(w.doc, w.after!);
    }),

    route('DELETE', '/products/:code', async (call) => {
      const code = call.req.params['code']!;
      const w = await deleteDoc(store, 'product', code, call.ifMatch, async (current) => {
        const codes = new Set(current.packages.map((p) => p.code));
        const uses = await applicationsUsing(store, (app) => app.product === code || codes.has(app.package));
        if (uses.length > 0) throw errors.inUse(`Product "${code}" is still used by: ${describeUses(uses)}.`);
      });
      await audit(store, call, 'delete', { resource: 'product', resourceId: code, before: w.before, after: null });
      return ok({ code, deleted: true });
    }),
  ];
}
