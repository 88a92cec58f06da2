import { describe, expect, it } from 'vitest';
import { classifyAddress, isClusterLocalHostname, isInternalAddress, isInternalHost } from '../../src/http/network.js';
import { defaultHttpTrust } from '../../src/http/server-hop.js';
import type { IncomingMessage } from 'node:http';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.20', 'private'],
    ['::ffff:192.168.1.20', 'private'],
    ['0:0:0:0:0:ffff:10.1.2.3', 'private'],
    ['fec0::1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fc00::1', 'unique-local'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['172.32.0.1', 'public'],
    ['172.15.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['8.8.8.8', 'public'],
    ['::ffff:8.8.8.8', 'public'],
    ['2001:4860:4860::8888', 'public'],
    ['::127.0.0.1', 'public'],
    ['64:ff9b::a00:1', 'public'],
    ['fe00::1', 'public'],
  ])('%s is %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  it.each(['localhost', 'example.com', '1.2.3', '256.1.1.1', '01.1.1.1', '', ' 127.0.0.1', '[::1', 'fe80::1%', ':::1'])(
    '%j is not an IP literal',
    (text) => {
      expect(classifyAddress(text)).toBeUndefined();
    },
  );

  it('never throws on non-strings', () => {
    for (const value of [undefined, null, 42, {}, [], Symbol('x')]) expect(classifyAddress(value)).toBeUndefined();
    expect(isInternalAddress(undefined)).toBe(false);
  });
});

describe('classifyAddress, remembered per text', () => {
  it('answers a repeated address exactly as the first time, for every class and for non-addresses', () => {
    const inputs = ['127.0.0.1', '::ffff:10.0.0.1', 'fe80::1%eth0', '8.8.8.8', 'not-an-ip', '1.2.3', '[::1]'];
    const first = inputs.map((a) => classifyAddress(a));
    expect(first).toEqual(['loopback', 'private', 'link-local', 'public', undefined, undefined, 'loopback']);
    for (let i = 0; i < 3; i++) expect(inputs.map((a) => classifyAddress(a))).toEqual(first);
  });

  it('stays right after far more distinct inputs than it remembers (hostile peers cannot grow it)', () => {
    for (let i = 0; i < 10_000; i++) classifyAddress(`10.${(i >> 8) & 255}.${i & 255}.${i % 7}`);
    expect(classifyAddress('192.168.0.1')).toBe('private');
    expect(classifyAddress('203.0.113.9')).toBe('public');
    expect(classifyAddress('10.0.0.0')).toBe('private');
  });
});

describe('isClusterLocalHostname', () => {
  it.each([
    'planner',
    'localhost',
    'LOCALHOST',
    'critic-svc',
    'writer.agents.svc',
    'writer.agents.svc.cluster.local',
    'db.cluster.local',
    'metadata.google.internal',
    'printer.local',
    'app.localhost',
    'writer.agents.svc.cluster.local.',
  ])('%s is cluster-local', (host) => {
    expect(isClusterLocalHostname(host)).toBe(true);
    expect(isInternalHost(host)).toBe(true);
  });

  it.each([
    'api.openai.com',
    'example.com',
    'svc.example.com',
    'local.example.com',
    'internal.example.com',
    'evil.com/.svc',
    'com.',
    '.local',
    '-bad-',
    'a b',
    '',
  ])('%j is not cluster-local', (host) => {
    expect(isClusterLocalHostname(host)).toBe(false);
    expect(isInternalHost(host)).toBe(false);
  });

  it('IP literals are judged as addresses, not names', () => {
    expect(isClusterLocalHostname('127.0.0.1')).toBe(false);
    expect(isInternalHost('127.0.0.1')).toBe(true);
    expect(isInternalHost('[fd00::1]')).toBe(true);
    expect(isInternalHost('8.8.8.8')).toBe(false);
  });
});

describe('default inbound trust', () => {
  const request = (remoteAddress: string | undefined) => ({ socket: { remoteAddress } }) as unknown as IncomingMessage;
  it('trusts loopback and private-network callers, links everyone else', () => {
    expect(defaultHttpTrust(request('127.0.0.1'))).toBe('trust');
    expect(defaultHttpTrust(request('::ffff:10.2.3.4'))).toBe('trust');
    expect(defaultHttpTrust(request('fd00::5'))).toBe('trust');
    expect(defaultHttpTrust(request('203.0.113.7'))).toBe('link');
    expect(defaultHttpTrust(request('::ffff:203.0.113.7'))).toBe('link');
    expect(defaultHttpTrust(request('2001:db8::1'))).toBe('link');
    expect(defaultHttpTrust(request(undefined))).toBe('link');
    expect(defaultHttpTrust({} as IncomingMessage)).toBe('link');
  });
});
