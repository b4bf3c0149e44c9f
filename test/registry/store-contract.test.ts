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
import { storeContract } from './store-contract.js';

/** The one Store contract suite, run against each backend: the embedded file store and a real redis-server. */

storeContract(t, {
  name: 'file',
  async open(t, seed) {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-contract-'));
    const store = new FileStore(dir, seed);
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
});

const redis = await startRedis();
t.teardown(() => redis.stop());
const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
client.on('error', () => undefined);
t.teardown(() => client.disconnect());
const prefixes = new WeakMap<Store, string>();
const openRedis = async (t: { teardown(fn: () => unknown): void }, prefix: string, seed: readonly SeedDoc[]) => {
  const store = new RedisStore({ url: `${redis.url}?prefix=${prefix}`, seed, onError: () => undefined });
  t.teardown(() => store.close());
  await store.open();
  prefixes.set(store, prefix);
  return store;
};

storeContract(t, {
  name: 'redis',
  open: (t, seed) => openRedis(t, uniquePrefix(), seed),
  async raw(store) {
    const prefix = prefixes.get(store)!;
    const keys = (await client.keys(`${prefix}*`)).filter((k) => !k.endsWith('changes')).sort();
    const out: Record<string, unknown> = {};
    for (const k of keys) {
      const type = await client.type(k);
      out[k] = type === 'hash' ? await client.hgetall(k) : type === 'set' ? (await client.smembers(k)).sort() : await client.get(k);
    }
    return out;
  },
  async indexes(store) {
    const prefix = prefixes.get(store)!;
    return { username: await client.hgetall(`${prefix}idx:username`), extkey: await client.hgetall(`${prefix}idx:extkey`) };
  },
  reopen: (t, store) => openRedis(t, prefixes.get(store)!, []),
});
