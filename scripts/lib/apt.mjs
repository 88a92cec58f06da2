// Installs a Debian package for the project's scripts (redis-server for the tests, chromium for
// the session view's browser test), as root or through passwordless sudo as CI runners have.

import { run, ServiceError, which } from './daemon.mjs';

/** True when `apt-get install` can run here without a password prompt. */
export async function canAptInstall() {
  if (!which('apt-get')) return false;
  if (process.getuid?.() === 0) return true;
  return which('sudo') !== null && (await run('sudo', ['-n', 'true'], { timeoutMs: 10_000 })).code === 0;
}

/** apt-get update, then install `packages`; throws a ServiceError with apt's last lines on failure. */
export async function aptInstall(packages, { log = () => {} } = {}) {
  const isRoot = process.getuid?.() === 0;
  const aptGet = async (...args) => {
    // Wait for a concurrent apt/dpkg (unattended-upgrades on fresh VMs) instead of failing.
    const argv = ['-o', 'DPkg::Lock::Timeout=120', ...args];
    const result = isRoot
      ? await run('apt-get', argv, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
      : await run('sudo', ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...argv]);
    if (result.code !== 0) {
      const output = result.output.trim().split('\n').slice(-20).join('\n');
      throw new ServiceError(`apt-get ${args.join(' ')} failed (exit ${result.code}):\n${output}`);
    }
  };
  log(`installing ${packages.join(', ')} with apt-get (one-time)`);
  await aptGet('update', '-q');
  await aptGet('install', '-y', '-q', '--no-install-recommends', ...packages);
}
