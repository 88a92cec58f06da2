import type { FlowJob, FlowProducer } from 'bullmq';
import { log } from '../../src/base/diag.js';

/** A flow node as the wrapper handles it: BullMQ's `FlowJob` / `FlowChildJob` shape. */
type FlowNode = Pick<FlowJob, 'opts' | 'children'> & Record<string, unknown>;

const INSTRUMENTED = Symbol.for('agentops-propagation.bullmq.flow-producer');

/**
 * A copy of the flow tree in which every node has `opts`: BullMQ stores the telemetry metadata
 * (the node's own `addNode` span context) only in nodes that have `opts`. Nodes that already have
 * them, and every `data`, are shared with the caller's tree, never modified.
 */
function withOptsEverywhere(node: unknown, depth: number): unknown {
  // A cycle or absurd depth is the caller's bug for BullMQ to report; hand it on untouched.
  if (typeof node !== 'object' || node === null || depth > 1000) return node;
  const source = node as FlowNode;
  const copy: FlowNode = { ...source };
  if (source.opts === undefined || source.opts === null) copy.opts = {};
  if (Array.isArray(source.children))
    copy.children = source.children.map((child) => withOptsEverywhere(child, depth + 1)) as FlowNode['children'];
  return copy;
}

function copied<T>(flow: T): T {
  try {
    return withOptsEverywhere(flow, 0) as T;
  } catch (err) {
    log.warn('bullmq: copying a flow failed; its children without opts go without context', err as Error);
    return flow;
  }
}

/**
 * Makes every job of a flow, at every depth, carry the session: BullMQ hands the telemetry
 * metadata only to flow nodes that have `opts`. Instruments `add` and `addBulk` of this
 * FlowProducer instance (which needs `sessionTelemetry()` as its `telemetry` option) and returns
 * it; the flows passed in are copied, never modified. Calling it twice is harmless.
 */
export function instrumentFlowProducer<P extends FlowProducer>(flowProducer: P): P {
  if (
    typeof flowProducer !== 'object' ||
    flowProducer === null ||
    typeof flowProducer.add !== 'function' ||
    typeof flowProducer.addBulk !== 'function'
  ) {
    throw new TypeError('agentops-propagation: instrumentFlowProducer needs a BullMQ FlowProducer');
  }
  const marked = flowProducer as P & { [INSTRUMENTED]?: true };
  if (marked[INSTRUMENTED] === true) return flowProducer;
  const add = flowProducer.add;
  const addBulk = flowProducer.addBulk;
  Object.defineProperties(flowProducer, {
    [INSTRUMENTED]: { value: true },
    add: {
      configurable: true,
      writable: true,
      value: function (this: P, flow: FlowJob, ...rest: unknown[]) {
        return (add as (...args: unknown[]) => unknown).call(this, copied(flow), ...rest);
      },
    },
    addBulk: {
      configurable: true,
      writable: true,
      value: function (this: P, flows: FlowJob[], ...rest: unknown[]) {
        return (addBulk as (...args: unknown[]) => unknown).call(this, Array.isArray(flows) ? flows.map(copied) : flows, ...rest);
      },
    },
  });
  return flowProducer;
}
