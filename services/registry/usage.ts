import type { Store } from '../../registry/control/store/types.js';
import type { Application } from '../../registry/view/types.js';

/** A tenant application that uses a package. */
export interface Use {
  readonly tenantId: string;
  readonly tenantCode: string;
  readonly appId: string;
  readonly package: string;
}

/** Applications of every tenant that `uses` accepts, ordered by tenant code and appId. */
export async function applicationsUsing(store: Store, uses: (app: Application) => boolean): Promise<Use[]> {
  const found: Use[] = [];
  for (const { doc: t } of await store.list('tenant')) {
    for (const app of t.applications) {
      if (uses(app)) found.push({ tenantId: t.id, tenantCode: t.code, appId: app.appId, package: app.package });
    }
  }
  return found.sort((a, b) => (a.tenantCode + a.appId < b.tenantCode + b.appId ? -1 : 1));
}

const SHOWN = 20;

/** `tenant TNT1 (54ee…) application 30d2… (PROD1_PCK1); …` — the first 20, then how many more. */
export function describeUses(uses: readonly Use[]): string {
  const listed = uses
    .slice(0, SHOWN)
    .map((u) => `tenant ${u.tenantCode} (${u.tenantId}) application ${u.appId} (${u.package})`)
    .join('; ');
  return uses.length > SHOWN ? `${listed}; and ${uses.length - SHOWN} more` : listed;
}
