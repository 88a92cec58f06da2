// Types for scripts/lib/apt.mjs, which TypeScript callers (the bench's wrk check) import.

/** True when `apt-get install` can run here without a password prompt. */
export function canAptInstall(): Promise<boolean>;

/** apt-get update, then install `packages`; throws with apt's last lines on failure. */
export function aptInstall(packages: string[], options?: { log?: (message: string) => void }): Promise<void>;
