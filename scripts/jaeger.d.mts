// Types for scripts/jaeger.mjs, which the demo and the example test (TypeScript) import.

export interface JaegerHandle {
  /** Query API base URL (GET /api/traces/<id>, /api/v3/traces/<id>, /api/services). */
  url: string;
  /** OTLP/HTTP base URL; spans go to `${otlpUrl}/v1/traces`. */
  otlpUrl: string;
  /** True only if this call started Jaeger; stop() is a no-op otherwise. */
  started: boolean;
  pid?: number;
  /** Stops Jaeger if this call started it; resolves true if something was stopped. */
  stop(): Promise<boolean>;
}

export interface JaegerTarget {
  url: string;
  otlpUrl: string;
  host: string;
  queryPort: number;
  otlpHttpPort: number;
  otlpGrpcPort: number;
  queryGrpcPort: number;
  local: boolean;
}

export function jaegerTarget(env?: NodeJS.ProcessEnv): JaegerTarget;
export function probeJaeger(url: string, timeoutMs?: number): Promise<{ ok: true } | { ok: false; error: string }>;
export function jaegerBuilt(): boolean;
/** Resolves null only with build: false, when no Jaeger answers and none is built. */
export function ensureJaeger(options: { log?: (message: string) => void; build: false }): Promise<JaegerHandle | null>;
export function ensureJaeger(options?: { log?: (message: string) => void; build?: true }): Promise<JaegerHandle>;
export function stopJaeger(options?: { log?: (message: string) => void }): Promise<boolean>;
export function jaegerStatus(): Promise<{ url: string; answering: boolean; error?: string; ownPid: number | null; built: boolean }>;
