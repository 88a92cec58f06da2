import { describe, expect, it } from 'vitest';
import { formatTraceparent, parseTraceparent } from '../../src/propagation/traceparent.js';

const T = '12345678901234567890123456789012';
const S = '1234567890123456';

// W3C Trace Context Level 2, "Examples of HTTP traceparent Headers" and the prose examples.
describe('traceparent: W3C spec examples', () => {
  it.each([
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 0x01],
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', '4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 0x00],
    ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', '0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 0x01],
    ['00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01', '0af7651916cd43dd8448eb211c80319c', '00f067aa0ba902b7', 0x01],
    ['00-0af7651916cd43dd8448eb211c80319c-b9c7c989f97918e1-01', '0af7651916cd43dd8448eb211c80319c', 'b9c7c989f97918e1', 0x01],
  ])('%s', (header, traceId, spanId, flags) => {
    expect(parseTraceparent(header)).toEqual({ version: 0, traceId, spanId, flags });
  });
});

// The cases of the W3C test harness (w3c/trace-context test/test.py), as a table.
describe('traceparent: W3C test harness cases', () => {
  it.each([
    ['valid, sampled', `00-${T}-${S}-01`],
    ['future version cc, 55 chars', `cc-${T}-${S}-01`],
    ['future version cc, more fields after a dash', `cc-${T}-${S}-01-what-the-future-will-be-like`],
    ['leading space', ` 00-${T}-${S}-01`],
    ['leading tab', `\t00-${T}-${S}-01`],
    ['trailing space', `00-${T}-${S}-01 `],
    ['trailing tab', `00-${T}-${S}-01\t`],
    ['OWS both sides', `\t 00-${T}-${S}-01 \t`],
    ['random flag only (Level 2)', `00-${T}-${S}-02`],
  ])('accepts: %s', (_name, header) => {
    const parsed = parseTraceparent(header);
    expect(parsed?.traceId).toBe(T);
    expect(parsed?.spanId).toBe(S);
  });

  it.each([
    ['version 00 with a trailing dot', `00-${T}-${S}-01.`],
    ['version 00 with future fields', `00-${T}-${S}-01-what-the-future-will-be-like`],
    ['future version, no dash after flags', `cc-${T}-${S}-01.what-the-future-will-be-like`],
    ['version ff', `ff-${T}-${S}-01`],
    ['version with illegal char (.0)', `.0-${T}-${S}-01`],
    ['version with illegal char (0.)', `0.-${T}-${S}-01`],
    ['version too long (3)', `000-${T}-${S}-01`],
    ['version too long (4)', `0000-${T}-${S}-01`],
    ['version too short', `0-${T}-${S}-01`],
    ['trace id all zero', `00-00000000000000000000000000000000-${S}-01`],
    ['trace id illegal first char', `00-.2345678901234567890123456789012-${S}-01`],
    ['trace id illegal last char', `00-1234567890123456789012345678901.-${S}-01`],
    ['trace id too long', `00-123456789012345678901234567890123-${S}-01`],
    ['trace id too short', `00-1234567890123456789012345678901-${S}-01`],
    ['parent id all zero', `00-${T}-0000000000000000-01`],
    ['parent id illegal first char', `00-${T}-.234567890123456-01`],
    ['parent id illegal last char', `00-${T}-123456789012345.-01`],
    ['parent id too long', `00-${T}-12345678901234567-01`],
    ['parent id too short', `00-${T}-123456789012345-01`],
    ['flags illegal first char', `00-${T}-${S}-.0`],
    ['flags illegal last char', `00-${T}-${S}-0.`],
    ['flags too long', `00-${T}-${S}-001`],
    ['flags too short', `00-${T}-${S}-1`],
  ])('rejects: %s', (_name, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });
});

