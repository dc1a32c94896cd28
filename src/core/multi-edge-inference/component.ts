/**
 * What the three multi-edge components share on top of the queue: their server (Sedna's server
 * plugin), Kafka when KAFKA_ENABLED, the resources they own and close, and the models' lifecycle.
 */
import { serviceTokenOption } from '../../common/shared-token.js';
import type { SednaConfig } from '../../common/config.js';
import type { ResourceKind } from '../../common/constants.js';
import { invalidArgument } from '../../common/errors.js';
import { workerIdentity } from '../../service/client/lc-client.js';
import { OwnedResources } from '../job-base.js';
import { KafkaConsumer, KafkaProducer, kafkaBrokers } from '../../datasources/kafka.js';
import { decodeResults, encodeResults } from '../../datasources/multi-edge/codec.js';
import type { DetTrackResult } from '../../datasources/multi-edge/records.js';
import type { MultiEdgeClient } from '../../service/client/multi-edge-client.js';
import {
  MultiEdgeServer,
  type MultiEdgeHandler,
  type MultiEdgeServerOptions,
  type MultiEdgeServiceName,
} from '../../service/server/multi-edge-server.js';
import { BaseService, type BaseServiceOptions, type BaseServiceStats } from './base-service.js';
import { Outbox } from './outbox.js';
import { pluginEndpoint, type PluginName } from './plugins.js';
import type { PluggableModel } from './pluggable-model.js';

export interface KafkaSettings {
  /** `host:port` brokers; default KAFKA_BIND_IPS / KAFKA_BIND_PORTS. */
  brokers?: readonly string[];
  /** Consumer group (Sedna: `default`). */
  groupId?: string;
  clientId?: string;
}

export interface ComponentOptions<M> extends BaseServiceOptions {
  models: readonly M[];
  config: SednaConfig;
  /** Where the component's server binds; default from `*_MODEL_BIND_URL` / `*_MODEL_BIND_PORT`. */
  host?: string;
  port?: number;
  /** Serve the component's REST routes (default true). */
  serve?: boolean;
  /** Largest request body of the server (default 64 MiB). */
  bodyLimitBytes?: number;
  /**
   * The rest of the server's options: deadlines, connection cap, TLS, token (defaults: createServer's,
   * 30 s requests, the token of SERVICE_TOKEN / SERVICE_TOKEN_FILE when set).
   */
  server?: ComponentServerOptions;
  /** Use Kafka instead of REST between components; default KAFKA_ENABLED. */
  kafka?: KafkaSettings | boolean;
}

/** Server options a component passes through (host, port and body limit have their own fields). */
export type ComponentServerOptions = Omit<
  MultiEdgeServerOptions,
  'service' | 'handler' | 'host' | 'port' | 'bodyLimitBytes'
>;

export interface ComponentStats extends BaseServiceStats {
  /** Records sent on to the next component. */
  readonly sent: number;
  /** Records whose send failed for good (after the client's or producer's retries). */
  readonly sendFailures: number;
  /** Requests (REST) or producer calls (Kafka) made: several records each when the pipeline is busy. */
  readonly sends: number;
}

/** The outbox key of results forwarded to ReID (counted apart from `sent`). */
export const FORWARD = 'forward:reid';

export abstract class Component<In, M extends PluggableModel<never, unknown>> extends BaseService<In> {
  protected readonly models: readonly M[];
  protected server: MultiEdgeServer | undefined;
  protected producer: KafkaProducer | undefined;
  protected consumer: KafkaConsumer | undefined;
  /** One outbox per destination (see outbox.ts), made on first use. */
  private readonly outboxes = new Map<string, Outbox<DetTrackResult>>();

  /**
   * `ownerKind` is the component's resource kind; the components send no LC reports (Sedna's do not
   * either, and the LocalController has no manager for these kinds: see docs/multi-edge-inference.md).
   */
  protected constructor(name: string, ownerKind: ResourceKind, options: ComponentOptions<M>) {
    if (options.models.length === 0) throw invalidArgument('models', options.models, 'at least one PluggableModel');
    const resources = new OwnedResources();
    // Models are taken first, so they close last (after the servers and Kafka clients).
    for (const model of options.models) resources.own({ close: () => model.close?.() });
    super(
      { name, config: options.config, identity: workerIdentity(options.config, ownerKind), resources, component: name },
      { ...options, batchSize: options.batchSize ?? options.config.batchSize },
    );
    this.models = options.models;
  }

  get stats(): ComponentStats {
    const sends = { sent: 0, sendFailures: 0, sends: 0 };
    for (const [target, outbox] of this.outboxes) {
      if (target === FORWARD) continue;
      const s = outbox.stats;
      sends.sent += s.sent;
      sends.sendFailures += s.sendFailures;
      sends.sends += s.sends;
    }
    return { ...this.queueStats, ...sends };
  }

  protected override afterBatch(): void {
    for (const outbox of this.outboxes.values()) outbox.poke();
  }

