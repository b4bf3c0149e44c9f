// The harness's command line: every run bounded in rounds, duration and connections.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR } from './paths.mjs';

export function parseArgs(argv) {
  const o = { quick: false, rounds: null, duration: null, warmup: null, connections: 50, pipelining: 1, only: null, write: true, tool: 'auto' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--rounds') o.rounds = Math.floor(num());
    else if (a === '--duration') o.duration = num();
    else if (a === '--warmup') o.warmup = Number(argv[++i]);
    else if (a === '--connections') o.connections = Math.floor(num());
    else if (a === '--only') o.only = String(argv[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--no-write') o.write = false;
    else if (a === '--tool') {
      o.tool = String(argv[++i] ?? '');
      if (!['auto', 'wrk', 'autocannon'].includes(o.tool)) throw new Error('--tool is auto, wrk or autocannon');
    }
    else if (a === '--help' || a === '-h') {
      process.stdout.write(readFileSync(join(BENCH_DIR, 'run.mjs'), 'utf8').split('\n').slice(1, 9).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  o.mode = o.quick ? 'quick' : 'full';
  // More, shorter rounds: a median of paired ratios needs several pairs more than long ones.
  o.rounds ??= o.quick ? 1 : 10;
  o.duration ??= 3;
  o.warmup ??= 1;
  // Bounded: no run may exceed these, whatever was asked.
  if (o.duration > 60) throw new Error('--duration is at most 60 s');
  if (o.rounds > 10) throw new Error('--rounds is at most 10');
  if (o.connections > 1000) throw new Error('--connections is at most 1000');
  return o;
}
