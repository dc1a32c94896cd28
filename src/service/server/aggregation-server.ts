/**
 * The federated-learning aggregator (Sedna's v1 `AggregationServer`, spec §6.4): a WebSocket at
 * `/{aggregation}` speaking Sedna's JSON protocol to Python workers and a negotiated binary mode
 * to sedna-sdk workers (see `../aggregation-protocol.ts`), plus `GET /{aggregation}` listing the
 * clients. Built on the one server factory (`createServer`); the WebSocket server takes the HTTP
 * server's `upgrade` events.
 *
 * What it fixes over Sedna's: a round timeout with `minClients` (#459), server pings with a
 * generous liveness timeout so long local training does not drop a client (#442), reconnect
 * with the same id into the round in progress (its update kept, a missed aggregate resent), a
 * clean shutdown after the exit round (#115), coded error frames for bad input instead of a
 * crash, and weights as typed arrays with a size limit of our choosing instead of 16 MiB of JSON.
 * No wait is unbounded: a round that cannot complete (`stallTimeoutMs`, `roundDeadlineMs`) ends
 * the job with SEDNA_ERR_ROUND_STALLED, a diagnostic in the log and an error frame to each client.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { ClassFactory, ClassType } from '../../common/class-factory.js';
import type { SednaConfig } from '../../common/config.js';
import { SednaError, invalidArgument, isSednaError, messageOf } from '../../common/errors.js';
import { getLogger, type Logger } from '../../common/logger.js';
import {
  isFramedInPlace,
  weightsFromNestedLists,
  weightsToNestedLists,
  type WeightRecord,
} from '../../backend/weights.js';
import '../../algorithms/aggregation/index.js'; // registers the built-in algorithms
import {
  checkNumSamples,
  type AggregationAlgorithm,
  type ClientUpdate,
  type RoundConfig,
} from '../../algorithms/aggregation/base.js';
import {
  CLOSE_CODES,
  DEFAULT_ROUND_DEADLINE_MS,
  closeCodeOf,
  decodeBinaryMessage,
  encodeBinaryMessage,
  encodeBinaryMessageChunks,
  errorFrame,
  isDropCode,
  parseTextFrame,
  protocolError,
  updateData,
  type DropCode,
  type Frame,
  type ServerHello,
  type WireEncoding,
} from '../aggregation-protocol.js';
import { createServer, type SednaServer, type ServerOptions } from './base.js';
import { RoundCoordinator, type ClosedRound, type SubmitOutcome } from './aggregation-round.js';
import { RoundWatchdog, type RoundBound } from './round-watchdog.js';

export type { RoundBound } from './round-watchdog.js';

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
}

/** A client as `GET /{aggregation}` shows it (Sedna's `{client_id, connected_at, info}`). */
export interface AggregationClientInfo {
  readonly client_id: string;
  /** Unix time in seconds, as Sedna's `time.time()`. */
  readonly connected_at: number;
  readonly info: {
    readonly encoding: WireEncoding;
    readonly connected: boolean;
    readonly rounds_contributed: number;
  };
}

export interface RoundEvent {
  readonly round: number;
  readonly exitFlag: 'ok' | 'continue';
  /** Clients connected when the round closed. */
  readonly clientsJoined: number;
  readonly updatesReceived: number;
  readonly totalSamples: number;
  readonly clients: readonly string[];
  /** From the round's first update to the broadcast of its aggregate. */
  readonly roundTimeMs: number;
  readonly closedBy: 'all' | 'timeout';
}

export interface AggregationServerEvents {
  'client-join': [event: { client: string; encoding: WireEncoding; rejoin: boolean }];
  'client-leave': [event: { client: string; reason: string }];
  'client-error': [event: { client: string | undefined; code: DropCode; message: string }];
  update: [
    event: { client: string; round: number; numSamples: number; encoding: WireEncoding; outcome: SubmitOutcome },
  ];
  round: [event: RoundEvent];
  'round-failed': [event: { round: number; error: SednaError }];
  /** The job failed (a round stalled): every client was told; `done` rejects with `error`. */
  failed: [event: { error: SednaError; diagnostic: RoundDiagnostic }];
  /** The round timeout passed with `updatesReceived` updates in (it closes once there are `minClients`). */
  'round-timeout': [event: { round: number; updatesReceived: number; minClients: number }];
  done: [summary: AggregationSummary];
}

export interface AggregationSummary {
  readonly rounds: number;
  readonly lastRound: RoundEvent | undefined;
}

/** One client as the server last saw it, for the diagnostic of a stalled round. */
export interface ClientTrace {
  readonly client: string;
  /** `gone`: dropped, or not back within `reconnectGraceMs`. */
  readonly state: 'connected' | 'disconnected' | 'gone';
  /** Since when it has been in that state. */
  readonly forMs: number;
  /** Whether the round in progress holds its update. */
  readonly contributed: boolean;
  /** The type of the last frame it sent, and how long ago. */
  readonly lastMessage: string | undefined;
  readonly lastMessageAgoMs: number | undefined;
}

