// HTTP requests whose header lines are given one by one, repeats and order kept, values sent as
// Latin-1 bytes: what hostile callers send, through Node's own client.

import { request, type Agent, type IncomingHttpHeaders } from 'node:http';

/** An answer: status, headers and body as text. */
export interface LineAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** POSTs `body` to `http://127.0.0.1:<port><path>` with exactly these header lines (plus host and content-length). */
export function postLines(
  port: number,
  path: string,
  lines: readonly (readonly [string, string])[],
  body: Buffer | string = '',
  agent?: Agent,
): Promise<LineAnswer> {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  return new Promise((resolve, reject) => {
    const headers = ['host', `127.0.0.1:${port}`, 'content-length', String(payload.length), ...lines.flat()];
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path,
        ...(agent !== undefined ? { agent } : {}),
        headers: headers as unknown as Record<string, string>,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
