// Types for scripts/kafka.mjs, which the vitest global setup (TypeScript) imports.

export interface KafkaHandle {
  /** Bootstrap addresses, as kafkajs wants them. */
  brokers: string[];
  /** True only if this call started the broker; stop() is a no-op otherwise. */
  started: boolean;
  pid?: number;
  /** Stops the broker if this call started it; resolves true if something was stopped. */
  stop(): Promise<boolean>;
}

export interface KafkaTarget {
  brokers: string[];
  host: string;
  port: number;
  controllerPort: number;
  local: boolean;
}

export type ProbeResult = { ok: true; brokerCount: number } | { ok: false; error: string };

export function kafkaTarget(env?: NodeJS.ProcessEnv): KafkaTarget;
export function probeKafka(brokers: string[], timeoutMs?: number): Promise<ProbeResult>;
export function ensureKafka(options?: { log?: (message: string) => void }): Promise<KafkaHandle>;
export function stopKafka(options?: { log?: (message: string) => void }): Promise<boolean>;
export function kafkaStatus(): Promise<{ brokers: string[]; answering: boolean; error?: string; ownPid: number | null }>;
