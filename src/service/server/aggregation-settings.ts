/**
 * The aggregation server's options, their defaults and checks, what Sedna's environment sets, and
 * the algorithm the options name.
 */
import { ClassFactory, ClassType } from '../../common/class-factory.js';
import type { SednaConfig } from '../../common/config.js';
import { invalidArgument } from '../../common/errors.js';
import { tokenOption } from '../../common/shared-token.js';
import { timerDelay } from '../../common/timers.js';
import '../../algorithms/aggregation/index.js'; // registers the built-in algorithms
import type { AggregationAlgorithm } from '../../algorithms/aggregation/base.js';
import type { WeightLayout } from '../../backend/weights.js';
import { DEFAULT_ROUND_DEADLINE_MS } from '../aggregation-protocol.js';
import type { ServerOptions } from './base.js';
import type { ClientChooseOption } from './round-selection.js';
import type { Transmitter } from '../transmitter.js';
import type { ExitCheck } from './aggregation-round.js';

const MIB = 1024 * 1024;

export interface AggregationServerOptions extends Omit<ServerOptions, 'name' | 'bodyLimitBytes'> {
  /** A registered algorithm name (the URL path, Sedna's `aggregation`) or an instance. Default `FedAvg`. */
  aggregation?: string | AggregationAlgorithm;
  /** Updates that complete a round (Sedna's `participants_count`, GM's PARTICIPANTS_COUNT). Default 1. */
  participantsCount?: number;
  /** Rounds before `exit_flag: "ok"` (Sedna's `exit_round`). Default 1, as Sedna's constructor. */
  exitRound?: number;
  /** Updates a round needs once `roundTimeoutMs` has passed. Default 1. */
  minClients?: number;
  /**
   * How long after a round's first update the round closes with what arrived (if at least
   * `minClients`); 0 waits for every participant, as Sedna does. Default 10 minutes.
   */
  roundTimeoutMs?: number;
  /** Largest WebSocket message, either encoding. Default 256 MiB (a 200 MB update fits). */
  maxMessageBytes?: number;
  /** Server ping period. Default 5 s. */
  pingIntervalMs?: number;
  /** A client silent this long (no pong, no frame) is dropped. Default 300 s (Sedna's CONNECT_TIMEOUT). */
  livenessTimeoutMs?: number;
  /** How long a dropped client's place (its update, a missed aggregate) is kept for it to reconnect. Default 300 s. */
  reconnectGraceMs?: number;
  /** How long a connection may take to send `subscribe`. Default 30 s. */
  subscribeTimeoutMs?: number;
  /**
   * Bytes a connection may send before it has subscribed (a subscribe frame is well under 1 KiB).
   * More is refused with SEDNA_ERR_PAYLOAD_TOO_LARGE (4002). Default 16 KiB.
   */
  maxBytesBeforeSubscribe?: number;
  /** After the exit round, how long to wait for clients to leave before closing them. Default 10 s. */
  exitGraceMs?: number;
  /**
   * How long a round may be stuck before the job fails with SEDNA_ERR_ROUND_STALLED: every
   * connected client has sent its update (or none is connected), the missing participants are
   * away, and the round timeout will not close the round. Default 300 s (Sedna's CONNECT_TIMEOUT).
   */
  stallTimeoutMs?: number;
  /** The longest a round may stay open, whatever the clients do; then the job fails with SEDNA_ERR_ROUND_STALLED. Default 1 h. */
  roundDeadlineMs?: number;
  /** Offer the binary mode to clients that ask for it. Default true. */
  allowBinary?: boolean;
  /**
   * The largest `num_samples` an update may claim ({@link DEFAULT_MAX_NUM_SAMPLES} by default):
   * FedAvg weighs each update by its count, so one client claiming 2^53 would set the average
   * alone. An update over it is refused with SEDNA_ERR_INVALID_UPDATE; the round goes on.
   */
  maxNumSamples?: number;
  /**
   * The model's tensor layout (shapes; dtypes that binary updates must have), when the aggregator
   * knows it: every update is held to it from round 1 on. Without it, round 1's first update sets
   * round 1's layout, and each later round is held to the last aggregate's. Either way an update
   * that does not fit is refused alone (SEDNA_ERR_WEIGHTS_MISMATCH) and the round goes on.
   */
  layout?: WeightLayout;
  /**
   * A shared token (AGG_TOKEN / AGG_TOKEN_FILE): a subscribe frame must carry it as `token`
   * (else SEDNA_ERR_UNAUTHORIZED, close 4010), and `GET /{aggregation}` answers only to
   * `Authorization: Bearer <token>`. Default none: Sedna's protocol, open to whoever connects.
   * Never part of `settings`, never logged.
   */
  token?: string;
  /**
   * Client selection (`client_choose`): each round, once `participantsCount` clients are
   * connected, only the clients this chooser names train, and the round aggregates only theirs.
   * Default: every client trains every round.
   */
  clientChoose?: ClientChooseOption;
  /** Asked after each round's aggregate, the exit round's too: true ends the job at that round. */
  exitWhen?: ExitCheck;
  /**
   * An S3Transmitter: clients that ask for it send their updates as S3 references, which the
   * server reads from there (each object checked: size, SHA-256, a weights frame from that
   * client), and get the aggregate the same way. Other clients keep the WebSocket. Default: the
   * WebSocket for everyone. The caller keeps ownership (closes it).
   */
  transmitter?: Transmitter;
  /**
   * With an S3 transmitter: leave every object in S3 (to inspect a job). Default false: the
   * server deletes a client's update object once it has read or refused it, and each aggregate
   * once two newer rounds are published, so a job's bucket holds at most the last two aggregates
   * instead of growing by a model per client and round.
   */
  keepS3Objects?: boolean;
}

