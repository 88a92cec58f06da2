// Where the integration tests find their servers. test/setup/services.ts (the global setup of
// the `integration` vitest project) sets both variables before any worker starts.

function required(name: 'KAFKA_BROKERS' | 'REDIS_URL'): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set. Integration tests get it from test/setup/services.ts: run them with ` +
        '`npx vitest run --project integration` (or set it to a running server yourself).',
    );
  }
  return value;
}

/** Kafka bootstrap addresses, ready for `new Kafka({ brokers })`. */
export function kafkaBrokers(): string[] {
  return required('KAFKA_BROKERS')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}

/** A redis:// URL, ready for `new Redis(url)` / BullMQ's `connection`. */
export function redisUrl(): string {
  return required('REDIS_URL');
}
