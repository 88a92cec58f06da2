import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineConfig } from 'tsup';

const outDir = 'dist';

/**
 * tsup's CommonJS pass (splitting) writes each output file's absolute path into its map (`file`
 * and the first of `sources`), which would publish the build machine's path; make every source relative to dist/.
 */
async function relativeSourceMapPaths(): Promise<void> {
  const dir = path.resolve(outDir);
  for (const file of await readdir(dir)) {
    if (!file.endsWith('.map')) continue;
    const mapPath = path.join(dir, file);
    const text = await readFile(mapPath, 'utf8');
    const map = JSON.parse(text) as { file?: string; sources?: string[]; sourceRoot?: string };
    const relative = (p: string) => (path.isAbsolute(p) ? path.relative(dir, p).split(path.sep).join('/') : p);
    map.sources = (map.sources ?? []).map(relative);
    if (map.file !== undefined) map.file = relative(map.file);
    delete map.sourceRoot;
    const fixed = JSON.stringify(map);
    if (fixed !== text) await writeFile(mapPath, fixed);
  }
}

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    hop: 'src/engine.ts',
    express: 'adapters/express/index.ts',
    fastify: 'adapters/fastify/index.ts',
    http: 'adapters/http/index.ts',
    kafkajs: 'adapters/kafkajs/index.ts',
    bullmq: 'adapters/bullmq/index.ts',
  },
  outDir,
  format: ['esm', 'cjs'],
  dts: true,
  // Shared chunks keep one copy of src/ per format; state that must survive an ESM+CJS double
  // load lives on globalThis (src/state.ts).
  splitting: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: ['@opentelemetry/api', 'express', 'fastify', 'kafkajs', 'bullmq'],
  onSuccess: relativeSourceMapPaths,
});
