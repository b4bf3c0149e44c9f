import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { validateDocument } from '../schema.js';
import type { SeedDoc } from '../seed.js';
import { type DocByKind, type DocKind, type HostRegistration, type Tenant, type User } from '../../view/types.js';
import { registryData, SNAPSHOT_DOCS } from '../../view/registry-data.js';
import { RedisFeed } from './redis-feed.js';
import type { RateLease } from '../../view/rate-window.js';
import { pageEvents, prepareEvents, retentionMs, storedEvent } from './outbox.js';
import {
  ACCEPT_RESET_EVENT_ID,
  ConflictError,
  docId,
  DuplicateError,
  StoreResetError,
  StoreUnavailableError,
  type AcceptedReset,
  type ChangeEvent,
  type Counter,
  type EventPage,
  type EventQuery,
  type RegistryData,
  type Store,
  type StoredEvent,
  type Versioned,
  type WriteOptions,
} from './types.js';

/**
 * Refuses a write into a store that is no longer the registry this process opened (issue 16 §6):
 * its epoch went with its data, or something else recreated one. Returns the store's epoch and the
 * one an operator accepted, so that the caller can adopt an accepted one.
 */
const SAME_REGISTRY = (epochKey: string, acceptedKey: string, mine: string) => `
local epoch = redis.call('GET', ${epochKey})
if epoch ~= ${mine} then return {-3, 0, epoch or '', redis.call('GET', ${acceptedKey}) or ''} end
`;

/**
 * One atomic write (Redis runs a script as MULTI/EXEC does, but can check first): check the store
 * is still the registry this process opened, compare the document's version (-1: any), check unique
 * indexes, replace the index entries the document owns (kept in `own:<kind>`, so no read is needed
 * before writing), write the document, XADD its events to the outbox stream (issue 17 §2), INCR
 * the registry version and PUBLISH the change — one round trip, nothing half-written: every check
 * that can refuse comes before the first write, and Redis runs the script whole or (killed, AOF
 * replayed) not at all.
 *
 * An event's stream id is `<ms>-*` on the writer's clock (injectable, so retention can be tested);
 * an id Redis refuses (a clock behind the newest entry) falls back to `*`, which Redis keeps
 * increasing. After adding, entries older than the retention, counted from the newest, are trimmed.
 *
 * KEYS: doc hash, version hash, registry version, channel, owned-index hash, epoch, accepted epoch, event stream
 * ARGV: this process's epoch, id, json ('' = delete), expected version (-1 = any), kind, n entries, (index key, field, value)×n,
 *       n events, now ms, retention ms, (nonce, type, tenant id, service, data json)×n
 * Returns {1, new doc version, registry version} | {-1, actual version} | {-2, 0, field, holder} | {0, 0, 0}
 *       | {-3, 0, store epoch, accepted epoch}
 */
