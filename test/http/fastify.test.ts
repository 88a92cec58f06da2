/**
 * What only the Fastify plugin has: route hooks and route error handlers, encapsulated plugins and
 * their hooks, hooks that call `done` from a foreign context, per-route config checked when the
 * route is added, and Fastify's own hook validation kept. The contract it shares with the Express
 * middleware (per-route trust through `config.agentops` included) is in server-contract.test.ts.
 */
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionPlugin } from '../../adapters/fastify/index.js';
import { startSession } from '../../src/index.js';
import { useTracing } from '../helpers/otel.js';
import { delay, eventually, postInPackets, upstreamHeaders } from './helpers.js';
import { FASTIFY_VERSIONS, currentSession, request, startFastify, withServer, type TestServer } from './servers.js';

useTracing();

/**
 * Callbacks run from a timer started outside any request: what a callback-style client (a
 * connection pool, an old driver) does when it calls a hook's `done` from its own context.
 */
const foreignQueue: (() => void)[] = [];
let foreignPump: NodeJS.Timeout;
beforeAll(() => {
  foreignPump = context.with(ROOT_CONTEXT, () =>
    setInterval(() => {
      while (foreignQueue.length > 0) foreignQueue.shift()!();
    }, 2),
  );
});
afterAll(() => clearInterval(foreignPump));

/** What hooks saw, per request (kept beside the request, not on it). */
const hookSessions = new WeakMap<object, Record<string, string | null>>();
function note(request: FastifyRequest, stage: string): void {
  const seen = hookSessions.get(request) ?? {};
  seen[stage] = currentSession();
  hookSessions.set(request, seen);
}

/** Route hooks that note the session they run in: sync with `done`, and async. */
const notingHooks = {
  preValidation(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    note(request, 'preValidation');
    done();
  },
  async preHandler(request: FastifyRequest): Promise<void> {
    await delay(1);
    note(request, 'preHandler');
  },
  async onSend(request: FastifyRequest, _reply: FastifyReply, payload: unknown): Promise<unknown> {
    note(request, 'onSend');
    return payload;
  },
};

/** A route with its own hooks and error handler, and two encapsulated plugins with hooks of their own. */
async function addHooksAndPlugins(app: FastifyInstance): Promise<void> {
  app.get(
    '/route-hooks',
    {
      preValidation: notingHooks.preValidation,
      preHandler: [notingHooks.preHandler],
      onSend: notingHooks.onSend,
      errorHandler: (error, _request, reply) => {
        void reply.code(500).send({ error: error.message, session: currentSession(), routeErrorHandler: true });
      },
    },
    async (request, reply) => {
      if ((request.query as { fail?: string }).fail) throw new Error('route failure');
      return reply.send({ session: currentSession() });
    },
  );

  await app.register(
    async (child) => {
      child.addHook('preHandler', async (request) => {
        await delay(1);
        note(request, 'childPreHandler');
      });
      child.addHook('preParsing', (request, _reply, payload, done) => {
        note(request, 'childPreParsing');
        done(null, payload);
      });
      child.post('/work', async (request) => {
        await delay(2);
        return { session: currentSession(), hooks: hookSessions.get(request) ?? {}, body: request.body };
      });
    },
    { prefix: '/plugin' },
  );

  // Its hooks call `done` from a foreign context.
  await app.register(
    async (child) => {
      child.addHook('preValidation', (_request, _reply, done) => {
        foreignQueue.push(() => done());
      });
      child.addHook('preHandler', (request, _reply, done) => {
        note(request, 'childPreHandler');
        foreignQueue.push(() => done());
      });
      child.get('/work', async (request) => ({ session: currentSession(), hooks: hookSessions.get(request) ?? {} }));
    },
    { prefix: '/foreign' },
  );
}

/** What the `/plugin` plugin's hooks saw when they all ran in session `id`. */
const childHooksIn = (id: string) => ({ childPreParsing: id, childPreHandler: id });

