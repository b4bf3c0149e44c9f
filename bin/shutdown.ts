import { errorFields, type Log } from './log.js';

/**
 * On SIGINT or SIGTERM (the first one only): log, run `close`, exit 0 — or 1, logged, when
 * closing fails.
 */
export function onShutdown(log: Log, close: () => Promise<void>): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    log('info', 'stopping', { signal, pid: process.pid });
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log('error', 'shutdown failed', errorFields(err));
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
