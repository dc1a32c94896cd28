/**
 * Kafka for multi-edge inference (Sedna's `datasources.kafka`, spec §7.5), on kafkajs (an optional
 * peer, loaded on first use). Brokers come from KAFKA_BIND_IPS / KAFKA_BIND_PORTS (`|`-separated,
 * zipped as Sedna does); topics are Sedna's (`object_detection`, `enriched_object`).
 *
 * Values are opaque bytes here (the components send record frames, never pickles). What Sedna
 * leaves out, and we add:
 * - the producer keeps every message in a bounded outbox until a broker acknowledged it
 *   (`acks: -1`), retrying with backoff through an outage: `send()` resolves only then, so a
 *   result the caller saw acknowledged is on the brokers, and one that is not stays queued;
 * - the consumer commits an offset only after the handler finished (at-least-once), and a
 *   handler that waits (a full queue) pauses fetching instead of piling up messages;
 * - messages the handler rejects are counted and logged, never crash the consumer.
 */
import type { Socket } from 'node:net';
import { SednaError, invalidArgument, messageOf, missingDependency } from '../common/errors.js';
import { backoffDelay } from '../common/http-client.js';
import { getLogger } from '../common/logger.js';

/** Sedna's topic names (ObjectDetector produces the first, FEService the second). */
export const KAFKA_TOPICS = Object.freeze({
  OBJECT_DETECTION: 'object_detection',
  ENRICHED_OBJECT: 'enriched_object',
});

/** Zips Sedna's broker lists (`KAFKA_BIND_IPS`, `KAFKA_BIND_PORTS`) into `host:port` addresses. */
export function kafkaBrokers(ips: readonly string[], ports: readonly number[]): string[] {
  if (ips.length === 0)
    throw invalidArgument('KAFKA_BIND_IPS', ips, 'at least one broker host when KAFKA_ENABLED is true');
  if (ports.length !== ips.length)
    throw invalidArgument('KAFKA_BIND_PORTS', ports, `${ips.length} port(s), one per host in KAFKA_BIND_IPS`);
  return ips.map((ip, i) => `${ip.includes(':') ? `[${ip}]` : ip}:${String(ports[i])}`);
}

export interface KafkaConnection {
  /** `host:port` addresses. */
  brokers: readonly string[];
  clientId?: string;
  /** Per-request deadline towards a broker (default 10 s). */
  requestTimeoutMs?: number;
  /** Connection deadline (default 3 s). */
  connectionTimeoutMs?: number;
  /** Advanced: kafkajs' socket factory (tests cut the network with it). */
  socketFactory?: (args: { host: string; port: number; ssl: unknown; onConnect: () => void }) => Socket;
}

export interface KafkaProducerOptions extends KafkaConnection {
  /** Messages waiting for acknowledgement before `send()` waits for room (default 1,000). */
  maxOutbox?: number;
  /** Largest message (default 10 MB, Sedna's `max_request_size`). */
  maxMessageBytes?: number;
}

export interface KafkaProducerStats {
  readonly sent: number;
  readonly pending: number;
  /** Send attempts that failed and were retried. */
  readonly retries: number;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- kafkajs is an optional peer: its types must not reach our public API */
type KafkaJs = any;
/* eslint-enable @typescript-eslint/no-explicit-any */

let kafkajs: Promise<KafkaJs> | undefined;
function loadKafkaJs(): Promise<KafkaJs> {
  kafkajs ??= import('kafkajs').catch((err: unknown) => {
    kafkajs = undefined;
    throw missingDependency('kafkajs', 'Kafka support (KAFKA_ENABLED)', err);
  });
  return kafkajs;
}

/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-assignment */
async function kafkaClient(options: KafkaConnection): Promise<KafkaJs> {
  if (options.brokers.length === 0) throw invalidArgument('brokers', options.brokers, 'at least one host:port');
  const { Kafka, logLevel } = await loadKafkaJs();
  const log = getLogger('kafka');
  return new Kafka({
    clientId: options.clientId ?? 'sedna-sdk',
    brokers: [...options.brokers],
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
    ...(options.socketFactory === undefined ? {} : { socketFactory: options.socketFactory }),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log: entry }: { namespace: string; level: number; log: { message: string } }) => {
        log[level <= logLevel.ERROR ? 'warn' : 'debug']({ namespace }, `kafkajs: ${entry.message}`);
      },
  });
}

