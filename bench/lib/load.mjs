// One autocannon run, in its own process so run.mjs can pin it (taskset -c 1) beside the upstream
// and away from the proxy under test. Prints one JSON line with the summary on stdout.
// Usage: node lib/load.mjs '<json: {url, headers, connections, pipelining, duration, warmup}>'
// `warmup` seconds of the same load run first and are discarded.
import autocannon from 'autocannon';

const opts = JSON.parse(process.argv[2] ?? '{}');

function run(duration, record) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        headers: opts.headers ?? {},
        connections: opts.connections ?? 50,
        pipelining: opts.pipelining ?? 1,
        duration,
        timeout: 10,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
    if (record) {
      // autocannon's histogram keeps whole milliseconds; keep every response time (ms, float) to
      // report sub-millisecond percentiles as well.
      instance.on('response', (_client, statusCode, _bytes, responseTime) => {
        if (statusCode >= 200 && statusCode < 300) record(responseTime);
      });
    }
  });
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

try {
  let warmupRequests = 0;
  if (opts.warmup > 0) {
    const w = await run(opts.warmup, null);
    warmupRequests = w.requests.total;
  }
  let times = new Float64Array(1 << 20);
  let n = 0;
  const result = await run(opts.duration ?? 5, (t) => {
    if (n === times.length) {
      const bigger = new Float64Array(times.length * 2);
      bigger.set(times);
      times = bigger;
    }
    times[n++] = t;
  });
  const sorted = times.subarray(0, n).sort();
  const summary = {
    tool: 'autocannon',
    url: opts.url,
    duration: result.duration,
    connections: result.connections,
    pipelining: result.pipelining,
    rps: result.requests.average,
    rpsFromTotal: result.duration > 0 ? result['2xx'] / result.duration : 0,
    total: result.requests.total,
    warmupRequests,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    statusCodeStats: result.statusCodeStats,
    errors: result.errors,
    timeouts: result.timeouts,
    resets: result.resets,
    // sub-millisecond, from every 2xx response time
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: n > 0 ? sorted[n - 1] : null,
    // autocannon's own (whole-millisecond histogram)
    autocannon: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.average },
    throughputBytesPerSec: result.throughput.average,
    // this process's own CPU time (warm-up included), ms: run.mjs subtracts it from the machine's
    cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} catch (err) {
  process.stderr.write(`load: ${err?.stack ?? err}\n`);
  process.exit(1);
}
