// Types for scripts/python.mjs, which the interop tests (TypeScript) import.

export interface PythonEnv {
  /** The virtual environment's interpreter (absolute path). */
  python: string;
  /** The virtual environment's directory (.cache/python/venv). */
  venv: string;
}

/** Builds .cache/python/venv from test/interop/python/requirements.txt when missing or stale. */
export function ensurePythonEnv(options?: { log?: (message: string) => void }): Promise<PythonEnv>;
