#!/usr/bin/env node
// The Python environment of the interop tests: a virtual environment made with the machine's
// python3, holding exactly the packages pinned in test/interop/python/requirements.txt (the stock
// OpenTelemetry API and SDK, aiokafka, the Python BullMQ), all from PyPI.
//
//   node scripts/python.mjs            (creates or refreshes it, prints the interpreter's path)
//
// Env: PYTHON (the interpreter to build the environment with; default python3 on PATH).
//
// Everything lives in .cache/python/: venv/ and venv/agentops-stamp.json, which records the hash
// of the requirements file and the interpreter the environment was made with. A call that finds a
// matching stamp returns at once without starting Python; a changed requirements file (or a
// removed interpreter) rebuilds the environment from scratch.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { aptInstall, canAptInstall } from './lib/apt.mjs';
import { cacheRoot, isMain, repoRoot, run, runCli, ServiceError, which, withLock } from './lib/daemon.mjs';

const dir = path.join(cacheRoot, 'python');
const venv = path.join(dir, 'venv');
const venvPython = path.join(venv, 'bin', 'python');
const stampFile = path.join(venv, 'agentops-stamp.json');
const lockFile = path.join(dir, 'install.lock');
const requirementsFile = path.join(repoRoot, 'test', 'interop', 'python', 'requirements.txt');

// opentelemetry-sdk 1.45 and bullmq 3.4 both require Python 3.10 or newer.
const MIN_VERSION = [3, 10];

const defaultLog = (msg) => console.log(`[python] ${msg}`);

function requirementsHash() {
  return crypto.createHash('sha256').update(fs.readFileSync(requirementsFile)).digest('hex');
}

/** The stamp of a complete environment for the current requirements, or null. */
function currentStamp(hash) {
  try {
    const stamp = JSON.parse(fs.readFileSync(stampFile, 'utf8'));
    // The venv's python is a symlink to the interpreter it was made with: gone with it.
    fs.realpathSync(venvPython);
    return stamp.requirements === hash ? stamp : null;
  } catch {
    return null;
  }
}

/**
 * Makes sure .cache/python/venv holds exactly the pinned requirements, building it when missing
 * or stale. Returns { python, venv }: the environment's interpreter and its directory.
 */
export async function ensurePythonEnv({ log = defaultLog } = {}) {
  const hash = requirementsHash();
  if (currentStamp(hash)) return { python: venvPython, venv };
  return withLock(
    lockFile,
    async () => {
      // Whoever held the lock before us may have just built it.
      if (currentStamp(hash)) return { python: venvPython, venv };
      await build(hash, log);
      return { python: venvPython, venv };
    },
    { log },
  );
}

async function build(hash, log) {
  const t0 = Date.now();
  const base = await baseInterpreter(log);
  log(`building ${path.relative(repoRoot, venv)} with Python ${base.version.join('.')} (${base.executable})`);
  fs.mkdirSync(dir, { recursive: true });
  // --clear: a stale environment (other requirements, other interpreter) is rebuilt, not patched.
  let created = await run(base.executable, ['-m', 'venv', '--clear', venv]);
  if (created.code !== 0 && /ensurepip|python3(\.\d+)?-venv/.test(created.output) && (await canAptInstall())) {
    // Debian's python3 comes without ensurepip; its venv module is a package of its own.
    await aptInstall([`python${base.version[0]}.${base.version[1]}-venv`], { log });
    created = await run(base.executable, ['-m', 'venv', '--clear', venv]);
  }
  if (created.code !== 0) throw new ServiceError(`python -m venv failed (exit ${created.code}):\n${lastLines(created.output)}`);

  const installed = await run(venvPython, [
    '-m',
    'pip',
    'install',
    '--no-input',
    '--disable-pip-version-check',
    '--requirement',
    requirementsFile,
  ]);
  if (installed.code !== 0) {
    throw new ServiceError(
      `pip install -r ${path.relative(repoRoot, requirementsFile)} failed (exit ${installed.code}):\n${lastLines(installed.output)}`,
    );
  }
  const checked = await run(venvPython, ['-m', 'pip', 'check', '--disable-pip-version-check']);
  if (checked.code !== 0) throw new ServiceError(`pip check failed:\n${lastLines(checked.output)}`);

  // Written last: an interrupted build leaves no stamp and is rebuilt by the next call.
  const stamp = { requirements: hash, interpreter: base.executable, version: base.version.join('.'), at: new Date().toISOString() };
  fs.writeFileSync(stampFile, `${JSON.stringify(stamp, null, 2)}\n`);
  log(`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}

/** The real interpreter behind PYTHON or python3 (not a pyenv or asdf shim) and its version. */
async function baseInterpreter(log) {
  let command = process.env.PYTHON || which('python3', ['/usr/bin', '/usr/local/bin']);
  if (!command) {
    if (!(await canAptInstall())) {
      throw new ServiceError('python3 (3.10 or newer) is needed for the interop tests: install it, or point PYTHON at one');
    }
    await aptInstall(['python3', 'python3-venv'], { log });
    command = which('python3', ['/usr/bin']);
    if (!command) throw new ServiceError('apt-get installed python3 but no python3 binary was found');
  }
  const probe = await run(command, ['-c', 'import json, sys; print(json.dumps([sys.executable, list(sys.version_info[:3])]))']);
  if (probe.code !== 0) throw new ServiceError(`${command} does not run (exit ${probe.code}):\n${lastLines(probe.output)}`);
  let executable;
  let version;
  try {
    [executable, version] = JSON.parse(probe.output.trim().split('\n').pop());
  } catch {
    throw new ServiceError(`${command} printed something unexpected:\n${lastLines(probe.output)}`);
  }
  if (version[0] < MIN_VERSION[0] || (version[0] === MIN_VERSION[0] && version[1] < MIN_VERSION[1])) {
    throw new ServiceError(
      `${command} is Python ${version.join('.')}; the interop tests need ${MIN_VERSION.join('.')} or newer (set PYTHON)`,
    );
  }
  return { executable, version };
}

function lastLines(output) {
  return output.trim().split('\n').slice(-20).join('\n');
}

// --- CLI -------------------------------------------------------------------------------------

async function main(args) {
  if (args.length > 0 && args[0] !== 'ensure') {
    console.error('usage: node scripts/python.mjs [ensure]');
    return 2;
  }
  const t0 = Date.now();
  const env = await ensurePythonEnv();
  console.log(`${env.python} (${((Date.now() - t0) / 1000).toFixed(2)}s)`);
  return 0;
}

if (isMain(import.meta.url)) runCli(main);
