import type { KafkaMessage } from 'kafkajs';
import { createKeyring, type SigningKeyOption, type SigningKeyring } from '../../src/policy/signing.js';
import { assertShapeOption, assertTrustOption, type ShapeOption, type TrustOption } from '../../src/policy/trust.js';

/** What a per-message `trust` or `shape` function is given. */
export interface KafkaInboundMessage {
  /** Topic the message was read from. */
  topic: string;
  /** Partition the message was read from. */
  partition: number;
  /** The message as kafkajs delivered it; read it, do not modify it. */
  message: KafkaMessage;
}

/** Inbound policy, for every topic or for one topic. */
export interface KafkaTopicPolicy {
  /** Accept a message's context: 'trust' (default: the broker is inside the deployment), 'link', 'ignore', or a function per message. */
  trust?: TrustOption<KafkaInboundMessage>;
  /** eachMessage span placement for trusted context: 'parent' (default, child of the producer span) or 'rejoin' (child of the session root). */
  shape?: ShapeOption<KafkaInboundMessage>;
  /** Placement of the per-message spans that `withMessageContext` starts in eachBatch: 'rejoin' (default) or 'parent'. */
  batchShape?: ShapeOption<KafkaInboundMessage>;
  /** Key that verifies signed session entries: undefined = the key given to `init()`, null = no verification. */
  signingKey?: SigningKeyOption | null;
}

/** Options of `instrumentConsumer`. */
export interface InstrumentConsumerOptions extends KafkaTopicPolicy {
  /** Consumer group recorded as `messaging.consumer.group.name`; default: the group the consumer reports when it joins. */
  groupId?: string;
  /** Per-topic overrides of the inbound policy, by exact topic name; unset fields fall back to the top-level ones. */
  topics?: Record<string, KafkaTopicPolicy>;
  /** Most links on an eachBatch span (default 128, the OTel SDK's default link limit); the others are counted in `agentops.links.dropped`. */
  maxBatchLinks?: number;
}

/** Options of `instrumentProducer`. */
export interface InstrumentProducerOptions {
  /** Key that signs the session entry: undefined = the key given to `init()`, null = no signature. */
  signingKey?: SigningKeyOption | null;
  /** Replace a `traceparent` (and `tracestate`) already present in a message's headers (default false: a message that carries one keeps its own context). */
  overrideTraceparent?: boolean;
  /** One PRODUCER span per message instead of one per `send` call and per topic of a `sendBatch` call (default false). */
  spanPerMessage?: boolean;
}

/** A topic's inbound policy with keys validated; `signing` undefined means init's key. */
export interface InboundPolicy {
  trust: TrustOption<KafkaInboundMessage> | undefined;
  shape: ShapeOption<KafkaInboundMessage> | undefined;
  batchShape: ShapeOption<KafkaInboundMessage> | undefined;
  signing: SigningKeyring | null | undefined;
}

/** Validated consumer options. */
export interface ConsumerSettings {
  groupId: string | undefined;
  maxBatchLinks: number;
  policyFor(topic: string): InboundPolicy;
}

/** Validated producer options. */
export interface ProducerSettings {
  signing: SigningKeyring | null | undefined;
  overrideTraceparent: boolean;
  spanPerMessage: boolean;
}

/** The OTel SDK's default span link limit. */
export const DEFAULT_MAX_BATCH_LINKS = 128;

function optionsObject(options: unknown, where: string): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`agentops-propagation: ${where} options must be an object`);
  }
  return options as Record<string, unknown>;
}

function keyringOption(value: unknown): SigningKeyring | null | undefined {
  if (value === undefined || value === null) return value;
  return createKeyring(value as SigningKeyOption);
}

function booleanOption(value: unknown, where: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TypeError(`agentops-propagation: ${where} must be a boolean`);
  return value;
}

function topicPolicy(raw: Record<string, unknown>, where: string, fallback?: InboundPolicy): InboundPolicy {
  assertTrustOption(raw.trust, `${where}.trust`);
  assertShapeOption(raw.shape, `${where}.shape`);
  assertShapeOption(raw.batchShape, `${where}.batchShape`);
  return {
    trust: (raw.trust as InboundPolicy['trust']) ?? fallback?.trust,
    shape: (raw.shape as InboundPolicy['shape']) ?? fallback?.shape,
    batchShape: (raw.batchShape as InboundPolicy['batchShape']) ?? fallback?.batchShape,
    signing: raw.signingKey !== undefined ? keyringOption(raw.signingKey) : fallback?.signing,
  };
}

/** Validates `instrumentConsumer` options; a TypeError names the bad field. */
export function consumerSettings(options: unknown): ConsumerSettings {
  const raw = optionsObject(options, 'instrumentConsumer');
  const defaults = topicPolicy(raw, 'instrumentConsumer');
  if (raw.groupId !== undefined && typeof raw.groupId !== 'string') throw new TypeError('agentops-propagation: instrumentConsumer groupId must be a string');
  const maxBatchLinks = raw.maxBatchLinks ?? DEFAULT_MAX_BATCH_LINKS;
  if (typeof maxBatchLinks !== 'number' || !Number.isInteger(maxBatchLinks) || maxBatchLinks < 0) {
    throw new TypeError('agentops-propagation: instrumentConsumer maxBatchLinks must be a non-negative integer');
  }
  const byTopic = new Map<string, InboundPolicy>();
  if (raw.topics !== undefined) {
    const topics = optionsObject(raw.topics, 'instrumentConsumer topics');
    for (const [topic, policy] of Object.entries(topics)) {
      byTopic.set(topic, topicPolicy(optionsObject(policy, `instrumentConsumer topics["${topic}"]`), `topics["${topic}"]`, defaults));
    }
  }
  return {
    groupId: raw.groupId as string | undefined,
    maxBatchLinks,
    policyFor: (topic) => byTopic.get(topic) ?? defaults,
  };
}

/** Validates `instrumentProducer` options; a TypeError names the bad field. */
export function producerSettings(options: unknown): ProducerSettings {
  const raw = optionsObject(options, 'instrumentProducer');
  return {
    signing: keyringOption(raw.signingKey),
    overrideTraceparent: booleanOption(raw.overrideTraceparent, 'instrumentProducer overrideTraceparent'),
    spanPerMessage: booleanOption(raw.spanPerMessage, 'instrumentProducer spanPerMessage'),
  };
}
