#!/usr/bin/env node
// The other SDKs' baggage codecs that test/interop/codecs.test.ts runs our headers through, each
// one the SDK's own code in a small program of test/interop/codecs/:
//
//   go/      OpenTelemetry Go (go.opentelemetry.io/otel, pinned in go.mod and go.sum), built once
//   java/    OpenTelemetry Java (io.opentelemetry:opentelemetry-api, pinned in pom.xml), its jars
//            copied from Maven Central by Maven and Codec.java compiled once
//   python/  OpenTelemetry Python, run by the environment of scripts/python.mjs
//   sentry/  @sentry/node 11 and 10 (this repository's devDependencies), run by Node
//
//   node scripts/codec-peers.mjs            (builds what is missing or stale, prints the peers)
//
// Everything built lives in .cache/codec-peers/: the Go module and build caches and the binary
// under go/, Maven's repository, the jars and the classes under java/. Each of the two builds
// writes a stamp last (the hash of its sources and the toolchain it used): a call whose stamps
// match returns without building.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { aptInstall, canAptInstall } from './lib/apt.mjs';
import { cacheRoot, isMain, repoRoot, run, runCli, ServiceError, which, withLock } from './lib/daemon.mjs';
import { ensurePythonEnv } from './python.mjs';

const sources = path.join(repoRoot, 'test', 'interop', 'codecs');
const dir = path.join(cacheRoot, 'codec-peers');
const lockFile = path.join(dir, 'build.lock');

const go = {
  sources: path.join(sources, 'go'),
  files: ['main.go', 'go.mod', 'go.sum'],
  out: path.join(dir, 'go'),
  binary: path.join(dir, 'go', 'codec-go'),
  stamp: path.join(dir, 'go', 'stamp.json'),
};
const java = {
  sources: path.join(sources, 'java'),
  files: ['Codec.java', 'pom.xml'],
  out: path.join(dir, 'java'),
  lib: path.join(dir, 'java', 'lib'),
  classes: path.join(dir, 'java', 'classes'),
  stamp: path.join(dir, 'java', 'stamp.json'),
};

const defaultLog = (msg) => console.log(`[codec-peers] ${msg}`);

/** The Go toolchain's environment: its caches under .cache, this machine's Go, go.sum as it is. */
function goEnv() {
  return {
    ...process.env,
    GOMODCACHE: path.join(go.out, 'mod'),
    GOCACHE: path.join(go.out, 'build'),
    GOTOOLCHAIN: 'local',
    GOFLAGS: '-mod=readonly -buildvcs=false',
  };
}

function sourceHash(part, toolchain) {
  const hash = crypto.createHash('sha256').update(toolchain);
  for (const file of part.files) hash.update(`\0${file}\0`).update(fs.readFileSync(path.join(part.sources, file)));
  return hash.digest('hex');
}

function stampMatches(part, hash, outputs) {
  try {
    return JSON.parse(fs.readFileSync(part.stamp, 'utf8')).hash === hash && outputs.every((file) => fs.existsSync(file));
  } catch {
    return false;
  }
}

function writeStamp(part, hash, toolchain, seconds) {
  const stamp = { hash, toolchain, seconds, at: new Date().toISOString() };
  fs.writeFileSync(part.stamp, `${JSON.stringify(stamp, null, 2)}\n`);
}

function lastLines(output) {
  return output.trim().split('\n').slice(-20).join('\n');
}

async function mustRun(what, command, args, options) {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new ServiceError(`${what} failed (exit ${result.code}):\n${lastLines(result.output)}`);
  return result.output;
}

/** The Go peer's binary, built when missing or stale. */
async function buildGo(log) {
  const goBin = which('go', ['/usr/local/go/bin', '/usr/lib/go/bin']);
  // go.mod names a Go that Debian's golang-go is too old for: no apt fallback here.
  if (!goBin)
    throw new ServiceError('Go (1.26 or newer, as go.mod of test/interop/codecs/go says) is needed for the codec test: put go on PATH');
  const version = (await mustRun('go env GOVERSION', goBin, ['env', 'GOVERSION'], { env: goEnv() })).trim();
  const hash = sourceHash(go, version);
  if (stampMatches(go, hash, [go.binary])) return go.binary;
  const t0 = Date.now();
  log(`building the Go peer with ${version}`);
  fs.mkdirSync(go.out, { recursive: true });
  const tmp = `${go.binary}.${process.pid}.tmp`;
  await mustRun('go build (test/interop/codecs/go)', goBin, ['build', '-o', tmp, '.'], { cwd: go.sources, env: goEnv() });
  fs.renameSync(tmp, go.binary);
  const seconds = (Date.now() - t0) / 1000;
  writeStamp(go, hash, version, seconds);
  log(`Go peer ready in ${seconds.toFixed(1)}s`);
  return go.binary;
}

