// OTLP endpoints of a collector that is down, for the flush and exporter-down tests: one that
// refuses connections and one that accepts them and never answers.

import { createServer, type AddressInfo, type Socket } from 'node:net';

/** A dead collector's OTLP traces URL, how many connections it got, and how to close it. */
export interface DeadCollector {
  url: string;
  connections(): number;
  close(): Promise<void>;
}

/** A loopback URL nothing listens on: connections are refused. */
export async function refusingCollector(): Promise<DeadCollector> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { url: `http://127.0.0.1:${port}/v1/traces`, connections: () => 0, close: async () => undefined };
}

/** Accepts connections, reads everything, never answers; counts the connections it got. */
export async function silentCollector(): Promise<DeadCollector> {
  const sockets = new Set<Socket>();
  let total = 0;
  const server = createServer((socket) => {
    total++;
    sockets.add(socket);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    connections: () => total,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
