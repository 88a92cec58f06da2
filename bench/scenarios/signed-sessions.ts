/**
 * Prints (one JSON line) N sessions with signed baggage entries, as a caller holding the bench's
 * signing key sends them: started and injected by the library under test.
 *
 *   signed-sessions.ts <N>
 */
import { init, startSession, withSession } from 'agentops-propagation';
import { injectSessionHeaders } from 'agentops-propagation/http';
import { BENCH_SIGNING_KEY, NoopExporter } from '../lib/tracing.js';

const n = Number(process.argv[2] ?? 100);
const handle = init({ serviceName: 'bench-caller', signingKey: BENCH_SIGNING_KEY, exporters: [new NoopExporter()] });
const sessions = [];
for (let i = 0; i < n; i++) {
  const session = startSession({ name: 'bench caller' });
  const headers = withSession(session, () => injectSessionHeaders({}, 'http://127.0.0.1/hello'));
  const [, traceId, , flags] = (headers.traceparent ?? '').split('-');
  if (traceId === undefined || flags === undefined || headers.baggage === undefined)
    throw new Error(`no session headers injected: ${JSON.stringify(headers)}`);
  sessions.push({ traceId, flags, baggage: headers.baggage });
  session.end();
}
await handle.shutdown();
process.stdout.write(`${JSON.stringify(sessions)}\n`);
