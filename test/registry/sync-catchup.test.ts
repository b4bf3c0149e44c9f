import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { FileStore } from '../../registry/control/store/file.js';
import type { RegistryData } from '../../registry/control/store/types.js';
import { RegistrySync } from '../../registry/view/sync.js';
import type { User } from '../../registry/view/types.js';

/**
 * catchUp (what a gateway holds a write's answer on): a change to a cached kind (a login's refresh
 * token, a user) that comes while a snapshot rebuild is loading must count once the rebuild is in,
 * or the answer waits out the whole timeout.
 */
class HeldLoadStore extends FileStore {
  gate: Promise<void> | null = null;
  loads = 0;
  override async load(): Promise<RegistryData> {
    const data = await super.load();
    this.loads++;
    if (this.gate) await this.gate;
    return data;
  }
}

const user: User = {
  id: 'u1',
  username: 'alice',
  passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==',
  firstName: 'A',
  lastName: 'L',
  email: 'a@x.test',
  status: 'active',
  groups: [],
  tenant: { id: 't1', code: 'T1' },
};

t.test('a cached-kind change seen during a rebuild is current once the rebuild is in', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-catchup-'));
  const store = new HeldLoadStore(dir);
  await store.open();
  const sync = await new RegistrySync(store, { env: 'dev' }).start();
  t.teardown(async () => {
    sync.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let open!: () => void;
  store.gate = new Promise((resolve) => (open = resolve));
  const loadsBefore = store.loads;
  await store.put('service', { name: 'svc', port: 4100, versions: { '1': { extKeyRequired: false } } });
  // The rebuild for the service has loaded (at that version) and is held there.
  while (store.loads === loadsBefore) await new Promise((resolve) => setImmediate(resolve));
  await store.put('user', user);
  const version = await store.registryVersion();
  store.gate = null;
  open();
  const t0 = performance.now();
  t.equal(await sync.catchUp(version, 2000), true, 'caught up');
  t.ok(performance.now() - t0 < 500, 'at once, not at the timeout');
});
