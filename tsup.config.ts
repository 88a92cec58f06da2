import { defineConfig } from 'tsup';

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
  format: ['esm', 'cjs'],
  dts: true,
  // Shared chunks keep one copy of src/ per format; state that must survive an ESM+CJS double
  // load lives on globalThis (src/state.ts).
  splitting: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  external: ['@opentelemetry/api', 'express', 'fastify', 'kafkajs', 'bullmq'],
});
