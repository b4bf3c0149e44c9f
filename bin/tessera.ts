#!/usr/bin/env node
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig } from '../config/load.js';
import { openStore, storeIsShared } from '../registry/control/store/open.js';
import { AdminError, keysCommand, tenantsCommand } from './admin.js';
import { runCluster } from './cluster.js';
import { onShutdown } from './shutdown.js';
import { importCommand } from './import.js';
import { activationsCommand, eventsCommand } from './lifecycle.js';
import { registerCommand } from './register.js';
import { errorFields, log, redact } from './log.js';
import { startTessera } from './start.js';
import { storeCommand, StoreCommandError } from './store.js';

const USAGE = `usage: tessera <command> [options]

commands:
  start [--config FILE] [--workers N]
        run the gateway and the bundled services (oauth, urac; example03 with demo on).
        --workers N runs N gateway processes on one port (needs a redis store; default:
        one per core with redis, 1 with the file store)
  register <manifest.yaml> [--grant PACKAGE=Group,Group]… [--dry-run] [--config FILE]
        register or update a service from its manifest (prints the diff); --grant gives a package
        the manifest's permission groups for it
  tenants list
  keys list --tenant ID
  keys create --tenant ID --app APPID [--ikey IKEY] [--env dev] [--label L] [--expires ISO]
  keys rotate --tenant ID --app APPID --ikey IKEY --hint HINT [--overlap SECONDS]
  keys revoke --tenant ID --app APPID --ikey IKEY --hint HINT
  activations list --tenant ID | add|remove --tenant ID --service NAME
  activations report --service NAME --tenant ID --status finished|failed [--message M]
  activations tenants --service NAME [--state pending|active|failed|inactive]
  events list [--after CURSOR] [--type T|family.*] [--service S] [--tenant ID] [--limit N]
  events tail [same filters] [--interval SECONDS]
        administer through the registry API (TESSERA_ADMIN_URL, TESSERA_ADMIN_KEY, and
        TESSERA_ADMIN_TOKEN or TESSERA_ADMIN_USER + TESSERA_ADMIN_PASSWORD)
  import soajs <dir> [--env dev] [--dry-run] [--config FILE]
        import a SOAJS provision export (products, tenants and keys, services and hosts, URAC users
        and groups, oauth tokens); prints the plan; --dry-run writes nothing
  seed [--config FILE]
        load the seed YAML (config.seed, TESSERA_SEED) into the store, idempotently: documents
        already seeded once are left alone, even if deleted since
  store accept-reset [--config FILE]
        after the store lost data (a Redis restarted without AOF): accept it as it is now as the
        registry; every gateway that holds the older one (serving it, not ready) takes it and
        turns ready. Restore or reseed first: it adds nothing
  help  this text

Configuration comes from the YAML file (--config or TESSERA_CONFIG) and TESSERA_* variables;
see the README for every field.`;

class UsageError extends Error {}

function options(args: string[], allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--') || !allowed.includes(a.slice(2))) throw new UsageError(`unknown option ${a}`);
    const v = args[++i];
    if (v === undefined) throw new UsageError(`${a} needs a value`);
    out[a.slice(2)] = v;
  }
  return out;
}

async function start(args: string[]): Promise<void> {
  const opts = options(args, ['config', 'workers']);
  const config = loadConfig({ file: opts['config'] });
  const shared = storeIsShared(config);
  let workers = shared ? availableParallelism() : 1;
  if (opts['workers'] !== undefined) {
    workers = Number(opts['workers']);
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new UsageError('--workers takes a whole number from 1 to 256');
  }
  if (workers > 1 && !shared) {
    throw new UsageError('--workers above 1 needs a shared store (TESSERA_STORE=redis://…): the file store lives in one process');
  }
  if (workers > 1 || cluster.isWorker) return runCluster(config, workers, log);

  const t = await startTessera(config, log);
  log('info', 'ready', {
    env: config.env,
    store: config.store,
    registryVersion: t.sync?.current().version,
    gateway: t.ports.gateway,
    maintenance: t.ports.maintenance,
    services: t.ports.services,
  });
  onShutdown(log, () => t.close());
}

async function seed(args: string[]): Promise<void> {
  const opts = options(args, ['config']);
  const config = loadConfig({ file: opts['config'] });
  const store = openStore(config);
  await store.open();
  const counts = Object.fromEntries(
    await Promise.all((['product', 'tenant', 'service', 'user', 'group'] as const).map(async (k) => [k, (await store.list(k)).length] as const)),
  );
  await store.close();
  process.stdout.write(redact(`seeded ${config.seed} into ${config.store}: ${JSON.stringify(counts)}\n`));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return start(rest);
    case 'seed':
      return seed(rest);
    case 'store':
      return storeCommand(rest);
    case 'register':
      return registerCommand(rest);
    case 'tenants':
      return tenantsCommand(rest);
    case 'import':
      return importCommand(rest);
    case 'keys':
      return keysCommand(rest);
    case 'activations':
      return activationsCommand(rest);
    case 'events':
      return eventsCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

process.on('unhandledRejection', (err) => {
  log('error', 'unhandled rejection', errorFields(err));
  process.exit(1);
});

// A cluster worker re-runs this file with the primary's arguments: it must reach `start` too.
main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof AdminError || err instanceof StoreCommandError) {
    process.stderr.write(redact(`tessera: ${err.message}\n`));
    process.exit(1);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`tessera: ${err.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (err instanceof ConfigError || (err instanceof Error && /^(seed|config|register|manifest|import):/.test(err.message))) {
    process.stderr.write(redact(`tessera: ${err.message}\n`));
  } else {
    log('error', 'start-up failed', errorFields(err));
  }
  process.exit(1);
});
