import { createHash } from 'node:crypto';
import type { Group, Product, Service, Tenant } from '../../../registry/view/types.js';

/** A small registry for the stages' unit tests: one product with a restricted and an open package. */
export const EXT_KEY = 'c0ffee'.repeat(16);
export const KEY_HASH = createHash('sha256').update(EXT_KEY).digest('hex');
export const EXT_KEY_OPEN = 'beef'.repeat(24);
export const KEY_HASH_OPEN = createHash('sha256').update(EXT_KEY_OPEN).digest('hex');

export const products: Product[] = [
  {
    code: 'P',
    name: 'P',
    packages: [
      {
        code: 'P_R',
        name: 'restricted',
        acl: {
          dev: {
            svc: {
              '1': { access: false, apisPermission: 'restricted', get: { apis: { '/open': { access: false }, '/mine': { access: true }, '/admins': { access: ['admin'] } } } },
              '2': { access: true },
            },
          },
        },
      },
      { code: 'P_OPEN', name: 'open', acl: { dev: { svc: { '1': { access: false } } } } },
    ],
  },
];

export const services: Service[] = [
  { name: 'svc', port: 1, versions: { '1': { extKeyRequired: true, oauth: true }, '2': { extKeyRequired: true, oauth: true }, '3': { extKeyRequired: true } } },
  { name: 'plain', port: 2, versions: { '1': { extKeyRequired: false, oauth: false } } },
];

export const groups: Group[] = [{ id: 'tS:admin', code: 'admin', name: 'Admins', tenant: { id: 'tS', code: 'TS' }, config: { allowedPackages: { P: ['P_OPEN'] } } }];

export const tenant: Tenant = {
  id: 'tS',
  code: 'TS',
  name: 'Stage tenant',
  type: 'client',
  applications: [
    {
      appId: 'appR',
      product: 'P',
      package: 'P_R',
      keys: [
        {
          key: 'a'.repeat(32),
          config: { dev: { svc: { color: 'blue' }, commonFields: { shared: 1 } } },
          extKeys: [{ keyHash: KEY_HASH, env: 'dev', geo: { deny: ['10.0.0.0/8'] }, device: { allow: [{ family: 'Firefox' }] } }],
        },
      ],
    },
    { appId: 'appO', product: 'P', package: 'P_OPEN', acl: { dev: { svc: { '1': { access: false, apisPermission: 'restricted', apis: { '/x': { access: true } } } } } }, keys: [{ key: 'b'.repeat(32), extKeys: [{ keyHash: KEY_HASH_OPEN, env: 'dev' }] }] },
  ],
};
