/**
 * A Context that keeps the entries written over a base context as a short chain of writes. The
 * API's context copies every entry into a new Map and makes three closures at each write; an
 * inbound hop writes about six entries (caller span context, inbound flags, baggage, vetted
 * session, span, RPC metadata) over the same base for every request or message, and code running
 * in the hop's context goes on writing over it. A write here is one small object; a read walks
 * the writes, newest first, then asks the base. A deletion is a write too.
 */
import { ROOT_CONTEXT, type Context } from '@opentelemetry/api';

/** Marks a key deleted by a write (the base may still hold it). */
const DELETED = Symbol('agentops-propagation.deleted-entry');

/** The API's own context class (not exported): its entries are copied at each write, so it never changes under a layer. */
const ApiContext = ROOT_CONTEXT.constructor as new (...args: never[]) => Context;

function isApiContext(ctx: Context): boolean {
  return ctx instanceof ApiContext;
}

/** Written once into a context of another implementation to copy its entries out (its value is never read). */
const SETTLED_KEY = Symbol('agentops-propagation.settled-context');

/** Writes kept in a chain before they are folded into the base (a read walks at most this many). */
const MAX_WRITES = 24;

class LayeredContext implements Context {
  constructor(
    private readonly base: Context,
    private readonly below: LayeredContext | undefined,
    private readonly key: symbol | undefined,
    private readonly value: unknown,
    private readonly writes: number,
  ) {}

  getValue(key: symbol): unknown {
    if (this.key === key) return this.value === DELETED ? undefined : this.value;
    for (let layer = this.below; layer !== undefined; layer = layer.below) {
      if (layer.key === key) return layer.value === DELETED ? undefined : layer.value;
    }
    return this.base.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    if (this.writes < MAX_WRITES) return new LayeredContext(this.base, this, key, value, this.writes + 1);
    return new LayeredContext(this.folded(), undefined, key, value, 1);
  }

  deleteValue(key: symbol): Context {
    return this.getValue(key) === undefined ? this : this.setValue(key, DELETED);
  }

  /** The base with every write applied through its own setValue / deleteValue, oldest first, each key once. */
  private folded(): Context {
    const latest = new Map<symbol, unknown>();
    if (this.key !== undefined) latest.set(this.key, this.value);
    for (let layer = this.below; layer !== undefined; layer = layer.below) {
      if (layer.key !== undefined && !latest.has(layer.key)) latest.set(layer.key, layer.value);
    }
    let ctx = this.base;
    for (const [key, value] of [...latest].reverse()) ctx = value === DELETED ? ctx.deleteValue(key) : ctx.setValue(key, value);
    return ctx;
  }
}

/**
 * `base` as a context whose writes are chained over it (itself when it already is one). A context
 * of another implementation may answer reads lazily from state that changes later (a deferred
 * context answers from the hop being built on it): its entries are copied out first, through its
 * own write, and a result that is still not the API's context is returned as it is.
 */
export function layeredOver(base: Context): Context {
  if (base instanceof LayeredContext) return base;
  const settled = isApiContext(base) ? base : base.setValue(SETTLED_KEY, undefined);
  if (settled instanceof LayeredContext || !isApiContext(settled)) return settled;
  return new LayeredContext(settled, undefined, undefined, undefined, 0);
}
