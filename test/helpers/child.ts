// Running TypeScript helpers of the tests in their own Node processes (through tsx, as the demo
// does): fuzz shards on every core, a worker process to kill, a heap soak with --expose-gc.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root, the working directory of every child. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Path of a file in test/helpers/. */
export function helperPath(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/** Options of {@link startScript}. */
export interface ScriptOptions {
  /** Extra Node flags (before `--import tsx`), e.g. `--expose-gc`. */
  nodeFlags?: string[];
  /** Extra environment variables. */
  env?: NodeJS.ProcessEnv;
}

/** Starts `node --import tsx <file> ...args`, stdout and stderr piped. */
export function startScript(file: string, args: string[] = [], options: ScriptOptions = {}): ChildProcess {
  return spawn(process.execPath, [...(options.nodeFlags ?? []), '--import', 'tsx', file, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** How a script ended and what it printed. */
export interface ScriptResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a script to its end. */
export function runScript(file: string, args: string[] = [], options: ScriptOptions = {}): Promise<ScriptResult> {
  const child = startScript(file, args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The value of the last stdout line of the form `{"<key>": ...}`. */
export function lastJson<T>(stdout: string, key: string): T | undefined {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith(`{"${key}"`)) continue;
    return (JSON.parse(line) as Record<string, T>)[key];
  }
  return undefined;
}

/** Runs `tasks` with at most `limit` at a time; resolves with their results in order. */
export async function inParallel<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  });
  await Promise.all(lanes);
  return results;
}
