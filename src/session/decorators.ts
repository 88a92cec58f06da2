import { withAgent, withOperation, withTool, type SpanHelperOptions } from './spans.js';

/** Options of the method decorators. */
export interface DecoratorOptions extends SpanHelperOptions {
  /** Entity name (default: the method name). */
  name?: string;
}

type Method<This, Args extends unknown[], Return> = (this: This, ...args: Args) => Return;
type Helper = <T>(name: string, fn: () => T, options?: SpanHelperOptions) => T;

function decorator(helper: Helper) {
  return (nameOrOptions?: string | DecoratorOptions) => {
    const options: DecoratorOptions = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : (nameOrOptions ?? {});
    return function <This, Args extends unknown[], Return>(
      target: Method<This, Args, Return>,
      context: ClassMethodDecoratorContext<This, Method<This, Args, Return>>,
    ): Method<This, Args, Return> {
      const name = options.name ?? String(context.name);
      return function (this: This, ...args: Args): Return {
        return helper(name, () => target.apply(this, args), options);
      };
    };
  };
}

/** TypeScript 5 method decorator: the method runs in an agent span. */
export const agent = decorator(withAgent);
/** TypeScript 5 method decorator: the method runs in an operation span. */
export const operation = decorator(withOperation);
/** TypeScript 5 method decorator: the method runs in a tool span. */
export const tool = decorator(withTool);
