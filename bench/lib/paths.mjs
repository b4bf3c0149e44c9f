// Where the bench and the build under test are; shared by every part of the harness.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = resolve(BENCH_DIR, '..');
export const DIST = resolve(process.env.TESSERA_DIST ?? join(REPO, 'dist'));
export const SEED_DIR = join(BENCH_DIR, 'seed');
export const RESULTS_FILE = join(BENCH_DIR, 'RESULTS.md');
export const HARNESS_PID = process.pid;
