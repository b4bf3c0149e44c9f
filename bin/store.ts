import { loadConfig } from '../config/load.js';
import { openStore, storeIsShared } from '../registry/control/store/open.js';
import { redact } from './log.js';

/** `tessera store …` fails with a message that says what to do (printed as `tessera: store: …`). */
export class StoreCommandError extends Error {}

const USAGE = 'store: usage: tessera store accept-reset [--config FILE]';

/**
 * `tessera store accept-reset`: the operator's word that the store as it is now is the registry,
 * after it lost data (registry/view/store-reset.ts). It writes the acceptance into the store — a new
 * registry identity, marked accepted, and a resync on the change feed — so that it reaches every
 * gateway and worker following that store, wherever they run, and the writers that were refused.
 * It adds nothing: restore or reseed (`tessera seed`) first, or accept an empty store knowingly.
 */
export async function storeCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'accept-reset') throw new StoreCommandError(sub === undefined ? USAGE : `store: unknown command "${sub}"; ${USAGE.slice(7)}`);
  let file: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] !== '--config') throw new StoreCommandError(`store: unknown option ${rest[i]}; ${USAGE.slice(7)}`);
    file = rest[++i];
    if (file === undefined) throw new StoreCommandError('store: --config needs a value');
  }
  const config = loadConfig({ file });
  if (!storeIsShared(config)) {
    throw new StoreCommandError(
      `store: ${config.store} is the file store: one process holds it, so it cannot lose data under a running gateway and there is no reset to accept`,
    );
  }
  // The connection's own error says why ("connect ECONNREFUSED …"); open() only says it closed.
  let cause: unknown = null;
  const store = openStore(config, { seed: false, onError: (err) => (cause ??= err) });
  try {
    await store.open();
  } catch (err) {
    await store.close();
    throw new StoreCommandError(`store: cannot open ${config.store}: ${((cause ?? err) as Error).message}`);
  }
  try {
    const counts = Object.fromEntries(
      await Promise.all((['product', 'tenant', 'service', 'user'] as const).map(async (k) => [k, (await store.list(k)).length] as const)),
    );
    const accepted = await store.acceptReset();
    const empty = Object.values(counts).every((n) => n === 0);
    process.stdout.write(
      redact(
        `accepted ${config.store} as the registry (identity ${accepted.epoch}, registry version ${accepted.version}): ${JSON.stringify(counts)}\n` +
          'gateways holding an older registry take this one now and turn ready; writers that were refused write again\n' +
          (empty ? 'the store is empty: every key is unknown (403, code 148) until it is reseeded (tessera seed) or restored\n' : ''),
      ),
    );
  } finally {
    await store.close();
  }
}