/** What a stalled round was waiting for: logged at error level and the details of SEDNA_ERR_ROUND_STALLED. */
export interface RoundDiagnostic {
  readonly round: number;
  readonly bound: RoundBound;
  readonly boundMs: number;
  readonly waitedMs: number;
  readonly participantsCount: number;
  readonly minClients: number;
  readonly updatesReceived: number;
  readonly contributors: readonly string[];
  readonly clientsSeen: number;
  /** Participants that never subscribed (participantsCount minus the clients seen, at least 0). */
  readonly neverSeen: number;
  readonly clients: readonly ClientTrace[];
  /** The last frame any client sent. */
  readonly lastMessage: { readonly client: string; readonly type: string; readonly agoMs: number } | undefined;
}

/** Clients remembered for diagnostics after they are gone (bounded: ids come from peers). */
const MAX_TRACED_CLIENTS = 256;

interface Trace {
  state: ClientTrace['state'];
  since: number;
  lastMessage: string | undefined;
  lastMessageAt: number | undefined;
}

interface Session {
  readonly id: string;
  connection: Connection | undefined;
  encoding: WireEncoding;
  /** Asked for more than Sedna's protocol (gets the `server` hello, binary frames, round_config). */
  negotiated: boolean;
  connectedAt: number;
  roundsContributed: number;
  deliveredRound: number;
  graceTimer: NodeJS.Timeout | undefined;
}

interface Connection {
  readonly socket: WebSocket;
  session: Session | undefined;
  lastSeen: number;
  dropped: boolean;
  subscribeTimer: NodeJS.Timeout | undefined;
}

/**
 * Frames of one aggregate, encoded once and sent to every client that wants that encoding. The
 * binary frame is a list of chunks referencing the aggregate's arrays, written as fragments of
 * one message: no copy of the weights, whatever the number of clients.
 */
class AggregateFrames {
  private json: string | undefined;
  private binary: Uint8Array[] | undefined;

  constructor(readonly closed: ClosedRound) {}

  private envelope(): {
    type: string;
    client: string;
    data: Record<string, unknown>;
    job_name: string;
    round_number: number;
  } {
    const { round, result, exitFlag, sender, jobName } = this.closed;
    // Key order as Sedna's server writes it (it rewrites the completing update_weight frame).
    return {
      type: 'recv_weight',
      client: sender,
      data: { total_sample: result.totalSamples, round_number: round, exit_flag: exitFlag },
      job_name: jobName,
      round_number: round,
    };
  }

  frame(encoding: WireEncoding): string | Uint8Array[] {
    if (encoding === 'binary') {
      // FedAvg's output is laid out as a frame already: one message, framed without a copy. Other
      // algorithms' outputs go as fragments that reference their arrays (no copy either).
      const weights = this.closed.result.weights;
      this.binary ??= isFramedInPlace(weights)
        ? [encodeBinaryMessage(this.envelope(), weights)]
        : encodeBinaryMessageChunks(this.envelope(), weights);
      return this.binary;
    }
    if (this.json === undefined) {
      const { round, result, exitFlag } = this.closed;
      const env = this.envelope();
      this.json = JSON.stringify({
        ...env,
        data: {
          total_sample: result.totalSamples,
          round_number: round,
          weights: weightsToNestedLists(result.weights),
          exit_flag: exitFlag,
        },
      });
    }
    return this.json;
  }
}

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

const NAME = /^[A-Za-z0-9][A-Za-z0-9._~-]*$/;

