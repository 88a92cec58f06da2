#!/usr/bin/env node
// A throwaway local Redis for the BullMQ integration tests: no persistence, bound to 127.0.0.1.
//
//   node scripts/redis.mjs start | stop | status
//
// Env: REDIS_URL (default redis://127.0.0.1:6379; if nothing answers there and the host is
// loopback, a server is started on that port, with the URL's password if it has one),
// REDIS_SERVER_BIN (explicit redis-server binary), REDIS_START_TIMEOUT_MS.
//
// State lives in .cache/redis/: redis-<port>.pid, redis-<port>.log.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { aptInstall, canAptInstall } from './lib/apt.mjs';
import {
  cacheRoot,
  fileSize,
  isLoopbackHost,
  isMain,
  ownedPid,
  runCli,
  ServiceError,
  sleep,
  spawnDetached,
  stopOwned,
  tail,
  which,
  withLock,
} from './lib/daemon.mjs';

const dir = path.join(cacheRoot, 'redis');
// Per port: unlike Kafka, several local Redis servers can coexist (no data directory), e.g. a
// second checkout or REDIS_URL pointing at another port.
const files = (port) => ({
  pid: path.join(dir, `redis-${port}.pid`),
  log: path.join(dir, `redis-${port}.log`),
  lock: path.join(dir, `start-${port}.lock`),
});
// redis-server rewrites its process title to "redis-server 127.0.0.1:<port>", so the binary name
// and the port are the only stable parts of its command line.
const markers = (port) => ['redis-server', String(port)];

const defaultLog = (msg) => console.log(`[redis] ${msg}`);

/** Parsed REDIS_URL plus whether we may start a server for it. */
export function redisTarget(env = process.env) {
  const url = env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379';
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new ServiceError(`cannot parse REDIS_URL=${url}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ServiceError(`REDIS_URL must be redis:// or rediss://, got ${url}`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  return {
    url,
    host,
    port: Number(parsed.port || 6379),
    tls: parsed.protocol === 'rediss:',
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    local: parsed.protocol === 'redis:' && isLoopbackHost(host),
  };
}

/** RESP encoding, so passwords with spaces or quotes survive (inline commands would not). */
function resp(...words) {
  return `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;
}

/**
 * Sends (AUTH and) PING over a raw socket. Resolves { ok: true } on +PONG, otherwise
 * { ok: false, reachable, error } where reachable means something accepted the connection.
 */
export function probeRedis(target, timeoutMs = 2_000) {
  return new Promise((resolve) => {
    let reply = '';
    let reachable = false;
    const socket = target.tls
      ? tls.connect({ host: target.host, port: target.port, servername: target.host })
      : net.connect({ host: target.host, port: target.port });
    const finish = (result) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => finish({ ok: false, reachable, error: `no reply within ${timeoutMs} ms` }));
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      reachable = true;
      const auth = target.password ? resp('AUTH', ...(target.username ? [target.username] : []), target.password) : '';
      socket.write(`${auth}${resp('PING')}`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      reply += chunk;
      if (reply.includes('+PONG\r\n')) finish({ ok: true });
      else if (/^-.*\r\n/m.test(reply)) finish({ ok: false, reachable, error: reply.match(/^-(.*)\r\n/m)[1] });
    });
    socket.once('error', (err) => finish({ ok: false, reachable, error: err.message }));
    socket.once('end', () => finish({ ok: false, reachable, error: 'connection closed without PONG' }));
  });
}

/**
 * Makes sure Redis answers PING at REDIS_URL, starting a local redis-server if nothing does
 * (installing it with apt-get first when possible). Returns { url, started, stop }.
 */
export async function ensureRedis({ log = defaultLog } = {}) {
  const target = redisTarget();
  const first = await probeRedis(target);
  if (first.ok) return notStartedByUs(target);
  if (first.reachable) {
    throw new ServiceError(`something at ${redactedUrl(target)} accepts connections but does not answer PING: ${first.error}`);
  }
  if (!target.local) {
    throw new ServiceError(
      `REDIS_URL=${redactedUrl(target)} does not answer (${first.error}). ` +
        'A local redis-server is only started for a redis:// URL on 127.0.0.1/localhost.',
    );
  }

  return withLock(files(target.port).lock, () => startLocked(target, log), { log });
}

function notStartedByUs(target) {
  return { url: target.url, started: false, stop: async () => false };
}

async function startLocked(target, log) {
  const { pid: pidFile, log: logFile } = files(target.port);
  // Whoever held the lock before us may have just started it.
  if ((await probeRedis(target)).ok) return notStartedByUs(target);
  // A server we started earlier that does not answer (wedged, or killed mid-start): replace it.
  if (ownedPid(pidFile, markers(target.port)) !== null) await stopRedis({ log, port: target.port });

  const binary = await findOrInstallRedis(log);
  // Installing the Debian package starts the system service on hosts with systemd; use it.
  if ((await probeRedis(target)).ok) {
    log(`the redis-server package started its own service at ${redactedUrl(target)}; using it`);
    return notStartedByUs(target);
  }

  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    String(target.port),
    // Test data is disposable: no RDB snapshots, no AOF, nothing written to disk.
    '--save',
    '',
    '--appendonly',
    'no',
    // We manage the process (pid file, log, process group); redis must stay in the foreground.
    '--daemonize',
    'no',
    '--dir',
    dir,
    ...(target.password ? ['--requirepass', target.password] : []),
  ];
  fs.mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const logOffset = fileSize(logFile);
  const { pid, exited } = spawnDetached({ command: binary, args, cwd: dir, logFile, pidFile });

  const timeoutMs = Number(process.env.REDIS_START_TIMEOUT_MS || 20_000);
  let last = { ok: false, error: 'not probed yet' };
  while (Date.now() - started < timeoutMs) {
    const exit = exited();
    if (exit) {
      throw new ServiceError(
        `redis-server exited during start-up (${exit.error?.message ?? `code ${exit.code}, signal ${exit.signal}`})\n` +
          `--- ${logFile}\n${tail(logFile, { fromByte: logOffset })}`,
      );
    }
    last = await probeRedis(target, 1_000);
    if (last.ok) {
      log(`redis-server pid ${pid} ready at ${redactedUrl(target)} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      return { url: target.url, started: true, pid, stop: () => stopRedis({ log, port: target.port }) };
    }
    await sleep(100);
  }
  await stopRedis({ log, port: target.port });
  throw new ServiceError(
    `redis-server did not answer PING within ${timeoutMs / 1000}s (last error: ${last.error}); stopped it.\n` +
      `--- ${logFile}\n${tail(logFile, { fromByte: logOffset })}`,
  );
}