const WRITE = `${SAME_REGISTRY('KEYS[6]', 'KEYS[7]', 'ARGV[1]')}
local id = ARGV[2]
local json = ARGV[3]
local expected = tonumber(ARGV[4])
local cur = tonumber(redis.call('HGET', KEYS[2], id) or '0')
if expected >= 0 and cur ~= expected then return {-1, cur} end
if json == '' and cur == 0 then return {0, 0, 0} end
local i = 7
local nadd = tonumber(ARGV[6])
local add = {}
local keep = {}
for n = 1, nadd do
  local holder = redis.call('HGET', ARGV[i], ARGV[i + 1])
  if holder and holder ~= ARGV[i + 2] then return {-2, 0, ARGV[i + 1], holder} end
  add[n] = {ARGV[i], ARGV[i + 1], ARGV[i + 2]}
  keep[ARGV[i] .. '|' .. ARGV[i + 1]] = true
  i = i + 3
end
local owned = redis.call('HGET', KEYS[5], id)
if owned then
  for _, e in ipairs(cjson.decode(owned)) do
    if not keep[e[1] .. '|' .. e[2]] and redis.call('HGET', e[1], e[2]) == id then redis.call('HDEL', e[1], e[2]) end
  end
end
local list = {}
for n, a in ipairs(add) do
  redis.call('HSET', a[1], a[2], a[3])
  list[n] = {a[1], a[2]}
end
if nadd > 0 then redis.call('HSET', KEYS[5], id, cjson.encode(list)) else redis.call('HDEL', KEYS[5], id) end
local docver = 0
local op = 'delete'
if json == '' then
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
else
  docver = cur + 1
  op = 'put'
  redis.call('HSET', KEYS[1], id, json)
  redis.call('HSET', KEYS[2], id, docver)
end
local nev = tonumber(ARGV[i])
if nev > 0 then
  local at = ARGV[i + 1] .. '-*'
  local keep = tonumber(ARGV[i + 2])
  i = i + 3
  local last = ''
  for n = 1, nev do
    local fields = {'n', ARGV[i], 't', ARGV[i + 1], 'tn', ARGV[i + 2], 's', ARGV[i + 3], 'd', ARGV[i + 4]}
    local r = redis.pcall('XADD', KEYS[8], at, unpack(fields))
    if type(r) == 'table' and r.err then r = redis.call('XADD', KEYS[8], '*', unpack(fields)) end
    last = r
    i = i + 5
  end
  local ms = tonumber(string.match(last, '^(%d+)-'))
  redis.call('XTRIM', KEYS[8], 'MINID', string.format('%.0f', ms - keep))
end
local v = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', KEYS[4], cjson.encode({version = v, kind = ARGV[5], id = id, op = op}))
return {1, docver, v}
`;

/** Index lookup and document read in one round trip (a cold key costs exactly one). */
const BY_INDEX = `
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
return {id, redis.call('HGET', KEYS[2], id), redis.call('HGET', KEYS[3], id)}
`;

/** KEYS: hosts, registry version, channel, epoch, accepted epoch. ARGV: field, registration ('' = remove), service, this process's epoch. */
const HOST = `${SAME_REGISTRY('KEYS[4]', 'KEYS[5]', 'ARGV[4]')}
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', KEYS[3], cjson.encode({version = v, kind = 'host', id = ARGV[3], op = ARGV[2] == '' and 'delete' or 'put'}))
return {1, 0, v}
`;

/** The store's epoch: created by the first process to open it (an empty store), else the one it has. */
const OPEN_EPOCH = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`;

/**
 * The operator's acceptance of the store as it is (\`tessera store accept-reset\`): a new epoch,
 * marked accepted, and a resync announced. KEYS: epoch, accepted epoch, registry version, channel.
 * ARGV: the new epoch, the resync's id.
 */
const ACCEPT_RESET = `
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
local v = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', KEYS[4], cjson.encode({version = v, kind = '*', id = ARGV[2], op = 'put'}))
return v
`;

/** One failure counted: reset when the previous one is older than the window; the key expires after it. */
const FAILURE = `
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '-1')
local at = tonumber(ARGV[1])
local count = 1
if last >= 0 and at - last <= tonumber(ARGV[2]) then count = tonumber(redis.call('HGET', KEYS[1], 'count') or '0') + 1 end
redis.call('HSET', KEYS[1], 'count', count, 'last', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {count, ARGV[1]}
`;

/**
 * registry/view/rate-window.ts in Lua, on Redis's clock (TIME): every gateway leases from one
 * counter, so what they are granted together never passes the limit. Returns
 * {granted, remaining, resetMs, retryMs}.
 */
const RATE_LEASE = `
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'anchor', 'index', 'current', 'previous')
local anchor = tonumber(s[1] or now)
local index = tonumber(s[2] or '0')
local current = tonumber(s[3] or '0')
local previous = tonumber(s[4] or '0')
local i = math.floor((now - anchor) / w)
if i == index + 1 then previous = current; current = 0 elseif i > index + 1 then previous = 0; current = 0 end
if i > index then index = i end
local into = now - anchor - index * w
local used = previous * (1 - into / w) + current
local free = math.floor(limit - used)
local granted = math.max(0, math.min(want, free))
current = current + granted
local remaining = math.max(0, free - granted)
local reset = w - into
local retry = 0
if remaining == 0 then
  local need = used + granted - limit + 1
  if previous > 0 then retry = math.min(reset, math.ceil(need / previous * w)) else retry = reset end
  retry = math.max(1, retry)
