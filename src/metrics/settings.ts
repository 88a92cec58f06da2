/**
 * What `init` hands the recording side: the price table and the cardinality limit. Validated by
 * src/sdk before they get here. Kept on `globalThis` under a registered symbol, like the shared
 * state, so that the ESM and CJS builds of the package price and bound alike.
 */

/** Prices of one model in US dollars per million tokens. */
export interface ModelPrice {
  /** Input (prompt) tokens, cached ones excepted. */
  input: number;
  /** Output (completion) tokens. */
  output: number;
  /** Input tokens served from the provider's cache (default: the `input` price, as providers without a cache discount bill them). */
  cachedInput?: number;
}

/** The recording settings. */
export interface MetricSettings {
  /** Prices by model name (the response model's price is used when it has one, else the request model's). */
  prices: ReadonlyMap<string, Readonly<ModelPrice>>;
  /** Distinct values an attribute whose value the application chooses (entity, model, destination names) keeps per instrument before `_OTHER`. */
  cardinalityLimit: number;
}

/** Distinct entity, model and destination names kept per instrument by default. */
export const DEFAULT_CARDINALITY_LIMIT = 100;

const SETTINGS_KEY = Symbol.for('agentops-propagation.metric-settings.v1');

type GlobalWithSettings = typeof globalThis & { [SETTINGS_KEY]?: MetricSettings };

const DEFAULTS: MetricSettings = { prices: new Map(), cardinalityLimit: DEFAULT_CARDINALITY_LIMIT };

/** The settings in force (defaults until `init` sets them). */
export function metricSettings(): MetricSettings {
  return (globalThis as GlobalWithSettings)[SETTINGS_KEY] ?? DEFAULTS;
}

/** Replaces the settings (init), or restores the defaults (its shutdown, with undefined). */
export function setMetricSettings(settings: MetricSettings | undefined): void {
  const g = globalThis as GlobalWithSettings;
  if (settings === undefined) delete g[SETTINGS_KEY];
  else g[SETTINGS_KEY] = settings;
}
