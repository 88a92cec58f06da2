import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetInitWarning, SILENCE_INIT_WARNING_ENV } from '../../src/base/init-warning.js';
import { sharedState } from '../../src/base/state.js';
import { startOutboundHop } from '../../src/engine.js';
import { init, startSession, withSession } from '../../src/index.js';

// A newcomer who forgot init(): no provider, no propagator, no SessionSpanProcessor, no diag logger.
describe('init() forgotten', () => {
  let saved: { handle: unknown; processorCount: number; env: string | undefined };
  let consoleWarn: ReturnType<typeof vi.spyOn>;
  let diagWarnings: string[];

  beforeEach(() => {
    const state = sharedState();
    saved = { handle: state.handle, processorCount: state.processorCount, env: process.env[SILENCE_INIT_WARNING_ENV] };
    state.handle = undefined;
    state.processorCount = 0;
    delete process.env[SILENCE_INIT_WARNING_ENV];
    resetInitWarning();
    consoleWarn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    diagWarnings = [];
    const logger: DiagLogger = {
      error: () => {},
      warn: (...args: unknown[]) => void diagWarnings.push(args.map(String).join(' ')),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    };
    diag.setLogger(logger, DiagLogLevel.WARN);
  });

  afterEach(() => {
    const state = sharedState();
    state.handle = saved.handle;
    state.processorCount = saved.processorCount;
    if (saved.env === undefined) delete process.env[SILENCE_INIT_WARNING_ENV];
    else process.env[SILENCE_INIT_WARNING_ENV] = saved.env;
    consoleWarn.mockRestore();
    diag.disable();
    resetInitWarning();
  });

  const initWarnings = () => diagWarnings.filter((m) => m.includes('before init() was called'));

  it('the first session says so once, on the console and through diag', () => {
    const session = startSession();
    withSession(session, () => undefined);
    startSession().end();
    session.end();
    expect(consoleWarn).toHaveBeenCalledTimes(1);
    expect(String(consoleWarn.mock.calls[0]?.[0])).toMatch(/before init\(\) was called.*Call init\(/s);
    expect(initWarnings()).toHaveLength(1);
  });

  it('an outbound hop alone triggers it too', () => {
    startOutboundHop({ spanName: 'send' }).end();
    expect(consoleWarn).toHaveBeenCalledTimes(1);
  });

  it(`${SILENCE_INIT_WARNING_ENV}=1 silences the console, not diag`, () => {
    process.env[SILENCE_INIT_WARNING_ENV] = '1';
    startSession().end();
    expect(consoleWarn).not.toHaveBeenCalled();
    expect(initWarnings()).toHaveLength(1);
  });

  it('stays quiet after init()', async () => {
    const otel = init({ serviceName: 'init-warning-test' });
    try {
      startSession().end();
      expect(consoleWarn).not.toHaveBeenCalled();
      expect(initWarnings()).toHaveLength(0);
    } finally {
      await otel.shutdown();
    }
  });
});
