/**
 * W3C Trace Context conformance service, Fastify flavour: `npm run conformance:fastify`, then
 * point the W3C harness at http://127.0.0.1:$PORT/test (see docs/http.md).
 */
import Fastify from 'fastify';
import { sessionPlugin } from 'agentops-propagation/fastify';
import { listenAddress, runCases, startTracing, stopOnSignals } from './shared.js';

const tracing = startTracing('conformance-fastify');
const app = Fastify({ bodyLimit: 1024 * 1024 });
await app.register(sessionPlugin);
app.post('/test', async (request) => {
  const calls = await runCases(request.body);
  return { calls };
});

const { port, host } = listenAddress();
const url = await app.listen({ port, host });
console.log(`conformance service (fastify) listening on ${url}/test`);
stopOnSignals(() => app.close(), tracing);
