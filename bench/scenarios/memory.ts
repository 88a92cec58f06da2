/** Memory scenario (orchestrator side): one child per adapter carrier, with --expose-gc. */
import { BenchChild } from '../lib/child.js';
import type { Check, ScenarioResult } from '../lib/report.js';
import { fmt } from '../lib/stats.js';

/** Settings of the memory scenario. */
export interface MemorySettings {
  node: string;
  hops: number;
  cpu: number | undefined;
  log(message: string): void;
}

interface MemoryData {
  hops: number;
  beforeBytes: number;
  afterBytes: number;
  growthMB: number;
  microsPerHop: number;
  spansExported: number;
  spansDropped: number;
}

const CARRIERS: Record<string, string> = {
  http: 'HTTP (Express / Fastify): header object, incomingHeaderGetter',
  kafka: 'Kafka: header copy, Buffer values, eachMessage hop',
  bullmq: 'BullMQ: job-metadata JSON',
};

export async function runMemory(settings: MemorySettings): Promise<ScenarioResult> {
  const rows: string[][] = [];
  const checks: Check[] = [];
  const data: Record<string, MemoryData> = {};
  for (const [carrier, label] of Object.entries(CARRIERS)) {
    settings.log(`memory: ${carrier}, ${settings.hops} hops`);
    const child = new BenchChild(`memory/${carrier}`, { node: settings.node, script: 'bench/scenarios/memory-worker.ts', args: [carrier], nodeFlags: ['--expose-gc'], cpu: settings.cpu });
    let d: MemoryData;
    try {
      await child.ready;
      d = await child.call<MemoryData>('run', { hops: settings.hops }, 900_000);
    } finally {
      await child.close();
    }
    data[carrier] = d;
    const perMillion = (d.growthMB * 1_000_000) / d.hops;
    rows.push([label, d.hops.toLocaleString('en-US'), fmt(d.beforeBytes / 2 ** 20), fmt(d.afterBytes / 2 ** 20), fmt(d.growthMB), fmt(perMillion), fmt(d.microsPerHop), `${d.spansExported.toLocaleString('en-US')} / ${d.spansDropped.toLocaleString('en-US')}`]);
    checks.push({ what: `heap growth per million hops, ${carrier}`, target: '< 5 MB', measured: `${fmt(perMillion)} MB`, pass: perMillion < 5 });
  }
  return {
    title: 'Memory: heap after GC, before and after the hops',
    notes: [
      'each hop: an outbound hop (span, inject into a copy of the carrier) and the inbound hop reading it (extract, trust, span), both ended; in process, no network; a new session every 1000 hops',
      'heap measured after forceFlush and 4 forced GCs (node --expose-gc), after a 20,000-hop warm-up; spans go through init() to a no-op exporter',
      'µs/hop: CPU time of one outbound + inbound hop pair, spans and export included',
    ],
    table: { columns: ['carrier', 'hops', 'heap before MB', 'heap after MB', 'growth MB', 'growth per 1M hops MB', 'CPU µs/hop', 'spans exported / dropped'], rows },
    checks,
    data,
  };
}
