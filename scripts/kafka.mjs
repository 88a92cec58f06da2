#!/usr/bin/env node
// A local single-node Kafka (KRaft, combined broker + controller on 127.0.0.1) for the
// integration tests, without Docker: the broker jars come from Maven Central through `mvn`, so
// the only prerequisites are a JDK and Maven, both present on stock CI images.
//
//   node scripts/kafka.mjs start | stop | status
//
// Env: KAFKA_BROKERS (use that broker; a single loopback address is started if it does not
// answer), KAFKA_PORT (default 9092), KAFKA_CONTROLLER_PORT (default port + 1),
// KAFKA_VERSION, KAFKA_HEAP_OPTS, KAFKA_START_TIMEOUT_MS, JAVA_HOME.
//
// Everything lives in .cache/kafka/: m2/ (Maven repository), libs/<version>/ (the classpath),
// data/ (KRaft log dirs), logs/ (kafka.out = JVM stdout/stderr, server.log = log4j WARN+),
// server.properties, log4j.properties, cluster-id, kafka.pid.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  cacheRoot,
  fileSize,
  isLoopbackHost,
  isMain,
  ownedPid,
  run,
  runCli,
  ServiceError,
  sleep,
  spawnDetached,
  stopOwned,
  tail,
  tcpAccepts,
  which,
  withLock,
} from './lib/daemon.mjs';

const KAFKA_VERSION = process.env.KAFKA_VERSION || '3.9.2';
const SCALA_VERSION = '2.13';
// Must match the slf4j-api that kafka-clients 3.9.x depends on (1.7.36); without a binding SLF4J
// falls back to NOP and the broker logs nothing at all, which makes start-up failures opaque.
const SLF4J_VERSION = '1.7.36';
// The reload4j Kafka 3.9 ships in its own binary distribution (Kafka < 4 uses log4j 1 config).
const RELOAD4J_VERSION = '1.2.25';
const DEPENDENCY_PLUGIN_VERSION = '3.8.1';

const dir = path.join(cacheRoot, 'kafka');
const paths = {
  dir,
  m2: path.join(dir, 'm2'),
  pom: path.join(dir, 'maven', 'pom.xml'),
  libs: path.join(dir, 'libs', KAFKA_VERSION),
  data: path.join(dir, 'data'),
  logs: path.join(dir, 'logs'),
  out: path.join(dir, 'logs', 'kafka.out'),
  serverLog: path.join(dir, 'logs', 'server.log'),
  config: path.join(dir, 'server.properties'),
  log4j: path.join(dir, 'log4j.properties'),
  clusterId: path.join(dir, 'cluster-id'),
  pid: path.join(dir, 'kafka.pid'),
  lock: path.join(dir, 'start.lock'),
};
// A live pid is only treated as our broker if its command line has both of these.
const PROCESS_MARKERS = ['kafka.Kafka', paths.config];

const defaultLog = (msg) => console.log(`[kafka] ${msg}`);

/** Where the tests should connect, and whether we may start a broker there ourselves. */
export function kafkaTarget(env = process.env) {
  const explicit = env.KAFKA_BROKERS?.trim();
  const brokers = explicit
    ? explicit
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean)
    : [`127.0.0.1:${env.KAFKA_PORT || 9092}`];
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(brokers[0] ?? '');
  if (!match) throw new ServiceError(`cannot parse KAFKA_BROKERS=${explicit} (expected host:port[,host:port])`);
  const host = match[1];
  const port = Number(match[2]);
  return {
    brokers,
    port,
    controllerPort: Number(env.KAFKA_CONTROLLER_PORT || port + 1),
    // Only a single loopback address can be "ours"; anything else is somebody else's cluster.
    local: brokers.length === 1 && isLoopbackHost(host),
    host,
  };
}

/**
 * Resolves { ok: true, brokerCount } once the cluster answers metadata requests, else
 * { ok: false, error }. Never takes longer than timeoutMs.
 */
