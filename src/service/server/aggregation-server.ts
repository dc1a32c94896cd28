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
import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { SednaConfig } from '../../common/config.js';
import { SednaError, isSednaError, messageOf } from '../../common/errors.js';
import { getLogger, type Logger } from '../../common/logger.js';
import { bearerOf, tokensMatch } from '../../common/shared-token.js';
import type { AggregationAlgorithm, ClientUpdate, RoundConfig } from '../../algorithms/aggregation/base.js';
import {
  CLOSE_CODES,
  closeCodeOf,
  errorFrame,
  isDropCode,
  protocolError,
  type DropCode,
  type Frame,
  type ServerHello,
  type WireEncoding,
} from '../aggregation-protocol.js';
import { AggregateFrames, readMessage, readUpdate, type ReadUpdate } from '../aggregation-frames.js';
import { aggregationObserver, type AggregationObserver } from './aggregation-metrics.js';
import { createServer, type SednaServer, type ServerOptions } from './base.js';
import { RoundCoordinator, type ClosedRound, type ExitCheck, type SubmitOutcome } from './aggregation-round.js';
import { Sessions, type Connection, type Session } from './aggregation-sessions.js';
import {
  optionsFromConfig,
  resolveAlgorithm,
  resolveSettings,
  type AggregationServerOptions,
  type AggregationSettings,
} from './aggregation-settings.js';
import { RoundWatchdog, describeStall, type RoundBound, type RoundDiagnostic } from './round-watchdog.js';
import { RoundSelection, resolveChooser } from './round-selection.js';
import { s3RefOf, type S3Transmitter, type S3WeightsRef } from '../transmitter.js';
import { S3Cleanup } from './aggregation-s3-cleanup.js';

export type { AggregationServerOptions, AggregationSettings } from './aggregation-settings.js';
export type { AggregationClientInfo, ClientTrace } from './aggregation-client-info.js';
export type { RoundBound, RoundDiagnostic } from './round-watchdog.js';
export type { ClientChooseOption } from './round-selection.js';
export type { ExitCheck } from './aggregation-round.js';

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
  /** Client selection: the round's clients were chosen among `candidates` connected ones. */
  'clients-chosen': [event: { round: number; chosen: readonly string[]; candidates: number }];
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

/** Options passed on to the server factory (its bind, TLS, timeouts, connection cap and metrics). */
const SERVER_OPTION_KEYS = [
  'host',
  'port',
  'requestTimeoutMs',
  'headersTimeoutMs',
  'keepAliveTimeoutMs',
  'connectionTimeoutMs',
  'maxConnections',
  'closeGraceMs',
  'healthPath',
  'tls',
  'metrics',
] as const satisfies readonly (keyof AggregationServerOptions & keyof ServerOptions)[];

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

export class AggregationServer extends EventEmitter<AggregationServerEvents> {
  /** The algorithm's name: the WebSocket and HTTP path `/{aggregation}`. */
  readonly aggregation: string;
  readonly algorithm: AggregationAlgorithm;
  /** Settings in effect (defaults applied). */
  readonly settings: AggregationSettings;
  /** Resolves when the job is over (the exit round delivered and the server closed). */
  readonly done: Promise<AggregationSummary>;

  private readonly http: SednaServer;
  private readonly observer: AggregationObserver;
  private readonly wss: WebSocketServer;
  private readonly rounds: RoundCoordinator;
  private readonly watchdog: RoundWatchdog;
  private readonly sessions = new Sessions();
  /** The shared token (option `token`), kept apart from `settings` so that it is never logged. */
  private readonly token: string | undefined;
  /** Client selection, when a chooser is set. */
  private readonly selection: RoundSelection | undefined;
  /** The S3 transmitter, for clients that move their weights through S3. */
  private readonly s3: S3Transmitter | undefined;
  /** Deletes used updates and old aggregates from S3 (none when keepS3Objects or no S3). */
  private readonly s3Cleanup: S3Cleanup | undefined;
  /** What `configure()` returned for the round in progress (sent in its round_config frames). */
  private roundConfig: RoundConfig = {};
  /** The last aggregate, kept while a disconnected client is owed it (ids in `owed`). */
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

