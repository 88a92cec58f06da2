/**
 * What both conformance services share: the W3C Trace Context test harness's protocol. It POSTs
 * a JSON array of `{ url, arguments }` to `/test`; for each entry the service POSTs `arguments`
 * as JSON to `url`, with the propagated headers, and answers once every call finished.
 */
import { init, type InitHandle } from 'agentops-propagation';
import { sessionFetch, type FetchFunction } from 'agentops-propagation/http';

/** One instruction of the harness. */
export interface HarnessCase {
  url: string;
  arguments: unknown;
}

/** Tracing for the service: a real SDK (no exporter), the library's propagator registered. */
export function startTracing(serviceName: string): InitHandle {
  return init({ serviceName });
}

/** The default target policy already lets loopback (the harness) receive the headers. */
export const harnessFetch: FetchFunction = sessionFetch();

function isCase(value: unknown): value is HarnessCase {
  return typeof value === 'object' && value !== null && typeof (value as HarnessCase).url === 'string';
}

/**
 * Runs the harness's instructions one after another (each is one client span), in the context
 * of the request that carried them. Returns how many calls were made.
 */
export async function runCases(body: unknown): Promise<number> {
  const cases = Array.isArray(body) ? body.filter(isCase) : [];
  for (const entry of cases) {
    const response = await harnessFetch(entry.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(entry.arguments ?? []),
    });
    await response.arrayBuffer();
  }
  return cases.length;
}

/** The port from `PORT` (default 5000) and the address from `HOST` (default loopback). */
export function listenAddress(): { port: number; host: string } {
  const port = Number(process.env.PORT ?? 5000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`PORT must be a port number, got ${process.env.PORT}`);
  return { port, host: process.env.HOST ?? '127.0.0.1' };
}

/** Stops the service on SIGINT / SIGTERM: closes the server, then flushes tracing. */
export function stopOnSignals(close: () => Promise<void>, tracing: InitHandle): void {
  const stop = () => {
    void close()
      .catch(() => undefined)
      .then(() => tracing.shutdown())
      .finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
