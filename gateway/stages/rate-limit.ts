import type { RateCounter, RateLimiter } from '../../registry/view/rate-limiter.js';
import type { RateRule } from '../../registry/view/rate-rules.js';
import type { RequestContext } from '../context.js';
import { ERRORS, type Denial } from '../errors.js';
import { HEADERS } from '../headers.js';
import type { Stage } from '../stage.js';

/** What a rule counts for this request; null: it does not apply (a user limit without a user). */
function subjectOf(rule: RateRule, ctx: RequestContext): string | null {
  const key = ctx.key!;
  switch (rule.by) {
    case 'tenant':
      return key.tenant.id;
    case 'application':
      return `${key.tenant.id}/${key.appId}`;
    case 'key':
      return key.iKey;
    case 'user':
      return ctx.user?.id ?? null;
    case 'ip':
      return `${key.tenant.id}/${addressBlock(ctx.clientIp)}`;
  }
}

/**
 * An IPv4 address as it is; an IPv6 one as its /64, the block one subscriber gets: counting per
 * address would let a client walk through 2^64 addresses (and a counter each) to evade its limit.
 */
export function addressBlock(ip: string): string {
  if (!ip.includes(':')) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = ip.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = ip.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * The `RateLimit-Policy` / `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers) for the
 * rules that counted this request, on its answer whatever it is; a refusal adds `Retry-After`.
 * null: this answer carries none (`gateway.rateLimitHeaders`).
 */
function headersFor(counted: readonly RateCounter[], now: number, refused: RateCounter | null, mode: RateLimitHeaders): string[] | null {
  if (mode === 'off') return refused === null ? null : [HEADERS.RETRY_AFTER, retryAfter(refused, now)];
  // `near`: only when one of the limits is within a fifth of its quota — a client that needs to
  // slow down is told; the rest of the traffic is spared two header lines per answer.
  if (mode === 'near' && refused === null && !counted.some((c) => (c.tokens + c.remaining) * 5 <= c.rule.limit)) return null;
  let policy = '';
  let state = '';
  for (const c of counted) {
    const sep = policy === '' ? '' : ', ';
    policy += sep + c.rule.policy;
    const r = c === refused ? 0 : Math.max(0, c.tokens + c.remaining);
    state += `${sep}"${c.rule.name}";r=${r};t=${Math.max(0, Math.ceil((c.resetAt - now) / 1000))}`;
  }
  const out = [HEADERS.RATELIMIT_POLICY, policy, HEADERS.RATELIMIT, state];
  if (refused !== null) out.push(HEADERS.RETRY_AFTER, retryAfter(refused, now));
  return out;
}

function retryAfter(c: RateCounter, now: number): string {
  return String(Math.max(1, Math.ceil((c.blockedUntil - now) / 1000)));
}

export type RateLimitHeaders = 'always' | 'near' | 'off';

/**
 * rate-limit (every-request): the most specific level's limits — the key's, else its
 * application's, else its package's (the tier) — each counted for its subject; the first one used
 * up refuses with 429/190. A kept decision does not skip it. Unkeyed requests have no tenant to
 * count for and pass (SOAJS throttles keyed requests only).
 */
export function createRateLimitStage(limiter: RateLimiter, headers: RateLimitHeaders = 'always'): Stage {
  /**
   * Spends a token of each rule from `from` on, in order: synchronously while this process holds
   * them; a counter that has to lease makes the rest wait for it.
   */
  function check(ctx: RequestContext, rules: readonly RateRule[], from: number, counted: RateCounter[], now: number): Denial | null | Promise<Denial | null> {
    for (let i = from; i < rules.length; i++) {
      const counter = counterFor(ctx, rules[i]!);
      if (counter === null) continue;
      counted.push(counter);
      const ok = limiter.take(counter, now);
      if (ok === true) continue;
      if (ok === false) return refuse(ctx, counted, counter);
      return ok.then((passed) => (passed ? check(ctx, rules, i + 1, counted, limiter.now()) : refuse(ctx, counted, counter)));
    }
    if (counted.length > 0) ctx.responseHeaders = headersFor(counted, now, null, headers);
    return null;
  }

  function counterFor(ctx: RequestContext, rule: RateRule): RateCounter | null {
    if (rule.service !== null && rule.service !== ctx.serviceName) return null;
    const subject = subjectOf(rule, ctx);
    return subject === null ? null : limiter.counter(rule, subject);
  }

  function refuse(ctx: RequestContext, counted: RateCounter[], c: RateCounter): Denial {
    // A refused request costs the limits it passed nothing: else an address over its own limit
    // would go on spending the whole tenant's.
    for (const other of counted) if (other !== c) limiter.giveBack(other, limiter.now());
    ctx.responseHeaders = headersFor(counted, limiter.now(), c, headers);
    return ERRORS.RATE_LIMITED;
  }

  return {
    name: 'rate-limit',
    kind: 'every-request',
    run(ctx: RequestContext): Denial | null | Promise<Denial | null> {
      const key = ctx.key;
      if (!ctx.keyed || key === null) return null;
      const rules = key.rateLimits ?? ctx.pkg?.rateLimits ?? null;
      if (rules === null || rules.length === 0) return null;
      return check(ctx, rules, 0, [], limiter.now());
    },
  };
}
