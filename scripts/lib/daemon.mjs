// Helpers shared by scripts/kafka.mjs and scripts/redis.mjs: run a server detached from the
// calling process (so `services up` can exit while the server keeps running), remember it in a
// pid file, and later stop only that process.
//
// Plain Node built-ins only: these scripts run before (and independently of) the TypeScript build.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cacheRoot = path.join(repoRoot, '.cache');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A user-facing failure: the CLI prints the message without a stack trace. */
export class ServiceError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ServiceError';
  }
}

/** Absolute path of `cmd` on PATH (plus `extraDirs`), or null. */
export function which(cmd, extraDirs = []) {
  if (cmd.includes('/')) return isExecutable(cmd) ? cmd : null;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...extraDirs];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, cmd);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Hosts a server we start can serve: ours only ever listen on 127.0.0.1. */
export function isLoopbackHost(host) {
  return host === '127.0.0.1' || host.toLowerCase() === 'localhost';
}

/** Resolves true if something accepts a TCP connection at host:port within timeoutMs. */
export function tcpAccepts(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// --- processes -------------------------------------------------------------------------------

/**
 * The command line of a live process, or null when it is gone. Zombies count as gone: a server
 * we spawned from this very process lingers as a zombie until libuv reaps it.
 */
function commandLine(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (process.platform === 'linux') {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The state field follows the parenthesised command name, which may itself contain spaces.
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return null;
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      return null;
    }
  }
  try {
    const out = execFileSync('ps', ['-p', String(pid), '-o', 'stat=', '-o', 'command='], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (!out || out.startsWith('Z')) return null;
    return out.replace(/^\S+\s+/, '');
  } catch {
    return null;
  }
}

function readPidFile(pidFile) {
  try {
    const pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * The pid recorded in pidFile if that process is still alive and still looks like the server we
 * started (its command line contains every marker). Guards against pid reuse after a reboot or a
 * crash: we must never signal somebody else's process.
 */
export function ownedPid(pidFile, markers) {
  const pid = readPidFile(pidFile);
  if (pid === null) return null;
  const cmd = commandLine(pid);
  if (cmd === null || !markers.every((m) => cmd.includes(m))) return null;
  return pid;
}

/**
 * Starts `command args` in its own session/process group with stdout+stderr appended to logFile,
 * writes pidFile, and returns { pid, exited } where `exited` reports an early death (e.g. a port
 * clash) without waiting for a readiness timeout.
 */
export function spawnDetached({ command, args, cwd, env, logFile, pidFile }) {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const out = fs.openSync(logFile, 'a');
  fs.writeSync(out, `\n--- ${new Date().toISOString()} ${command} ${args.join(' ')}\n`);
  let child;
  try {
    child = spawn(command, args, {
      cwd,
      env: env ?? process.env,
      // detached => setsid(): the server is not killed with our terminal / process group (Ctrl-C
      // on `services up`, vitest exiting) and can be stopped as a group via kill(-pid).
      detached: true,
      stdio: ['ignore', out, out],
    });
  } finally {
    fs.closeSync(out);
  }
  let exitInfo = null;
  child.on('exit', (code, signal) => {
    exitInfo = { code, signal };
    // It died on its own during start-up; a pid file naming it would only mislead `status`.
    if (readPidFile(pidFile) === child.pid) fs.rmSync(pidFile, { force: true });
  });
  child.on('error', (err) => {
    exitInfo = { code: null, signal: null, error: err };
  });
  child.unref();
  if (child.pid === undefined) {
    throw new ServiceError(`could not spawn ${command}; see ${logFile}`);
  }
  fs.writeFileSync(pidFile, `${child.pid}\n`);
  return { pid: child.pid, exited: () => exitInfo };
}

/**
 * Stops the process recorded in pidFile (SIGTERM to its process group, SIGKILL after timeoutMs)
 * if it is still ours, then removes the pid file. Returns true if something was stopped.
 */
export async function stopOwned({ pidFile, markers, timeoutMs = 30_000, log = () => {} }) {
  const pid = ownedPid(pidFile, markers);
  if (pid === null) {
    fs.rmSync(pidFile, { force: true });
    return false;
  }
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (commandLine(pid) !== null) {
    if (Date.now() > deadline) {
      log(`pid ${pid} still running after ${timeoutMs / 1000}s; sending SIGKILL`);
      signalGroup(pid, 'SIGKILL');
      const killDeadline = Date.now() + 5_000;
      while (commandLine(pid) !== null && Date.now() < killDeadline) await sleep(100);
      break;
    }
    await sleep(200);
  }
  fs.rmSync(pidFile, { force: true });
  return true;
}

function signalGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // Not a group leader (should not happen for our detached spawns): signal the process itself.
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Last `lines` lines of a file from byte `fromByte` on (to skip earlier runs' output), leaving
 * out lines matching `skip`.
 */
export function tail(file, { lines = 40, fromByte = 0, skip } = {}) {
  try {
    const text = fs.readFileSync(file).subarray(fromByte).toString('utf8').trimEnd();
    const kept = text.split('\n').filter((line) => !skip?.test(line));
    return text ? kept.slice(-lines).join('\n') : '(empty)';
  } catch {
    return `(no ${file})`;
  }
}

/** Current size of a file, 0 if it does not exist: where this run's part of a log begins. */
export function fileSize(file) {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

// --- locking ---------------------------------------------------------------------------------

/**
 * Runs fn while holding an exclusive lock file, so two concurrent `services up` / vitest runs do
 * not both download into the same directory or both spawn a server on the same port. A lock
 * whose holder died is taken over.
 */
export async function withLock(lockFile, fn, { timeoutMs = 900_000, log = () => {} } = {}) {
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      fs.writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const holder = readPidFile(lockFile);
      if (holder === null || commandLine(holder) === null) {
        fs.rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new ServiceError(`timed out waiting for lock ${lockFile} held by pid ${holder}`);
      }
      if (!announced) {
        log(`waiting for pid ${holder}, which is starting the same service`);
        announced = true;
      }
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    if (readPidFile(lockFile) === process.pid) fs.rmSync(lockFile, { force: true });
  }
}

/** True when the module at `metaUrl` is the script node was asked to run. */
export function isMain(metaUrl) {
  return process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(metaUrl);
}

/** Standard CLI wrapper: ServiceErrors print as plain messages, anything else with its stack. */
export function runCli(main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (err) => {
      console.error(err instanceof ServiceError ? err.message : err);
      process.exitCode = 1;
    },
  );
}

/**
 * Runs a command to completion without blocking the event loop (Kafka's Maven download and
 * Redis's apt-get install run side by side). Resolves { code, output } with stdout+stderr merged.
 */
export function run(command, args, { cwd, env, timeoutMs = 900_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk) => {
      output += chunk;
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs / 1000}s)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, output: `${output}${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output });
    });
  });
}
