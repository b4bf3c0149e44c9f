import { LruCache, type KeyCache, type KeyEntry } from '../../registry/view/cache.js';
import { hashExtKey, isWellFormedExtKey } from '../../registry/view/keys.js';
import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import { HEADERS } from '../headers.js';
import type { Stage } from '../stage.js';
import { queryParam } from '../query.js';

/**
 * key: ext key from header `key` or `?key=` → tenant, application, package, key config. A key that
 * is sent must be valid even where the service needs none (SOAJS).
 */
export function createKeyStage(keys: KeyCache, opts: { now?: () => number; digests?: number } = {}): Stage {
  const now = opts.now ?? Date.now;
  // SHA-256 of the same key on every request is the largest piece of this stage. Only keys that
  // resolved go in, so a flood of made-up keys cannot push the real ones out. What it holds is no
  // secret the process does not see anyway (every request carries the key in clear). Looked up by
  // the key's tail: a Map hashes its string key on every lookup of a fresh header value, and a
  // 128-character key costs five times its tail; a hit must then match the whole key.
  const digests = new LruCache<string, { readonly extKey: string; readonly hash: string }>(opts.digests ?? 10_000);
  const tail = (extKey: string) => (extKey.length > 40 ? extKey.slice(-24) : extKey);
  function accept(ctx: RequestContext, extKey: string, hash: string, entry: KeyEntry | null): Denial | null {
    // Most keys never expire: no clock read for them.
    if (entry === null || (entry.expires !== Infinity && entry.expires <= now())) return ERRORS.KEY_UNKNOWN;
    if (entry.env !== ctx.snapshot.env) return ERRORS.KEY_ENV;
    ctx.extKey = extKey;
    ctx.keyHash = hash;
    ctx.key = entry;
    ctx.pkg = ctx.snapshot.packages.get(entry.packageCode) ?? null;
    return null;
  }
  return {
    name: 'key',
    kind: 'decide',
    run(ctx: RequestContext): Denial | null | Promise<Denial | null> {
      let extKey: string | undefined | null = ctx.headers.key;
      if (extKey === undefined || extKey === '') extKey = queryParam(ctx.query, HEADERS.KEY);
      if (extKey === undefined || extKey === '') return null;
      if (extKey === null) return ERRORS.KEY_UNKNOWN;
      const hit = digests.get(tail(extKey));
      const memo = hit !== undefined && hit.extKey === extKey ? hit.hash : undefined;
      if (memo === undefined && !isWellFormedExtKey(extKey)) return ERRORS.KEY_UNKNOWN;
      const hash = memo ?? hashExtKey(extKey);
      const cached = keys.get(hash);
      if (cached !== undefined) {
        if (memo === undefined && cached !== null) digests.set(tail(extKey), { extKey, hash });
        return accept(ctx, extKey, hash, cached);
      }
      const key = extKey;
      // A cold key costs one store round trip; a store that cannot answer denies (fail closed).
      return keys.load(hash).then(
        (entry) => {
          if (entry !== null) digests.set(tail(key), { extKey: key, hash });
          return accept(ctx, key, hash, entry);
        },
        () => ERRORS.REGISTRY_UNAVAILABLE,
      );
    },
  };
}
