#!/usr/bin/env node
// Brings up (or down) everything the integration tests and the demo talk to: Kafka, Redis and
// Jaeger (built once with Go on the first `up`, a few minutes; see scripts/jaeger.mjs).
//
//   node scripts/services.mjs up | down | status      (npm run services:up / :down / :status)
//
// `up` starts only what does not already answer (KAFKA_BROKERS / REDIS_URL / JAEGER_URL are respected) and
// records what it started in .cache/services-started.json; `down` stops exactly those, so a
// broker, Redis or Jaeger you run yourself (docker compose, a system service) is never touched.

import fs from 'node:fs';
import path from 'node:path';
import { cacheRoot, isMain, runCli, ServiceError } from './lib/daemon.mjs';
import { ensureJaeger, jaegerStatus, stopJaeger } from './jaeger.mjs';
import { ensureKafka, kafkaStatus, stopKafka } from './kafka.mjs';
import { ensureRedis, redactRedisUrl, redisStatus, redisTarget, stopRedis } from './redis.mjs';

const RECORD = path.join(cacheRoot, 'services-started.json');

// record(): what `down` needs to stop the instance later, whatever the environment is by then.
const SERVICES = {
  kafka: {
    ensure: ensureKafka,
    address: (handle) => handle.brokers.join(','),
    record: (handle) => ({ brokers: handle.brokers }),
    stop: () => stopKafka(),
    status: kafkaStatus,
  },
  redis: {
    ensure: ensureRedis,
    address: (handle) => redactRedisUrl(handle.url),
    record: (handle) => ({ url: redactRedisUrl(handle.url), port: redisTarget({ REDIS_URL: handle.url }).port }),
    stop: (entry) => stopRedis({ port: entry.port }),
    status: redisStatus,
  },
  jaeger: {
    ensure: ensureJaeger,
    address: (handle) => handle.url,
    record: (handle) => ({ url: handle.url }),
    stop: () => stopJaeger(),
    status: jaegerStatus,
  },
};

/** { [name]: entry } of the services `up` started and `down` has not stopped yet. */
function readRecord() {
  try {
    const started = JSON.parse(fs.readFileSync(RECORD, 'utf8')).started ?? {};
    return Object.fromEntries(Object.entries(started).filter(([name]) => name in SERVICES));
  } catch {
    return {};
  }
}

function writeRecord(started) {
  if (Object.keys(started).length === 0) {
    fs.rmSync(RECORD, { force: true });
    return;
  }
  fs.mkdirSync(path.dirname(RECORD), { recursive: true });
  fs.writeFileSync(RECORD, `${JSON.stringify({ started, at: new Date().toISOString() }, null, 2)}\n`);
}

/**
 * Ensures every service in parallel. Returns { results, failures } where results maps name to
 * { address, started, seconds }. Services started here are recorded even when another one
 * fails, so `down` can still clean them up.
 */
export async function servicesUp() {
  const names = Object.keys(SERVICES);
  const settled = await Promise.allSettled(
    names.map(async (name) => {
      const t0 = Date.now();
      const handle = await SERVICES[name].ensure();
      return { handle, address: SERVICES[name].address(handle), started: handle.started, seconds: (Date.now() - t0) / 1000 };
    }),
  );
  const results = {};
  const failures = {};
  settled.forEach((s, i) => {
    if (s.status === 'fulfilled') results[names[i]] = s.value;
    else failures[names[i]] = s.reason;
  });
  // Merged into the previous record: a second `up` finds the first one's services already
  // answering (started: false), yet they are still ours to stop.
  const record = readRecord();
  for (const [name, r] of Object.entries(results)) {
    if (r.started) record[name] = SERVICES[name].record(r.handle);
  }
  writeRecord(record);
  return { results, failures };
}

/** Stops what `up` recorded. Returns the recorded names and those actually stopped. */
export async function servicesDown() {
  const record = readRecord();
  const stopped = await Promise.all(
    Object.entries(record).map(async ([name, entry]) => ((await SERVICES[name].stop(entry)) ? name : null)),
  );
  writeRecord({});
  return { recorded: Object.keys(record), stopped: stopped.filter(Boolean) };
}

async function main([command]) {
  switch (command) {
    case 'up': {
      const { results, failures } = await servicesUp();
      for (const [name, r] of Object.entries(results)) {
        console.log(
          r.started ? `${name}: started at ${r.address} in ${r.seconds.toFixed(1)}s` : `${name}: already answering at ${r.address}`,
        );
      }
      for (const [name, err] of Object.entries(failures)) {
        console.error(`${name}: FAILED\n${err instanceof ServiceError ? err.message : (err?.stack ?? err)}`);
      }
      if (Object.keys(failures).length > 0) return 1;
      console.log(
        `tests and the demo will use KAFKA_BROKERS=${results.kafka.address} REDIS_URL=${results.redis.address} JAEGER_URL=${results.jaeger.address}`,
      );
      return 0;
    }
    case 'down': {
      const { recorded, stopped } = await servicesDown();
      if (recorded.length === 0) console.log('nothing recorded as started by `services up`; nothing to stop');
      for (const name of recorded) {
        console.log(stopped.includes(name) ? `${name}: stopped` : `${name}: was no longer running`);
      }
      return 0;
    }
    case 'status': {
      const recorded = Object.keys(readRecord());
      const statuses = await Promise.all(Object.entries(SERVICES).map(async ([name, s]) => [name, await s.status()]));
      let allUp = true;
      for (const [name, s] of statuses) {
        allUp &&= s.answering;
        const where = s.brokers?.join(',') ?? s.url;
        const owner = recorded.includes(name) ? ', started by services up' : s.ownPid ? `, started by scripts/${name}.mjs` : '';
        const pid = s.ownPid ? `, pid ${s.ownPid}` : '';
        console.log(`${name}: ${s.answering ? 'up' : `down (${s.error})`} at ${where}${owner}${pid}`);
      }
      return allUp ? 0 : 1;
    }
    default:
      console.error('usage: node scripts/services.mjs up|down|status');
      return 2;
  }
}

if (isMain(import.meta.url)) runCli(main);
