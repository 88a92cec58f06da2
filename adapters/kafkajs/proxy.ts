const INSTRUMENTED = Symbol.for('agentops-propagation.kafkajs.instrumented');

/** True for an object this adapter already returned, so that wrapping twice is a no-op. */
export function isInstrumented(value: object): boolean {
  try {
    return (value as Record<symbol, unknown>)[INSTRUMENTED] === true;
  } catch {
    return false;
  }
}

/**
 * A Proxy of `target` whose `overrides` replace some methods; everything else (connect, events,
 * on, logger, ...) is the target's own, read live. The target is never modified.
 */
export function withOverrides<T extends object>(target: T, overrides: Record<string, unknown>, what: string): T {
  for (const key of Object.keys(overrides)) {
    const descriptor = Object.getOwnPropertyDescriptor(target, key);
    // A Proxy may not report another value for a frozen property.
    if (descriptor !== undefined && descriptor.configurable === false && descriptor.writable === false) {
      throw new TypeError(`agentops-propagation: cannot instrument a ${what} whose "${key}" is frozen; instrument it before freezing`);
    }
  }
  return new Proxy(target, {
    get(t, prop, receiver) {
      if (prop === INSTRUMENTED) return true;
      if (typeof prop === 'string' && Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop];
      return Reflect.get(t, prop, receiver);
    },
  });
}
