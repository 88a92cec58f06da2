import type { KafkaMessage } from 'kafkajs';
import {
  booleanOption,
  countOption,
  keyringOption,
  optionsObject,
  policyTable,
  shapeOption,
  signedUpgradeOption,
  stringOption,
  trustOption,
} from '../../src/policy/options.js';
import type { SigningKeyOption, SigningKeyring } from '../../src/policy/signing.js';
import type { ShapeOption, TrustOption } from '../../src/policy/trust.js';

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
  /** Where trust is `link`: a validly signed session entry joins its session (the message's other baggage is still dropped). Default false. */
  signedUpgrade?: boolean;
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

/** A topic's inbound policy, validated; `signing` undefined means init's key. */
export interface InboundPolicy {
  trust: TrustOption<KafkaInboundMessage> | undefined;
  shape: ShapeOption<KafkaInboundMessage> | undefined;
  batchShape: ShapeOption<KafkaInboundMessage> | undefined;
  signing: SigningKeyring | null | undefined;
  signedUpgrade: boolean;
}

/** Validated consumer options. */
export interface ConsumerSettings {
  groupId: string | undefined;
  maxBatchLinks: number;
  policyFor(topic: string | undefined): InboundPolicy;
}

/** Validated producer options. */
export interface ProducerSettings {
  signing: SigningKeyring | null | undefined;
  overrideTraceparent: boolean;
  spanPerMessage: boolean;
}

/** The OTel SDK's default span link limit. */
const DEFAULT_MAX_BATCH_LINKS = 128;

/** The policy of a topic no option names: the broker is inside the deployment. */
const DEFAULT_POLICY: InboundPolicy = {
  trust: undefined,
  shape: undefined,
  batchShape: undefined,
  signing: undefined,
  signedUpgrade: false,
};

/**
 * The policy of a message the adapter cannot identify (not one an instrumented consumer is
 * delivering): whatever topic it came from, its producer is linked, its session not taken.
 */
export const UNKNOWN_MESSAGE_POLICY: InboundPolicy = { ...DEFAULT_POLICY, trust: 'link' };

/** Option names of one topic's policy. */
const TOPIC_POLICY_OPTIONS = ['trust', 'shape', 'batchShape', 'signingKey', 'signedUpgrade'] as const;
/** Option names of `instrumentConsumer`. */
const CONSUMER_OPTIONS = [...TOPIC_POLICY_OPTIONS, 'groupId', 'topics', 'maxBatchLinks'] as const;
/** Option names of `instrumentProducer`. */
const PRODUCER_OPTIONS = ['signingKey', 'overrideTraceparent', 'spanPerMessage'] as const;

function topicPolicy(raw: Record<string, unknown>, where: string, fallback: InboundPolicy): InboundPolicy {
  return {
    trust: trustOption<KafkaInboundMessage>(raw.trust, `${where}.trust`) ?? fallback.trust,
    shape: shapeOption<KafkaInboundMessage>(raw.shape, `${where}.shape`) ?? fallback.shape,
    batchShape: shapeOption<KafkaInboundMessage>(raw.batchShape, `${where}.batchShape`) ?? fallback.batchShape,
    signing: raw.signingKey !== undefined ? keyringOption(raw.signingKey, `${where}.signingKey`) : fallback.signing,
    signedUpgrade: signedUpgradeOption(raw.signedUpgrade, `${where}.signedUpgrade`, fallback.signedUpgrade),
  };
}

/** Validates `instrumentConsumer` options; a TypeError names the bad field. */
export function consumerSettings(options: unknown): ConsumerSettings {
  const raw = optionsObject(options, 'instrumentConsumer options', CONSUMER_OPTIONS);
  const defaults = topicPolicy(raw, 'instrumentConsumer', DEFAULT_POLICY);
  return {
    groupId: stringOption(raw.groupId, 'instrumentConsumer groupId'),
    maxBatchLinks: countOption(raw.maxBatchLinks, 'instrumentConsumer maxBatchLinks', DEFAULT_MAX_BATCH_LINKS),
    policyFor: policyTable(raw.topics, 'instrumentConsumer topics', defaults, topicPolicy, TOPIC_POLICY_OPTIONS),
  };
}

/** Validates `instrumentProducer` options; a TypeError names the bad field. */
export function producerSettings(options: unknown): ProducerSettings {
  const raw = optionsObject(options, 'instrumentProducer options', PRODUCER_OPTIONS);
  return {
    signing: keyringOption(raw.signingKey, 'instrumentProducer signingKey'),
    overrideTraceparent: booleanOption(raw.overrideTraceparent, 'instrumentProducer overrideTraceparent', false),
    spanPerMessage: booleanOption(raw.spanPerMessage, 'instrumentProducer spanPerMessage', false),
  };
}
