import { randomBytes } from 'node:crypto';
import type { Product, Service, Tenant } from '../../registry/view/types.js';
import { extKey, settle, type TestGateway } from '../helpers/gateway.js';
import type { WsEcho } from '../helpers/websocket.js';

/** The registry the WebSocket tests run against: one tenant, one package, services by what they test. */
export const KEY = randomBytes(64).toString('hex');
export const TID = 'cccccccccccccccccccccccc';

export const services: Service[] = [
  { name: 'chat', port: 1, versions: { '1': { extKeyRequired: true, oauth: true } } },
  { name: 'locked', port: 1, versions: { '1': { extKeyRequired: true, oauth: false } } },
  { name: 'other', port: 1, versions: { '1': { extKeyRequired: true, oauth: false } } },
  { name: 'nohost', port: 1, versions: { '1': { extKeyRequired: true, oauth: false } } },
  { name: 'refused', port: 1, versions: { '1': { extKeyRequired: true, oauth: false } } },
];
export const products: Product[] = [
  {
    code: 'WS',
    name: 'WS',
    packages: [
      {
        code: 'WS_MAIN',
        name: 'main',
        acl: {
          dev: {
            chat: { '1': { access: false, apis: { '/private': { access: true } } } },
            locked: { '1': { access: false, apisPermission: 'restricted', apis: { '/listed': { access: false } } } },
            nohost: { '1': { access: false } },
            refused: { '1': { access: false } },
          },
        },
      },
    ],
  },
];
export const tenants: Tenant[] = [
  {
    id: TID,
    code: 'WST',
    name: 'WS tenant',
    type: 'client',
    oauth: { secret: 'shh' },
    applications: [
      {
        appId: `${TID.slice(0, 20)}0001`,
        product: 'WS',
        package: 'WS_MAIN',
        keys: [{ key: 'd'.repeat(32), config: { dev: { chat: { room: 'lobby' } } }, extKeys: [extKey(KEY)] }],
      },
    ],
  },
];

/** Registers `echo` as a host of each service in `names` and waits for the gateway to see it. */
export async function route(gw: TestGateway, echo: WsEcho, names: string[]): Promise<void> {
  for (const service of names) {
    await gw.store.registerHost({ service, version: '1', host: '127.0.0.1', port: echo.port, maintenancePort: echo.maintenance.port });
  }
  await settle(gw);
}

