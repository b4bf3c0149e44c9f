import { randomBytes } from 'node:crypto';

/** Time-sortable audit entry id: `<ms epoch, 13 digits>-<random hex>`. */
export function auditId(ts: number): string {
  return `${String(ts).padStart(13, '0')}-${randomBytes(6).toString('hex')}`;
}
