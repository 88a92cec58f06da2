/**
 * Memory (child process, run with --expose-gc): heap after GC before and after N hops, each an
 * outbound hop (PRODUCER/CLIENT span, inject into a copy of the carrier) followed by the inbound
 * hop that reads that carrier (extract, trust, SERVER/CONSUMER span), both ended, through one
 * adapter's carrier and core path, in process (no network). A new session every 1000 hops, so
 * that the session registry is exercised too.
 *
 *   memory-worker.ts <http|kafka|bullmq>
 */
import { SpanKind } from '@opentelemetry/api';
import type { IncomingHttpHeaders } from 'node:http';
import type { KafkaMessage } from 'kafkajs';
import type { KafkaHeaders } from '../../src/carriers/kafka.js';
import { lib } from '../lib/build.js';
import { NoopExporter } from '../lib/tracing.js';
import { fatal, serve } from '../lib/serve.js';

const carrier = process.argv[2] as string;
const {
  DEFAULT_POLICY,
  resolveMessage,
  startMessageHop,
  httpHeaderSetter,
  incomingHeaderGetter,
  emptyJobMetadata,
  formatJobMetadata,
  jobMetadataGetter,
  jobMetadataSetter,
  parseJobMetadata,
  headersWithContext,
  kafkaHeaderSetter,
  startInboundHop,
  startOutboundHop,
} = await lib('internals');
const { init, startSession, withSession } = await lib('index');
const gc = (globalThis as { gc?: () => void }).gc;

function httpHop(): void {
  const out = startOutboundHop({ spanName: 'GET', kind: SpanKind.CLIENT });
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'bench' };
  out.inject(headers, httpHeaderSetter);
  const inbound = startInboundHop({ carrier: headers as IncomingHttpHeaders, getter: incomingHeaderGetter, spanName: 'GET /hello', kind: SpanKind.SERVER, trust: 'trust' });
  inbound.end({ attributes: { 'http.response.status_code': 200 } });
  out.end({ attributes: { 'http.response.status_code': 200 } });
}

const userHeaders: KafkaHeaders = { 'content-type': 'application/json' };
function kafkaHop(): void {
  const out = startOutboundHop({ spanName: 'send bench', kind: SpanKind.PRODUCER });
  const fields: KafkaHeaders = {};
  out.inject(fields, kafkaHeaderSetter);
  const sent = headersWithContext(userHeaders, fields as Record<string, string>, { overrideTraceparent: false });
  // As kafkajs delivers them: every value a Buffer.
  const delivered: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(sent)) if (typeof v === 'string') delivered[k] = Buffer.from(v);
  const message = { key: null, value: null, timestamp: '0', attributes: 0, offset: '0', headers: delivered } as unknown as KafkaMessage;
  const origin = { topic: 'bench', partition: 0, groupId: 'bench' };
  const inbound = startMessageHop(origin, message, resolveMessage(origin, message, DEFAULT_POLICY, 'message'));
  inbound.end();
  out.end();
}

function bullmqHop(): void {
  const out = startOutboundHop({ spanName: 'add bench', kind: SpanKind.PRODUCER });
  const fields = emptyJobMetadata();
  out.inject(fields, jobMetadataSetter);
  const stored = formatJobMetadata(fields);
  const inbound = startInboundHop({ carrier: parseJobMetadata(stored), getter: jobMetadataGetter, spanName: 'process bench', kind: SpanKind.CONSUMER, trust: 'trust' });
  inbound.end();
  out.end();
}

const HOPS: Record<string, () => void> = { http: httpHop, kafka: kafkaHop, bullmq: bullmqHop };

async function hops(n: number, hop: () => void): Promise<void> {
  for (let done = 0; done < n; ) {
    const session = startSession({ name: 'bench' });
    const sessionHops = Math.min(1000, n - done);
    for (let i = 0; i < sessionHops; i += 100) {
      withSession(session, () => {
        for (let j = 0; j < Math.min(100, sessionHops - i); j++) hop();
      });
      // Let the export queue's timer run, as it would between requests.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    session.end();
    done += sessionHops;
  }
}

async function settledHeap(flush: () => Promise<void>): Promise<number> {
  await flush();
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return process.memoryUsage().heapUsed;
}

async function main(): Promise<void> {
  if (gc === undefined) throw new Error('run with --expose-gc');
  const hop = HOPS[carrier];
  if (hop === undefined) throw new Error('usage: memory-worker.ts <http|kafka|bullmq>');
  const exporter = new NoopExporter();
  const handle = init({ serviceName: 'bench', exporters: [exporter] });
  serve(
    {
      async run(args) {
        const n = Number(args.hops);
        await hops(20_000, hop);
        const before = await settledHeap(() => handle.forceFlush());
        // CPU time, not wall time: the yields between chunks idle for a timer tick.
        const c0 = process.cpuUsage();
        await hops(n, hop);
        const cpu = process.cpuUsage(c0);
        const seconds = (cpu.user + cpu.system) / 1e6;
        const after = await settledHeap(() => handle.forceFlush());
        const stats = handle.stats();
        return { hops: n, beforeBytes: before, afterBytes: after, growthMB: (after - before) / 2 ** 20, microsPerHop: (seconds * 1e6) / n, spansExported: stats.spansExported, spansDropped: stats.spansDropped };
      },
    },
    { carrier },
    () => handle.shutdown(),
  );
}

main().catch(fatal);
