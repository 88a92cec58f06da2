/**
 * What only the Express middleware has: routers and mount paths, the optional sessionErrorHandler,
 * the middleware mounted twice, and options checked when sessionMiddleware is called. The contract
 * it shares with the Fastify plugin is in server-contract.test.ts.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionMiddleware } from '../../adapters/express/index.js';
import { startSession } from '../../src/index.js';
import { parentSpanId, useTracing } from '../helpers/otel.js';
import { delay, eventually, upstreamHeaders } from './helpers.js';
import {
  EXPRESS_VERSIONS,
  INVALID_OPTIONS,
  currentSession,
  request,
  startExpress,
  withServer,
  type Express,
  type TestServer,
} from './servers.js';

const t = useTracing();

/** `/items/:id` in a router mounted at `/api`, and `/deep` in a router mounted at `/api/nested`. */
function apiRouter(express: Express) {
  const api = express.Router();
  api.get('/items/:id', async (_req, res) => {
    await delay(5);
    res.json({ session: currentSession() });
  });
  const inner = express.Router();
  inner.get('/deep', (_req, res) => {
    setTimeout(() => res.json({ session: currentSession() }), 2);
  });
  api.use('/nested', inner);
  return api;
}

describe.each(EXPRESS_VERSIONS)('%s', (_name, express) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startExpress(express, {}, { configure: (app) => app.use('/api', apiRouter(express)) });
  });
  afterAll(() => server.close());

  it('routers, nested ones too, see the session; the route joins the mount paths', async () => {
    const session = startSession();
    const headers = upstreamHeaders(session);
    const items = await request(server, '/api/items/42', headers);
    const deep = await request(server, '/api/nested/deep', headers);
    session.end();
    expect(items.body.session).toBe(session.id);
    expect(deep.body.session).toBe(session.id);

    const span = await eventually(() => t.one('GET /api/items/:id'));
    expect(span.spanContext().traceId).toBe(session.id);
    expect(parentSpanId(span)).toBe(t.one('upstream').spanContext().spanId);
    expect(span.attributes).toMatchObject({ 'http.route': '/api/items/:id', 'url.path': '/api/items/42' });
    expect((await eventually(() => t.one('GET /api/nested/deep'))).attributes['http.route']).toBe('/api/nested/deep');
  });

  it('without sessionErrorHandler a 5xx still fails the span, by its status only', async () => {
    const routes = [
      {
        path: '/boom',
        handler: async () => {
          await delay(1);
          throw new RangeError('boom');
        },
      },
    ];
    await withServer(startExpress(express, { routes }, { sessionErrorHandler: false }), async (bare) => {
      expect((await request(bare, '/boom')).status).toBe(500);
    });
    const span = await eventually(() => t.one('GET /boom'));
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('500');
    expect(span.events.some((e) => e.name === 'exception')).toBe(false);
  });

  it('mounted twice on one path, the first middleware decides and one span is made', async () => {
    const router = express.Router();
    router.use(sessionMiddleware({ trust: 'trust' }));
    router.get('/x', (_req, res) => {
      res.json({ session: currentSession() });
    });
    const session = startSession();
    const linkingApp = startExpress(express, { options: { trust: 'link' } }, { configure: (app) => app.use('/r', router) });
    await withServer(linkingApp, async (twice) => {
      expect((await request(twice, '/r/x', upstreamHeaders(session))).body.session).toBeNull();
    });
    session.end();
    await eventually(() => expect(t.byName('GET /r/x')).toHaveLength(1));
  });
});

it('sessionMiddleware itself throws the TypeError for invalid options', () => {
  for (const [, options] of INVALID_OPTIONS) expect(() => sessionMiddleware(options as never)).toThrow(TypeError);
});
