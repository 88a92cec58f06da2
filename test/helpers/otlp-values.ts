// OTLP/JSON key-value lists (and protobuf decoded to the same shape) as plain attribute records,
// for the test receivers of traces and metrics.

/** One OTLP KeyValue: `{ key, value: { stringValue | intValue | … } }`. */
export interface RawKeyValue {
  key: string;
  value?: Record<string, unknown>;
}

/** An OTLP AnyValue as a plain value (intValue as a number, arrays element by element). */
function anyValue(v: Record<string, unknown> | undefined): unknown {
  if (v === undefined) return undefined;
  const [kind, value] = Object.entries(v)[0] ?? [];
  if (kind === 'intValue') return Number(value);
  if (kind === 'arrayValue') return ((value as { values?: Record<string, unknown>[] }).values ?? []).map(anyValue);
  return value;
}

/** A KeyValue list as a record. */
export function attributes(list: RawKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
}
