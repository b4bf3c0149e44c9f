import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import t from 'tap';
import { FileStore } from '../../registry/control/store/file.js';
import { RedisStore } from '../../registry/control/store/redis.js';
import type { SeedDoc } from '../../registry/control/seed.js';
import type { Store } from '../../registry/control/store/types.js';
import { startRedis, uniquePrefix } from '../helpers/redis.js';
import { storeContract, type Backend, type StoreTestOptions } from './store-contract.js';
import { eventContract } from './store-contract-events.js';

/** The one Store contract suite, run against each backend: the embedded file store and a real redis-server. */

const file: Backend = {
  name: 'file',
  async open(t, seed, opts = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-contract-'));
    const store = new FileStore(dir, seed, opts);
    await store.open();
    t.teardown(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return store;
  },
  async raw(store) {
    return readFileSync(join((store as FileStore).dir, 'registry.json'), 'utf8');
  },
};
storeContract(t, file);
eventContract(t, file);

const redis = await startRedis();
t.teardown(() => redis.stop());
const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
client.on('error', () => undefined);
t.teardown(() => client.disconnect());
const prefixes = new WeakMap<Store, string>();
const openRedis = async (t: { teardown(fn: () => unknown): void }, prefix: string, seed: readonly SeedDoc[], opts: StoreTestOptions = {}) => {
  const store = new RedisStore({ url: `${redis.url}?prefix=${prefix}`, seed, onError: () => undefined, ...opts });
  t.teardown(() => store.close());
  await store.open();
  prefixes.set(store, prefix);
  return store;
};

const redisBackend: Backend = {
  name: 'redis',
  open: (t, seed, opts) => openRedis(t, uniquePrefix(), seed, opts),
  async raw(store) {
    const prefix = prefixes.get(store)!;
    const keys = (await client.keys(`${prefix}*`)).filter((k) => !k.endsWith('changes')).sort();
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const type = await client.type(k);
      out[k] =
        type === 'hash' ? await client.hgetall(k) : type === 'set' ? (await client.smembers(k)).sort() : type === 'stream' ? await client.xrange(k, '-', '+') : await client.get(k);
    }
    return out;
  },
  async indexes(store) {
    const prefix = prefixes.get(store)!;
    return { username: await client.hgetall(`${prefix}idx:username`), extkey: await client.hgetall(`${prefix}idx:extkey`) };
  },
  reopen: (t, store) => openRedis(t, prefixes.get(store)!, []),
};
storeContract(t, redisBackend);
eventContract(t, redisBackend);
