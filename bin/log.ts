/** One JSON object per line on stdout: what a log shipper expects, and what tests parse. */
export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/**
 * Credentials in URLs (`redis://:password@host`, `amqp://user:password@host`) never reach a log:
 * the userinfo's secret part becomes `***` wherever a URL stands in the text.
 */
export function redact(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@"']*)@/gi, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon === -1 ? '***' : `${userinfo.slice(0, colon)}:***`}@`;
  });
}

export const log: Log = (level, msg, fields = {}) => {
  const line = redact(JSON.stringify({ level, ts: new Date().toISOString(), msg, ...fields }));
  if (level === 'error') process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
};

export function errorFields(err: unknown): Record<string, unknown> {
  return err instanceof Error ? { error: err.message, stack: err.stack } : { error: String(err) };
}
