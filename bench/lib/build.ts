/**
 * The code under test, compiled the way the package ships it (tsup, ESM, target node20, the same
 * externals), into a private directory: running src/ through tsx would add its own helpers
 * (esbuild's keepNames wraps every named closure in a `__name` call) to each request's cost, and
 * dist/ may be rebuilt by a test run while the bench is using it.
 *
 * Children import the library through {@link lib}.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Where the bench's build lives (under node_modules/.cache: never committed, never packed). */
export const BUILD_DIR = fileURLToPath(new URL('../../node_modules/.cache/agentops-bench/', import.meta.url));

const ENTRIES = {
  index: 'src/index.ts',
  express: 'adapters/express/index.ts',
  fastify: 'adapters/fastify/index.ts',
  kafkajs: 'adapters/kafkajs/index.ts',
  bullmq: 'adapters/bullmq/index.ts',
  internals: 'bench/lib/internals.ts',
} as const;

/** Builds the library into {@link BUILD_DIR}. */
export async function buildLibrary(): Promise<void> {
  const { build } = await import('tsup');
  await build({
    entry: ENTRIES,
    format: ['esm'],
    outDir: BUILD_DIR,
    splitting: true,
    sourcemap: false,
    dts: false,
    clean: true,
    silent: true,
    target: 'node20',
    external: ['@opentelemetry/api', 'express', 'fastify', 'kafkajs', 'bullmq'],
  });
}

type Entries = {
  index: typeof import('../../src/index.js');
  express: typeof import('../../adapters/express/index.js');
  fastify: typeof import('../../adapters/fastify/index.js');
  kafkajs: typeof import('../../adapters/kafkajs/index.js');
  bullmq: typeof import('../../adapters/bullmq/index.js');
  internals: typeof import('./internals.js');
};

/** One entry of the built library (typed as its source). */
export async function lib<K extends keyof Entries>(entry: K): Promise<Entries[K]> {
  const file = `${BUILD_DIR}${entry}.js`;
  if (!existsSync(file)) throw new Error(`${file} is missing: the bench builds it first (bench/run.ts)`);
  return (await import(pathToFileURL(file).href)) as Entries[K];
}
