import type { Attributes } from '@opentelemetry/api';

/** What a messaging span describes, in the terms of the OTel messaging semantic conventions. */
export interface MessagingSpanInfo {
  /** `messaging.system`: `kafka`, `bullmq`, ... */
  system: string;
  /** `messaging.destination.name`: topic or queue. */
  destination: string;
  /** `messaging.operation.type`: send, receive, process, create, settle. */
  operationType: 'send' | 'receive' | 'process' | 'create' | 'settle';
  /** `messaging.operation.name`: the client's own verb (`send`, `add`, `eachMessage`, ...). */
  operationName: string;
  /** `messaging.message.id`, when known. */
  messageId?: string;
  /** `messaging.batch.message_count`, for batches. */
  batchMessageCount?: number;
  /** `messaging.consumer.group.name`. */
  consumerGroup?: string;
  /** `messaging.destination.partition.id`. */
  partition?: string | number;
  /** `server.address`. */
  serverAddress?: string;
}

/** Span name per the messaging conventions: `<operation> <destination>`. */
export function messagingSpanName(verb: string, destination: string): string {
  return `${verb} ${destination}`;
}

/** The semantic-convention attributes for a messaging span. */
export function messagingAttributes(info: MessagingSpanInfo): Attributes {
  const attributes: Attributes = {
    'messaging.system': info.system,
    'messaging.destination.name': info.destination,
    'messaging.operation.type': info.operationType,
    'messaging.operation.name': info.operationName,
  };
  if (info.messageId !== undefined) attributes['messaging.message.id'] = info.messageId;
  if (info.batchMessageCount !== undefined) attributes['messaging.batch.message_count'] = info.batchMessageCount;
  if (info.consumerGroup !== undefined) attributes['messaging.consumer.group.name'] = info.consumerGroup;
  if (info.partition !== undefined) attributes['messaging.destination.partition.id'] = String(info.partition);
  if (info.serverAddress !== undefined) attributes['server.address'] = info.serverAddress;
  return attributes;
}
