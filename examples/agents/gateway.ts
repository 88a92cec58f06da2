/**
 * gateway (Express): POST /sessions starts an AgentOps session for a research request and hands
 * it to the planner over HTTP; the writer reports back on POST /reports, inside the same session.
 */
import express from 'express';
import { getSessionId, startSession, withAgent, withSession, type Session } from 'agentops-propagation';
import { sessionMiddleware } from 'agentops-propagation/express';
import { sessionFetch } from 'agentops-propagation/http';
import { announceReady, llm, onShutdown, requiredEnv, startTelemetry } from './shared.js';

const telemetry = startTelemetry('gateway');
const plannerUrl = requiredEnv('PLANNER_URL');
const port = Number(requiredEnv('GATEWAY_PORT'));
const fetchWithSession = sessionFetch();

interface Tracked {
  session: Session;
  expected: number;
  reports: string[];
}
const sessions = new Map<string, Tracked>();

const app = express();
app.use(express.json());
app.use(sessionMiddleware());

app.post('/sessions', async (req, res, next) => {
  try {
    const question = String(req.body?.question ?? 'what is context propagation?');
    const session = startSession({ name: 'research', tags: ['demo'], attributes: { 'demo.question': question } });
    const subtasks = await withSession(session, () =>
      withAgent('gateway', async () => {
        const brief = await llm('gateway-mini', `Restate as a research brief: ${question}`);
        const response = await fetchWithSession(`${plannerUrl}/plan`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ question, brief }),
        });
        if (!response.ok) throw new Error(`planner answered ${response.status}`);
        return ((await response.json()) as { subtasks: number }).subtasks;
      }),
    );
    sessions.set(session.id, { session, expected: subtasks, reports: [] });
    res.status(202).json({ sessionId: session.id, subtasks });
  } catch (err) {
    next(err);
  }
});

app.post('/reports', async (req, res) => {
  // The writer's call carries the session: the middleware made it current. (The id in the body
  // serves only the demo's broken-hop mode, to show that a lost hop is caught.)
  const sessionId = getSessionId() ?? (process.env.DEMO_BREAK_HOP ? String(req.body?.sessionId) : undefined);
  const tracked = sessionId === undefined ? undefined : sessions.get(sessionId);
  if (tracked === undefined) {
    res.status(404).json({ error: 'no such session in this request' });
    return;
  }
  await withAgent('critic', () => llm('critic-mini', `Review: ${String(req.body?.text ?? '')}`));
  tracked.reports.push(String(req.body?.text ?? ''));
  if (tracked.reports.length === tracked.expected) tracked.session.end('Success');
  res.json({ received: tracked.reports.length });
});

app.get('/sessions/:id', (req, res) => {
  const tracked = sessions.get(req.params.id);
  if (tracked === undefined) {
    res.status(404).end();
    return;
  }
  res.json({ done: tracked.reports.length >= tracked.expected, reports: tracked.reports.length, expected: tracked.expected });
});

const server = app.listen(port, '127.0.0.1', () => announceReady('gateway'));
onShutdown(telemetry, () => new Promise<void>((resolve) => server.close(() => resolve())));
