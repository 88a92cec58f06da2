import ts from 'typescript';
import { defineConfig, type Plugin } from 'vitest/config';

// Vite's transformer leaves TypeScript 5 standard decorators as they are, and Node cannot run
// them; users compile them with tsc, so test files that use them are compiled by tsc too:
// `*.decorators.test.ts` with standard decorators, `*.legacy-decorators.test.ts` with
// `experimentalDecorators: true` (NestJS, TypeORM projects).
const tscForDecorators: Plugin = {
  name: 'tsc-for-decorator-tests',
  enforce: 'pre',
  transform(code, id) {
    const legacy = id.endsWith('.legacy-decorators.test.ts');
    if (!legacy && !id.endsWith('.decorators.test.ts')) return undefined;
    const out = ts.transpileModule(code, {
      fileName: id,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        sourceMap: true,
        ...(legacy ? { experimentalDecorators: true } : {}),
      },
    });
    return { code: out.outputText, map: out.sourceMapText };
  },
};

// Two projects: `unit` needs nothing running; `integration` talks to real servers, a real Kafka
// broker and a real Redis, which its global setup starts when none is reachable.
export default defineConfig({
  plugins: [tscForDecorators],
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/core/**/*.test.ts', 'test/propagation/**/*.test.ts', 'test/package/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: [
            'test/http/**/*.test.ts',
            'test/kafka/**/*.test.ts',
            'test/bullmq/**/*.test.ts',
            'test/example/**/*.test.ts',
            'test/reliability/**/*.test.ts',
            'test/sdk/**/*.test.ts',
            'test/interop/**/*.test.ts',
            'test/coexist/**/*.test.ts',
            'test/metrics/**/*.test.ts',
          ],
          globalSetup: ['test/setup/services.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Integration files share one broker and one Redis; run them one at a time so a slow
          // rebalance in one file does not starve another.
          fileParallelism: false,
        },
      },
      {
        // `npm run test:long`: soak, fault and million-case fuzz runs; CI runs it after `npm test`.
        extends: true,
        test: {
          name: 'long',
          include: ['test/long/**/*.test.ts'],
          globalSetup: ['test/setup/services.ts'],
          testTimeout: 1_200_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
