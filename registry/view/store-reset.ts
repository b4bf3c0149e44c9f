import type { RegistryData } from './registry-data.js';

/**
 * The store reset guard (issue 16 §6): Redis started without AOF and killed comes back empty, and
 * a gateway that resynced to it answered every key 403/148. A gateway that holds a registry does
 * not trade it for one that lost data; it keeps serving what it holds until an operator says the
 * store as it is now is the registry.
 */

/** What a gateway's registry was loaded at: the reference a later load is judged against. */
export interface HeldRegistry {
  readonly version: number;
  readonly epoch: string | null;
}

/** What a load is to the registry held. */
export type LoadVerdict =
  /** The same registry, as new or newer: swap it in. */
  | { readonly kind: 'follow' }
  /** An operator accepted the store as it is now (`tessera store accept-reset`): swap it in, drop every cache. */
  | { readonly kind: 'accepted' }
  /** The store lost (some of) the registry held: refuse it. */
  | { readonly kind: 'reset'; readonly why: 'lost-identity' | 'other-identity' | 'version-backwards' };

/**
 * Judges a load against the registry held. The rules, first match wins:
 * 1. Nothing held (version 0: nothing was ever written): nothing can be lost — follow.
 * 2. The store carries an epoch an operator accepted, and it is not the one held — accepted.
 * 3. The store has no epoch, or another one — reset (its data went; a version alone cannot tell,
 *    writers may have pushed a new registry past the old version).
 * 4. Its version is below the one held — reset (versions only grow: every write INCRs it; a restored
 *    older backup of the same registry lands here).
 * 5. Otherwise — follow.
 *
 * "Empty" is a store at version 0: nothing was ever written to it (an unpersisted Redis after a
 * restart). Against anything held it is a reset by rule 3 or 4.
 */
export function judgeLoad(held: HeldRegistry, data: Pick<RegistryData, 'version' | 'identity'>): LoadVerdict {
  if (held.version === 0) return { kind: 'follow' };
  const { epoch, acceptedEpoch } = data.identity;
  if (epoch !== null && epoch === acceptedEpoch && epoch !== held.epoch) return { kind: 'accepted' };
  // A registry held from a store that had no epoch yet (loaded before any process opened it) is judged by version only.
  if (held.epoch !== null && epoch !== held.epoch) return { kind: 'reset', why: epoch === null ? 'lost-identity' : 'other-identity' };
  if (data.version < held.version) return { kind: 'reset', why: 'version-backwards' };
  return { kind: 'follow' };
}

/** A reset the gateway refused: what readiness reports and the one error line says. */
export interface RegistryHold {
  readonly why: 'lost-identity' | 'other-identity' | 'version-backwards';
  /** ms since the epoch. */
  readonly since: number;
  readonly held: HeldRegistry;
  readonly found: HeldRegistry & { readonly empty: boolean };
  /** One sentence for an operator: what happened, what is served, how to end it. */
  readonly message: string;
}

const WHAT: Readonly<Record<RegistryHold['why'], string>> = {
  'lost-identity': 'lost its data (it no longer carries the registry identity)',
  'other-identity': 'holds another registry (it lost its data and something recreated it)',
  'version-backwards': 'went back in time (its registry version is below the one served: an older copy of the data)',
};

/** `hold`: the reset is refused (the default); `accept`: taken as it is (`storeReset: accept`). */
export function registryHold(
  verdict: Extract<LoadVerdict, { kind: 'reset' }>,
  held: HeldRegistry,
  data: Pick<RegistryData, 'version' | 'identity'>,
  since: number,
  policy: 'hold' | 'accept',
): RegistryHold {
  const found = { version: data.version, epoch: data.identity.epoch, empty: data.version === 0 };
  const what =
    `registry store reset: the store ${WHAT[verdict.why]}: registry version ${held.version} served, ` +
    `${found.empty ? 'an empty store (version 0)' : `version ${found.version}`} found. `;
  const persist = 'With Redis, run it with `--appendonly yes` so that a restart keeps the registry.';
  return {
    why: verdict.why,
    since,
    held,
    found,
    message:
      policy === 'hold'
        ? `${what}Serving the last good registry and cached keys; not ready. To end this, restore the data (a backup, ` +
          `or \`tessera seed\` for the declarative seed) and run \`tessera store accept-reset\`. ${persist}`
        : `${what}Taken as it is (storeReset: accept): every cache dropped, what the store lost is gone. ${persist}`,
  };
}

/**
 * What a cache miss gets while a reset is held: the store is not trusted, so a key or user never
 * cached is refused as if the registry were unreachable (503, code 181) — never read from a store
 * that would call a valid key unknown (403, 148), and never remembered.
 */
export class RegistryHeldError extends Error {
  override name = 'RegistryHeldError';
  constructor(readonly hold: RegistryHold) {
    super(hold.message);
  }
}
