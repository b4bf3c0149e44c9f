import type { RateLimitBy, RateLimitRule } from './types.js';

/** A rate limit compiled once per snapshot; `id` is stable across snapshots, so counters survive a rebuild. */
export interface RateRule {
  readonly id: string;
  readonly by: RateLimitBy;
  readonly limit: number;
  readonly windowMs: number;
  /** Only requests to this service count; null: all. */
  readonly service: string | null;
  /** `"<name>";q=<limit>;w=<seconds>`: this policy in `RateLimit-Policy`. */
  readonly policy: string;
  readonly name: string;
}

/** null: the level declares no limits (the next level decides); an empty list: it declares none apply. */
export function compileRateRules(level: string, owner: string, rules: readonly RateLimitRule[] | undefined): readonly RateRule[] | null {
  if (rules === undefined) return null;
  return Object.freeze(
    rules.map((r, i) => {
      const name = r.name ?? r.by;
      return Object.freeze({
        id: `${level}:${owner}:${i}:${r.by}:${r.limit}:${r.windowSeconds}:${r.service ?? '*'}`,
        by: r.by,
        limit: r.limit,
        windowMs: r.windowSeconds * 1000,
        service: r.service ?? null,
        policy: `"${name}";q=${r.limit};w=${r.windowSeconds}`,
        name,
      });
    }),
  );
}
