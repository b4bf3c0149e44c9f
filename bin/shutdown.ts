import { errorFields, type Log } from './log.js';

/**
 * On SIGINT or SIGTERM (the first one only): log, run `close` (the gateway drains: in-flight
 * requests finish within gateway.drainSeconds), exit 0 — or 1, logged, when closing fails.
 * SIGHUP is ignored, and says so: the config is read at start-up, a restart applies a change (it
 * used to kill the process).
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
  process.on('SIGHUP', () => log('info', 'SIGHUP ignored: the config is read at start-up; restart to apply a change', { pid: process.pid }));
}