interface OutboxEntry {
  topic: string;
  value: Buffer;
  key: string | undefined;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** Publishes messages; see the module comment for the delivery guarantee. */
export class KafkaProducer {
  private readonly outbox: OutboxEntry[] = [];
  private readonly roomWaiters: (() => void)[] = [];
  private readonly maxOutbox: number;
  private readonly maxMessageBytes: number;
  private readonly log = getLogger('kafka.producer');
  private counters = { sent: 0, retries: 0 };
  private pumping: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;

  private constructor(
    private readonly producer: KafkaJs,
    options: KafkaProducerOptions,
  ) {
    this.maxOutbox = options.maxOutbox ?? 1_000;
    this.maxMessageBytes = options.maxMessageBytes ?? 10_000_000;
  }

  /** Connects to the brokers (retrying with backoff; `SEDNA_ERR_KAFKA` if none answers). */
  static async create(options: KafkaProducerOptions): Promise<KafkaProducer> {
    const kafka = await kafkaClient(options);
    const producer = kafka.producer({ allowAutoTopicCreation: true, retry: { retries: 2 } });
    try {
      await producer.connect();
    } catch (err) {
      throw kafkaError(`cannot connect a producer to ${options.brokers.join(', ')}`, err);
    }
    return new KafkaProducer(producer, options);
  }

  get stats(): KafkaProducerStats {
    return { ...this.counters, pending: this.outbox.length };
  }

  /**
   * Queues `value` for `topic` and resolves once a broker acknowledged it. Waits for room when
   * the outbox is full (backpressure). Rejects only for a message that can never be sent (too
   * large) or when the producer is closed before delivery. Messages with the same `key` (the
   * components use the camera) land in one partition, so they stay in order.
   */
  async send(topic: string, value: Uint8Array, key?: string): Promise<void> {
    if (this.closed) throw new SednaError('SEDNA_ERR_CLOSED', 'the Kafka producer is closed');
    if (value.byteLength > this.maxMessageBytes)
      throw new SednaError(
        'SEDNA_ERR_PAYLOAD_TOO_LARGE',
        `a ${value.byteLength}-byte message is over the ${this.maxMessageBytes}-byte limit of topic ${topic}`,
      );
    while (this.outbox.length >= this.maxOutbox) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      if (this.isClosed()) throw new SednaError('SEDNA_ERR_CLOSED', 'the Kafka producer is closed');
    }
    const delivered = new Promise<void>((resolve, reject) => {
      this.outbox.push({
        topic,
        value: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
        key,
        resolve,
        reject,
      });
    });
    this.pump();
    return delivered;
  }

  /** Read through a method: `close()` changes it while `send()` waits. */
  private isClosed(): boolean {
    return this.closed;
  }

