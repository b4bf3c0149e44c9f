import { createHmac } from 'node:crypto';
import t from 'tap';
import { newWebhookSecret, verifyWebhook, webhookHeaders } from '../../../services/kit/webhook-signature.js';

/** Standard Webhooks 1.0 signing and verification (services/kit/webhook-signature.ts). */

t.test('the spec’s published example verifies', async (t) => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const body = '{"test": 2432232314}';
  const headers = webhookHeaders([secret], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body);
  t.equal(headers['webhook-signature'], 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  t.same(verifyWebhook([secret], headers, body, 1614265330), { ok: true, id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: 1614265330 });
});

t.test('a signature computed independently matches; tampering, age and wrong secrets are refused', async (t) => {
  const secret = newWebhookSecret();
  t.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/, '32 random bytes');
  const body = JSON.stringify({ type: 'service.activated', data: { tenant: { id: 't1' } } });
  const h = webhookHeaders([secret], 'evt_1', 1_800_000_000, body);
  const fresh = createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`evt_1.1800000000.${body}`).digest('base64');
  t.equal(h['webhook-signature'], `v1,${fresh}`, 'HMAC-SHA256 over id.timestamp.body');
  t.equal(verifyWebhook([secret], h, body, 1_800_000_010).ok, true);
  t.same(verifyWebhook([secret], h, `${body} `, 1_800_000_010), { ok: false, reason: 'no matching signature' }, 'a changed body');
  t.same(verifyWebhook([newWebhookSecret()], h, body, 1_800_000_010), { ok: false, reason: 'no matching signature' }, 'another secret');
  t.same(verifyWebhook([secret], h, body, 1_800_000_301), { ok: false, reason: 'too old' }, 'past the 5 min tolerance: a replay');
  t.same(verifyWebhook([secret], h, body, 1_799_999_000), { ok: false, reason: 'too new' });
  t.same(verifyWebhook([secret], { ...h, 'webhook-timestamp': '1e9' }, body, 1_800_000_000), { ok: false, reason: 'bad timestamp' });
  t.same(verifyWebhook([secret], { 'webhook-id': 'x' }, body), { ok: false, reason: 'missing headers' });
  t.throws(() => webhookHeaders(['nope'], 'x', 1, body), /starts with "whsec_"/);
  t.throws(() => webhookHeaders(['whsec_c2hvcnQ='], 'x', 1, body), /at least 24 bytes/);
});

t.test('rotation: the sender signs with both secrets, a receiver with either accepts', async (t) => {
  const old = newWebhookSecret();
  const next = newWebhookSecret();
  const h = webhookHeaders([next, old], 'evt_2', 1_800_000_000, 'x');
  t.equal(h['webhook-signature']!.split(' ').length, 2);
  t.equal(verifyWebhook([old], h, 'x', 1_800_000_000).ok, true, 'a receiver still on the old secret');
  t.equal(verifyWebhook([next], h, 'x', 1_800_000_000).ok, true, 'one already on the new');
});