/** Default cap on an update's `num_samples`: ten million samples per client and round. */
export const DEFAULT_MAX_NUM_SAMPLES = 10_000_000;

/** The settings in effect: every option with its default applied. */
export type AggregationSettings = Readonly<{
  participantsCount: number;
  exitRound: number;
  minClients: number;
  roundTimeoutMs: number;
  maxMessageBytes: number;
  pingIntervalMs: number;
  livenessTimeoutMs: number;
  reconnectGraceMs: number;
  subscribeTimeoutMs: number;
  maxBytesBeforeSubscribe: number;
  exitGraceMs: number;
  stallTimeoutMs: number;
  roundDeadlineMs: number;
  allowBinary: boolean;
  maxNumSamples: number;
  layout: WeightLayout | undefined;
  keepS3Objects: boolean;
}>;

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw invalidArgument(name, value, 'a positive integer');
  return v;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw invalidArgument(name, value, 'a non-negative number');
  return v;
}

/**
 * Applies the defaults and checks each option (SEDNA_ERR_INVALID_ARGUMENT naming the bad one).
 * Durations longer than a timer holds (24.8 days) are cut to that (common/timers.ts).
 */
export function resolveSettings(options: AggregationServerOptions): AggregationSettings {
  const participantsCount = positiveInt('participantsCount', options.participantsCount, 1);
  const settings = Object.freeze({
    participantsCount,
    exitRound: positiveInt('exitRound', options.exitRound, 1),
    minClients: Math.min(positiveInt('minClients', options.minClients, 1), participantsCount),
    roundTimeoutMs: timerDelay(nonNegative('roundTimeoutMs', options.roundTimeoutMs, 600_000)),
    maxMessageBytes: positiveInt('maxMessageBytes', options.maxMessageBytes, 256 * MIB),
    pingIntervalMs: timerDelay(positiveInt('pingIntervalMs', options.pingIntervalMs, 5_000)),
    livenessTimeoutMs: timerDelay(positiveInt('livenessTimeoutMs', options.livenessTimeoutMs, 300_000)),
    reconnectGraceMs: timerDelay(nonNegative('reconnectGraceMs', options.reconnectGraceMs, 300_000)),
    subscribeTimeoutMs: timerDelay(positiveInt('subscribeTimeoutMs', options.subscribeTimeoutMs, 30_000)),
    maxBytesBeforeSubscribe: positiveInt('maxBytesBeforeSubscribe', options.maxBytesBeforeSubscribe, 16 * 1024),
    exitGraceMs: timerDelay(nonNegative('exitGraceMs', options.exitGraceMs, 10_000)),
    stallTimeoutMs: timerDelay(positiveInt('stallTimeoutMs', options.stallTimeoutMs, 300_000)),
    roundDeadlineMs: timerDelay(positiveInt('roundDeadlineMs', options.roundDeadlineMs, DEFAULT_ROUND_DEADLINE_MS)),
    allowBinary: options.allowBinary ?? true,
    maxNumSamples: positiveInt('maxNumSamples', options.maxNumSamples, DEFAULT_MAX_NUM_SAMPLES),
    layout: options.layout === undefined ? undefined : checkLayout(options.layout),
    keepS3Objects: options.keepS3Objects ?? false,
  });
  if (settings.maxMessageBytes >= 2 ** 31) {
    throw invalidArgument('maxMessageBytes', settings.maxMessageBytes, 'less than 2 GiB (the ws limit)');
  }
  return settings;
}