  private constructor(
    http: SednaServer,
    algorithm: AggregationAlgorithm,
    settings: AggregationSettings,
    wiring: {
      token: string | undefined;
      selection: RoundSelection | undefined;
      exitWhen: ExitCheck | undefined;
      s3: S3Transmitter | undefined;
    },
  ) {
    super();
    const { selection, exitWhen } = wiring;
    this.token = wiring.token;
    this.selection = selection;
    this.s3 = wiring.s3;
    this.http = http;
    this.s3Cleanup = wiring.s3 === undefined || settings.keepS3Objects ? undefined : new S3Cleanup(wiring.s3, this.log);
    this.observer = aggregationObserver(http.metrics, {
      exitRound: settings.exitRound,
      clients: () => this.clients.length,
      log: () => this.log,
    });
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
    this.rounds = new RoundCoordinator(
      algorithm,
      settings,
      {
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
        refused: (update, error) => {
          this.onRefused(update, error);
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
        // JSON clients carry float64, and so do binary clients that send float64 tensors.
        wantsFloat64: () => [...this.sessions.values()].some((s) => s.encoding === 'json' || s.float64 === true),
        exitCheckFailed: (round, err) => {
          this.log.error({ round, err: messageOf(err) }, `round ${round}: the exit check failed; the job goes on`);
        },
      },
      selection !== undefined,
      exitWhen,
    );
    this.watchdog = new RoundWatchdog(settings, (round, bound, waitedMs) => {
      this.onRoundStalled(round, bound, waitedMs);
    });
  }

  /** Builds the server (nothing listens until `start()`). */
  static async create(options: AggregationServerOptions = {}): Promise<AggregationServer> {
    const algorithm = resolveAlgorithm(options.aggregation);
    const settings = resolveSettings(options);
    const chooser = resolveChooser(options.clientChoose);
    // The factory's own options (bind, TLS, timeouts, connection cap, metrics), those the caller set.
    const serverOptions = Object.fromEntries(
      SERVER_OPTION_KEYS.filter((key) => options[key] !== undefined).map((key) => [key, options[key]]),
    ) as Partial<ServerOptions>;
    const http = await createServer({
      ...serverOptions,
      name: 'aggregation',
      // The HTTP routes take small JSON bodies; weights travel over the WebSocket.
      bodyLimitBytes: 64 * 1024,
      logger: options.logger ?? getLogger('fl.server'),
    });
    if (options.token !== undefined && options.token.trim() === '') {
      throw new SednaError('SEDNA_ERR_INVALID_ARGUMENT', 'token must not be empty');
    }
    const selection =
      chooser === undefined
        ? undefined
        : new RoundSelection(chooser, settings.participantsCount, () => getLogger('fl.server'));
    const server = new AggregationServer(http, algorithm, settings, {
      token: options.token,
      selection,
      exitWhen: options.exitWhen,
      s3: options.transmitter?.kind === 's3' ? options.transmitter : undefined,
    });
    server.routes();
    return server;
  }

  /**
   * Options from Sedna's variables: aggregation_algorithm, AGG_BIND_IP/PORT, PARTICIPANTS_COUNT,
   * exit_round, CONNECT_TIMEOUT (liveness, reconnect grace and the stall bound).
   */
  static optionsFromConfig(config: SednaConfig): AggregationServerOptions {
    return optionsFromConfig(config);
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
    return this.sessions.connectedIds();
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
      // Client ids are for the job's own parties: with a token, only its holders see them.
      if (this.token !== undefined && !tokensMatch(this.token, bearerOf(request.headers.authorization))) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .send({ code: 'SEDNA_ERR_UNAUTHORIZED', message: 'this route needs Authorization: Bearer <token>' });
      }
      const query = request.query as { client_id?: unknown } | undefined;
      // Sedna's client sends a JSON body with its GET; fastify does not parse GET bodies.
      const body = (await readSmallJson(request.raw)) as { client_id?: unknown } | undefined;
      const id = typeof body?.client_id === 'string' ? body.client_id : query?.client_id;
      if (typeof id !== 'string') return { clients: this.clients };
      const info = this.sessions.info(id);
      if (info === undefined) {
        return reply.code(404).send({ code: 'SEDNA_ERR_NOT_FOUND', message: `no client ${JSON.stringify(id)}` });
      }
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
      this.onConnection(ws, socket, head.length);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  private onConnection(socket: WebSocket, raw: Duplex, headBytes: number): void {
    const connection = this.sessions.open(socket);
    this.hookOversize(connection);
    this.limitBeforeSubscribe(connection, raw, headBytes);
    connection.subscribeTimer = setTimeout(() => {
      if (connection.session === undefined)
        this.drop(connection, protocolError(`no subscribe frame within ${this.settings.subscribeTimeoutMs} ms`));
    }, this.settings.subscribeTimeoutMs);
    connection.subscribeTimer.unref();
    socket.on('message', (data: RawData, isBinary: boolean) => {
      connection.lastSeen = Date.now();
      this.observer.received(data);
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

  /**
   * Until it has subscribed, a connection may send `maxBytesBeforeSubscribe` bytes in all (frame
   * headers, fragments and pings included): counted as they arrive on the socket, so a stranger
   * cannot make the server buffer a large message (ws's maxPayload is one value for every
   * connection, sized for weights). Over it: SEDNA_ERR_PAYLOAD_TOO_LARGE, and no more is read.
   */
  private limitBeforeSubscribe(connection: Connection, raw: Duplex, headBytes: number): void {
    const limit = this.settings.maxBytesBeforeSubscribe;
    let received = headBytes;
    const count = (chunk: Buffer): void => {
      if (connection.session !== undefined || connection.dropped) {
        raw.off('data', count);
        return;
      }
      received += chunk.length;
      if (received <= limit) return;
      raw.off('data', count);
      raw.pause();
      this.drop(
        connection,
        new SednaError(
          'SEDNA_ERR_PAYLOAD_TOO_LARGE',
          `more than ${limit} bytes before subscribe (option maxBytesBeforeSubscribe)`,
          { details: { limit } },
        ),
      );
      // The error and close frames are queued: flush them, then cut (the peer's close is not read).
      raw.end(() => raw.destroy());
    };
    raw.prependListener('data', count);
  }

  private onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    if (connection.dropped) return;
    try {
      const { frame, weights, text } = readMessage(data, isBinary);
      if (text !== undefined && frame.type === 'subscribe') {
        this.onSubscribe(connection, frame);
        return;
      }
      const session = this.subscribed(connection, frame);
      this.sessions.traceMessage(session.id, frame.type);
      if (text === undefined && frame.type !== 'update_weight')
        throw protocolError(`binary frames carry update_weight only, got "${frame.type}"`);
      if (frame.type === 'update_weight') {
        const ref = text === undefined ? undefined : s3RefOf(frame.data, 'SEDNA_ERR_INVALID_UPDATE');
        if (ref !== undefined) this.onS3Update(connection, session, frame, ref);
        else this.onUpdate(session, readUpdate(frame, weights, session.id, this.settings.maxNumSamples));
        return;
      }
      // Sedna re-broadcasts any other frame to every client: a stranger's forged error frame, or
      // megabytes copied to every socket. Only the server's own frames go out; this one is noted.
      this.log.debug({ client: session.id, type: frame.type }, 'ignoring a frame the protocol does not define');
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
    if (this.token !== undefined && !tokensMatch(this.token, frame.token)) {
      throw new SednaError('SEDNA_ERR_UNAUTHORIZED', 'subscribe without the shared token of this aggregation server');
    }
    const claimed = this.sessions.claim(typeof raw === 'string' ? raw : undefined, frame.session_secret);
    const { id, existing } = claimed;
    const negotiated = typeof frame.encoding === 'string';
    const encoding: WireEncoding =
      negotiated && frame.encoding === 'binary' && this.settings.allowBinary ? 'binary' : 'json';
    const viaS3 = negotiated && frame.transmitter === 's3' && this.s3 !== undefined;
    // Sedna: CLIENT_JOIN to the clients already there, then the subscribe frame to everyone.
    this.broadcastText(JSON.stringify({ type: 'CLIENT_JOIN', data: id }));
    const session = this.sessions.join(connection, claimed, {
      encoding,
      negotiated,
      viaS3,
      deliveredRound: this.roundsDone,
      secret: frame.session_secret,
    });
    // The echo holds what Sedna's holds (a Python client's frame is exactly this), nothing else a
    // peer put in its frame (a token, say) reaches the others.
    const echo = JSON.stringify({ type: 'subscribe', client_id: id });
    for (const other of this.sessions.connections) {
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
        round_config: true,
        client_selection: this.selection !== undefined,
        transmitter: viaS3 ? 's3' : 'ws',
      };
      this.sendText(
        connection,
        JSON.stringify({ type: 'subscribe', client_id: id, encoding: frame.encoding, server: hello }),
      );
    } else {
      this.sendText(connection, echo);
    }
    this.emit('client-join', { client: id, encoding, rejoin: existing !== undefined });
    this.log.info({ client: id, encoding, rejoin: existing !== undefined }, 'client joined');
    // A client that missed an aggregate while away gets it now.
    if (this.owed.delete(id) && this.retained !== undefined) {
      this.sendAggregate(session, this.retained);
      if (this.owed.size === 0) this.retained = undefined;
    }
    // The round in progress: chosen now that this client is here, or told to this client.
    if (this.selection !== undefined && this.rounds.chosenIds === undefined) this.chooseWhenReady();
    else this.sendRoundConfig(session);
    this.watch();
  }

  private onUpdate(session: Session, read: ReadUpdate): void {
    const { numSamples, weights, encoding } = read;
    if (encoding === 'binary') session.float64 = weights.some((w) => w.dtype === 'float64');
    const update: ClientUpdate = { client: session.id, numSamples, weights, encoding };
    void this.rounds.submit(update, read.jobName, read.round);
  }

  /**
   * An update sent as an S3 reference: the cheap checks first (the client's own prefix, its
   * sample count, whether the round wants it), then the object is read and checked; any failure
   * drops the client with SEDNA_ERR_INVALID_UPDATE and the round goes on without it.
   */
  private onS3Update(connection: Connection, session: Session, frame: Frame, ref: S3WeightsRef): void {
    const s3 = this.s3;
    if (s3 === undefined || !session.viaS3) {
      throw new SednaError(
        'SEDNA_ERR_INVALID_UPDATE',
        'an S3 reference, but this connection did not negotiate the S3 transmitter (send the weights on the socket)',
      );
    }
    const prefix = s3.updatePrefix(session.id);
    if (!ref.url.startsWith(prefix)) {
      throw new SednaError('SEDNA_ERR_INVALID_UPDATE', `the update of "${session.id}" must lie under ${prefix}`, {
        details: { location: ref.url },
      });
    }
    // Binary-style: the round the client names is checked (weights come from S3).
    const header = readUpdate(frame, [], session.id, this.settings.maxNumSamples);
    // Not chosen for the round: refused by the round without reading S3.
    if (!this.rounds.expects(session.id)) {
      this.s3Cleanup?.updateDone(ref.url);
      this.onUpdate(session, header);
      return;
    }
    s3.get(ref, { type: 'update_weight', client: session.id, maxBytes: this.settings.maxMessageBytes })
      .finally(() => this.s3Cleanup?.updateDone(ref.url))
      .then(
        ({ meta, weights }) => {
          if (session.connection !== connection || connection.dropped) return; // it left meanwhile
          if (header.round !== undefined && meta.round_number !== header.round) {
            throw new SednaError(
              'SEDNA_ERR_INVALID_UPDATE',
              `the object at ${ref.url} is for round ${String(meta.round_number)}, the update for round ${header.round}`,
            );
          }
          this.onUpdate(session, { ...header, weights });
        },
        (err: unknown) => {
          this.drop(connection, err);
        },
      )
      .catch((err: unknown) => {
        this.drop(connection, err);
      });
  }

  private onSettled(update: ClientUpdate, round: number, outcome: SubmitOutcome): void {
    const session = this.sessions.get(update.client);
    if (outcome === 'accepted' && session !== undefined) session.roundsContributed++;
    if (outcome === 'accepted') this.selection?.noteSamples(update.client, update.numSamples);
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
    this.sessions.closed(connection);
    const session = connection.session;
    if (session?.connection !== connection) {
      this.maybeFinish();
      return;
    }
    if (connection.dropped || this.rounds.finished) {
      session.connection = undefined;
      this.forget(session, connection.dropped ? 'dropped' : 'left');
    } else {
      // Keep its place (its update stays in the sum) for a while: it may reconnect.
      this.sessions.keep(session, this.settings.reconnectGraceMs, () => {
        this.forget(session, 'did not reconnect');
      });
      this.log.info({ client: session.id, code }, 'client disconnected; keeping its place');
      this.emit('client-leave', { client: session.id, reason: `disconnected (${code})` });
    }
    this.maybeFinish();
    this.watch();
  }

  private forget(session: Session, reason: string): void {
    this.sessions.forget(session);
    this.selection?.forget(session.id);
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
    for (const connection of this.sessions.connections) {
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
    for (const connection of this.sessions.connections)
      if (connection.session !== undefined) this.sendText(connection, text);
  }

  /** Sends the aggregate; `written` is called once it is on the wire (or the send failed). */
  private sendAggregate(session: Session, frames: AggregateFrames, written: () => void = () => undefined): void {
    const connection = session.connection;
    if (connection === undefined || connection.dropped || connection.socket.readyState !== WebSocket.OPEN) {
      written();
      return;
    }
    const frame = frames.frame(session.encoding, session.float64 === true, session.viaS3);
    this.observer.sent(frame);
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

  private onRoundOpened(_round: number, config: RoundConfig | undefined): void {
    this.roundConfig = config ?? {};
    if (this.selection !== undefined) this.chooseWhenReady();
    else for (const session of this.sessions.values()) this.sendRoundConfig(session);
  }

  /**
   * Client selection: once `participantsCount` clients are connected, the chooser names the
   * round's clients and every client learns from its round_config frame whether it trains.
   */
  private chooseWhenReady(): void {
    if (this.selection === undefined || this.rounds.finished || this.rounds.chosenIds !== undefined) return;
    const round = this.rounds.round;
    const candidates = this.sessions.connectedIds();
    const chosen = this.selection.pick(round, candidates);
    if (chosen === undefined) return;
    this.rounds.choose(chosen);
    this.log.info({ round, chosen, candidates: candidates.length }, `round ${round}: ${chosen.length} clients chosen`);
    this.emit('clients-chosen', { round, chosen, candidates: candidates.length });
    for (const session of this.sessions.values()) this.sendRoundConfig(session);
  }

  /**
   * The round_config frame of the round in progress (to negotiated clients only: a Sedna Python
   * client does not know it): the algorithm's configuration, and with selection whether it trains.
   */
  private sendRoundConfig(session: Session): void {
    const connection = session.connection;
    if (!session.negotiated || connection === undefined || this.rounds.finished) return;
    const frame: Record<string, unknown> = {
      type: 'round_config',
      round_number: this.rounds.round,
      data: this.roundConfig,
    };
    if (this.selection !== undefined) {
      if (this.rounds.chosenIds === undefined) return;
      frame.selected = this.rounds.expects(session.id);
    }
    this.sendText(connection, JSON.stringify(frame));
  }

  /** An update from a client the round did not choose: a coded error frame; it stays for the aggregate. */
  private onRefused(update: ClientUpdate, error: SednaError): void {
    this.log.warn({ client: update.client, round: this.rounds.round, err: error.message }, 'update refused');
    const connection = this.sessions.get(update.client)?.connection;
    if (connection !== undefined) this.sendText(connection, errorFrame(error.code, error.message));
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

  /**
   * Puts the aggregate in S3 when a connected client takes it from there; undefined otherwise,
   * or when the upload failed (those clients then get it on the socket, as the others do).
   */
  private async publishToS3(closed: ClosedRound): Promise<Map<'float32' | 'float64', S3WeightsRef> | undefined> {
    const s3 = this.s3;
    const widths = new Set<'float32' | 'float64'>();
    for (const s of this.sessions.values()) {
      if (s.viaS3 && s.connection !== undefined) widths.add(s.float64 === true ? 'float64' : 'float32');
    }
    if (s3 === undefined || widths.size === 0) return undefined;
    const frames = new AggregateFrames(closed);
    try {
      const refs = new Map<'float32' | 'float64', S3WeightsRef>();
      for (const width of widths) {
        refs.set(width, await s3.putAggregate(closed.round, frames.envelope(), frames.weights(width)));
      }
      this.s3Cleanup?.aggregatePublished(
        closed.round,
        [...refs.values()].map((ref) => ref.url),
      );
      return refs;
    } catch (err) {
      this.log.warn(
        { round: closed.round, err: messageOf(err) },
        'could not put the aggregate in S3; sending it on the socket',
      );
      return undefined;
    }
  }

  private async onRoundClosed(closed: ClosedRound): Promise<void> {
    this.watchdog.stop();
    const frames = new AggregateFrames(closed, await this.publishToS3(closed));
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
    this.observer.round(event);
    this.emit('round', event);
    if (closed.exitFlag === 'ok') this.beginExit();
  }

  // -------------------------------------------------------------------------------------------
  // Bounds: what the round waits for, and giving up on it

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
      if (
        connection !== undefined &&
        !connection.dropped &&
        this.rounds.expects(session.id) &&
        !this.rounds.hasContributed(session.id)
      )
        return false;
    }
    return true;
  }

  private diagnose(round: number, bound: RoundBound, waitedMs: number): RoundDiagnostic {
    const { clients, lastMessage } = this.sessions.clientTraces((client) => this.rounds.hasContributed(client));
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
      lastMessage,
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
    const message = describeStall(diagnostic);
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
    if (!this.sessions.anyConnected() && this.owed.size === 0) void this.finish();
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
    this.sessions.stop();
    const closed = [...this.sessions.connections].map(
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
    await this.s3Cleanup?.settle();
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