/** `java`, `javac` and `mvn`, installing Debian's JDK and Maven when one is missing. */
async function javaTools(log) {
  const find = () => ({ java: which('java'), javac: which('javac'), mvn: which('mvn') });
  let tools = find();
  if (!tools.java || !tools.javac || !tools.mvn) {
    if (!(await canAptInstall())) {
      throw new ServiceError('java, javac and mvn are needed for the codec test: install a JDK (11 or newer) and Maven');
    }
    await aptInstall(['default-jdk-headless', 'maven'], { log });
    tools = find();
    if (!tools.java || !tools.javac || !tools.mvn)
      throw new ServiceError('apt-get installed a JDK and Maven but java, javac or mvn is still missing');
  }
  return tools;
}

/** The Java peer's class path, its jars fetched and Codec.java compiled when missing or stale. */
async function buildJava(log) {
  const tools = await javaTools(log);
  // The JDK's real path names its version (/usr/lib/jvm/java-17-openjdk-amd64/bin/javac).
  const toolchain = `${fs.realpathSync(tools.javac)} ${fs.realpathSync(tools.java)}`;
  const hash = sourceHash(java, toolchain);
  const classFile = path.join(java.classes, 'Codec.class');
  const classpath = `${java.classes}${path.delimiter}${path.join(java.lib, '*')}`;
  if (stampMatches(java, hash, [classFile])) return { java: tools.java, classpath };
  const t0 = Date.now();
  log("fetching the Java peer's jars with Maven and compiling it");
  fs.rmSync(java.lib, { recursive: true, force: true });
  fs.rmSync(java.classes, { recursive: true, force: true });
  fs.mkdirSync(java.classes, { recursive: true });
  await mustRun(
    'mvn dependency:copy-dependencies (test/interop/codecs/java/pom.xml)',
    tools.mvn,
    [
      '-B',
      '-q',
      '-f',
      path.join(java.sources, 'pom.xml'),
      `-Dmaven.repo.local=${path.join(java.out, 'm2')}`,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${java.lib}`,
    ],
    { cwd: java.sources },
  );
  await mustRun('javac Codec.java', tools.javac, [
    '-Xlint:all',
    '-Werror',
    '-d',
    java.classes,
    '-cp',
    path.join(java.lib, '*'),
    path.join(java.sources, 'Codec.java'),
  ]);
  const seconds = (Date.now() - t0) / 1000;
  writeStamp(java, hash, toolchain, seconds);
  log(`Java peer ready in ${seconds.toFixed(1)}s`);
  return { java: tools.java, classpath };
}

/**
 * Makes sure every peer can run, building the Go and Java ones when missing or stale, and
 * returns how to start each: `{ name: { command, args } }`. Each reads header values on stdin,
 * one a line, and prints one JSON line per value (see {@link runPeer}).
 */
export async function ensureCodecPeers({ log = defaultLog } = {}) {
  const built = await withLock(lockFile, async () => ({ go: await buildGo(log), java: await buildJava(log) }), { log });
  const { python } = await ensurePythonEnv({ log });
  const sentry = path.join(sources, 'sentry', 'peer.cjs');
  return {
    go: { command: built.go, args: [] },
    java: { command: built.java.java, args: ['-cp', built.java.classpath, 'Codec'] },
    python: { command: python, args: [path.join(sources, 'python', 'codec.py')] },
    sentry11: { command: process.execPath, args: [sentry, '@sentry/node'] },
    sentry10: { command: process.execPath, args: [sentry, 'sentry-node10'] },
  };
}

/**
 * Runs a peer on `inputs` (header values without line breaks) and resolves the JSON lines it
 * printed, parsed; rejects with its stderr when it exits non-zero or prints something else.
 */
export function runPeer(peer, inputs, { timeoutMs = 120_000 } = {}) {
  for (const input of inputs) {
    if (/[\r\n]/.test(input)) throw new TypeError('runPeer: an input holds a line break');
  }
  return new Promise((resolve, reject) => {
    const child = spawn(peer.command, peer.args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${path.basename(peer.command)} ${peer.args.join(' ')} exited ${code ?? signal}:\n${lastLines(stderr)}`));
        return;
      }
      try {
        resolve(
          stdout
            .split('\n')
            .filter((line) => line.length > 0)
            .map((line) => JSON.parse(line)),
        );
      } catch (err) {
        reject(new Error(`${path.basename(peer.command)} printed a line that is not JSON (${err.message}):\n${stdout.slice(0, 2000)}`));
      }
    });
    child.stdin.on('error', () => {}); // a peer that died early is reported by 'close'
    child.stdin.end(inputs.map((input) => `${input}\n`).join(''));
  });
}

// --- CLI -------------------------------------------------------------------------------------

async function main(args) {
  if (args.length > 0 && args[0] !== 'ensure') {
    console.error('usage: node scripts/codec-peers.mjs [ensure]');
    return 2;
  }
  const t0 = Date.now();
  const peers = await ensureCodecPeers();
  for (const [name, peer] of Object.entries(peers)) console.log(`${name}: ${peer.command} ${peer.args.join(' ')}`);
  console.log(`(${((Date.now() - t0) / 1000).toFixed(2)}s)`);
  return 0;
}

if (isMain(import.meta.url)) runCli(main);