end
redis.call('HSET', KEYS[1], 'anchor', anchor, 'index', index, 'current', current, 'previous', previous)
redis.call('PEXPIRE', KEYS[1], 2 * w + reset)
return {granted, remaining, reset, retry}
`;

export interface RedisStoreOptions {
  url: string;
  seed?: readonly SeedDoc[];
  /** Version poll, ms: pub/sub is at-most-once, the poll bounds how long a missed change can hide. */
  pollMs?: number;
  /** Command timeout, ms: a Redis that stops answering fails requests instead of hanging them. */
  commandTimeoutMs?: number;
  /** Events older than this are trimmed from the outbox as new ones are written. Default 30. */
  retentionDays?: number;
  /** The clock events are stamped with (tests inject one). */
  now?: () => number;
  onError?: (err: unknown) => void;
}

type WriteResult = [number, number, number | string, string?];

/** A stream entry of the outbox as a StoredEvent. */
function toEvent(cursor: string, list: string[]): StoredEvent {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) f[list[i]!] = list[i + 1]!;
  return storedEvent(cursor, { type: f['t'] ?? '', tenantId: f['tn'], service: f['s'], json: f['d'] ?? '{}', nonce: f['n'] ?? '' });
}

/** The scripts defined on the command connection (ioredis adds them as methods). */
interface Scripts {
  tesseraWrite(...a: (string | number)[]): Promise<WriteResult>;
  tesseraHost(...a: string[]): Promise<[number, number, number]>;
  tesseraOpenEpoch(key: string, candidate: string): Promise<string>;
  tesseraAcceptReset(...a: string[]): Promise<number>;
}

const newEpoch = () => randomBytes(8).toString('hex');

/**
 * The production store: documents in Redis hashes under a key prefix, every write an atomic,
 * versioned, published change; many gateways follow one registry.
 *
 *   <p>doc:<kind>   id -> JSON          <p>ver:<kind>   id -> document version
 *   <p>idx:username lower(username) -> user id
 *   <p>idx:extkey   SHA-256 of ext key -> tenant id
 *   <p>own:<kind>   id -> index entries the document holds (so a write needs no read first)
 *   <p>hosts        service|version|host|port -> registration
 *   <p>version      registry version (INCR by every write)     <p>seeded  set of applied seed docs
 *   <p>epoch        which registry this is (set by the first open; gone with the data)
 *   <p>accepted     the epoch an operator accepted after a reset (accept-reset)
 *   <p>events       stream: the outbox, entry id = cursor, fields n (id's random part), t (type),
 *                   tn (tenant id), s (service), d (data JSON)
 *   channel <p>changes: {version, kind, id, op}
 */
export class RedisStore implements Store {
  readonly type = 'redis' as const;
  readonly prefix: string;
  /** Many processes on many machines follow one Redis. */
  static readonly shared = true;
  readonly shared = RedisStore.shared;
  readonly #client: Redis;
  readonly #feed: RedisFeed;
  readonly #opts: RedisStoreOptions;
  /** The registry this process opened: writes into another one are refused (StoreResetError). */
  #epoch = '';
  readonly #retentionMs: number;
  readonly #now: () => number;

  constructor(opts: RedisStoreOptions) {
    this.#opts = opts;
    this.#retentionMs = retentionMs(opts.retentionDays);
    this.#now = opts.now ?? Date.now;
    const url = new URL(opts.url);
    this.prefix = url.searchParams.get('prefix') ?? 'tessera:';
    url.searchParams.delete('prefix');
    const common: RedisOptions = {
      lazyConnect: true,
      connectTimeout: 2000,
      // Back off to 1 s between reconnects; never give up: Redis coming back must heal the gateway.
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
    };
    this.#client = new Redis(url.toString(), {
      ...common,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs ?? 2000,
    });
    this.#client.on('error', (err: unknown) => opts.onError?.(err));
    this.#feed = new RedisFeed({
      subscriber: new Redis(url.toString(), { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null }),
      channel: this.#key('changes'),
      readVersion: async () => Number((await this.#client.get(this.#key('version'))) ?? 0),
      pollMs: opts.pollMs ?? 1000,
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
    this.#client.defineCommand('tesseraWrite', { numberOfKeys: 8, lua: WRITE });
    this.#client.defineCommand('tesseraByIndex', { numberOfKeys: 3, lua: BY_INDEX });
    this.#client.defineCommand('tesseraHost', { numberOfKeys: 5, lua: HOST });
    this.#client.defineCommand('tesseraOpenEpoch', { numberOfKeys: 1, lua: OPEN_EPOCH });
    this.#client.defineCommand('tesseraAcceptReset', { numberOfKeys: 4, lua: ACCEPT_RESET });
    this.#client.defineCommand('tesseraFailure', { numberOfKeys: 1, lua: FAILURE });
    this.#client.defineCommand('tesseraRateLease', { numberOfKeys: 1, lua: RATE_LEASE });
  }

  #key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  /**
   * Connects, follows the change feed and takes the store's epoch (creating it on an empty store:
   * a process opening a store cannot tell a new one from one that lost its data), then seeds.
   */
  async open(): Promise<void> {
    await this.#client.connect();
    await this.#feed.open();
    this.#epoch = (await this.#call(() => this.#scripts.tesseraOpenEpoch(this.#key('epoch'), newEpoch()))) as string;
    await this.#applySeed();
  }

  get #scripts(): Scripts {
    return this.#client as unknown as Scripts;
  }

  /** The epoch this process writes under: the one it opened, or one an operator accepted since. */
  get epoch(): string {
    return this.#epoch;
  }

  /**
   * Runs a guarded script; a refusal because the store is another registry now adopts that one if
   * an operator accepted it (and runs the script again), else throws StoreResetError.
   */
  async #guarded<R extends [number, number, ...unknown[]]>(run: (epoch: string) => Promise<R>): Promise<R> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.#call(() => run(this.#epoch));
      if (r[0] !== -3) return r;
      const [, , epoch, accepted] = r as unknown as [number, number, string, string];
      if (attempt === 0 && epoch !== '' && epoch === accepted) {
        this.#epoch = epoch;
        continue;
      }
      throw new StoreResetError(
        `redis: the store lost the registry this process opened (${epoch === '' ? 'it has no registry identity' : 'it is another registry'}); ` +
          'writes are refused until an operator runs `tessera store accept-reset`',
      );
    }
  }

  async acceptReset(): Promise<AcceptedReset> {
    const epoch = newEpoch();
    const keys = [this.#key('epoch'), this.#key('accepted'), this.#key('version'), this.#key('changes')];
    const version = Number(await this.#call(() => this.#scripts.tesseraAcceptReset(...keys, epoch, ACCEPT_RESET_EVENT_ID)));
    this.#epoch = epoch;
    return { epoch, version };
  }

  /** Seed documents never applied to this Redis are written (once: a deleted one stays deleted). */
  async #applySeed(): Promise<void> {
    for (const s of this.#opts.seed ?? []) {
      const tag = `${s.kind}:${docId(s.kind, s.doc)}`;
      if ((await this.#call(() => this.#client.sismember(this.#key('seeded'), tag))) === 1) continue;
      try {
        await this.put(s.kind, s.doc, { ifVersion: 0 });
      } catch (err) {
        if (!(err instanceof ConflictError) && !(err instanceof DuplicateError)) throw err;
      }
      await this.#call(() => this.#client.sadd(this.#key('seeded'), tag));
    }
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Error && /ReplyError/.test(err.name)) throw err;
      throw new StoreUnavailableError(`redis: ${(err as Error).message}`);
    }
  }

  async countFailure(key: string, at: number, windowMs: number): Promise<Counter> {
    const r = (await this.#call(() =>
      (this.#client as unknown as { tesseraFailure(k: string, at: number, w: number): Promise<[number, string]> }).tesseraFailure(
        this.#key('counter', key),
        at,
        windowMs,
      ),
    )) as [number, string];
    return { count: Number(r[0]), last: Number(r[1]) };
  }

  async leaseRate(key: string, limit: number, windowMs: number, want: number): Promise<RateLease> {
    const r = (await this.#call(() =>
      (this.#client as unknown as { tesseraRateLease(k: string, l: number, w: number, n: number): Promise<number[]> }).tesseraRateLease(
        this.#key('rate', key),
        limit,
        windowMs,
        want,
      ),
    )) as number[];
    return { granted: Number(r[0]), remaining: Number(r[1]), resetMs: Number(r[2]), retryMs: Number(r[3]) };
  }

  async readCounter(key: string): Promise<Counter | null> {
    const [count, last] = await this.#call(() => this.#client.hmget(this.#key('counter', key), 'count', 'last'));
    return count === null || last === null ? null : { count: Number(count), last: Number(last) };
  }

  async clearCounter(key: string): Promise<void> {
    await this.#call(() => this.#client.del(this.#key('counter', key)));
  }

  async registryVersion(): Promise<number> {
    return Number((await this.#call(() => this.#client.get(this.#key('version')))) ?? 0);
  }

  async load(): Promise<RegistryData> {
    const m = this.#client.multi();
    m.get(this.#key('version'));
    for (const [kind] of SNAPSHOT_DOCS) m.hvals(this.#key('doc', kind));
    m.hvals(this.#key('hosts'));
    m.get(this.#key('epoch'));
    m.get(this.#key('accepted'));
    const res = await this.#call(() => m.exec());
    if (res === null) throw new StoreUnavailableError('redis: transaction aborted');
    const val = (i: number) => {
      const [err, v] = res[i]!;
      if (err) throw new StoreUnavailableError(`redis: ${err.message}`);
      return v;
    };
    const docs = (i: number) => (val(i) as string[]).map((s) => JSON.parse(s) as unknown);
    const n = SNAPSHOT_DOCS.length;
    const identity = { epoch: (val(n + 2) as string | null) ?? null, acceptedEpoch: (val(n + 3) as string | null) ?? null };
    return registryData(Number(val(0) ?? 0), identity, docs(n + 1) as HostRegistration[], (_kind, i) => docs(i + 1));
  }

  async get<K extends DocKind>(kind: K, id: string): Promise<Versioned<DocByKind[K]> | null> {
    const res = await this.#call(() => this.#client.multi().hget(this.#key('doc', kind), id).hget(this.#key('ver', kind), id).exec());
    const json = res?.[0]?.[1] as string | null;
    return json ? { doc: JSON.parse(json) as DocByKind[K], version: Number(res?.[1]?.[1] ?? 0) } : null;
  }

  async list<K extends DocKind>(kind: K): Promise<Versioned<DocByKind[K]>[]> {
    const res = await this.#call(() => this.#client.multi().hgetall(this.#key('doc', kind)).hgetall(this.#key('ver', kind)).exec());
    const docs = (res?.[0]?.[1] ?? {}) as Record<string, string>;
    const vers = (res?.[1]?.[1] ?? {}) as Record<string, string>;
    return Object.entries(docs).map(([id, json]) => ({ doc: JSON.parse(json) as DocByKind[K], version: Number(vers[id] ?? 0) }));
  }

  async #byIndex<T>(index: string, field: string, kind: DocKind): Promise<Versioned<T> | null> {
    const r = (await this.#call(() =>
      (this.#client as unknown as { tesseraByIndex(...a: string[]): Promise<[string, string | null, string | null] | null> }).tesseraByIndex(
        this.#key('idx', index),
        this.#key('doc', kind),
        this.#key('ver', kind),
        field,
      ),
    )) as [string, string | null, string | null] | null;
    if (!r || r[1] === null) return null;
    return { doc: JSON.parse(r[1]) as T, version: Number(r[2] ?? 0) };
  }

  readEvents(query: EventQuery): Promise<EventPage> {
    return pageEvents(query, async (after, count) => {
      const entries = (await this.#call(() => this.#client.xrange(this.#key('events'), after === null ? '-' : `(${after}`, '+', 'COUNT', count))) as [string, string[]][];
      return entries.map(([cursor, list]) => toEvent(cursor, list));
    });
  }

  findTenantByKeyHash(keyHash: string): Promise<Versioned<Tenant> | null> {
    return this.#byIndex<Tenant>('extkey', keyHash, 'tenant');
  }

  findUserByUsername(username: string): Promise<Versioned<User> | null> {
    return this.#byIndex<User>('username', username.toLowerCase(), 'user');
  }

  /** Index entries a document owns. */
  #indexes(kind: DocKind, doc: unknown): { key: string; field: string; value: string }[] {
    if (kind === 'user') {
      const u = doc as User;
      return [{ key: this.#key('idx', 'username'), field: u.username.toLowerCase(), value: u.id }];
    }
    if (kind === 'tenant') {
      const t = doc as Tenant;
      return t.applications.flatMap((a) =>
        a.keys.flatMap((k) => k.extKeys.map((e) => ({ key: this.#key('idx', 'extkey'), field: e.keyHash, value: t.id }))),
      );
    }
    return [];
  }

  async #write(kind: DocKind, id: string, doc: unknown | null, opts: WriteOptions): Promise<{ docVersion: number; changed: boolean }> {
    const events = prepareEvents(opts.events);
    const entries = doc === null ? [] : this.#indexes(kind, doc);
    const args: (string | number)[] = [id, doc === null ? '' : JSON.stringify(doc), opts.ifVersion ?? -1, kind, entries.length];
    for (const e of entries) args.push(e.key, e.field, e.value);
    args.push(events.length, Math.floor(this.#now()), this.#retentionMs);
    for (const e of events) args.push(e.nonce, e.draft.type, e.draft.tenantId ?? '', e.draft.service ?? '', e.json);
    const r = await this.#guarded((epoch) =>
      this.#scripts.tesseraWrite(
        this.#key('doc', kind),
        this.#key('ver', kind),
        this.#key('version'),
        this.#key('changes'),
        this.#key('own', kind),
        this.#key('epoch'),
        this.#key('accepted'),
        this.#key('events'),
        epoch,
        ...args,
      ),
    );
    if (r[0] === 1) return { docVersion: r[1], changed: true };
    if (r[0] === 0) return { docVersion: 0, changed: false };
    if (r[0] === -2) {
      throw kind === 'user'
        ? new DuplicateError('user', 'username', String(r[2]))
        : new DuplicateError(kind, 'ext key', `${String(r[2]).slice(-6)} (held by ${String(r[3])})`);
    }
    throw new ConflictError(kind, id, opts.ifVersion ?? -1, r[1]);
  }

  async put<K extends DocKind>(kind: K, doc: DocByKind[K], opts: WriteOptions = {}): Promise<number> {
    const valid = validateDocument(kind, structuredClone(doc));
    return (await this.#write(kind, docId(kind, valid), valid, opts)).docVersion;
  }

  async delete(kind: DocKind, id: string, opts: WriteOptions = {}): Promise<boolean> {
    return (await this.#write(kind, id, null, opts)).changed;
  }

  async #host(host: HostRegistration, value: string): Promise<void> {
    const field = `${host.service}|${host.version}|${host.host}|${host.port}`;
    await this.#guarded((epoch) =>
      this.#scripts.tesseraHost(this.#key('hosts'), this.#key('version'), this.#key('changes'), this.#key('epoch'), this.#key('accepted'), field, value, host.service, epoch),
    );
  }

  registerHost(host: HostRegistration): Promise<void> {
    return this.#host(host, JSON.stringify(host));
  }

  unregisterHost(host: HostRegistration): Promise<void> {
    return this.#host(host, '');
  }

  onChange(listener: (e: ChangeEvent) => void): () => void {
    return this.#feed.onChange(listener);
  }

  async close(): Promise<void> {
    this.#feed.close();
    this.#client.disconnect();
  }
}
