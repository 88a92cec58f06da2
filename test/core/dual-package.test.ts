import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs in a separate Node process against the built package (dist/, made by `npm test`'s
 * pretest build), loading it both through `import` and through `require`.
 */
const script = `
const { createRequire } = require('node:module');
const req = createRequire(process.cwd() + '/package.json');
(async () => {
  const esm = await import('agentops-propagation');
  const cjs = req('agentops-propagation');
  const cjsKafka = req('agentops-propagation/kafkajs');
  const esmHttp = await import('agentops-propagation/http');
  // init from one build registers the SDK and context manager; the other build must see it.
  const handle = esm.init({ serviceName: 'dual' });
  const sameHandle = cjs.init() === handle;
  const session = esm.startSession({ name: 'dual' });
  const seenByCjs = esm.withSession(session, () => cjs.getSessionId());
  const seenByEsm = cjs.withSession(session.id, () => esm.getSessionId());
  console.log(JSON.stringify({
    id: session.id,
    sameHandle,
    seenByCjs,
    seenByEsm,
    sameKey: esm.SESSION_BAGGAGE_KEY === cjs.SESSION_BAGGAGE_KEY,
    differentModules: esm.startSession !== cjs.startSession,
    adapters: typeof cjsKafka.instrumentProducer === 'function' && typeof esmHttp.sessionFetch === 'function',
  }));
  await handle.shutdown();
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('ESM and CJS builds', () => {
  it('share session state when both are loaded in one process', () => {
    expect(existsSync(`${root}/dist/index.js`) && existsSync(`${root}/dist/index.cjs`)).toBe(true);
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }).trim()) as Record<
      string,
      unknown
    >;
    expect(out.differentModules).toBe(true);
    expect(out.sameHandle).toBe(true);
    expect(out.seenByCjs).toBe(out.id);
    expect(out.seenByEsm).toBe(out.id);
    expect(out.sameKey).toBe(true);
    expect(out.adapters).toBe(true);
  });
});
