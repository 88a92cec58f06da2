import { withAgent, withOperation, withTool, type SpanHelperOptions } from './spans.js';

/** Options of the method decorators. */
export interface DecoratorOptions extends SpanHelperOptions {
  /** Entity name (default: the method name). */
  name?: string;
}

type Method<This, Args extends unknown[], Return> = (this: This, ...args: Args) => Return;
type Helper = <T>(name: string, fn: () => T, options?: SpanHelperOptions) => T;

/**
 * A method decorator for both decorator modes: TypeScript 5 standard decorators (the default) and
 * legacy `experimentalDecorators` (NestJS, TypeORM projects). TypeScript picks the call signature
 * that matches the project's mode.
 */
interface SpanMethodDecorator {
  /** Standard (TC39) decorator. */
  <This, Args extends unknown[], Return>(
    target: Method<This, Args, Return>,
    context: ClassMethodDecoratorContext<This, Method<This, Args, Return>>,
  ): Method<This, Args, Return>;
  /** Legacy decorator (`experimentalDecorators: true`). */
  <T>(target: object, propertyKey: string | symbol, descriptor: TypedPropertyDescriptor<T>): TypedPropertyDescriptor<T>;
}

function isLegacyCall(contextOrKey: unknown, descriptor: unknown): descriptor is PropertyDescriptor {
  return (typeof contextOrKey === 'string' || typeof contextOrKey === 'symbol') && typeof descriptor === 'object' && descriptor !== null;
}

function decorator(helper: Helper, kind: string) {
  return (nameOrOptions?: string | DecoratorOptions): SpanMethodDecorator => {
    const options: DecoratorOptions = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : (nameOrOptions ?? {});
    const wrap = (method: (...args: unknown[]) => unknown, name: string) =>
      function (this: unknown, ...args: unknown[]): unknown {
        return helper(name, () => method.apply(this, args), options);
      };
    function decorate(target: unknown, contextOrKey: unknown, descriptor?: unknown): unknown {
      if (isLegacyCall(contextOrKey, descriptor)) {
        // experimentalDecorators: (prototype, key, descriptor); replace the method in the descriptor.
        const method: unknown = descriptor.value;
        if (typeof method !== 'function') {
          throw new TypeError(`@${kind}() decorates methods only; ${String(contextOrKey)} is not a method`);
        }
        return { ...descriptor, value: wrap(method as (...args: unknown[]) => unknown, options.name ?? String(contextOrKey)) };
      }
      const context = contextOrKey as ClassMethodDecoratorContext | undefined;
      if (typeof target !== 'function' || context?.kind !== 'method') {
        throw new TypeError(
          `@${kind}() decorates methods only, with TypeScript 5 standard decorators or with experimentalDecorators: true`,
        );
      }
      return wrap(target as (...args: unknown[]) => unknown, options.name ?? String(context.name));
    }
    return decorate as SpanMethodDecorator;
  };
}

/** Method decorator (standard or `experimentalDecorators`): the method runs in an agent span. */
export const agent = decorator(withAgent, 'agent');
/** Method decorator (standard or `experimentalDecorators`): the method runs in an operation span. */
export const operation = decorator(withOperation, 'operation');
/** Method decorator (standard or `experimentalDecorators`): the method runs in a tool span. */
export const tool = decorator(withTool, 'tool');
