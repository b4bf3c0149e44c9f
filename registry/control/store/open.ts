import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../../../config/schema.js';
import { readSeed } from '../seed.js';
import { FileStore } from './file.js';
import { RedisStore } from './redis.js';
import type { Store } from './types.js';

const isFile = (store: string) => store.startsWith('file:');

/** Whether the store `config.store` names is shared by many processes, without opening it. */
export function storeIsShared(config: Readonly<Config>): boolean {
  return isFile(config.store) ? FileStore.shared : RedisStore.shared;
}

/**
 * The store named by `config.store`, seeded from `config.seed` when that directory exists — unless
 * `seed` is false (`tessera store accept-reset` accepts the store as it is, it adds nothing).
 */
export function openStore(config: Readonly<Config>, opts: { onError?: (err: unknown) => void; seed?: boolean } = {}): Store {
  const seedDir = resolve(config.seed);
  const seed = opts.seed !== false && existsSync(seedDir) ? readSeed(seedDir) : [];
  const retentionDays = config.events.retentionDays;
  if (isFile(config.store)) return new FileStore(resolve(config.store.slice('file:'.length)), seed, { retentionDays });
  return new RedisStore({ url: config.store, seed, retentionDays, ...(opts.onError ? { onError: opts.onError } : {}) });
}
