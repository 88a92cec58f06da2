/**
 * `npm run bench [-- --quick] [-- --node <path>] [-- --only http,kafka,bullmq] [-- --rounds N]
 *  [-- --processes N] [-- --ref <git ref>] [-- --baseline <git ref>] [-- --sessions N] [-- --profile] [-- --no-write]`
 *
 * Runs every scenario in child processes of the chosen Node binary, prints the tables, and writes
 * bench/results/latest.{json,md} plus node<major>[-quick].{json,md}. The library is the working
 * tree (or --ref), built privately; with --baseline, an older commit's build runs as extra `ours` rows in the
 * same alternating rounds. Each row runs in --processes processes (full mode 3, quick 1), its
 * rounds spread over them. Kafka and Redis are started when not running (and stopped afterwards
 * only if this run started them); wrk is installed when missing.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildRef, buildWorkingTree, type Build } from './lib/build.js';
import { canPin } from './lib/child.js';
import { markdownReport, markdownTable, type RunInfo, type ScenarioResult } from './lib/report.js';
import { runBullmq } from './scenarios/bullmq.js';
import { runHttp } from './scenarios/http.js';
import { runKafka } from './scenarios/kafka.js';
import { writeSessionFiles } from './lib/sessions.js';
import { ensureWrk } from './lib/wrk.js';

const SCENARIOS = ['http', 'kafka', 'bullmq'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Options {
  quick: boolean;
  node: string;
  only: Scenario[];
  rounds: number | undefined;
  processes: number | undefined;
  write: boolean;
  profile: boolean;
  baseline: string | undefined;
  /** A git ref to measure instead of the working tree. */
  ref: string | undefined;
  sessions: number;
}

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run bench -- [--quick] [--node <path to node or its bin dir>] [--only ${SCENARIOS.join(',')}] [--rounds N] [--processes N] [--ref <git ref>] [--baseline <git ref>] [--sessions N] [--no-write] [--profile]\n`,
  );
  process.exit(2);
}

function positive(arg: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) usage(`${arg} takes a positive integer`);
  return n;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    quick: false,
    node: process.execPath,
    only: [...SCENARIOS],
    rounds: undefined,
    processes: undefined,
    write: true,
    profile: false,
    baseline: undefined,
    ref: undefined,
    sessions: 100,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = () => argv[++i] ?? usage(`${arg} needs a value`);
    if (arg === '--quick') options.quick = true;
    else if (arg === '--no-write') options.write = false;
    else if (arg === '--profile') options.profile = true;
    else if (arg === '--baseline') options.baseline = value();
    else if (arg === '--ref') options.ref = value();
    else if (arg === '--sessions') options.sessions = positive(arg, value());
    else if (arg === '--node') {
      const path = value();
      // A bin directory (what scripts/node24.sh prints) or the binary itself.
      options.node = path.endsWith('/node') ? path : `${path.replace(/\/+$/, '')}/node`;
    } else if (arg === '--only') {
      const names = value().split(',').filter(Boolean);
      for (const name of names) if (!(SCENARIOS as readonly string[]).includes(name)) usage(`unknown scenario ${name}`);
      options.only = names as Scenario[];
    } else if (arg === '--rounds') options.rounds = positive(arg, value());
    else if (arg === '--processes') options.processes = positive(arg, value());
    else usage(`unknown argument ${arg}`);
  }
  return options;
}

function nodeVersion(node: string): string {
  return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

interface ServiceHandle {
  started: boolean;
  stop(): Promise<boolean>;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const cores = cpus().length;
  const pinned = canPin(cores);
  const version = nodeVersion(options.node);
  const built = Date.now();
  const build = options.ref === undefined ? await buildWorkingTree() : await buildRef(options.ref, log);
  const baseline: Build | undefined = options.baseline === undefined ? undefined : await buildRef(options.baseline, log);
  log(
    `built the library under test${baseline !== undefined ? ` and the baseline ${baseline.name}` : ''} in ${Math.round((Date.now() - built) / 1000)} s`,
  );
  const info: RunInfo = {
    date: new Date().toISOString(),
    node: version,
    nodeBinary: options.node,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform} ${process.arch}`,
    mode: options.quick ? 'quick' : 'full',
    pinned,
    scenarios: options.only,
    build: build.name,
    baseline: baseline?.name,
    loadAverage: { start: loadavg()[0] as number },
  };
  log(`bench: ${info.mode} mode, Node ${version} (${options.node}), ${info.cpuModel}, ${cores} cores${pinned ? ', pinned' : ''}`);
  const q = options.quick;
  // --profile: the processes under test write V8 CPU profiles (summarise with bench/lib/cpuprofile.mjs).
  const profileDir = fileURLToPath(new URL('./results/profiles/', import.meta.url));
  const profFlags = options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const rounds = (full: number, quick: number) => options.rounds ?? (q ? quick : full);
  // Processes per row: identical processes differ by several µs for good, so a row's rounds are spread over a few.
  const processes = options.processes ?? (q ? 1 : 3);

  const services: ServiceHandle[] = [];
  const stopServices = async () => {
    for (const s of services.splice(0))
      if (s.started) await s.stop().catch((err: unknown) => log(`stopping a service failed: ${String(err)}`));
  };
  const interrupted = () => {
    void stopServices().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const results: ScenarioResult[] = [];
  const failures: string[] = [];
  // Ensured right before the scenario that needs it: on a shared machine another job may stop a
  // broker it found running while the HTTP rounds went on.
  const ensureKafka = async () => {
    const { ensureKafka } = (await import('../scripts/kafka.mjs')) as typeof import('../scripts/kafka.mjs');
    const kafka = await ensureKafka({ log });
    services.push(kafka);
    process.env.KAFKA_BROKERS = kafka.brokers.join(',');
  };
  const ensureRedis = async () => {
    const { ensureRedis } = (await import('../scripts/redis.mjs')) as typeof import('../scripts/redis.mjs');
    const redis = await ensureRedis({ log });
    services.push(redis);
    process.env.REDIS_URL = redis.url;
  };
  try {
    for (const scenario of options.only) {
      const t0 = Date.now();
      try {
        const common = { node: options.node, build, baseline, sessions: options.sessions, log };
        // What the Kafka and BullMQ scenarios share: worker processes per row and their flags.
        const messaging = {
          ...common,
          rounds: rounds(10, 3),
          warmupRounds: q ? 1 : 3,
          workerCpu: pinned ? 1 : undefined,
          nodeFlags: profFlags,
          processes,
        };
        if (scenario === 'http') {
          await ensureWrk(log);
          results.push(
            await runHttp({
              ...common,
              sessionFiles: await writeSessionFiles(options.sessions, options.node, build.dir),
              rounds: rounds(10, 3),
              duration: q ? 1 : 3,
              warmup: q ? 1 : 2,
              connections: 50,
              serverCpu: pinned ? 1 : undefined,
              loadCpu: pinned ? 0 : undefined,
              frameworks: ['express', 'fastify'],
              serverFlags: profFlags,
              processes,
            }),
          );
        } else if (scenario === 'kafka') {
          await ensureKafka();
          results.push(await runKafka({ ...messaging, messages: q ? 5_000 : 10_000, batchSize: 10 }));
        } else if (scenario === 'bullmq') {
          await ensureRedis();
          results.push(await runBullmq({ ...messaging, jobs: q ? 1_000 : 3_000, concurrency: 10 }));
        }
      } catch (err) {
        // One failed scenario must not throw away the others' rounds.
        const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
        failures.push(`${scenario}: ${message}`);
        log(`${scenario} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
      log(`${scenario}: ${Math.round((Date.now() - t0) / 1000)} s`);
    }
  } finally {
    await stopServices();
  }
  info.durationSeconds = (Date.now() - started) / 1000;
  info.loadAverage.end = loadavg()[0] as number;

  info.failures = failures;
  const markdown = markdownReport(info, results);
  process.stdout.write(`${markdown}\n`);
  if (options.write) {
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const json = `${JSON.stringify({ info, results }, null, 2)}\n`;
    const tag = `node${version.split('.')[0]}${q ? '-quick' : ''}${options.only.length < SCENARIOS.length ? `-${options.only.join('-')}` : ''}`;
    for (const name of ['latest', tag]) {
      writeFileSync(`${dir}${name}.json`, json);
      writeFileSync(`${dir}${name}.md`, `${markdown}\n`);
    }
    log(`written: bench/results/latest.{json,md} and bench/results/${tag}.{json,md}`);
  }
  const missed = results.flatMap((r) => r.checks).filter((c) => !c.pass);
  if (missed.length > 0)
    log(
      `bar missed:\n${markdownTable(
        ['what', 'target', 'measured'],
        missed.map((c) => [c.what, c.target, c.measured]),
      )}`,
    );
  if (failures.length > 0) {
    log(`failed scenarios:\n${failures.join('\n')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
