// A server that records raw request header blocks, bytes as sent, and answers every request with
// a keep-alive 200: what a test needs to see exactly which headers left a process (a "public"
// destination, an internal one), whoever wrote them.
import net from 'node:net';

/** A listening raw server: the header blocks received so far, its port, and how to close it. */
export interface RawServer {
  heads: string[];
  port: number;
  close(): void;
}

export function rawServer(): Promise<RawServer> {
  const heads: string[] = [];
  const server = net.createServer((sock) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      let i;
      while ((i = buf.indexOf('\r\n\r\n')) !== -1) {
        const head = buf.slice(0, i);
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        buf = buf.slice(i + 4 + (m ? Number(m[1]) : 0));
        heads.push(head);
        sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
      }
    });
    sock.on('error', () => {});
  });
  return new Promise((res) =>
    server.listen(0, '127.0.0.1', () => res({ heads, port: (server.address() as { port: number }).port, close: () => server.close() })),
  );
}
