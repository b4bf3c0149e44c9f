/** One JSON object per line on stdout: what a log shipper expects, and what tests parse. */
export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export const log: Log = (level, msg, fields = {}) => {
  const line = JSON.stringify({ level, ts: new Date().toISOString(), msg, ...fields });
  if (level === 'error') process.stderr.write(`${line}\n`);
  else process.stdout.write(`${line}\n`);
};

export function errorFields(err: unknown): Record<string, unknown> {
  return err instanceof Error ? { error: err.message, stack: err.stack } : { error: String(err) };
}
