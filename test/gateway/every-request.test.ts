import { randomBytes } from 'node:crypto';
import t from 'tap';
import { Client } from 'undici';
import type { RequestContext } from '../../gateway/context.js';
import { ERRORS } from '../../gateway/errors.js';
import { createStages, stagesOf } from '../../gateway/pipeline.js';
import type { Stage } from '../../gateway/stage.js';
import type { Product, Service, Tenant } from '../../registry/view/types.js';
import { extKey, settle, startTestGateway } from '../helpers/gateway.js';
import { startEchoService } from '../helpers/servers.js';

/**
 * Every-request stages (rate limits, audit, access log, metrics) run for each request, also for
 * one answered from its connection's kept decision — the decide stages, only when the decision
 * is made (issue 15 §1).
 */
const KEY = randomBytes(64).toString('hex');
const services: Service[] = [{ name: 'svc', port: 1, versions: { '1': { extKeyRequired: true, oauth: false } } }];
const products: Product[] = [{ code: 'P', name: 'P', packages: [{ code: 'P_B', name: 'B', acl: { dev: { svc: { '1': { access: false } } } } }] }];
const tenants: Tenant[] = [
  { id: 'tenantE', code: 'TE', name: 'E', type: 'client', applications: [{ appId: 'appE', product: 'P', package: 'P_B', keys: [{ key: 'e'.repeat(32), extKeys: [extKey(KEY)] }] }] },
];

t.test('an every-request stage runs on each of N identical keep-alive requests; the decide stages ran once', async (t) => {
  const seen: { decided: unknown; service: string }[] = [];
  let refuseNext = false;
  const counting: Stage = {
    name: 'count',
    kind: 'every-request',
    run(ctx: RequestContext) {
      seen.push({ decided: ctx.decision, service: ctx.serviceName });
      if (refuseNext) {
        refuseNext = false;
        return ERRORS.UPSTREAM_ERROR;
      }
      return null;
    },
  };
  const gw = await startTestGateway({ products, tenants, services, deps: { everyRequest: [counting] } });
  t.teardown(() => gw.close());
  const echo = await startEchoService();
  t.teardown(() => echo.close());
  await gw.store.registerHost({ service: 'svc', version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
  await settle(gw);
  const stats = async () => ((await (await fetch(`http://127.0.0.1:${gw.maintenancePort}/awarenessStat`)).json()) as { data: { decisions: { made: number; reused: number } } }).data.decisions;

  const client = new Client(gw.url);
  t.teardown(() => client.close());
  const call = async () => {
    const res = await client.request({ method: 'GET', path: '/svc/x', headers: { key: KEY } });
    await res.body.dump();
    return res.statusCode;
  };
  const N = 10;
  const before = await stats();
  for (let i = 0; i < N; i++) t.equal(await call(), 200, `request ${i + 1}`);
  const after = await stats();
  t.equal(seen.length, N, 'the every-request stage ran for every request');
  t.equal(after.made - before.made, 1, 'the decide stages ran once');
  t.equal(after.reused - before.reused, N - 1, 'and the decision was reused for the others');
  t.ok(seen.every((s) => s.decided === seen[0]!.decided && s.service === 'svc'), 'every run saw the one decision');
  t.equal(echo.seen.length, N, 'every request was forwarded');

  refuseNext = true;
  t.equal(await call(), ERRORS.UPSTREAM_ERROR.status, 'an every-request stage may refuse a request a kept decision allows');
  t.equal(echo.seen.length, N, 'that one was not forwarded');
  t.equal(await call(), 200, 'and the next one passes again');
  t.equal((await stats()).made - before.made, 1, 'still on the one decision: a per-request refusal does not drop it');
});

t.test('stages are listed by kind, checked when the gateway is built', async (t) => {
  const decide = createStages({ keys: undefined as never, authenticator: null, inject: { awareness: () => ({ host: '', port: 0 }), maxBytes: 1024 } });
  t.same(decide.map((s) => s.kind), Array(decide.length).fill('decide'));
  t.throws(() => stagesOf('every-request', [decide[0]!]), /stage "url" is a decide stage, listed with the every-request stages/);
});
