import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing running; `integration` talks to real servers, a real Kafka
// broker and a real Redis, which its global setup starts when none is reachable.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/core/**/*.test.ts', 'test/propagation/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: [
            'test/http/**/*.test.ts',
            'test/kafka/**/*.test.ts',
            'test/bullmq/**/*.test.ts',
            'test/example/**/*.test.ts',
          ],
          globalSetup: ['test/setup/services.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Integration files share one broker and one Redis; run them one at a time so a slow
          // rebalance in one file does not starve another.
          fileParallelism: false,
        },
      },
    ],
  },
});