export async function probeKafka(brokers, timeoutMs = 5_000) {
  let kafkajs;
  try {
    ({ default: kafkajs } = await import('kafkajs'));
  } catch {
    throw new ServiceError('kafkajs is not installed (it is a devDependency): run `npm ci` first');
  }
  const kafka = new kafkajs.Kafka({
    clientId: 'services-probe',
    brokers,
    logLevel: kafkajs.logLevel.NOTHING,
    connectionTimeout: Math.min(1_000, timeoutMs),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  const attempt = (async () => {
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      await admin.listTopics();
      return cluster.brokers.length > 0
        ? { ok: true, brokerCount: cluster.brokers.length }
        : { ok: false, error: 'cluster reports no brokers yet' };
    } catch (err) {
      return { ok: false, error: err?.message ?? String(err) };
    }
  })();
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Makes sure a broker answers at the target address, starting a local one if nothing does.
 * Returns { brokers, started, stop } where stop() is a no-op unless this call started the broker.
 */
export async function ensureKafka({ log = defaultLog } = {}) {
  const target = kafkaTarget();
  const notStarted = { brokers: target.brokers, started: false, stop: async () => false };

  const first = await probeKafka(target.brokers);
  if (first.ok) return notStarted;
  if (!target.local) {
    throw new ServiceError(
      `KAFKA_BROKERS=${target.brokers.join(',')} does not answer (${first.error}). ` +
        'A local broker is only started for a single 127.0.0.1/localhost address.',
    );
  }

  const java = findJava();
  if (!java) throw new ServiceError(missingToolsHelp('java'));

  return withLock(
    paths.lock,
    async () => {
      // Whoever held the lock before us may have just started it.
      if ((await probeKafka(target.brokers)).ok) return notStarted;

      const ownPid = ownedPid(paths.pid, PROCESS_MARKERS);
      if (ownPid !== null) {
        // One broker per checkout: it owns .cache/kafka/data, which Kafka locks.
        const runningPort = configuredPort();
        if (runningPort !== undefined && runningPort !== target.port) {
          throw new ServiceError(
            `a broker started by this script already runs on 127.0.0.1:${runningPort} (pid ${ownPid}). ` +
              `Use that address, or stop it first: node scripts/kafka.mjs stop`,
          );
        }
        // Left by an interrupted start (Ctrl-C, a killed test run). It may merely be slow under
        // load, so give it a chance before replacing it.
        log(`a broker this script started earlier (pid ${ownPid}) is not answering yet; waiting for it`);
        if ((await waitUntilReady(target, 30_000, () => ownedPid(paths.pid, PROCESS_MARKERS) === null)).ok) {
          return notStarted;
        }
        log('it never answered; restarting it');
        await stopKafka({ log });
      }
      if (await tcpAccepts(target.host, target.port)) {
        throw new ServiceError(
          `something listens on ${target.host}:${target.port} but does not answer as a Kafka broker. ` +
            'Stop it, or set KAFKA_PORT / KAFKA_BROKERS to another address.',
        );
      }

      await ensureJars(log);
      writeConfig(target);
      await formatStorage(java);
      const pid = await startBroker(java, target, log);
      return { brokers: target.brokers, started: true, pid, stop: () => stopKafka({ log }) };
    },
    { log },
  );
}

/** Stops the broker this script started (if it is still running). Returns true if it stopped one. */
export function stopKafka({ log = defaultLog } = {}) {
  return stopOwned({ pidFile: paths.pid, markers: PROCESS_MARKERS, timeoutMs: 30_000, log });
}

/** Snapshot for `status`: is something answering, and is it the broker we started? */
export async function kafkaStatus() {
  const target = kafkaTarget();
  const probe = await probeKafka(target.brokers);
  return { brokers: target.brokers, answering: probe.ok, error: probe.error, ownPid: ownedPid(paths.pid, PROCESS_MARKERS) };
}

// --- installation ----------------------------------------------------------------------------

function findJava() {
  const home = process.env.JAVA_HOME;
  if (home) {
    const candidate = path.join(home, 'bin', 'java');
    if (which(candidate)) return candidate;
  }
  return which('java');
}

function missingToolsHelp(missing) {
  return [
    `Cannot start a local Kafka broker: ${missing} not found.`,
    'A local broker needs a JDK 11+ (17 recommended) and, for the one-time download, Maven 3.6.3+:',
    '  Debian/Ubuntu: apt-get install -y openjdk-17-jdk-headless maven   (macOS: brew install openjdk@17 maven)',
    'Or use a broker you already have:',
    '  docker compose up -d kafka            # then KAFKA_BROKERS=127.0.0.1:9092',
    '  KAFKA_BROKERS=host:port[,host:port]   # any Kafka 0.11+ broker',
  ].join('\n');
}

/** Resolves kafka_2.13 + an SLF4J binding into libs/<version>/ once; later calls are free. */
async function ensureJars(log) {
  const complete = path.join(paths.libs, '.complete');
  if (fs.existsSync(complete)) return;

  const mvn = which('mvn');
  if (!mvn) throw new ServiceError(missingToolsHelp('mvn'));

  fs.mkdirSync(path.dirname(paths.pom), { recursive: true });
  fs.writeFileSync(paths.pom, pomXml());
  // Download into a scratch directory and rename, so an interrupted download is never mistaken
  // for a complete classpath.
  const scratch = `${paths.libs}.partial`;
  fs.rmSync(scratch, { recursive: true, force: true });
  log(`downloading Kafka ${KAFKA_VERSION} from Maven Central (one-time, ~70 MB)`);
  const started = Date.now();
  const result = await run(mvn, [
    '-B',
    '-q',
    '-f',
    paths.pom,
    // A private local repository keeps the whole download inside .cache/ (one directory for CI
    // to cache, one to delete for a clean slate); mirrors in ~/.m2/settings.xml still apply.
    `-Dmaven.repo.local=${paths.m2}`,
    'dependency:copy-dependencies',
    '-DincludeScope=runtime',
    `-DoutputDirectory=${scratch}`,
  ]);
  if (result.code !== 0) {
    throw new ServiceError(`mvn failed (exit ${result.code}) fetching Kafka ${KAFKA_VERSION}:\n${result.output.trim()}`);
  }
  const jars = fs.readdirSync(scratch);
  if (!jars.some((j) => j.startsWith(`kafka_${SCALA_VERSION}-`))) {
    throw new ServiceError(`mvn succeeded but ${scratch} holds no kafka_${SCALA_VERSION} jar`);
  }
  fs.writeFileSync(path.join(scratch, '.complete'), `${new Date().toISOString()}\n`);
  fs.rmSync(paths.libs, { recursive: true, force: true });
  fs.renameSync(scratch, paths.libs);
  log(`downloaded ${jars.length} jars in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

function pomXml() {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by scripts/kafka.mjs: only used to resolve the broker's runtime classpath. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.agentops-propagation</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA_VERSION}</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>${SLF4J_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>${RELOAD4J_VERSION}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>${DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
`;
}

// --- configuration ---------------------------------------------------------------------------

function clusterId() {
  try {
    return fs.readFileSync(paths.clusterId, 'utf8').trim();
  } catch {
    /* first run */
  }
  // If the id file was lost but the log dir survived, keep the id it was formatted with.
  const meta = path.join(paths.data, 'meta.properties');
  const existing = fs.existsSync(meta) ? /^cluster\.id=(.+)$/m.exec(fs.readFileSync(meta, 'utf8'))?.[1] : undefined;
  let id = existing?.trim();
  // Same shape as Kafka's Uuid.randomUuid(): 16 random bytes, URL-safe base64 without padding,
  // never starting with '-' (that would read as a command-line flag).
  while (!id || id.startsWith('-')) id = crypto.randomBytes(16).toString('base64url');
  fs.mkdirSync(paths.dir, { recursive: true });
  fs.writeFileSync(paths.clusterId, `${id}\n`);
  return id;
}

function writeConfig({ port, controllerPort }) {
  fs.mkdirSync(paths.logs, { recursive: true });
  fs.mkdirSync(paths.data, { recursive: true });
  const config = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': paths.data,
    'num.partitions': 1,
    'default.replication.factor': 1,
    'min.insync.replicas': 1,
    // A single node cannot satisfy the default replication factor of 3 for internal topics.
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    // One partition each instead of 50: the first consumer group / transaction otherwise waits
    // for 50 partitions to be created, which costs seconds on a 2-core CI machine.
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.num.partitions': 1,
    // Consumers join immediately instead of waiting 3 s for more members.
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': true,
    'num.network.threads': 2,
    'num.io.threads': 4,
    // Tests create many short-lived topics; keep the disk footprint small.
    'log.retention.hours': 24,
    'log.segment.bytes': 16 * 1024 * 1024,
  };
  const text = Object.entries(config)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  fs.writeFileSync(paths.config, `# Generated by scripts/kafka.mjs on each start; edits are overwritten.\n${text}\n`);
  fs.writeFileSync(
    paths.log4j,
    [
      '# Generated by scripts/kafka.mjs. WARN and above go to logs/server.log.',
      'log4j.rootLogger=WARN, file',
      'log4j.appender.file=org.apache.log4j.RollingFileAppender',
      'log4j.appender.file.File=${kafka.logs.dir}/server.log',
      'log4j.appender.file.MaxFileSize=10MB',
      'log4j.appender.file.MaxBackupIndex=2',
      'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
      '# The one INFO line that says the broker finished starting, handy when reading the log.',
      'log4j.logger.kafka.server.KafkaRaftServer=INFO',
      '',
    ].join('\n'),
  );
}

function jvmArgs() {
  return [
    ...(process.env.KAFKA_HEAP_OPTS || '-Xms256m -Xmx512m').split(/\s+/).filter(Boolean),
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=${pathToFileURL(paths.log4j).href}`,
    `-Dkafka.logs.dir=${paths.logs}`,
    '-cp',
    // Expanded by the JVM itself, not a shell.
    `${paths.libs}${path.sep}*`,
  ];
}

async function formatStorage(java) {
  // --ignore-formatted makes the tool idempotent, but skipping it saves a JVM start (~2 s).
  if (fs.existsSync(path.join(paths.data, 'meta.properties'))) return;
  const result = await run(java, [
    ...jvmArgs(),
    'kafka.tools.StorageTool',
    'format',
    '-t',
    clusterId(),
    '-c',
    paths.config,
    '--ignore-formatted',
  ]);
  if (result.code !== 0) {
    throw new ServiceError(`kafka-storage format failed (exit ${result.code}):\n${result.output.trim()}`);
  }
}

async function startBroker(java, target, log) {
  const timeoutMs = Number(process.env.KAFKA_START_TIMEOUT_MS || 120_000);
  const started = Date.now();
  const logOffsets = [fileSize(paths.out), fileSize(paths.serverLog)];
  const { pid, exited } = spawnDetached({
    command: java,
    args: [...jvmArgs(), 'kafka.Kafka', paths.config],
    cwd: paths.dir,
    logFile: paths.out,
    pidFile: paths.pid,
  });
  log(`started broker pid ${pid} on ${target.brokers[0]}; waiting for it to serve metadata`);

  const status = await waitUntilReady(target, timeoutMs, () => exited() !== null);
  if (status.ok) {
    log(`broker ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return pid;
  }
  const exit = exited();
  if (exit) {
    throw new ServiceError(
      `broker exited during start-up (${exit.error?.message ?? `code ${exit.code}, signal ${exit.signal}`})\n` + logTails(logOffsets),
    );
  }
  await stopKafka({ log });
  throw new ServiceError(
    `broker did not answer within ${timeoutMs / 1000}s (last error: ${status.error}); stopped it.\n${logTails(logOffsets)}`,
  );
}

/** Polls until the broker answers, `gaveUp()` turns true, or timeoutMs passes. */
async function waitUntilReady(target, timeoutMs, gaveUp) {
  const deadline = Date.now() + timeoutMs;
  let last = { ok: false, error: 'not probed yet' };
  while (Date.now() < deadline && !gaveUp()) {
    last = await probeKafka(target.brokers, 3_000);
    if (last.ok) return last;
    await sleep(500);
  }
  return last;
}

/** The PLAINTEXT port in the current server.properties (the running broker's, until rewritten). */
function configuredPort() {
  try {
    const listeners = /^listeners=(.*)$/m.exec(fs.readFileSync(paths.config, 'utf8'))?.[1] ?? '';
    const port = /PLAINTEXT:\/\/[^,]*:(\d+)/.exec(listeners)?.[1];
    return port === undefined ? undefined : Number(port);
  } catch {
    return undefined;
  }
}

// Stack frames bury the one line that matters ("Caused by: ... Address already in use").
const JAVA_STACK_FRAME = /^\s+(at |\.\.\. \d+ more)/;

/** This start's part of the JVM output and of the log4j file. */
function logTails([outFrom, serverLogFrom]) {
  return [
    `--- ${paths.out}`,
    tail(paths.out, { fromByte: outFrom, skip: JAVA_STACK_FRAME }),
    `--- ${paths.serverLog}`,
    tail(paths.serverLog, {
      // A rolled-over server.log is shorter than the recorded offset: show its end instead.
      fromByte: serverLogFrom <= fileSize(paths.serverLog) ? serverLogFrom : 0,
      skip: JAVA_STACK_FRAME,
    }),
  ].join('\n');
}

// --- CLI -------------------------------------------------------------------------------------

async function main([command]) {
  switch (command) {
    case 'start': {
      const t0 = Date.now();
      const kafka = await ensureKafka();
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      console.log(
        kafka.started
          ? `Kafka ready at ${kafka.brokers.join(',')} (started in ${secs}s)`
          : `Kafka already answers at ${kafka.brokers.join(',')}; nothing to do`,
      );
      return 0;
    }
    case 'stop':
      console.log((await stopKafka()) ? 'Kafka stopped' : 'no Kafka broker started by this script is running');
      return 0;
    case 'status': {
      const s = await kafkaStatus();
      const owner = s.ownPid ? `started by this script, pid ${s.ownPid}` : 'not started by this script';
      console.log(
        s.answering
          ? `Kafka answers at ${s.brokers.join(',')} (${owner})`
          : `Kafka does not answer at ${s.brokers.join(',')}: ${s.error}${s.ownPid ? ` (our pid ${s.ownPid} is running)` : ''}`,
      );
      return s.answering ? 0 : 1;
    }
    default:
      console.error('usage: node scripts/kafka.mjs start|stop|status');
      return 2;
  }
}

if (isMain(import.meta.url)) runCli(main);
