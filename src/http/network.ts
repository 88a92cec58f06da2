/**
 * Where an address or host name points, decided from its text alone (never DNS): inbound trust
 * asks it of a socket's remote address, the outbound target policy of a URL's host.
 */
import { isIPv4, isIPv6 } from 'node:net';

/**
 * Class of an IP literal:
 * - `loopback`: 127.0.0.0/8, ::1;
 * - `private`: RFC 1918 (10/8, 172.16/12, 192.168/16) and the deprecated IPv6 site-local fec0::/10;
 * - `link-local`: 169.254/16, fe80::/10;
 * - `unique-local`: IPv6 ULA fc00::/7;
 * - `shared`: 100.64/10, the carrier-grade NAT range (RFC 6598), also used by overlay networks
 *   such as Tailscale; never routed on the public internet, so counted as internal;
 * - `unspecified`: 0.0.0.0/8 and ::, which reach this host when used as a destination;
 * - `public`: everything else, including IPv4-compatible (`::a.b.c.d`) and NAT64 addresses.
 * IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) take the class of their IPv4 address.
 */
export type AddressClass = 'loopback' | 'private' | 'link-local' | 'unique-local' | 'shared' | 'unspecified' | 'public';

const INTERNAL_CLASSES: ReadonlySet<AddressClass> = new Set(['loopback', 'private', 'link-local', 'unique-local', 'shared', 'unspecified']);

/** Suffixes of names that only resolve inside a cluster or a private network. */
const CLUSTER_LOCAL_SUFFIXES = ['.svc', '.cluster.local', '.internal', '.local', '.localhost'] as const;

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

function classifyIPv4Octets(a: number, b: number): AddressClass {
  if (a === 127) return 'loopback';
  if (a === 10) return 'private';
  if (a === 172 && b >= 16 && b <= 31) return 'private';
  if (a === 192 && b === 168) return 'private';
  if (a === 169 && b === 254) return 'link-local';
  if (a === 100 && b >= 64 && b <= 127) return 'shared';
  if (a === 0) return 'unspecified';
  return 'public';
}

function classifyIPv4(address: string): AddressClass {
  const dot1 = address.indexOf('.');
  const dot2 = address.indexOf('.', dot1 + 1);
  return classifyIPv4Octets(Number(address.slice(0, dot1)), Number(address.slice(dot1 + 1, dot2)));
}

/** The eight 16-bit groups of a valid IPv6 address (an IPv4 tail becomes the last two). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    const octets = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number) as [number, number, number, number];
    tail.push((octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]);
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined];
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  let groups: number[];
  if (rest === undefined) groups = parse(head);
  else {
    const left = parse(head);
    const right = parse(rest);
    groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  }
  if (tail.length === 2) groups.splice(6, 2, tail[0]!, tail[1]!);
  return groups;
}

function classifyIPv6(address: string): AddressClass {
  const g = ipv6Groups(address);
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const leadingZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (leadingZero && g5 === 0xffff) return classifyIPv4Octets(g6 >> 8, g6 & 0xff);
  if (leadingZero && g5 === 0 && g6 === 0) {
    if (g7 === 1) return 'loopback';
    if (g7 === 0) return 'unspecified';
  }
  if ((g0 & 0xffc0) === 0xfe80) return 'link-local';
  if ((g0 & 0xffc0) === 0xfec0) return 'private';
  if ((g0 & 0xfe00) === 0xfc00) return 'unique-local';
  return 'public';
}

/** Strips `[...]` around an IPv6 literal and a `%zone` suffix (`fe80::1%eth0`). */
function bareAddress(address: string): string {
  let text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const zone = text.indexOf('%');
  // An empty zone is malformed, not absent.
  if (zone >= 0) text = zone === text.length - 1 ? '' : text.slice(0, zone);
  return text;
}

// Results by input text, bounded (cleared when full): hostile peers cannot grow it.
const NOT_AN_ADDRESS = 'none';
const CLASSIFIED_MAX = 4096;
const classified = new Map<string, AddressClass | typeof NOT_AN_ADDRESS>();

/**
 * The class of an IP literal (dotted-quad IPv4, or IPv6 with or without brackets and zone), or
 * `undefined` when `address` is not one. Never throws.
 */
export function classifyAddress(address: unknown): AddressClass | undefined {
  if (typeof address !== 'string' || address.length === 0 || address.length > 64) return undefined;
  // Every request asks this of its socket's address, and a server sees few distinct peers
  // (proxies, sidecars, sibling services): parsing an IPv6 text each time was a fifth of the hop.
  const known = classified.get(address);
  if (known !== undefined) return known === NOT_AN_ADDRESS ? undefined : known;
  const cls = classifyUncached(address);
  if (classified.size >= CLASSIFIED_MAX) classified.clear();
  classified.set(address, cls ?? NOT_AN_ADDRESS);
  return cls;
}

function classifyUncached(address: string): AddressClass | undefined {
  const bare = bareAddress(address);
  if (isIPv4(bare)) return classifyIPv4(bare);
  if (isIPv6(bare)) return classifyIPv6(bare.toLowerCase());
  return undefined;
}

/** True for an IP literal of this host or a private network (every class but `public`). */
export function isInternalAddress(address: unknown): boolean {
  const cls = classifyAddress(address);
  return cls !== undefined && INTERNAL_CLASSES.has(cls);
}

/**
 * True for a host name that only resolves inside a cluster or private network: a single label
 * (`planner`, `localhost`: resolved through the search domains), or a name under `.svc`,
 * `.cluster.local` (so `.svc.cluster.local`), `.internal`, `.local` or `.localhost`. IP literals
 * are not names and give false. Case is ignored, and so is a trailing dot except on a single label.
 */
export function isClusterLocalHostname(host: unknown): boolean {
  if (typeof host !== 'string' || host.length === 0 || host.length > 254) return false;
  let name = host.toLowerCase();
  const absolute = name.endsWith('.');
  if (absolute) name = name.slice(0, -1);
  if (name.length === 0 || classifyAddress(name) !== undefined) return false;
  // `planner.` is absolute: a top-level domain, not a name the search domains complete.
  if (!name.includes('.')) return !absolute && LABEL.test(name);
  if (!name.split('.').every((label) => LABEL.test(label))) return false;
  return CLUSTER_LOCAL_SUFFIXES.some((suffix) => name.endsWith(suffix));
}

/** True for a URL host (as `URL#hostname` gives it) that is an internal IP literal or a cluster-local name. */
export function isInternalHost(hostname: unknown): boolean {
  if (typeof hostname !== 'string') return false;
  const cls = classifyAddress(hostname);
  return cls !== undefined ? INTERNAL_CLASSES.has(cls) : isClusterLocalHostname(hostname);
}