/** A GET request's JSON body (up to 64 KiB), or undefined when there is none or it is not JSON. */
async function readSmallJson(raw: IncomingMessage): Promise<unknown> {
  const length = Number(raw.headers['content-length'] ?? 0);
  if (!(length > 0) && raw.headers['transfer-encoding'] === undefined) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of raw as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) return undefined;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function resolveAlgorithm(aggregation: string | AggregationAlgorithm | undefined): AggregationAlgorithm {
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

export class AggregationServer extends EventEmitter<AggregationServerEvents> {
  /** The algorithm's name: the WebSocket and HTTP path `/{aggregation}`. */
  readonly aggregation: string;
  readonly algorithm: AggregationAlgorithm;
  /** Settings in effect (defaults applied). */
  readonly settings: Readonly<{
    participantsCount: number;
    exitRound: number;
    minClients: number;
    roundTimeoutMs: number;
    maxMessageBytes: number;
    pingIntervalMs: number;
    livenessTimeoutMs: number;
    reconnectGraceMs: number;
    subscribeTimeoutMs: number;
    exitGraceMs: number;
    stallTimeoutMs: number;
    roundDeadlineMs: number;
    allowBinary: boolean;
  }>;
  /** Resolves when the job is over (the exit round delivered and the server closed). */
  readonly done: Promise<AggregationSummary>;

  private readonly http: SednaServer;
  private readonly wss: WebSocketServer;
  private readonly rounds: RoundCoordinator;
  private readonly watchdog: RoundWatchdog;
  private readonly sessions = new Map<string, Session>();
  /** Every client seen (ids in order of their last change), for the stall diagnostic. */
  private readonly traces = new Map<string, Trace>();
  private readonly connections = new Set<Connection>();
  private retained: AggregateFrames | undefined;
  private readonly owed = new Set<string>();
  private heartbeat: NodeJS.Timeout | undefined;
  private exitTimer: NodeJS.Timeout | undefined;
  private started = false;
  private closing: Promise<void> | undefined;
  private roundsDone = 0;
  private lastRound: RoundEvent | undefined;
  private resolveDone: (summary: AggregationSummary) => void = () => undefined;
  private rejectDone: (error: SednaError) => void = () => undefined;

  private constructor(http: SednaServer, algorithm: AggregationAlgorithm, settings: AggregationServer['settings']) {
    super();
    this.http = http;
    this.algorithm = algorithm;
    this.aggregation = algorithm.name;
    this.settings = settings;
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Rejects only when the job fails; a caller that never awaits it must not crash the process.
    this.done.catch(() => undefined);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: settings.maxMessageBytes,
      // Weights do not compress well, and deflate costs more CPU than the wire saves on a LAN.
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.rounds = new RoundCoordinator(algorithm, settings, {
      opened: (round, config) => {
        this.watchdog.opened(round);
        this.onRoundOpened(round, config);
        this.watch();
      },
      settled: (update, round, outcome) => {
        this.onSettled(update, round, outcome);
        this.watch();
      },
      rejected: (update, error) => {
        this.dropClient(update.client, error);
      },
      failed: (round, contributors, error) => {
        this.onRoundFailed(round, contributors, error);
      },
      timedOut: (round, updatesReceived) => {
        this.log.warn({ round, updatesReceived, minClients: settings.minClients }, `round ${round} timed out`);
        this.emit('round-timeout', { round, updatesReceived, minClients: settings.minClients });
        this.watch();
      },
      closed: (closed) => this.onRoundClosed(closed),
    });
    this.watchdog = new RoundWatchdog(settings, (round, bound, waitedMs) => {
      this.onRoundStalled(round, bound, waitedMs);
    });
  }

  /** Builds the server (nothing listens until `start()`). */
  static async create(options: AggregationServerOptions = {}): Promise<AggregationServer> {
    const algorithm = resolveAlgorithm(options.aggregation);
    const participantsCount = positiveInt('participantsCount', options.participantsCount, 1);
    const settings = Object.freeze({
      participantsCount,
      exitRound: positiveInt('exitRound', options.exitRound, 1),
      minClients: Math.min(positiveInt('minClients', options.minClients, 1), participantsCount),
      roundTimeoutMs: nonNegative('roundTimeoutMs', options.roundTimeoutMs, 600_000),
      maxMessageBytes: positiveInt('maxMessageBytes', options.maxMessageBytes, 256 * MIB),
      pingIntervalMs: positiveInt('pingIntervalMs', options.pingIntervalMs, 5_000),
      livenessTimeoutMs: positiveInt('livenessTimeoutMs', options.livenessTimeoutMs, 300_000),
      reconnectGraceMs: nonNegative('reconnectGraceMs', options.reconnectGraceMs, 300_000),
      subscribeTimeoutMs: positiveInt('subscribeTimeoutMs', options.subscribeTimeoutMs, 30_000),
      exitGraceMs: nonNegative('exitGraceMs', options.exitGraceMs, 10_000),
      stallTimeoutMs: positiveInt('stallTimeoutMs', options.stallTimeoutMs, 300_000),
      roundDeadlineMs: positiveInt('roundDeadlineMs', options.roundDeadlineMs, DEFAULT_ROUND_DEADLINE_MS),
      allowBinary: options.allowBinary ?? true,
    });
    if (settings.maxMessageBytes >= 2 ** 31) {
      throw invalidArgument('maxMessageBytes', settings.maxMessageBytes, 'less than 2 GiB (the ws limit)');
    }
    const { host, port, requestTimeoutMs, keepAliveTimeoutMs, closeGraceMs, healthPath, tls, logger } = options;
    const http = await createServer({
      name: 'aggregation',
      ...(host === undefined ? {} : { host }),
      ...(port === undefined ? {} : { port }),
      ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
      ...(keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeoutMs }),
      ...(closeGraceMs === undefined ? {} : { closeGraceMs }),
      ...(healthPath === undefined ? {} : { healthPath }),
      ...(tls === undefined ? {} : { tls }),
      // The HTTP routes take small JSON bodies; weights travel over the WebSocket.
      bodyLimitBytes: 64 * 1024,
      logger: logger ?? getLogger('fl.server'),
    });
    const server = new AggregationServer(http, algorithm, settings);
    server.routes();
    return server;
  }

  /**
   * Options from Sedna's variables: aggregation_algorithm, AGG_BIND_IP/PORT, PARTICIPANTS_COUNT,
   * exit_round, CONNECT_TIMEOUT (liveness, reconnect grace and the stall bound).
   */
  static optionsFromConfig(config: SednaConfig): AggregationServerOptions {
    return {
      aggregation: config.aggregationAlgorithm,
      host: config.aggBindIp,
      port: config.aggBindPort,
      participantsCount: config.participantsCount,
      exitRound: config.exitRound,
      livenessTimeoutMs: Math.round(config.connectTimeout * 1000),
      reconnectGraceMs: Math.round(config.connectTimeout * 1000),
      stallTimeoutMs: Math.max(1, Math.round(config.connectTimeout * 1000)),
    };
  }

  private get log(): Logger {
    return getLogger('fl.server');
  }

  /** The base URL once listening (`http://host:port`); the WebSocket is at `ws://host:port/{aggregation}`. */
  get url(): string {
    return this.http.url;
  }

  get wsUrl(): string {
    return `${this.http.url.replace(/^http/, 'ws')}/${this.aggregation}`;
  }

  get port(): number {
    return this.http.port;
  }

  /** The round in progress (1-based). */
  get round(): number {
    return this.rounds.round;
  }

  /** Ids of the clients connected now. */
  get clients(): string[] {
    return [...this.sessions.values()].filter((s) => s.connection !== undefined).map((s) => s.id);
  }

  /** Listens and opens round 1. Resolves with the base URL. */
  async start(): Promise<string> {
    if (this.closing !== undefined) throw new SednaError('SEDNA_ERR_CLOSED', 'AggregationServer is closed');
    if (this.started) return this.http.url;
    this.started = true;
    this.http.app.server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.onUpgrade(request, socket, head);
    });
    const url = await this.http.listen();
    this.rounds.start();
    this.heartbeat = setInterval(() => {
      this.beat();
    }, this.settings.pingIntervalMs);
    this.heartbeat.unref();
    this.log.info(
      { url: this.wsUrl, ...this.settings, algorithm: this.aggregation },
      `aggregation server for ${this.aggregation} listening`,
    );
    return url;
  }

  /** Closes every connection (1001 before the job ended) and the server. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown(CLOSE_CODES.GOING_AWAY, 'server closing');
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  private routes(): void {
    const path = `/${this.aggregation}`;
    this.http.app.get(path, async (request, reply) => {
      const query = request.query as { client_id?: unknown } | undefined;
      // Sedna's client sends a JSON body with its GET; fastify does not parse GET bodies.
      const body = (await readSmallJson(request.raw)) as { client_id?: unknown } | undefined;
      const id = typeof body?.client_id === 'string' ? body.client_id : query?.client_id;
      if (typeof id !== 'string') return { clients: this.clients };
      const session = this.sessions.get(id);
      if (session === undefined) {
        return reply.code(404).send({ code: 'SEDNA_ERR_NOT_FOUND', message: `no client ${JSON.stringify(id)}` });
      }
      const info: AggregationClientInfo = {
        client_id: session.id,
        connected_at: session.connectedAt / 1000,
        info: {
          encoding: session.encoding,
          connected: session.connection !== undefined,
          rounds_contributed: session.roundsContributed,
        },
      };
      return info;
    });
  }

  private onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path !== `/${this.aggregation}` || this.closing !== undefined) {
      // The same {code, message} answer as every other error (issue 13).
      const body =
        this.closing === undefined
          ? JSON.stringify({ code: 'SEDNA_ERR_NOT_FOUND', message: `no WebSocket at ${path}` })
          : JSON.stringify({ code: 'SEDNA_ERR_CLOSED', message: 'the aggregation server is closing' });
      socket.end(
        `HTTP/1.1 ${this.closing === undefined ? '404 Not Found' : '503 Service Unavailable'}\r\nConnection: close\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      this.onConnection(ws);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  private onConnection(socket: WebSocket): void {
    const connection: Connection = {
      socket,
      session: undefined,
      lastSeen: Date.now(),
      dropped: false,
      subscribeTimer: undefined,
    };
    this.connections.add(connection);
    this.hookOversize(connection);
    connection.subscribeTimer = setTimeout(() => {
      if (connection.session === undefined)
        this.drop(connection, protocolError(`no subscribe frame within ${this.settings.subscribeTimeoutMs} ms`));
    }, this.settings.subscribeTimeoutMs);
    connection.subscribeTimer.unref();
    socket.on('message', (data: RawData, isBinary: boolean) => {
      connection.lastSeen = Date.now();
      this.onMessage(connection, data, isBinary);
    });
    socket.on('pong', () => {
      connection.lastSeen = Date.now();
    });
    socket.on('ping', () => {
      connection.lastSeen = Date.now();
    });
    socket.on('error', (err) => {
      this.log.debug({ err, client: connection.session?.id }, 'websocket error');
    });
    socket.on('close', (code: number) => {
      this.onClose(connection, code);
    });
  }

  /**
   * ws closes with 1009 as soon as a frame header announces more than `maxPayload`, before any of
   * the payload is buffered; it then refuses to send. To tell the client why first, listen on the
   * receiver's error ahead of ws (a private field; without it the client still gets 1009).
   */
  private hookOversize(connection: Connection): void {
    const receiver = (connection.socket as unknown as { _receiver?: EventEmitter })._receiver;
    receiver?.prependListener('error', (err: Error & { code?: string }) => {
      if (err.code !== 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return;
      this.drop(
        connection,
        new SednaError(
          'SEDNA_ERR_PAYLOAD_TOO_LARGE',
          `a message is larger than the server's limit of ${this.settings.maxMessageBytes} bytes`,
          { details: { limit: this.settings.maxMessageBytes } },
        ),
      );
    });
  }

  private onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    if (connection.dropped) return;
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    try {
      if (isBinary) {
        const { frame, weights } = decodeBinaryMessage(bytes);
        const session = this.subscribed(connection, frame);
        this.traceMessage(session.id, frame.type);
        if (frame.type !== 'update_weight')
          throw protocolError(`binary frames carry update_weight only, got "${frame.type}"`);
        this.onUpdate(session, frame, weights, 'binary');
        return;
      }
      const text = bytes.toString('utf8');
      const frame = parseTextFrame(text);
      if (frame.type === 'subscribe') {
        this.onSubscribe(connection, frame);
        return;
      }
      const session = this.subscribed(connection, frame);
      this.traceMessage(session.id, frame.type);
      if (frame.type === 'update_weight') {
        const { weights } = updateData(frame);
        this.onUpdate(
          session,
          frame,
          weightsFromNestedLists(weights, undefined, `update from "${session.id}"`),
          'json',
        );
        return;
      }
      // Anything else is re-broadcast unchanged to every client, sender included (Sedna).
      this.broadcastText(text);
    } catch (err) {
      this.drop(connection, err);
    }
  }

  private subscribed(connection: Connection, frame: Frame): Session {
    if (connection.session === undefined) throw protocolError(`"${frame.type}" before subscribe`);
    return connection.session;
  }

  private onSubscribe(connection: Connection, frame: Frame): void {
    if (connection.session !== undefined) throw protocolError('subscribe sent twice on one connection');
    const raw = frame.client_id;
    if (raw !== undefined && raw !== null && typeof raw !== 'string') throw protocolError('client_id must be a string');
    // Sedna: an empty id gets a random one.
    const id = typeof raw === 'string' && raw !== '' ? raw : randomUUID().replace(/-/g, '');
    const existing = this.sessions.get(id);
    if (existing?.connection !== undefined) {
      throw new SednaError('SEDNA_ERR_DUPLICATE_CLIENT', `client id ${JSON.stringify(id)} is already connected`, {
        details: { client: id },
      });
    }
    const negotiated = typeof frame.encoding === 'string';
    const encoding: WireEncoding =
      negotiated && frame.encoding === 'binary' && this.settings.allowBinary ? 'binary' : 'json';
    if (connection.subscribeTimer !== undefined) clearTimeout(connection.subscribeTimer);
    // Sedna: CLIENT_JOIN to the clients already there, then the subscribe frame to everyone.
    this.broadcastText(JSON.stringify({ type: 'CLIENT_JOIN', data: id }));
    const session: Session = existing ?? {
      id,
      connection: undefined,
      encoding,
      negotiated,
      connectedAt: Date.now(),
      roundsContributed: 0,
      deliveredRound: this.roundsDone,
      graceTimer: undefined,
    };
    if (existing?.graceTimer !== undefined) clearTimeout(existing.graceTimer);
    session.graceTimer = undefined;
    session.connection = connection;
    session.encoding = encoding;
    session.negotiated = negotiated;
    connection.session = session;
    this.sessions.set(id, session);
    const echo = JSON.stringify({ ...frame, client_id: id });
    for (const other of this.connections) {
      if (other.session !== undefined && other !== connection) this.sendText(other, echo);
    }
    if (negotiated) {
      const hello: ServerHello = {
        name: 'sedna-sdk',
        encoding,
        round_number: this.rounds.round,
        update_received: this.rounds.hasContributed(id),
        max_message_bytes: this.settings.maxMessageBytes,
        exit_round: this.settings.exitRound,
        participants_count: this.settings.participantsCount,
        round_deadline_ms: this.settings.roundDeadlineMs,
      };
      this.sendText(connection, JSON.stringify({ ...frame, client_id: id, server: hello }));
    } else {
      this.sendText(connection, echo);
    }
    this.trace(id, 'connected', 'subscribe');
    this.emit('client-join', { client: id, encoding, rejoin: existing !== undefined });
    this.log.info({ client: id, encoding, rejoin: existing !== undefined }, 'client joined');
    // A client that missed an aggregate while away gets it now.
    if (this.owed.delete(id) && this.retained !== undefined) {
      this.sendAggregate(session, this.retained);
      if (this.owed.size === 0) this.retained = undefined;
    }
    this.watch();
  }

  private onUpdate(session: Session, frame: Frame, weights: WeightRecord[], encoding: WireEncoding): void {
    const { numSamples: raw } = updateData(frame);
    const numSamples = checkNumSamples(raw, `num_samples of "${session.id}"`);
    const roundField = frame.round_number;
    const updateRound = encoding === 'binary' && typeof roundField === 'number' ? roundField : undefined;
    const jobName = typeof frame.job_name === 'string' ? frame.job_name : '';
    const update: ClientUpdate = { client: session.id, numSamples, weights, encoding };
    void this.rounds.submit(update, jobName, updateRound);
  }

  private onSettled(update: ClientUpdate, round: number, outcome: SubmitOutcome): void {
    const session = this.sessions.get(update.client);
    if (outcome === 'accepted' && session !== undefined) session.roundsContributed++;
    if (outcome === 'duplicate' || outcome === 'stale') {
      this.log.info({ client: update.client, round, outcome }, `update ignored (${outcome})`);
    }
    this.emit('update', {
      client: update.client,
      round,
      numSamples: update.numSamples,
      encoding: update.encoding,
      outcome,
    });
  }

  private onClose(connection: Connection, code: number): void {
    this.connections.delete(connection);
    if (connection.subscribeTimer !== undefined) clearTimeout(connection.subscribeTimer);
    const session = connection.session;
    if (session?.connection !== connection) {
      this.maybeFinish();
      return;
    }
    session.connection = undefined;
    if (connection.dropped || this.rounds.finished) {
      this.forget(session, connection.dropped ? 'dropped' : 'left');
    } else {
      // Keep its place (its update stays in the sum) for a while: it may reconnect.
      this.trace(session.id, 'disconnected');
      this.log.info({ client: session.id, code }, 'client disconnected; keeping its place');
      session.graceTimer = setTimeout(() => {
        this.forget(session, 'did not reconnect');
      }, this.settings.reconnectGraceMs);
      session.graceTimer.unref();
      this.emit('client-leave', { client: session.id, reason: `disconnected (${code})` });
    }
    this.maybeFinish();
    this.watch();
  }

  private forget(session: Session, reason: string): void {
    if (session.graceTimer !== undefined) clearTimeout(session.graceTimer);
    if (this.sessions.get(session.id) === session) {
      this.sessions.delete(session.id);
      this.trace(session.id, 'gone');
    }
    if (this.owed.delete(session.id) && this.owed.size === 0) this.retained = undefined;
    if (reason !== 'left' || session.connection === undefined)
      this.emit('client-leave', { client: session.id, reason });
    this.maybeFinish();
    this.watch();
  }

  /** Sends a coded error frame and closes with the code's close code. Never throws. */
  private drop(connection: Connection, err: unknown): void {
    if (connection.dropped) return;
    const error =
      isSednaError(err) && isDropCode(err.code)
        ? err
        : isSednaError(err)
          ? new SednaError('SEDNA_ERR_PROTOCOL', err.message, { cause: err })
          : new SednaError('SEDNA_ERR_PROTOCOL', `unexpected failure: ${messageOf(err)}`, { cause: err });
    const code = error.code as DropCode;
    connection.dropped = true;
    const client = connection.session?.id;
    this.log.warn({ client, code, err: error.message }, 'dropping client');
    this.emit('client-error', { client, code, message: error.message });
    const socket = connection.socket;
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(errorFrame(code, error.message));
      socket.close(closeCodeOf(code), code);
    }
    // A peer that does not answer the close handshake is cut.
    setTimeout(() => {
      socket.terminate();
    }, 2_000).unref();
  }

  /** Drops a client by id (the round coordinator refused its update). */
  private dropClient(client: string, error: SednaError): void {
    const connection = this.sessions.get(client)?.connection;
    if (connection !== undefined) this.drop(connection, error);
    else {
      const session = this.sessions.get(client);
      if (session !== undefined) this.forget(session, 'dropped');
      this.emit('client-error', {
        client,
        code: isDropCode(error.code) ? error.code : 'SEDNA_ERR_PROTOCOL',
        message: error.message,
      });
    }
  }

  private beat(): void {
    const now = Date.now();
    for (const connection of this.connections) {
      if (connection.dropped || connection.socket.readyState !== WebSocket.OPEN) continue;
      if (now - connection.lastSeen > this.settings.livenessTimeoutMs) {
        this.drop(
          connection,
          new SednaError('SEDNA_ERR_TIMEOUT', `no answer to pings for ${this.settings.livenessTimeoutMs} ms`),
        );
        continue;
      }
      connection.socket.ping();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  private sendText(connection: Connection, text: string): void {
    if (!connection.dropped && connection.socket.readyState === WebSocket.OPEN) connection.socket.send(text);
  }

  private broadcastText(text: string): void {
    for (const connection of this.connections) if (connection.session !== undefined) this.sendText(connection, text);
  }

  /** Sends the aggregate; `written` is called once it is on the wire (or the send failed). */
  private sendAggregate(session: Session, frames: AggregateFrames, written: () => void = () => undefined): void {
    const connection = session.connection;
    if (connection === undefined || connection.dropped || connection.socket.readyState !== WebSocket.OPEN) {
      written();
      return;
    }
    const frame = frames.frame(session.encoding);
    const socket = connection.socket;
    if (typeof frame === 'string') {
      socket.send(frame, { binary: false }, () => {
        written();
      });
    } else {
      // Fragments of one message, queued back to back: nothing can come between them.
      frame.forEach((chunk, i) => {
        const last = i === frame.length - 1;
        socket.send(
          chunk,
          { binary: true, fin: last, compress: false },
          last
            ? () => {
                written();
              }
            : undefined,
        );
      });
    }
    session.deliveredRound = frames.closed.round;
  }

  // -------------------------------------------------------------------------------------------
  // Rounds

  private onRoundOpened(round: number, config: RoundConfig | undefined): void {
    if (config === undefined) return;
    const text = JSON.stringify({ type: 'round_config', round_number: round, data: config });
    for (const session of this.sessions.values()) {
      if (session.negotiated && session.connection !== undefined) this.sendText(session.connection, text);
    }
  }

  private onRoundFailed(round: number, contributors: readonly string[], error: SednaError): void {
    this.log.error({ round, err: error }, `round ${round} failed; starting it over`);
    this.emit('round-failed', { round, error });
    const text = errorFrame('SEDNA_ERR_ROUND_FAILED', `round ${round} failed: ${error.message}`);
    for (const id of contributors) {
      const connection = this.sessions.get(id)?.connection;
      if (connection !== undefined) this.sendText(connection, text);
    }
  }

  private onRoundClosed(closed: ClosedRound): Promise<void> {
    this.watchdog.stop();
    const frames = new AggregateFrames(closed);
    this.owed.clear();
    // Once every copy is written, the aggregate's memory goes back to the algorithm for the next
    // round (unless a disconnected client is owed it).
    let writing = 1;
    const written = (): void => {
      if (--writing === 0 && this.retained !== frames) this.algorithm.recycle?.(closed.result.weights);
    };
    for (const session of this.sessions.values()) {
      if (session.connection === undefined) this.owed.add(session.id);
      else {
        writing++;
        this.sendAggregate(session, frames, written);
      }
    }
    // Only kept while a disconnected client is owed it: otherwise memory would hold the last
    // aggregate next to the next round's sum.
    this.retained = this.owed.size > 0 ? frames : undefined;
    written();
    this.roundsDone = closed.round;
    const event: RoundEvent = {
      round: closed.round,
      exitFlag: closed.exitFlag,
      clientsJoined: this.clients.length,
      updatesReceived: closed.result.clients.length,
      totalSamples: closed.result.totalSamples,
      clients: closed.result.clients,
      roundTimeMs: closed.durationMs,
      closedBy: closed.closedBy,
    };
    this.lastRound = event;
    this.log.info(event, `round ${closed.round} aggregated`);
    this.emit('round', event);
    if (closed.exitFlag === 'ok') this.beginExit();
    return Promise.resolve();
  }

  // -------------------------------------------------------------------------------------------
  // Bounds: what the round waits for, and giving up on it

  private trace(client: string, state: Trace['state'], message?: string): void {
    const now = Date.now();
    const trace = this.traces.get(client);
    this.traces.delete(client); // re-inserted last: the map stays in order of change
    this.traces.set(client, {
      state,
      since: trace?.state === state ? trace.since : now,
      lastMessage: message ?? trace?.lastMessage,
      lastMessageAt: message === undefined ? trace?.lastMessageAt : now,
    });
    if (this.traces.size > MAX_TRACED_CLIENTS) {
      const oldest = this.traces.keys().next().value;
      if (oldest !== undefined) this.traces.delete(oldest);
    }
  }

  private traceMessage(client: string, type: string): void {
    const trace = this.traces.get(client);
    if (trace === undefined) return;
    trace.lastMessage = type;
    trace.lastMessageAt = Date.now();
  }

  /** Re-evaluates whether the round in progress is stuck (see RoundWatchdog). */
  private watch(): void {
    if (this.closing !== undefined || !this.started) return;
    this.watchdog.check(this.isStuck());
  }

  /**
   * Stuck: the round cannot close by itself (its timeout is not armed with `minClients` in) and
   * no connected client owes it an update, so only a participant that is away can move it.
   */
  private isStuck(): boolean {
    if (this.rounds.finished || this.rounds.closesByItself) return false;
    for (const session of this.sessions.values()) {
      const connection = session.connection;
      if (connection !== undefined && !connection.dropped && !this.rounds.hasContributed(session.id)) return false;
    }
    return true;
  }

  private diagnose(round: number, bound: RoundBound, waitedMs: number): RoundDiagnostic {
    const now = Date.now();
    let last: RoundDiagnostic['lastMessage'];
    const clients = [...this.traces].map(([client, t]): ClientTrace => {
      if (t.lastMessage !== undefined && t.lastMessageAt !== undefined) {
        const agoMs = now - t.lastMessageAt;
        if (last === undefined || agoMs < last.agoMs) last = { client, type: t.lastMessage, agoMs };
      }
      return {
        client,
        state: t.state,
        forMs: now - t.since,
        contributed: this.rounds.hasContributed(client),
        lastMessage: t.lastMessage,
        lastMessageAgoMs: t.lastMessageAt === undefined ? undefined : now - t.lastMessageAt,
      };
    });
    const contributors = this.rounds.contributorIds;
    return {
      round,
      bound,
      boundMs: this.settings[bound],
      waitedMs,
      participantsCount: this.settings.participantsCount,
      minClients: this.settings.minClients,
      updatesReceived: contributors.length,
      contributors,
      clientsSeen: clients.length,
      neverSeen: Math.max(0, this.settings.participantsCount - clients.length),
      clients,
      lastMessage: last,
    };
  }

  /** A bound passed: log what the round waited for, tell every client, end the job. */
  private onRoundStalled(round: number, bound: RoundBound, waitedMs: number): void {
    if (this.closing !== undefined || this.rounds.finished || this.rounds.round !== round) return;
    // The round timeout (armed with minClients in) will close it: that is its bound now.
    if (this.rounds.closesByItself) return;
    // A change the watchdog was not told of may have unstuck the round: look again.
    if (bound === 'stallTimeoutMs' && !this.isStuck()) {
      this.watch();
      return;
    }
    const diagnostic = this.diagnose(round, bound, waitedMs);
    const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
    const missing = diagnostic.clients
      .filter((c) => !c.contributed)
      .map((c) => `${c.client} (${c.state} for ${seconds(c.forMs)}, last frame ${c.lastMessage ?? 'none'})`);
    if (diagnostic.neverSeen > 0) missing.push(`${diagnostic.neverSeen} participant(s) never seen`);
    const why =
      bound === 'stallTimeoutMs'
        ? `no connected client owes it an update and it cannot close by itself`
        : `it has been open longer than roundDeadlineMs`;
    const message =
      `round ${round} stalled after ${seconds(waitedMs)} (${bound} ${this.settings[bound]} ms): ${why}; ` +
      `${diagnostic.updatesReceived} of ${diagnostic.participantsCount} updates in (minClients ${diagnostic.minClients}), ` +
      `waiting for ${missing.length > 0 ? missing.join(', ') : 'nobody in particular'}`;
    const error = new SednaError('SEDNA_ERR_ROUND_STALLED', message, { details: { ...diagnostic } });
    this.log.error(diagnostic, message);
    this.emit('failed', { error, diagnostic });
    this.closing ??= this.shutdown(CLOSE_CODES.SEDNA_ERR_ROUND_STALLED, 'SEDNA_ERR_ROUND_STALLED', error);
  }

  /** After the exit round: wait (bounded) for clients to leave, then close. */
  private beginExit(): void {
    this.exitTimer = setTimeout(() => {
      void this.finish();
    }, this.settings.exitGraceMs);
    this.exitTimer.unref();
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (!this.rounds.finished || this.closing !== undefined) return;
    const connected = [...this.connections].some((c) => c.session !== undefined && !c.dropped);
    if (!connected && this.owed.size === 0) void this.finish();
  }

  private finish(): Promise<void> {
    this.closing ??= this.shutdown(CLOSE_CODES.NORMAL, 'job complete');
    return this.closing;
  }

  /** Closes every connection with `code` (after an error frame when the job failed with `error`), then the server. */
  private async shutdown(code: number, reason: string, error?: SednaError): Promise<void> {
    if (this.exitTimer !== undefined) clearTimeout(this.exitTimer);
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.watchdog.stop();
    this.rounds.stop();
    for (const session of this.sessions.values())
      if (session.graceTimer !== undefined) clearTimeout(session.graceTimer);
    const closed = [...this.connections].map(
      (connection) =>
        new Promise<void>((resolve) => {
          const socket = connection.socket;
          if (socket.readyState === WebSocket.CLOSED) {
            resolve();
            return;
          }
          socket.once('close', () => {
            resolve();
          });
          if (error !== undefined && connection.session !== undefined)
            this.sendText(connection, errorFrame(error.code, error.message));
          socket.close(code, reason);
          setTimeout(() => {
            socket.terminate();
          }, 2_000).unref();
        }),
    );
    await Promise.all(closed);
    this.wss.close();
    await this.http.close();
    const summary: AggregationSummary = { rounds: this.roundsDone, lastRound: this.lastRound };
    if (error !== undefined) {
      this.log.info(summary, 'aggregation server closed after the job failed');
      this.rejectDone(error);
      return;
    }
    this.log.info(summary, 'aggregation server closed');
    this.resolveDone(summary);
    this.emit('done', summary);
  }
}
