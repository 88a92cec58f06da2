/**
 * W3C Trace Context conformance service, Express flavour: `npm run conformance:express`, then
 * point the W3C harness at http://127.0.0.1:$PORT/test (see docs/http.md).
 */
import express from 'express';
import { sessionMiddleware } from 'agentops-propagation/express';
import { listenAddress, runCases, startTracing, stopOnSignals } from './shared.js';

const tracing = startTracing('conformance-express');
const app = express();
app.use(sessionMiddleware());
app.use(express.json({ limit: '1mb' }));
app.post('/test', async (req, res) => {
  const calls = await runCases(req.body);
  res.json({ calls });
});

const { port, host } = listenAddress();
const server = app.listen(port, host, () => {
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  console.log(`conformance service (express) listening on http://${host}:${bound}/test`);
});
stopOnSignals(() => new Promise<void>((resolve) => server.close(() => resolve())), tracing);