describe('traceparent: rules', () => {
  it('rejects uppercase hex anywhere (HEXDIGLC)', () => {
    expect(parseTraceparent(`00-${T.toUpperCase().replace('1', 'A')}-${S}-01`)).toBeUndefined();
    expect(parseTraceparent(`00-4BF92F3577B34DA6A3CE929D0E0E4736-${S}-01`)).toBeUndefined();
    expect(parseTraceparent(`00-${T}-00F067AA0BA902B7-01`)).toBeUndefined();
    expect(parseTraceparent(`00-${T}-${S}-0A`)).toBeUndefined();
    expect(parseTraceparent(`0A-${T}-${S}-01`)).toBeUndefined();
  });

  it('keeps the whole flags byte (random bit 0x02 and unknown bits)', () => {
    expect(parseTraceparent(`00-${T}-${S}-03`)?.flags).toBe(0x03);
    expect(parseTraceparent(`00-${T}-${S}-ff`)?.flags).toBe(0xff);
    expect(parseTraceparent(`00-${T}-${S}-02`)?.flags).toBe(0x02);
  });

  it('parses future versions 01..fe with the version-00 rules and reports the version', () => {
    expect(parseTraceparent(`01-${T}-${S}-01`)?.version).toBe(1);
    expect(parseTraceparent(`fe-${T}-${S}-01-x`)?.version).toBe(0xfe);
    expect(parseTraceparent(`01-${T}-${S}-01-`)?.traceId).toBe(T);
    // Shorter than 55 characters: not parsed, whatever the version.
    expect(parseTraceparent(`cc-${T}-${S}-1`)).toBeUndefined();
    // Future versions still need valid ids and flags in the prefix.
    expect(parseTraceparent(`cc-${T}-${S}-0g-x`)).toBeUndefined();
    expect(parseTraceparent(`cc-00000000000000000000000000000000-${S}-01`)).toBeUndefined();
  });

  it('does not treat other whitespace as OWS', () => {
    expect(parseTraceparent(`\n00-${T}-${S}-01`)).toBeUndefined();
    expect(parseTraceparent(`00-${T}-${S}-01\r\n`)).toBeUndefined();
    expect(parseTraceparent(`\u00a000-${T}-${S}-01`)).toBeUndefined();
  });

  it('rejects a comma-joined repeated header and non-strings', () => {
    expect(parseTraceparent(`00-${T}-${S}-01, 00-${T}-${S}-01`)).toBeUndefined();
    expect(parseTraceparent(`cc-${T}-${S}-01,cc-${T}-${S}-01`)).toBeUndefined();
    expect(parseTraceparent(undefined as unknown as string)).toBeUndefined();
    expect(parseTraceparent(42 as unknown as string)).toBeUndefined();
    expect(parseTraceparent('')).toBeUndefined();
  });
});

describe('formatTraceparent', () => {
  it('writes version 00 with two lowercase hex flag digits', () => {
    expect(formatTraceparent(T, S, 1)).toBe(`00-${T}-${S}-01`);
    expect(formatTraceparent(T, S, 0x03)).toBe(`00-${T}-${S}-03`);
    expect(formatTraceparent(T, S, 0xab)).toBe(`00-${T}-${S}-ab`);
    expect(formatTraceparent(T, S, 0x1ff)).toBe(`00-${T}-${S}-ff`);
  });

  it('lowercases ids and refuses invalid ones', () => {
    expect(formatTraceparent('4BF92F3577B34DA6A3CE929D0E0E4736', '00F067AA0BA902B7', 1)).toBe(
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    );
    expect(formatTraceparent('0'.repeat(32), S, 1)).toBeUndefined();
    expect(formatTraceparent(T, '0'.repeat(16), 1)).toBeUndefined();
    expect(formatTraceparent(T.slice(1), S, 1)).toBeUndefined();
    expect(formatTraceparent(`${T.slice(1)}g`, S, 1)).toBeUndefined();
  });

  it('round-trips through parseTraceparent', () => {
    const header = formatTraceparent(T, S, 0x02) as string;
    expect(parseTraceparent(header)).toEqual({ version: 0, traceId: T, spanId: S, flags: 0x02 });
  });
});