/**
 * Options from Sedna's variables: aggregation_algorithm, AGG_BIND_IP/PORT, PARTICIPANTS_COUNT,
 * exit_round, AGG_MAX_NUM_SAMPLES, AGG_S3_KEEP_OBJECTS, AGG_TOKEN / AGG_TOKEN_FILE, CONNECT_TIMEOUT (liveness,
 * reconnect grace and the stall bound).
 */
export function optionsFromConfig(config: SednaConfig): AggregationServerOptions {
  return {
    aggregation: config.aggregationAlgorithm,
    host: config.aggBindIp,
    port: config.aggBindPort,
    participantsCount: config.participantsCount,
    exitRound: config.exitRound,
    maxNumSamples: config.aggMaxNumSamples,
    keepS3Objects: config.aggS3KeepObjects,
    ...tokenOption(config),
    livenessTimeoutMs: Math.round(config.connectTimeout * 1000),
    reconnectGraceMs: Math.round(config.connectTimeout * 1000),
    stallTimeoutMs: Math.max(1, Math.round(config.connectTimeout * 1000)),
  };
}

function checkLayout(layout: WeightLayout): WeightLayout {
  const tensors: readonly unknown[] = Array.isArray(layout) ? layout : [];
  const shapeOf = (t: unknown): unknown =>
    typeof t === 'object' && t !== null ? (t as { shape?: unknown }).shape : undefined;
  const valid =
    tensors.length > 0 &&
    tensors.every((t) => {
      const shape = shapeOf(t);
      return (
        Array.isArray(shape) && shape.every((d: unknown) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)
      );
    });
  if (!valid) throw invalidArgument('layout', layout, 'a non-empty list of {name, dtype, shape}');
  return layout.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] }));
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._~-]*$/;

/** The algorithm `aggregation` names (or is), checked to aggregate and to name a URL path. */
export function resolveAlgorithm(aggregation: string | AggregationAlgorithm | undefined): AggregationAlgorithm {
  const algorithm =
    typeof aggregation === 'object'
      ? aggregation
      : ClassFactory.create<string, string, AggregationAlgorithm>(ClassType.FL_AGG, aggregation ?? 'FedAvg');
  if (typeof algorithm.aggregate !== 'function' || typeof algorithm.configure !== 'function') {
    throw invalidArgument('aggregation', algorithm.name, 'an algorithm with configure() and aggregate()');
  }
  if (!NAME.test(algorithm.name)) throw invalidArgument('aggregation.name', algorithm.name, 'a URL path segment');
  return algorithm;
}
