import t from 'tap';
import { redact } from '../../bin/log.js';

t.test('credentials in URLs are redacted wherever they stand', async (t) => {
  t.equal(redact('redis://:s3cret@127.0.0.1:6380/0'), 'redis://:***@127.0.0.1:6380/0');
  t.equal(redact('{"store":"redis://user:s3cret@h:1/0?prefix=p:"}'), '{"store":"redis://user:***@h:1/0?prefix=p:"}');
  t.equal(redact('amqp://guest:guest@localhost:5672 and rediss://tok@h'), 'amqp://guest:***@localhost:5672 and rediss://***@h');
  t.equal(redact('file:./data redis://127.0.0.1:6379/0 http://a.b/c@d'), 'file:./data redis://127.0.0.1:6379/0 http://a.b/c@d', 'nothing else changes');
});
