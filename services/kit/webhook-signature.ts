import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks 1.0 signatures (https://www.standardwebhooks.com): the sender signs
 * `<webhook-id>.<webhook-timestamp>.<body>` with HMAC-SHA256 and sends `webhook-signature:
 * v1,<base64> [v1,<base64> …]` — one per secret while a rotation overlaps. Secrets are
 * `whsec_<base64 of ≥ 24 random bytes>`. The receiver's side is here too, for services built on
 * the kit: any one matching signature within the timestamp tolerance accepts the message.
 */
const PREFIX = 'whsec_';
/** The spec's minimum is 24 bytes; 32 leaves no doubt. */
const SECRET_BYTES = 32;
/** Receivers refuse messages older (or newer) than this: replays of captured ones, seconds. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function newWebhookSecret(): string {
  return PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

function keyOf(secret: string): Buffer {
  if (!secret.startsWith(PREFIX)) throw new Error('a webhook secret starts with "whsec_"');
  const key = Buffer.from(secret.slice(PREFIX.length), 'base64');
  if (key.length < 24) throw new Error('a webhook secret holds at least 24 bytes');
  return key;
}

function signature(key: Buffer, id: string, timestamp: number, body: string | Buffer): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
}

/** The three headers of one delivery, signed with every secret given (the current one first). */
export function webhookHeaders(secrets: readonly string[], id: string, timestamp: number, body: string | Buffer): Record<string, string> {
  if (secrets.length === 0) throw new Error('a webhook needs at least one secret');
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => `v1,${signature(keyOf(s), id, timestamp, body)}`).join(' '),
  };
}

export type WebhookVerdict = { ok: true; id: string; timestamp: number } | { ok: false; reason: 'missing headers' | 'bad timestamp' | 'too old' | 'too new' | 'no matching signature' };

/**
 * Checks a received message against the receiver's secret(s) (several during a rotation), with
 * `nowSeconds` from the receiver's clock. Compares in constant time.
 */
export function verifyWebhook(
  secrets: readonly string[],
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string | Buffer,
  nowSeconds: number = Math.floor(Date.now() / 1000),
  toleranceSeconds: number = DEFAULT_TOLERANCE_SECONDS,
): WebhookVerdict {
  const one = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = one('webhook-id');
  const ts = one('webhook-timestamp');
  const sig = one('webhook-signature');
  if (id === undefined || ts === undefined || sig === undefined) return { ok: false, reason: 'missing headers' };
  if (!/^[0-9]{1,12}$/.test(ts)) return { ok: false, reason: 'bad timestamp' };
  const timestamp = Number(ts);
  if (nowSeconds - timestamp > toleranceSeconds) return { ok: false, reason: 'too old' };
  if (timestamp - nowSeconds > toleranceSeconds) return { ok: false, reason: 'too new' };
  const given = sig
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  for (const secret of secrets) {
    const expected = Buffer.from(signature(keyOf(secret), id, timestamp, body), 'base64');
    if (given.some((g) => g.length === expected.length && timingSafeEqual(g, expected))) return { ok: true, id, timestamp };
  }
  return { ok: false, reason: 'no matching signature' };
}
