/**
 * Issue 14, item 3: headers copied from an inbound request must not carry the session to a
 * target the policy denies, through this library's own hop.
 */
import { describe, expect, it } from 'vitest';
import { injectSessionHeaders } from '../../adapters/http/index.js';

const TRACE = '5e55105e55105e55105e55105e551050';

describe('injectSessionHeaders to a denied target', () => {
  it('removes copied traceparent, tracestate, B3 and our baggage members, keeps the rest', () => {
    const inbound = {
      traceparent: `00-${TRACE}-bbbbbbbbbbbbbbbb-01`,
      tracestate: 'v=1',
      'X-B3-TraceId': TRACE,
      baggage: `agentops.session.id=${TRACE},other.vendor=x`,
      accept: 'application/json',
    };
    const out = injectSessionHeaders(inbound, 'https://api.openai.com/v1/chat');
    expect(out).toEqual({ baggage: 'other.vendor=x', accept: 'application/json' });
    expect(inbound.traceparent).toContain(TRACE); // the caller's object is never modified
  });

  it('keeps them for an allowed target', () => {
    const out = injectSessionHeaders({ traceparent: `00-${TRACE}-bbbbbbbbbbbbbbbb-01` }, 'http://10.0.0.5/x');
    expect(out.traceparent).toContain(TRACE);
  });
});
