// The HTTP load generator, a process of its own pinned to the other core: autocannon with fixed
// connections and duration. Plain JavaScript so that no TypeScript loader starts in each round.
//   node loadgen.mjs '<json: { url, connections, duration, headers }>'
// Prints one JSON line: requests/s, p99 latency, errors.
import autocannon from 'autocannon';

const options = JSON.parse(process.argv[2] ?? '{}');
const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.duration,
  headers: options.headers ?? {},
  pipelining: 1,
});
const seconds = result.duration > 0 ? result.duration : options.duration;
process.stdout.write(
  JSON.stringify({
    rps: result.requests.total / seconds,
    rpsAverage: result.requests.average,
    p99: result.latency.p99,
    p50: result.latency.p50,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  }) + '\n',
);