describe.each(FASTIFY_VERSIONS)('%s', (_name, factory) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startFastify(factory, {}, { configure: addHooksAndPlugins });
  });
  afterAll(() => server.close());

  it("a body that arrives after the hooks ran reaches an encapsulated plugin's hooks and handler in the session", async () => {
    const session = startSession();
    const child = await postInPackets(server.port, '/plugin/work', upstreamHeaders(session), { late: true });
    session.end();
    expect(child).toEqual({ session: session.id, hooks: childHooksIn(session.id), body: { late: true } });
  });

  it('hooks that call done from a foreign context do not take the session from later hooks and the handler', async () => {
    const session = startSession();
    const { body } = await request(server, '/foreign/work', upstreamHeaders(session));
    session.end();
    expect(body).toEqual({ session: session.id, hooks: { childPreHandler: session.id } });
  });

  it('route hooks, route error handler, encapsulated plugins and their hooks see the session', async () => {
    const session = startSession();
    const headers = upstreamHeaders(session);
    const hooks = await request(server, '/route-hooks', headers);
    const failing = await request(server, '/route-hooks?fail=1', headers);
    const child = await request(server, '/plugin/work', headers, { x: true });
    session.end();
    expect(hooks.body.session).toBe(session.id);
    expect(failing).toEqual({ status: 500, body: { error: 'route failure', session: session.id, routeErrorHandler: true } });
    expect(child.body).toEqual({ session: session.id, hooks: childHooksIn(session.id), body: { x: true } });
  });

  it('route-level hooks run in the session (checked from the hooks)', async () => {
    const seen: Record<string, string | null>[] = [];
    const addRoute = (app: FastifyInstance): void => {
      app.get(
        '/h',
        {
          ...notingHooks,
          onResponse: (request, _reply, done) => {
            note(request, 'onResponse');
            seen.push(hookSessions.get(request)!);
            done();
          },
        },
        async () => ({ ok: true }),
      );
    };
    const session = startSession();
    await withServer(startFastify(factory, {}, { configure: addRoute }), async (local) => {
      await request(local, '/h', upstreamHeaders(session));
      await eventually(() => expect(seen).toHaveLength(1));
    });
    session.end();
    expect(seen[0]).toEqual({ preValidation: session.id, preHandler: session.id, onSend: session.id, onResponse: session.id });
  });

  it('hooks added with addHook after the plugin run in the session at every stage, each after a done called from a foreign context', async () => {
    const seen: Record<string, string | null>[] = [];
    const stages = ['onRequest', 'preParsing', 'preValidation', 'preHandler', 'preSerialization', 'onSend', 'onResponse'] as const;
    const addHooks = (app: FastifyInstance): void => {
      for (const stage of stages) {
        // Each calls `done` from a foreign context: the next stage must still see the session.
        app.addHook(stage, ((request: FastifyRequest, _reply: FastifyReply, ...rest: unknown[]) => {
          note(request, stage);
          const done = rest[rest.length - 1] as (err: null, value?: unknown) => void;
          const payload = rest.length === 2 ? rest[0] : undefined;
          if (stage === 'onResponse') seen.push(hookSessions.get(request)!);
          foreignQueue.push(() => (rest.length === 2 ? done(null, payload) : done(null)));
        }) as never);
      }
      app.get('/all-stages', async (request) => ({ session: currentSession(), hooks: hookSessions.get(request) ?? {} }));
    };
    const session = startSession();
    await withServer(startFastify(factory, {}, { configure: addHooks }), async (local) => {
      const { body } = await request(local, '/all-stages', upstreamHeaders(session));
      expect(body.session).toBe(session.id);
      await eventually(() => expect(seen).toHaveLength(1));
    });
    session.end();
    expect(seen[0]).toEqual(Object.fromEntries(stages.map((stage) => [stage, session.id])));
  });

  it('invalid per-route config is a TypeError when the route is added', async () => {
    const app = factory();
    await app.register(sessionPlugin);
    expect(() => app.get('/x', { config: { agentops: { trust: 'nope' as never } } }, async () => 'x')).toThrow(TypeError);
  });

  it('keeps async-hook validation: an async hook taking done is still rejected by Fastify', async () => {
    const badHook = async (_request: unknown, _reply: unknown, _done: unknown) => undefined;
    for (const withPlugin of [false, true]) {
      const app = factory();
      if (withPlugin) await app.register(sessionPlugin);
      expect(() => app.get('/bad', { preHandler: [badHook as never] }, async () => 'x')).toThrow(/async/i);
    }
  });
});
