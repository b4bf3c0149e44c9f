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

/** Everything the snapshot is compiled from. */
export type RegistryData = {
  readonly version: number;
  readonly hosts: readonly HostRegistration[];
} & { readonly [D in SnapshotDoc as D[1]]: readonly DocByKind[D[0]][] };

/** Change kinds that rebuild the snapshot: its documents, a host registration, or `*` (changes may have been missed). */
export const SNAPSHOT_KINDS: ReadonlySet<string> = new Set([...SNAPSHOT_DOCS.map(([kind]) => kind), 'host', '*']);

/** RegistryData from a store's documents of each snapshot kind. */
export function registryData(version: number, hosts: readonly HostRegistration[], docsOf: (kind: SnapshotDoc[0], i: number) => readonly unknown[]): RegistryData {
  const out: Record<string, unknown> = { version, hosts };
  SNAPSHOT_DOCS.forEach(([kind, field], i) => (out[field] = docsOf(kind, i)));
  return out as RegistryData;
}