  /** Sends what is queued (up to `timeoutMs`), then disconnects; unsent messages are rejected. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    const drained = this.pumping ?? Promise.resolve();
    await Promise.race([drained, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    this.closed = true;
    this.wake?.();
    const lost = this.outbox.splice(0);
    if (lost.length > 0) this.log.error({ unsent: lost.length }, 'Kafka producer closed with unacknowledged messages');
    for (const entry of lost)
      entry.reject(
        new SednaError('SEDNA_ERR_CLOSED', 'the Kafka producer closed before a broker acknowledged the message'),
      );
    for (const waiter of this.roomWaiters.splice(0)) waiter();
    await this.producer.disconnect().catch(() => undefined);
  }

  private pump(): void {
    this.pumping ??= this.drain().finally(() => {
      this.pumping = undefined;
      if (this.outbox.length > 0 && !this.closed) this.pump();
    });
  }

  /** Sends the outbox in batches per topic, oldest first; on failure waits and tries again. */
  private async drain(): Promise<void> {
    let failures = 0;
    while (this.outbox.length > 0 && !this.closed) {
      const batch = this.outbox.slice(0, 100);
      const byTopic = new Map<string, OutboxEntry[]>();
      for (const entry of batch) byTopic.set(entry.topic, [...(byTopic.get(entry.topic) ?? []), entry]);
      try {
        await this.producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, entries]) => ({
            topic,
            messages: entries.map((e) => (e.key === undefined ? { value: e.value } : { key: e.key, value: e.value })),
          })),
        });
      } catch (err) {
        failures++;
        this.counters.retries++;
        const wait = backoffDelay(Math.min(failures, 6), {
          maxAttempts: Infinity,
          baseDelayMs: 100,
          maxDelayMs: 5_000,
        });
        this.log.warn(
          { err: messageOf(err), pending: this.outbox.length, waitMs: wait },
          'Kafka send failed; will retry',
        );
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, wait).unref();
        });
        continue;
      }
      failures = 0;
      this.outbox.splice(0, batch.length);
      this.counters.sent += batch.length;
      for (const entry of batch) entry.resolve();
      for (const waiter of this.roomWaiters.splice(0, batch.length)) waiter();
    }
  }
}

export interface KafkaConsumerOptions extends KafkaConnection {
  topics: readonly string[];
  /** Sedna's default group is `default`. */
  groupId?: string;
  /** Read each topic from its start when the group has no offset (Sedna: earliest). */
  fromBeginning?: boolean;
  /**
   * Called for every message, one at a time per partition; the offset is committed after it
   * resolves. A rejection is counted and logged, and the message is skipped.
   */
  onMessage: (value: Buffer, meta: { topic: string; partition: number; offset: string }) => Promise<void> | void;
}

export interface KafkaConsumerStats {
  readonly received: number;
  /** Messages the handler rejected (not ours, malformed...). */
  readonly rejected: number;
}

/** Consumes topics in a consumer group (Sedna's `KafkaConsumerThread`). */
export class KafkaConsumer {
  private counters = { received: 0, rejected: 0 };
  private readonly log = getLogger('kafka.consumer');

  private constructor(private readonly consumer: KafkaJs) {}

  static async create(options: KafkaConsumerOptions): Promise<KafkaConsumer> {
    if (options.topics.length === 0) throw invalidArgument('topics', options.topics, 'at least one topic');
    const kafka = await kafkaClient(options);
    const consumer = kafka.consumer({
      groupId: options.groupId ?? 'default',
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      allowAutoTopicCreation: true,
      maxWaitTimeInMs: 100,
      retry: { retries: 10 },
    });
    const self = new KafkaConsumer(consumer);
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning ?? true });
      await consumer.run({
        autoCommit: true,
        eachMessage: async ({
          topic,
          partition,
          message,
        }: {
          topic: string;
          partition: number;
          message: { value: Buffer | null; offset: string };
        }) => {
          self.counters.received++;
          try {
            if (message.value === null)
              throw new SednaError('SEDNA_ERR_RECORD_FORMAT', 'a Kafka message without a value');
            await options.onMessage(message.value, { topic, partition, offset: message.offset });
          } catch (err) {
            self.counters.rejected++;
            self.log.warn({ topic, partition, offset: message.offset, err: messageOf(err) }, 'Kafka message skipped');
          }
        },
      });
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw kafkaError(`cannot consume ${options.topics.join(', ')} from ${options.brokers.join(', ')}`, err);
    }
    return self;
  }

  get stats(): KafkaConsumerStats {
    return { ...this.counters };
  }

  async close(): Promise<void> {
    await this.consumer.disconnect().catch(() => undefined);
  }
}
/* eslint-enable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-assignment */

function kafkaError(message: string, cause: unknown): SednaError {
  if (cause instanceof SednaError) return cause;
  return new SednaError('SEDNA_ERR_KAFKA', `${message}: ${messageOf(cause)}`, { cause });
}
