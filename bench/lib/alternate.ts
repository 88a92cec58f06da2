/**
 * Shared driver of the scenarios whose configurations live in persistent worker processes
 * (Kafka, BullMQ): start one worker per configuration, then call `round` on each in turn, the
 * starting configuration rotating, for every round.
 */
import { BenchChild } from './child.js';
import { fmt } from './stats.js';

/** Settings of an alternating run. */
export interface AlternateSettings {
  node: string;
  script: string;
  configs: readonly string[];
  rounds: number;
  /** Unmeasured rounds first (JIT, connections, group coordinators). */
  warmupRounds: number;
  roundArgs: Record<string, unknown>;
  log(message: string): void;
  label: string;
  /** Extra Node flags for the workers (`--cpu-prof ...` with --profile). */
  nodeFlags: string[];
}

/** Per configuration: its processor, spans exported, and each metric's per-round samples. */
export interface AlternateResult {
  processor: Record<string, string>;
  exportedSpans: Record<string, number>;
  samples: Record<string, Record<string, number[]>>;
}

export async function alternate(settings: AlternateSettings): Promise<AlternateResult> {
  const workers = new Map<string, BenchChild>();
  const result: AlternateResult = { processor: {}, exportedSpans: {}, samples: {} };
  try {
    for (const config of settings.configs) {
      const child = new BenchChild(`${settings.label}/${config}`, { node: settings.node, script: settings.script, args: [config], nodeFlags: settings.nodeFlags });
      workers.set(config, child);
      const info = (await child.ready) as { processor: string };
      result.processor[config] = info.processor;
      result.samples[config] = {};
    }
    for (let round = -settings.warmupRounds; round < settings.rounds; round++) {
      const order = settings.configs.map((_, i) => settings.configs[(i + Math.max(round, 0)) % settings.configs.length] as string);
      const line: string[] = [];
      for (const config of order) {
        const metrics = await workers.get(config)!.call<Record<string, number>>('round', settings.roundArgs);
        if (round < 0) continue;
        for (const [metric, value] of Object.entries(metrics)) (result.samples[config]![metric] ??= []).push(value);
        line.push(`${config} ${Object.entries(metrics).map(([m, v]) => `${m} ${fmt(v)}`).join(' ')}`);
      }
      settings.log(`  ${settings.label} ${round < 0 ? 'warm-up' : `round ${round + 1}/${settings.rounds}`}${line.length > 0 ? `: ${line.join('; ')}` : ''}`);
    }
    for (const config of settings.configs) {
      result.exportedSpans[config] = (await workers.get(config)!.call<{ exported: number }>('stats')).exported;
      if (config !== 'bare' && result.exportedSpans[config] === 0) throw new Error(`${settings.label}/${config} exported no span: the configuration did not trace`);
    }
  } finally {
    await Promise.all([...workers.values()].map((w) => w.close()));
  }
  return result;
}
