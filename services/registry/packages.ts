import type { Store } from '../../registry/control/store/types.js';
import type { Package, Product } from '../../registry/view/types.js';
import { ok } from '../kit/envelope.js';
import type { Route } from '../kit/server.js';
import { audit } from './audit.js';
import { compact, readDoc, updateDoc, type Rebase } from './documents.js';
import { errors } from './errors.js';
import { applyMergePatch } from './merge-patch.js';
import { docReply, patchRoute, route, type Call } from './request.js';
import { bodies, checkBody, sameId, type PackageBody } from './schemas.js';
import { applicationsUsing, describeUses } from './usage.js';

function packageOf(code: string, body: PackageBody): Package {
  return compact({ code, name: body.name, description: body.description, acl: body.acl });
}

function indexOf(product: Product, pkg: string): number {
  const i = product.packages.findIndex((p) => p.code === pkg);
  if (i === -1) throw errors.notFound(`Package "${pkg}" of product "${product.code}"`);
  return i;
}

function rebase(i: number): Rebase {
  return { label: 'package', prefix: `packages[${i}]` };
}

/** /products/:code/packages: one package of a product (its ACL); every write is a write of the product. */
export function packageRoutes(store: Store): Route[] {
  /** Replaces package `pkg` of the product with what `build` makes of it, and audits. */
  async function writePackage(call: Call, action: 'replace' | 'patch', build: (current: Package) => Package) {
    const code = call.req.params['code']!;
    const pkg = call.req.params['pkg']!;
    let at = -1;
    const w = await updateDoc(
      store,
      'product',
      code,
      call.ifMatch,
      (product) => {
        at = indexOf(product, pkg);
        const next = build(product.packages[at]!);
        sameId('code', next.code, pkg);
        return { ...product, packages: product.packages.map((p, i) => (i === at ? next : p)) };
      },
      () => rebase(at),
    );
    await audit(store, call, action, { resource: 'package', resourceId: pkg, before: w.before, after: w.after, details: { product: code } });
    return docReply(w.doc.packages[at], w.after!);
  }

  return [
    route('GET', '/products/:code/packages', async (call) => {
      const found = await readDoc(store, 'product', call.req.params['code']!);
      return docReply(found.doc.packages, found.version);
    }),

    route('GET', '/products/:code/packages/:pkg', async (call) => {
      const found = await readDoc(store, 'product', call.req.params['code']!);
      return docReply(found.doc.packages[indexOf(found.doc, call.req.params['pkg']!)], found.version);
    }),

    route(
      'POST',
      '/products/:code/packages',
      async (call) => {
        const code = call.req.params['code']!;
        const body = checkBody(bodies.packageCreate, call.req.body);
        let at = -1;
        const w = await updateDoc(
          store,
          'product',
          code,
          call.ifMatch,
          (product) => {
            if (product.packages.some((p) => p.code === body.code)) throw errors.exists(`Package "${body.code}" of product "${code}"`);
            at = product.packages.length;
            return { ...product, packages: [...product.packages, packageOf(body.code, body)] };
          },
          () => rebase(at),
        );
        await audit(store, call, 'create', { resource: 'package', resourceId: body.code, before: w.before, after: w.after, details: { product: code } });
        return docReply(w.doc.packages[at], w.after!, 201);
      },
      true,
    ),

    route(
      'PUT',
      '/products/:code/packages/:pkg',
      async (call) => {
        const body = checkBody(bodies.packageReplace, call.req.body);
        return writePackage(call, 'replace', () => packageOf(body.code ?? call.req.params['pkg']!, body));
      },
      true,
    ),

    patchRoute('/products/:code/packages/:pkg', (call, patch) =>
      writePackage(call, 'patch', (current) => {
        const body = checkBody(bodies.packageReplace, applyMergePatch(current, patch));
        return packageOf(body.code ?? current.code, body);
      }),
    ),

    route('DELETE', '/products/:code/packages/:pkg', async (call) => {
      const code = call.req.params['code']!;
      const pkg = call.req.params['pkg']!;
      const w = await updateDoc(store, 'product', code, call.ifMatch, async (product) => {
        indexOf(product, pkg);
        const uses = await applicationsUsing(store, (app) => app.package === pkg);
        if (uses.length > 0) throw errors.inUse(`Package "${pkg}" is still used by: ${describeUses(uses)}.`);
        return { ...product, packages: product.packages.filter((p) => p.code !== pkg) };
      });
      await audit(store, call, 'delete', { resource: 'package', resourceId: pkg, before: w.before, after: w.after, details: { product: code } });
      return { status: 200, headers: { etag: `"${w.after!}"` }, json: ok({ code: pkg, deleted: true }) };
    }),
  ];
}
