import { SpanKind, type Attributes, type Context, type Link } from '@opentelemetry/api';
import type { KafkaMessage } from 'kafkajs';
import { ATTR } from '../../src/session/attributes.js';
import { sessionRootSpanContext } from '../../src/session/context.js';
import { kafkaHeaderGetter, type KafkaHeaders } from '../../src/carriers/kafka.js';
import { resolveInboundCounted, startInboundHop } from '../../src/hop/inbound.js';
import { type InboundHop, type InboundHopOptions, type ResolvedInbound } from '../../src/hop/types.js';
import { activeInstrumentationSpan } from '../../src/hop/adopt.js';
import { messagingSpanName } from '../../src/messaging/semconv.js';
import { resolveShape, resolveTrust, type ShapeMode } from '../../src/policy/trust.js';
import { consumerAttributes } from './attributes.js';
import type { InboundPolicy, KafkaInboundMessage } from './options.js';

/** Scope names of instrumentations whose consumer span an eachMessage hop adopts. */
const KAFKAJS_INSTRUMENTATIONS = ['@opentelemetry/instrumentation-kafkajs'];

/** Where a message came from, as far as the adapter knows. */
export interface MessageOrigin {
  /** Topic, unknown for a message handed to `withMessageContext` from elsewhere. */
  topic: string | undefined;
  /** Partition, when known. */
  partition: number | undefined;
  /** Consumer group, when known. */
  groupId: string | undefined;
}

function headersOf(message: KafkaMessage | undefined): KafkaHeaders | undefined {
  return message !== null && typeof message === 'object' ? (message.headers as KafkaHeaders | undefined) : undefined;
}

function spanName(topic: string | undefined): string {
  return topic === undefined ? 'process' : messagingSpanName('process', topic);
}

/**
 * Trust and shape of one message under `policy`, then the core's decision for its headers.
 * `mode` picks the shape option and its default: 'message' (eachMessage, parent) or 'batch'
 * (withMessageContext, rejoin: a batch mixes sessions, and each message's work belongs in its own).
 */
export function resolveMessage(
  origin: MessageOrigin,
  message: KafkaMessage,
  policy: InboundPolicy,
  mode: 'message' | 'batch',
  parentContext?: Context,
): ResolvedInbound {
  const input: KafkaInboundMessage = { topic: origin.topic ?? '', partition: origin.partition ?? -1, message };
  const fallback: ShapeMode = mode === 'message' ? 'parent' : 'rejoin';
  const options: Omit<InboundHopOptions<KafkaHeaders | undefined>, 'spanName'> = {
    carrier: headersOf(message),
    getter: kafkaHeaderGetter,
    trust: resolveTrust(policy.trust, input, 'trust'),
    shape: resolveShape(mode === 'message' ? policy.shape : policy.batchShape, input, fallback),
    signing: policy.signing,
    signedUpgrade: policy.signedUpgrade,
  };
  if (parentContext !== undefined) options.parentContext = parentContext;
  return resolveInboundCounted(options, 'kafka');
}

/** Starts the CONSUMER span `process <topic>` of one message, adopting instrumentation-kafkajs' span when it made one. */
export function startMessageHop(origin: MessageOrigin, message: KafkaMessage, resolved: ResolvedInbound, links?: Link[]): InboundHop {
  const options: InboundHopOptions<KafkaHeaders | undefined> = {
    carrier: headersOf(message),
    getter: kafkaHeaderGetter,
    spanName: spanName(origin.topic),
    kind: SpanKind.CONSUMER,
    attributes: consumerAttributes(origin.topic, origin.partition, message, origin.groupId),
    trust: resolved.trust,
    resolved,
  };
  const existingSpan = activeInstrumentationSpan(KAFKAJS_INSTRUMENTATIONS);
  if (existingSpan !== undefined) options.existingSpan = existingSpan;
  if (links !== undefined) options.links = links;
  return startInboundHop(options);
}

/**
 * The link a batch span keeps for one message: the producer's span when the message's context
 * was accepted or linked, else the session root it names; none when the context was ignored.
 */
export function messageLink(resolved: ResolvedInbound): Link | undefined {
  const session = resolved.session;
  const linked = resolved.caller !== undefined;
  if (!linked && session?.rootSpanId === undefined) return undefined;
  const attributes: Attributes = { [ATTR.linkType]: linked ? 'predecessor' : 'session' };
  if (session !== undefined) attributes[ATTR.agentopsSessionId] = session.sessionId;
  return { context: linked ? resolved.caller! : sessionRootSpanContext(session!), attributes };
}
