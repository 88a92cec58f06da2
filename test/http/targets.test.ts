import { describe, expect, it } from 'vitest';
import { createTargetPolicy } from '../../src/http/targets.js';

const both = { traceparent: true, baggage: true };
const none = { traceparent: false, baggage: false };

describe('target policy defaults', () => {
  const policy = createTargetPolicy();
  it.each([
    'http://127.0.0.1:8080/x',
    'http://localhost:3000/',
    'http://[::1]:4000/',
    'http://10.1.2.3/',
    'https://192.168.0.10/a',
    'http://[fd00::1]/',
    'http://critic/run',
    'http://critic.agents.svc.cluster.local:8080/run',
    'http://critic.agents.svc/run',
    'http://db.internal/',
    'http://0x7f.1/',
  ])('%s is internal: both fields', (url) => {
    expect(policy.fieldsFor(url)).toEqual(both);
  });

  it.each([
    'https://api.openai.com/v1/chat/completions',
    'https://8.8.8.8/',
    'http://[2001:db8::1]/',
    'https://example.com/?next=http://localhost/',
    'https://localhost.example.com/',
  ])('%s is public: nothing', (url) => {
    expect(policy.fieldsFor(url)).toEqual(none);
  });

  it('non-HTTP and unparsable targets get nothing', () => {
    expect(policy.fieldsFor('file:///etc/passwd')).toEqual(none);
    expect(policy.fieldsFor('not a url')).toEqual(none);
    expect(policy.fieldsFor('ws://localhost/')).toEqual(none);
  });

  it('internalTargets: false turns the defaults off', () => {
    expect(createTargetPolicy({ internalTargets: false }).fieldsFor('http://127.0.0.1/')).toEqual(none);
  });
});

describe('allowlists', () => {
  it('an exact origin matches scheme, host and port, nothing else', () => {
    const policy = createTargetPolicy({ targets: ['https://api.partner.com'] });
    expect(policy.fieldsFor('https://api.partner.com/v1/x?y=1')).toEqual(both);
    expect(policy.fieldsFor('https://api.partner.com:443/')).toEqual(both);
    expect(policy.fieldsFor('http://api.partner.com/')).toEqual(none);
    expect(policy.fieldsFor('https://api.partner.com:8443/')).toEqual(none);
    expect(policy.fieldsFor('https://api.partner.com.evil.com/')).toEqual(none);
    expect(policy.fieldsFor('https://evil.com/?u=https://api.partner.com')).toEqual(none);
    expect(policy.fieldsFor('https://evil.com/https://api.partner.com')).toEqual(none);
  });

  it('a URL prefix matches whole path segments of that origin, never the query', () => {
    const policy = createTargetPolicy({ targets: ['https://gw.example.com/agents'] });
    expect(policy.fieldsFor('https://gw.example.com/agents')).toEqual(both);
    expect(policy.fieldsFor('https://gw.example.com/agents/critic')).toEqual(both);
    expect(policy.fieldsFor('https://gw.example.com/agents-public')).toEqual(none);
    expect(policy.fieldsFor('https://gw.example.com/other?x=/agents')).toEqual(none);
    const slash = createTargetPolicy({ targets: ['https://gw.example.com/v1/'] });
    expect(slash.fieldsFor('https://gw.example.com/v1/x')).toEqual(both);
    expect(slash.fieldsFor('https://gw.example.com/v10')).toEqual(none);
  });

  it('traceparent and baggage have separate allowlists', () => {
    const policy = createTargetPolicy({
      traceparentTargets: ['https://tracing.example.com'],
      baggageTargets: [/^https:\/\/bag\.example\.com\//],
    });
    expect(policy.fieldsFor('https://tracing.example.com/')).toEqual({ traceparent: true, baggage: false });
    expect(policy.fieldsFor('https://bag.example.com/x')).toEqual({ traceparent: false, baggage: true });
  });

  it('an anchored RegExp is tested against origin + path; g/y flags do not alternate results', () => {
    const shared = /^https:\/\/[a-z]+\.partner\.com\//gy;
    const policy = createTargetPolicy({ targets: [shared] });
    for (let i = 0; i < 5; i++) expect(policy.fieldsFor('https://eu.partner.com/x')).toEqual(both);
    expect(shared.lastIndex).toBe(0);
    expect(policy.fieldsFor('https://evil.com/?https://eu.partner.com/')).toEqual(none);
    // The query is not part of what the RegExp sees.
    const query = createTargetPolicy({ targets: [/^https:\/\/evil\.com\/\?/] });
    expect(query.fieldsFor('https://evil.com/?x=1')).toEqual(none);
  });

  it('a function decides; one that throws or returns a non-boolean allows nothing', () => {
    const calls: URL[] = [];
    const policy = createTargetPolicy({
      targets: [
        (url) => {
          calls.push(url);
          url.hostname = 'mutated.example.com';
          return false;
        },
        (url) => url.hostname === 'fn.example.com',
      ],
      traceparentTargets: [
        () => {
          throw new Error('boom');
        },
        (() => 'yes') as unknown as (url: URL) => boolean,
      ],
    });
    expect(policy.fieldsFor('https://fn.example.com/')).toEqual(both);
    expect(calls[0]?.hostname).toBe('mutated.example.com');
    expect(policy.fieldsFor('https://other.example.com/')).toEqual(none);
  });

  it('accepts URL objects as targets and as destinations', () => {
    const policy = createTargetPolicy({ targets: [new URL('https://u.example.com')] });
    expect(policy.fieldsFor(new URL('https://u.example.com/p'))).toEqual(both);
  });
});

describe('configuration errors are TypeErrors', () => {
  it.each([
    [{ targets: 'https://x.com' }],
    [{ targets: ['x.com'] }],
    [{ targets: ['https://x.com/?a=1'] }],
    [{ targets: ['https://x.com/#f'] }],
    [{ targets: ['ftp://x.com'] }],
    [{ targets: ['https://user:pw@x.com'] }],
    [{ targets: [/x\.com/] }],
    [{ traceparentTargets: [42] }],
    [{ baggageTargets: [null] }],
    [{ internalTargets: 'yes' }],
  ])('%j', (options) => {
    expect(() => createTargetPolicy(options as never)).toThrow(TypeError);
  });
});
