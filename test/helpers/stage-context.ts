import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { RequestContext } from '../../gateway/context.js';
import { keyEntriesOf, type KeyEntry } from '../../registry/view/key-entries.js';
import { registryData } from '../../registry/view/registry-data.js';
import { buildSnapshot, type Snapshot } from '../../registry/view/snapshot.js';
import type { Group, Product, Service, Tenant } from '../../registry/view/types.js';

/** A snapshot built the way the sync builds one, from documents given in the test. */
export function snapshotOf(docs: { products?: Product[]; services?: Service[]; groups?: Group[] }, env = 'dev'): Snapshot {
  const byKind = { product: docs.products ?? [], service: docs.services ?? [], group: docs.groups ?? [], signingKey: [], revocation: [] };
  return buildSnapshot(registryData(1, { epoch: 'test', acceptedEpoch: null }, [], (kind) => byKind[kind]), env);
}

/** A key entry as the key cache holds one: the tenant's ext key by its hash, compiled for `env`. */
export function keyEntry(tenant: Tenant, keyHash: string, env = 'dev'): KeyEntry {
  const e = keyEntriesOf(tenant, env).get(keyHash);
  if (e === undefined) throw new Error(`tenant ${tenant.code} has no ext key ${keyHash.slice(0, 8)}…`);
  return e;
}

/** A request context on a real IncomingMessage (no socket traffic): what a stage sees. */
export function contextFor(snapshot: Snapshot, req: { method?: string; url: string; headers?: Record<string, string> }): RequestContext {
  const msg = new IncomingMessage(new Socket());
  msg.method = req.method ?? 'GET';
  msg.url = req.url;
  msg.headers = { ...(req.headers ?? {}) };
  return new RequestContext(msg, new ServerResponse(msg), snapshot);
}