  /** Resolves when the queue is processed and every result has been sent on (or has failed). */
  override async drain(): Promise<void> {
    await super.drain();
    for (const outbox of this.outboxes.values()) await outbox.flush();
  }

  /** The component's server URL once started (empty when it serves nothing). */
  get url(): string {
    return this.server?.url ?? '';
  }

  /** Sedna's `update_operational_mode`: hands the status to every model (`updatePlugin`). */
  async updateOperationalMode(status: unknown): Promise<unknown> {
    const results: unknown[] = [];
    for (const model of this.models) results.push(await model.updatePlugin?.(status));
    return results;
  }

  /** Puts a list of items (a REST body or a Kafka message holds several). */
  async putAll(items: readonly In[]): Promise<void> {
    for (const item of items) await this.put(item);
  }

  /**
   * Builds the component's server: `put` takes the received records; update_service and the
   * status route go to `updateOperationalMode` and `stats`.
   */
  protected async serve(
    service: MultiEdgeServiceName,
    plugin: PluginName,
    options: ComponentOptions<M>,
    routes: Pick<MultiEdgeHandler, 'put' | 'getTargetFeatures'>,
  ): Promise<void> {
    if (options.serve === false) return;
    const handler: MultiEdgeHandler = {
      ...routes,
      updateOperationalMode: (status) => this.updateOperationalMode(status),
      stats: () => ({ ...this.stats }),
    };
    const endpoint = pluginEndpoint(this.config, plugin);
    this.server = await MultiEdgeServer.create({
      ...(options.server?.token === undefined ? serviceTokenOption(this.config) : {}),
      ...options.server,
      service,
      handler,
      host: options.host ?? endpoint.host,
      port: options.port ?? endpoint.port,
      ...(options.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: options.bodyLimitBytes }),
    });
    this.own(this.server);
  }

  /** Resolved Kafka settings, or undefined when Kafka is off. */
  protected kafkaSettings(options: ComponentOptions<M>): (KafkaSettings & { brokers: readonly string[] }) | undefined {
    const wanted = options.kafka ?? this.config.kafkaEnabled;
    if (wanted === false) return undefined;
    const settings = wanted === true ? {} : wanted;
    return {
      ...settings,
      brokers: settings.brokers ?? kafkaBrokers(this.config.kafkaBindIps, this.config.kafkaBindPorts),
    };
  }

  protected async connectProducer(settings: KafkaSettings & { brokers: readonly string[] }): Promise<void> {
    this.producer = await KafkaProducer.create({
      brokers: settings.brokers,
      ...(settings.clientId === undefined ? {} : { clientId: settings.clientId }),
    });
    this.own(this.producer);
  }

  /** Consumes record frames from `topics` into `put` (a foreign message is counted and skipped). */
  protected async connectConsumer(
    settings: KafkaSettings & { brokers: readonly string[] },
    topics: readonly string[],
    defaultGroup: string,
    put: (records: DetTrackResult[]) => Promise<void>,
  ): Promise<void> {
    this.consumer = await KafkaConsumer.create({
      brokers: settings.brokers,
      topics,
      groupId: settings.groupId ?? defaultGroup,
      ...(settings.clientId === undefined ? {} : { clientId: settings.clientId }),
      onMessage: (value) => put(decodeResults(value)),
    });
    this.own(this.consumer);
  }

  /**
   * Sends records on through the outbox of `topic`: one Kafka message per record (keyed by camera,
   * so a camera stays in one partition, in order), or one REST call per send. Resolves once the
   * records are queued; waits while the outbox is full.
   */
  protected async sendOn(records: DetTrackResult[], topic: string, client: MultiEdgeClient | undefined): Promise<void> {
    const producer = this.producer;
    let outbox = this.outboxes.get(topic);
    if (outbox === undefined) {
      let send: ((records: DetTrackResult[]) => Promise<void>) | undefined;
      if (producer !== undefined)
        send = async (batch) => {
          await Promise.all(batch.map((r) => producer.send(topic, encodeResults([r]), String(r.camera))));
        };
      else if (client !== undefined)
        send = async (batch) => {
          await client.transmit(batch);
        };
      else return;
      outbox = this.outbox(topic, producer !== undefined ? `Kafka topic ${topic}` : (client?.endpoint ?? topic), send);
    }
    await outbox.push(records);
  }

  /** Makes the outbox for a destination, bounded by `maxQueue` records. */
  protected outbox(
    key: string,
    target: string,
    send: (records: DetTrackResult[]) => Promise<void>,
  ): Outbox<DetTrackResult> {
    const outbox = new Outbox(target, send, () => this.log, {
      maxPending: this.maxQueue,
      // Results of a queued batch are coming: send them together (see outbox.ts).
      moreComing: key === FORWARD ? undefined : () => this.fullBatchQueued,
    });
    this.outboxes.set(key, outbox);
    return outbox;
  }

  /** Releases the component after a failed `create()`. */
  protected async abandon(err: unknown): Promise<never> {
    await this.close().catch(() => undefined);
    throw err;
  }
}
