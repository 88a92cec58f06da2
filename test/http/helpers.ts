import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { withSession, type Session, type SigningKeyring } from '../../src/index.js';
import { startOutboundHop } from '../../src/engine.js';

/** Servers in these tests accept headers up to this size, so hostile headers reach our parser. */
export const MAX_HEADER_SIZE = 128 * 1024;

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** A real HTTP server on a loopback port. */
export async function listen(
  handler: RequestListener | undefined,
  server: Server = createServer({ maxHeaderSize: MAX_HEADER_SIZE }, handler),
): Promise<RunningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** What a recording server saw of one request. */
export interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A downstream service that records every request and answers by path: `/redirect/<status>?to=<url>`
 * redirects, anything else answers 200 with what it saw.
 */
export async function recordingServer(): Promise<RunningServer & { seen: Seen[] }> {
  const seen: Seen[] = [];
  const running = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry: Seen = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(entry);
      const url = new URL(req.url ?? '/', 'http://x');
      const redirect = /^\/redirect\/(\d{3})$/.exec(url.pathname);
      if (redirect !== null) {
        res.writeHead(Number(redirect[1]), { location: url.searchParams.get('to') ?? '/' });
        res.end('moved');
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(entry));
    });
  });
  return Object.assign(running, { seen });
}

/**
 * A fetch that resolves the given host names to loopback ports, as DNS would: the request really
 * travels over HTTP to a local server while the URL (what the target policy judges) names a
 * public host. No traffic leaves the machine.
 */
export function resolvingFetch(hosts: Record<string, number>): typeof fetch {
  return (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const port = hosts[url.hostname];
    if (port === undefined) return fetch(input, init);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    return input instanceof Request ? fetch(new Request(url, input), init) : fetch(url, init);
  };
}

/** Headers a real upstream hop writes while inside `session`. */
export function upstreamHeaders(session: Session, signing: SigningKeyring | null = null): Record<string, string> {
  return withSession(session, () => {
    const hop = startOutboundHop({ spanName: 'upstream', signing });
    const headers = hop.fields();
    hop.end();
    return headers;
  });
}

/**
 * Sends raw bytes as an HTTP/1.1 request and resolves with the status code and body. `later`
 * chunks are written one by one after the server has read what came before (a body that arrives
 * in its own packets, after the request's hooks ran).
 */
export function rawRequest(port: number, head: Buffer | string, ...later: (Buffer | string)[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    socket.write(head);
    void (async () => {
      for (const chunk of later) {
        await delay(30);
        socket.write(chunk);
      }
    })();
  });
}

/**
 * POSTs `json` with its body in two packets written after the head, so that it arrives after the
 * server's request hooks ran, and resolves with the JSON answer.
 */
export async function postInPackets(
  port: number,
  path: string,
  headers: Record<string, string>,
  json: unknown,
): Promise<Record<string, unknown>> {
  const body = JSON.stringify(json);
  const answer = await rawRequest(port, rawPostHead(path, headers, body.length), body.slice(0, 5), body.slice(5));
  return rawJson(answer.body);
}

/** A POST head with a JSON content type and length, for a body sent separately. */
function rawPostHead(path: string, headers: Record<string, string>, bodyLength: number): string {
  const lines = [
    `POST ${path} HTTP/1.1`,
    'host: 127.0.0.1',
    'connection: close',
    'content-type: application/json',
    `content-length: ${bodyLength}`,
  ];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The JSON object in a raw response body (chunked framing or not). */
export function rawJson(body: string): Record<string, unknown> {
  return JSON.parse(body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1)) as Record<string, unknown>;
}

/** Builds a raw request head: `headers` may repeat names; values are written byte for byte (latin1). */
export function rawHead(path: string, headers: [string, string | Buffer][]): Buffer {
  const parts: Buffer[] = [Buffer.from(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n`, 'latin1')];
  for (const [name, value] of headers) {
    parts.push(
      Buffer.from(`${name}: `, 'latin1'),
      typeof value === 'string' ? Buffer.from(value, 'latin1') : value,
      Buffer.from('\r\n', 'latin1'),
    );
  }
  parts.push(Buffer.from('\r\n', 'latin1'));
  return Buffer.concat(parts);
}

/** Waits until `check` passes (spans end on the response's `finish`, after the client may have read it). */
export async function eventually<T>(check: () => T, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The session id in a `baggage` header, if any. */
export function sessionInBaggage(baggage: string | string[] | undefined): string | undefined {
  const text = Array.isArray(baggage) ? baggage.join(',') : baggage;
  return text === undefined ? undefined : /agentops\.session\.id=([0-9a-f]{32})/.exec(text)?.[1];
}
