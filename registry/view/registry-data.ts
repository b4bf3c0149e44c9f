import type { DocByKind, HostRegistration } from './types.js';

/**
 * The document kinds a snapshot is compiled from — the small, hot data — each with the field of
 * RegistryData it fills. Listed once: the stores' `load()` and the change feed's "rebuild on
 * this kind" both read it. Tenants, users and tokens are cached instead.
 */
export const SNAPSHOT_DOCS = [
  ['product', 'products'],
  ['service', 'services'],
  ['group', 'groups'],
  ['signingKey', 'signingKeys'],
  ['revocation', 'revocations'],
] as const;

type SnapshotDoc = (typeof SNAPSHOT_DOCS)[number];

/**
 * Which registry a store holds: its epoch is set once, when the store is first opened, and kept
 * with the data, so a store that lost its data (a Redis restarted without persistence, flushed, or
 * replaced) has none or another one — whatever its version says (`store-reset.ts`).
 */
export interface StoreIdentity {
  /** Null: nothing has opened this store since it lost (or never had) its data. */
  readonly epoch: string | null;
  /** The epoch an operator accepted as the registry after a reset (`tessera store accept-reset`), or null. */
  readonly acceptedEpoch: string | null;
}

/** Everything the snapshot is compiled from. */
export type RegistryData = {
  readonly version: number;
  readonly identity: StoreIdentity;
  readonly hosts: readonly HostRegistration[];
} & { readonly [D in SnapshotDoc as D[1]]: readonly DocByKind[D[0]][] };

/** Change kinds that rebuild the snapshot: its documents, a host registration, or `*` (changes may have been missed). */
export const SNAPSHOT_KINDS: ReadonlySet<string> = new Set([...SNAPSHOT_DOCS.map(([kind]) => kind), 'host', '*']);

/** RegistryData from a store's documents of each snapshot kind. */
export function registryData(
  version: number,
  identity: StoreIdentity,
  hosts: readonly HostRegistration[],
  docsOf: (kind: SnapshotDoc[0], i: number) => readonly unknown[],
): RegistryData {
  const out: Record<string, unknown> = { version, identity, hosts };
  SNAPSHOT_DOCS.forEach(([kind, field], i) => (out[field] = docsOf(kind, i)));
  return out as RegistryData;
}
