#!/usr/bin/env node
import { loadConfig, ConfigError } from '../config/load.js';
import { errorFields, log } from './log.js';
import { startTessera } from './start.js';

const USAGE = `usage: tessera <command> [options]

commands:
  start [--config FILE]   run the gateway (and, with demo on, the bundled services)
  help                    this text

Configuration comes from the YAML file (--config or TESSERA_CONFIG) and TESSERA_* variables;
see the README for every field.`;

async function start(args: string[]): Promise<void> {
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config') file = args[++i];
    else throw new ConfigError(`start: unknown option ${args[i]}`);
  }
  const config = loadConfig({ file });
  const t = await startTessera(config, log);
  log('info', 'ready', {
    env: config.env,
    store: config.store,
    registryVersion: t.sync.current().version,
    gateway: t.ports.gateway,
    maintenance: t.ports.maintenance,
    services: t.ports.services,
  });
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    log('info', 'stopping', { signal });
    t.close().then(
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

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return start(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`tessera: unknown command "${command}"\n\n${USAGE}\n`);
      process.exitCode = 2;
  }
}

process.on('unhandledRejection', (err) => {
  log('error', 'unhandled rejection', errorFields(err));
  process.exit(1);
});

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || (err instanceof Error && /^(seed|config):/.test(err.message))) {
    process.stderr.write(`tessera: ${err.message}\n`);
  } else {
    log('error', 'start-up failed', errorFields(err));
  }
  process.exit(1);
});
