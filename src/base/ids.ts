import { randomBytes } from 'node:crypto';

/** `bytes` random bytes as lowercase hex, never all zeros (W3C ids must not be). */
export function randomHexId(bytes: 8 | 16): string {
  let hex: string;
  do hex = randomBytes(bytes).toString('hex');
  while (/^0+$/.test(hex));
  return hex;
}
