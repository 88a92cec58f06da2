/**
 * Child processes of the bench. Every scenario runs in children, so that one `--node` option
 * decides the Node version of everything measured, instrumentations that patch modules at load
 * time stay in their own process, and the HTTP server can be pinned to a core of its own.
 *
 * Protocol (IPC): the child sends `{ type: 'ready', info }` once set up; the parent sends
 * `{ id, cmd, args }` and the child answers `{ id, ok, result }` or `{ id, ok: false, error }`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const TSX_LOADER = import.meta.resolve('tsx');
const USE_BUILD = import.meta.resolve('./use-build.mjs');
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let tasksetChecked: boolean | undefined;
/** True when `taskset` exists and this machine has at least two cores to split. */
export function canPin(cores: number): boolean {
  if (tasksetChecked === undefined) {
    const probe = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    tasksetChecked = probe.status === 0;
  }
  return tasksetChecked && cores >= 2;
}

/** How to start a child. */
export interface SpawnOptions {
  /** Node binary to run (the `--node` option, default the running one). */
  node: string;
  /** Script path relative to the repository root (.ts runs through tsx, .mjs as is). */
  script: string;
  /** Arguments after the script. */
  args?: string[];
  /** Extra Node flags (`--expose-gc`, `--cpu-prof`). */
  nodeFlags?: string[];
  /** Directory of the library build the child imports by package name (bench/lib/build.ts). */
  build?: string | undefined;
  /** Pin to this core with taskset; undefined = unpinned. */
  cpu?: number | undefined;
  /** Extra environment. */
  env?: Record<string, string>;
  /** Keep the child's stdout (default: inherited). */
  captureStdout?: boolean;
}

/** The command line for a child. */
function commandLine(options: SpawnOptions): { file: string; argv: string[] } {
  // The build's resolve hook registers after tsx's, so it sees the package name first.
  const loader = [
    ...(options.script.endsWith('.ts') ? ['--import', TSX_LOADER] : []),
    ...(options.build !== undefined ? ['--import', USE_BUILD] : []),
  ];
  const nodeArgv = [...(options.nodeFlags ?? []), ...loader, options.script, ...(options.args ?? [])];
  if (options.cpu !== undefined) return { file: 'taskset', argv: ['-c', String(options.cpu), options.node, ...nodeArgv] };
  return { file: options.node, argv: nodeArgv };
}

function startProcess(options: SpawnOptions, ipc: boolean): ChildProcess {
  const { file, argv } = commandLine(options);
  return spawn(file, argv, {
    cwd: ROOT,
    stdio: ['ignore', options.captureStdout ? 'pipe' : 'inherit', 'inherit', ...(ipc ? (['ipc'] as const) : [])],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      ...(options.build !== undefined ? { AGENTOPS_BENCH_BUILD: options.build } : {}),
      ...options.env,
    },
  });
}

interface Reply {
  id?: number;
  type?: string;
  ok?: boolean;
  result?: unknown;
  error?: string;
  info?: unknown;
}

/** A child that answers commands over IPC. */
export class BenchChild {
  private readonly proc: ChildProcess;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited: Error | undefined;
  /** What the child reported when ready. */
  readonly ready: Promise<unknown>;

  constructor(
    readonly label: string,
    options: SpawnOptions,
  ) {
    this.proc = startProcess(options, true);
    let readyResolve!: (v: unknown) => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.proc.on('message', (raw) => {
      const msg = raw as Reply;
      if (msg.type === 'ready') {
        readyResolve(msg.info);
        return;
      }
      if (msg.type === 'fatal') {
        readyReject(new Error(`${label}: ${msg.error}`));
        return;
      }
      const pending = msg.id === undefined ? undefined : this.waiting.get(msg.id);
      if (pending === undefined) return;
      this.waiting.delete(msg.id as number);
      if (msg.ok) pending.resolve(msg.result);
      else pending.reject(new Error(`${label}: ${msg.error}`));
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = new Error(`${label} exited (code ${code}, signal ${signal})`);
      readyReject(this.exited);
      for (const pending of this.waiting.values()) pending.reject(this.exited);
      this.waiting.clear();
    });
  }

  /** Sends a command and waits for its answer. */
  call<T>(cmd: string, args: unknown = {}, timeoutMs = 300_000): Promise<T> {
    if (this.exited !== undefined) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.label}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ id, cmd, args });
    });
  }

  /** Asks the child to exit, and kills it if it does not within a few seconds. */
  async close(): Promise<void> {
    if (this.exited !== undefined) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    try {
      this.proc.send({ id: 0, cmd: 'exit', args: {} });
    } catch {
      // Channel already closed: the kill below ends it.
    }
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }
}

/** Runs a child to completion and returns its stdout. */
export function runToEnd(options: SpawnOptions, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = startProcess({ ...options, captureStdout: true }, false);
    let out = '';
    proc.stdout?.setEncoding('utf8');
    proc.stdout?.on('data', (chunk: string) => (out += chunk));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${options.script} exited with code ${code} signal ${signal}`));
    });
    proc.on('error', reject);
  });
}
