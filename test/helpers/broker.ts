// Crashing and restarting the test Kafka broker. The broker is the one scripts/kafka.mjs started
// (the global setup's, or `services up`'s): its pid is in .cache/kafka/kafka.pid. A crash is
// SIGKILL; the restart goes through the same script, which records the new pid, so whoever owns
// the broker (the global setup's teardown, `services down`) still stops it, and it is left running.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ensureKafka, kafkaTarget, probeKafka } from '../../scripts/kafka.mjs';
import { repoRoot } from './child.js';

const PID_FILE = path.join(repoRoot, '.cache', 'kafka', 'kafka.pid');
const CONFIG = path.join(repoRoot, '.cache', 'kafka', 'server.properties');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** The pid of the local broker scripts/kafka.mjs started; throws when the broker is not ours to crash. */
function brokerPid(): number {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(PID_FILE, 'utf8').trim(), 10);
  } catch {
    throw new Error(
      `no ${PID_FILE}: the broker at ${process.env.KAFKA_BROKERS} was not started by scripts/kafka.mjs, so this test cannot crash it`,
    );
  }
  let cmd = '';
  try {
    cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    /* gone */
  }
  if (!cmd.includes('kafka.Kafka') || !cmd.includes(CONFIG))
    throw new Error(`pid ${pid} in ${PID_FILE} is not the broker scripts/kafka.mjs started`);
  return pid;
}

function portAccepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** SIGKILLs the broker and resolves once the process is gone and its port refuses connections. */
export async function crashBroker(): Promise<void> {
  const pid = brokerPid();
  process.kill(pid, 'SIGKILL');
  const { host, port } = kafkaTarget();
  const deadline = Date.now() + 30_000;
  while (alive(pid) || (await portAccepts(host, port))) {
    if (Date.now() > deadline) throw new Error(`broker pid ${pid} still alive 30 s after SIGKILL`);
    await sleep(20);
  }
}

/** Starts the broker again through scripts/kafka.mjs and resolves once it serves metadata. */
export async function restartBroker(): Promise<void> {
  const handle = await ensureKafka({ log: (message) => console.log(`[kafka restart] ${message}`) });
  const probe = await probeKafka(handle.brokers, 10_000);
  if (!probe.ok) throw new Error(`the restarted broker does not answer: ${probe.error}`);
}
