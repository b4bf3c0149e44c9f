import type { AddressInfo } from 'node:net';
import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';

/** The maintenance port lists every upstream: loopback by default, whatever the client port binds (issue 14 §6). */
t.test('the maintenance port binds loopback when the gateway binds every address', async (t) => {
  const gw = await startTestGateway({ config: { 'gateway.host': '0.0.0.0' } });
  t.teardown(() => gw.close());
  t.equal((gw.gateway.server.address() as AddressInfo).address, '0.0.0.0', 'clients: every address');
  t.equal((gw.gateway.maintenance.address() as AddressInfo).address, '127.0.0.1', 'maintenance: loopback only');
  t.equal(gw.config.gateway.maintenanceHost, '127.0.0.1', 'the default');
});

t.test('an operator may open it deliberately', async (t) => {
  const gw = await startTestGateway({ config: { 'gateway.maintenanceHost': '::1' } });
  t.teardown(() => gw.close());
  t.equal((gw.gateway.maintenance.address() as AddressInfo).address, '::1');
  const r = await fetch(`http://[::1]:${gw.maintenancePort}/heartbeat`);
  t.equal(r.status, 200);
  const w = await fetch(`http://[::1]:${gw.maintenancePort}/heartbeat`, { method: 'POST' });
  t.equal(w.status, 405, 'and it stays read-only');
});