/**
 * Stops the redis-server this script started on `port`, or every one it started when no port is
 * given. Resolves true if it stopped something.
 */
export async function stopRedis({ log = defaultLog, port } = {}) {
  const ports =
    port !== undefined ? [port] : (fs.existsSync(dir) ? fs.readdirSync(dir) : []).flatMap((f) => /^redis-(\d+)\.pid$/.exec(f)?.[1] ?? []);
  let stopped = false;
  for (const p of ports) {
    if (await stopOwned({ pidFile: files(p).pid, markers: markers(p), timeoutMs: 10_000, log })) stopped = true;
  }
  return stopped;
}

export async function redisStatus() {
  const target = redisTarget();
  const probe = await probeRedis(target);
  const ownPid = ownedPid(files(target.port).pid, markers(target.port));
  return { url: redactedUrl(target), answering: probe.ok, error: probe.error, ownPid };
}

/** The URL with its password masked, for logs. */
export function redactRedisUrl(url) {
  return url.replace(/^(\w+:\/\/[^:@/]*:)[^@/]*@/, '$1***@');
}

function redactedUrl(target) {
  return redactRedisUrl(target.url);
}

// --- installation ----------------------------------------------------------------------------

async function findOrInstallRedis(log) {
  if (process.env.REDIS_SERVER_BIN) {
    const explicit = which(process.env.REDIS_SERVER_BIN);
    if (!explicit) throw new ServiceError(`REDIS_SERVER_BIN=${process.env.REDIS_SERVER_BIN} is not an executable`);
    return explicit;
  }
  // /usr/sbin and /usr/local/bin: not on PATH for every non-login shell, yet where packages and
  // `make install` put it.
  const extraDirs = ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/opt/homebrew/bin'];
  const found = which('redis-server', extraDirs);
  if (found) return found;

  if (!(await canAptInstall())) {
    throw new ServiceError(
      [
        'Cannot start a local Redis: redis-server is not installed.',
        '  Debian/Ubuntu: sudo apt-get install -y redis-server   (macOS: brew install redis)',
        '  or: docker compose up -d redis                       # listens on 127.0.0.1:6379',
        '  or: REDIS_URL=redis://host:port                      # any Redis 6.2+',
      ].join('\n'),
    );
  }
  await aptInstall(['redis-server'], { log });
  const installed = which('redis-server', extraDirs);
  if (!installed) throw new ServiceError('apt-get installed redis-server but no redis-server binary was found');
  return installed;
}

// --- CLI -------------------------------------------------------------------------------------

async function main([command]) {
  switch (command) {
    case 'start': {
      const t0 = Date.now();
      const redis = await ensureRedis();
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      console.log(
        redis.started
          ? `Redis ready at ${redactedUrl(redisTarget())} (started in ${secs}s)`
          : `Redis already answers at ${redactedUrl(redisTarget())}; nothing to do`,
      );
      return 0;
    }
    case 'stop':
      console.log((await stopRedis()) ? 'Redis stopped' : 'no redis-server started by this script is running');
      return 0;
    case 'status': {
      const s = await redisStatus();
      const owner = s.ownPid ? `started by this script, pid ${s.ownPid}` : 'not started by this script';
      console.log(
        s.answering
          ? `Redis answers at ${s.url} (${owner})`
          : `Redis does not answer at ${s.url}: ${s.error}${s.ownPid ? ` (our pid ${s.ownPid} is running)` : ''}`,
      );
      return s.answering ? 0 : 1;
    }
    default:
      console.error('usage: node scripts/redis.mjs start|stop|status');
      return 2;
  }
}

if (isMain(import.meta.url)) runCli(main);
