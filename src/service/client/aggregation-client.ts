/**
 * The federated-learning client (Sedna's v1 `AggregationClient`, spec §6.4): one WebSocket to
 * `ws://{AGG_IP}:{AGG_PORT}/{aggregation}`, Sedna's JSON frames with a Python aggregator, the
 * binary mode with a sedna-sdk one (negotiated in `subscribe`, see `../aggregation-protocol.ts`).
 *
 * Over Sedna's client it adds: `create()` waits for the server with capped exponential backoff
 * and jitter for up to `connectTimeoutMs` (a trainer started before its aggregator no longer
 * crashes, #162); a dropped connection is re-established with the same id and an update the
 * server did not get is sent again; frames are capped by an option, not 16 MiB; the receive
 * queue is bounded; errors are coded. Every wait is bounded (connecting, each handshake, each
 * send, each wait for an aggregate or a frame) and a bound that passes is logged at error level
 * with what the client was waiting for.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { WebSocket, type RawData } from 'ws';
import { SednaError, closedError, invalidArgument, isSednaError, messageOf } from '../../common/errors.js';
import { getLogger, type Logger } from '../../common/logger.js';
import { timerDelay } from '../../common/timers.js';
import { toPythonJson } from '../../common/python-json.js';
import { castWeightsLike, weightsToJsonTensors, type WeightLayout, type WeightRecord } from '../../backend/weights.js';
import { checkNumSamples } from '../../algorithms/aggregation/base.js';
import {
  CLOSE_CODES,
  DEFAULT_ROUND_DEADLINE_MS,
  encodeBinaryMessage,
  encodeBinaryMessageChunks,
  errorFromFrame,
  isDropCode,
  type Frame,
  type ServerHello,
  type WireEncoding,
} from '../aggregation-protocol.js';
import { readAggregate, readMessage, type AggregateMessage } from '../aggregation-frames.js';
import { S3_REF_FIELD, s3RefOf, type S3Transmitter, type S3WeightsRef, type Transmitter } from '../transmitter.js';
import { backoffDelay, type RetryPolicy } from '../../common/http-client.js';

export type { AggregateMessage } from '../aggregation-frames.js';

const MIB = 1024 * 1024;
/** Updates up to this size are sent as one frame; larger ones as fragments (bounded memory). */
const SINGLE_FRAME_BYTES = 64 * MIB;

export interface AggregationClientOptions {
  /** `ws://host:port/{aggregation}` (or `wss://`). */
  url: string;
  /** This worker's id (Sedna uses WORKER_NAME). */
  clientId: string;
  /** `job_name` written into frames (Sedna: JOB_NAME). Default `sedna`. */
  jobName?: string;
  /** Encoding to ask for: `binary` (default; a Python server answers in JSON anyway) or `json`. */
  encoding?: WireEncoding;
  /** How long to keep trying to (re)connect before giving up (Sedna's CONNECT_TIMEOUT). Default 300 s. */
  connectTimeoutMs?: number;
  /** Deadline of one connection attempt, handshake included. Default 5 s (Sedna's). */
  attemptTimeoutMs?: number;
  /** Backoff between attempts: exponential with full jitter. Default 250 ms doubling to 5 s. */
  retry?: Partial<Omit<RetryPolicy, 'maxAttempts'>>;
  /** Largest message accepted from the server. Default 256 MiB (Sedna's client: 16 MiB). */
  maxMessageBytes?: number;
  /** A server silent this long (no frame, no ping) is presumed gone and reconnected to. Default 300 s. */
  livenessTimeoutMs?: number;
  /**
   * A frame the server has not taken in this long (it stopped reading) fails its send with
   * SEDNA_ERR_TIMEOUT and drops the connection. Default 300 s.
   */
  sendTimeoutMs?: number;
  /**
   * Bound of `nextAggregate()` and `recv()` when the call gives no `timeoutMs`. Default: the
   * server's round deadline (from its subscribe reply; 1 h for a server that does not say) plus
   * `connectTimeoutMs`: by then a working aggregator has sent the aggregate or said why not.
   */
  waitTimeoutMs?: number;
  /** Reconnect after an unexpected disconnect. Default true. */
  reconnect?: boolean;
  /** Bound of the queue of frames nobody has read yet (oldest dropped first). Default 256. */
  maxQueuedMessages?: number;
  /** Random source for the backoff jitter (tests pin it). */
  random?: () => number;
  /** The aggregator's shared token (AGG_TOKEN / AGG_TOKEN_FILE), sent in the subscribe frame. Default none. */
  token?: string;
  /** TLS for `wss://`: a private CA, and a client certificate and key for mutual TLS (PEM). */
  tls?: AggregationClientTls;
  /**
   * An S3Transmitter: with a sedna-sdk server that has one too, updates go up to S3 and only
   * their reference is sent; aggregates come down from there. Otherwise (or with a WSTransmitter)
   * the weights travel on the socket. The caller keeps ownership (closes it).
   */
  transmitter?: Transmitter;
}

/** TLS material of an {@link AggregationClient} (PEM text or bytes). */
export interface AggregationClientTls {
  /** CA(s) that signed the server's certificate. */
  readonly ca?: string | Buffer;
  /** This client's certificate, for a server that asks for one (mutual TLS). */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

export interface AggregationClientEvents {
  connected: [event: { attempt: number; rejoin: boolean; encoding: WireEncoding; serverRound: number | undefined }];
  disconnected: [event: { code: number; reason: string; willReconnect: boolean }];
  /** Any frame other than an aggregate or an error. */
  message: [frame: Frame];
  aggregate: [message: AggregateMessage];
}

/** A round's configuration as the server sent it (`round_config`). */
export interface RoundConfigFrame {
  readonly round: number;
  /** The aggregation algorithm's configuration for the round (`{}` when it has none). */
  readonly data: Readonly<Record<string, unknown>>;
  /** Whether this client trains in the round (true without client selection). */
  readonly selected: boolean;
}

interface PendingUpdate {
  readonly weights: readonly WeightRecord[];
  readonly numSamples: number;
  /** The round it is for, when the server told us (sedna-sdk servers). */
  readonly round: number | undefined;
}

/** What a wait is for, to say so if its bound passes. */
interface WaitDescription {
  readonly waitingFor: string;
  /** The round it concerns, when known. */
  readonly round: number | undefined;
  readonly started: number;
  readonly bound: number;
}

/** How one connection attempt ended. */
type AttemptOutcome =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly error: SednaError;
      /** The server answered with an error frame (as opposed to a timeout or a lost connection). */
      readonly refused: boolean;
      /** Our subscribe frame went out: the server may have registered us. */
      readonly subscribeSent: boolean;
    };

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw invalidArgument(name, value, 'a positive number');
  return v;
}

function isHello(value: unknown): value is ServerHello {
  const h = value as Partial<ServerHello> | null;
  return (
    typeof h === 'object' &&
    h !== null &&
    h.name === 'sedna-sdk' &&
    (h.encoding === 'json' || h.encoding === 'binary') &&
    typeof h.round_number === 'number'
  );
}

export class AggregationClient extends EventEmitter<AggregationClientEvents> {
  readonly url: string;
  readonly clientId: string;
  readonly jobName: string;
  private readonly options: Required<
    Omit<AggregationClientOptions, 'retry' | 'jobName' | 'waitTimeoutMs' | 'token' | 'tls' | 'transmitter'>
  > & {
    retry: Omit<RetryPolicy, 'maxAttempts'>;
    waitTimeoutMs: number | undefined;
    token: string | undefined;
    tls: AggregationClientTls | undefined;
    transmitter: Transmitter | undefined;
  };
  /**
   * Chosen here and sent with every subscribe: a sedna-sdk server gives this client's kept place
   * back only to a reconnect that sends it again (so nobody else takes the id over meanwhile).
   */
  private readonly sessionSecret = randomBytes(24).toString('base64url');
  private socket: WebSocket | undefined;
  private wireEncoding: WireEncoding = 'json';
  private hello: ServerHello | undefined;
  private nextRound: number | undefined;
  private pending: PendingUpdate | undefined;
  private everConnected = false;
  private closed = false;
  /** A drop code from the server, or the job's end: no more reconnecting. */
  private fatal: SednaError | undefined;
  private ended = false;
  private reconnecting: Promise<void> | undefined;
  private sendChain: Promise<void> = Promise.resolve();
  /** The S3 transmitter, while the server takes weights through S3. */
  private s3: S3Transmitter | undefined;
  /** Aggregates being read from S3, in the order they came. */
  private receiveChain: Promise<void> = Promise.resolve();
  private latest: AggregateMessage | SednaError | undefined;
  private readonly aggregateWaiters: Waiter<AggregateMessage>[] = [];
  private readonly messages: Frame[] = [];
  private readonly messageWaiters: { type: string | undefined; waiter: Waiter<Frame> }[] = [];
  private lastSeen = 0;
  /** The last frame the server sent (type and when), for diagnostics. */
  private lastFrame: { type: string; at: number } | undefined;
  private liveness: NodeJS.Timeout | undefined;

  private constructor(options: AggregationClientOptions) {
    super();
    if (!/^wss?:\/\/[^/]+\/[^/]+/i.test(options.url)) {
      throw invalidArgument('url', options.url, 'ws(s)://host:port/{aggregation}');
    }
    if (typeof options.clientId !== 'string') throw invalidArgument('clientId', options.clientId, 'a string');
    this.url = options.url;
    this.clientId = options.clientId;
    this.jobName = options.jobName ?? 'sedna';
    const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs, 300_000);
    this.options = {
      url: options.url,
      clientId: options.clientId,
      encoding: options.encoding ?? 'binary',
      connectTimeoutMs,
      // Cut to what a timer holds (common/timers.ts): a bound of years must not fire at once.
      attemptTimeoutMs: timerDelay(positive('attemptTimeoutMs', options.attemptTimeoutMs, 5_000)),
      retry: { baseDelayMs: options.retry?.baseDelayMs ?? 250, maxDelayMs: options.retry?.maxDelayMs ?? 5_000 },
      maxMessageBytes: positive('maxMessageBytes', options.maxMessageBytes, 256 * MIB),
      livenessTimeoutMs: positive('livenessTimeoutMs', options.livenessTimeoutMs, 300_000),
      sendTimeoutMs: timerDelay(positive('sendTimeoutMs', options.sendTimeoutMs, 300_000)),
      waitTimeoutMs:
        options.waitTimeoutMs === undefined ? undefined : positive('waitTimeoutMs', options.waitTimeoutMs, 1),
      reconnect: options.reconnect ?? true,
      maxQueuedMessages: positive('maxQueuedMessages', options.maxQueuedMessages, 256),
      random: options.random ?? Math.random,
      token: options.token,
      tls: options.tls,
      transmitter: options.transmitter,
    };
  }

  /**
   * Connects and subscribes, retrying with backoff until the server answers or
   * `connectTimeoutMs` passes (then SEDNA_ERR_TIMEOUT with the last failure as cause).
   */
  static async create(options: AggregationClientOptions): Promise<AggregationClient> {
    const client = new AggregationClient(options);
    await client.connect();
    return client;
  }

  private get log(): Logger {
    return getLogger('fl.client');
  }

  /** The encoding in use for weights: `binary` only when a sedna-sdk server granted it. */
  get encoding(): WireEncoding {
    return this.wireEncoding;
  }

  /** What a sedna-sdk server told us at the last subscribe (undefined with a Python server). */
  get server(): ServerHello | undefined {
    return this.hello;
  }

  /** The round the server has in progress, when known. */
  get round(): number | undefined {
    return this.nextRound;
  }

  get connected(): boolean {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  // -------------------------------------------------------------------------------------------
  // Connecting

  /** A method, so a check after an await is not narrowed away. */
  private isClosed(): boolean {
    return this.closed;
  }

  private async connect(): Promise<void> {
    const started = Date.now();
    const deadline = started + this.options.connectTimeoutMs;
    let lastError: SednaError | undefined;
    // Whether a subscribe of ours may have reached the server without its reply reaching us: the
    // server then holds our id for a while, and a "duplicate client" answer is our own ghost.
    let maybeSubscribed = this.everConnected;
    let attempt = 0;
    for (;;) {
      attempt++;
      if (this.closed) throw closedError('AggregationClient');
      const outcome = await this.attempt(attempt);
      if (outcome.ok) return;
      lastError = outcome.error;
      // Only what the server itself refused is final (a local timeout or a lost connection is
      // worth another try): an id clash on a first subscribe is a configuration error; after one
      // that may have registered us, it is the server not having noticed that connection die yet.
      const final = outcome.refused && (outcome.error.code !== 'SEDNA_ERR_DUPLICATE_CLIENT' || !maybeSubscribed);
      if (final || this.isClosed()) throw outcome.error;
      maybeSubscribed ||= outcome.subscribeSent;
      const delay = backoffDelay(attempt - 1, { ...this.options.retry, maxAttempts: Infinity }, this.options.random);
      if (Date.now() + delay >= deadline) break;
      this.log.debug({ attempt, delay, err: outcome.error.message }, 'aggregation server not reachable yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, timerDelay(delay)));
    }
    const diagnostic = {
      url: this.url,
      client: this.clientId,
      attempts: attempt,
      waitedMs: Date.now() - started,
      rejoin: this.everConnected,
      lastError: lastError.message,
    };
    this.log.error(diagnostic, `gave up connecting to the aggregation server after ${attempt} attempts`);
    throw new SednaError(
      'SEDNA_ERR_TIMEOUT',
      `could not connect to the aggregation server at ${this.url} within ${this.options.connectTimeoutMs} ms: ${messageOf(lastError)}`,
      { cause: lastError, details: diagnostic },
    );
  }

  /**
   * One connection attempt: open, subscribe, wait for the reply (at most `attemptTimeoutMs`).
   * Never rejects: a failure says whether the server refused us (an error frame) and whether our
   * subscribe went out.
   */
  private attempt(attempt: number): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      const socket = new WebSocket(this.url, {
        maxPayload: this.options.maxMessageBytes,
        perMessageDeflate: false,
        handshakeTimeout: this.options.attemptTimeoutMs,
        ...this.options.tls,
      });
      let settled = false;
      let subscribeSent = false;
      const timer = setTimeout(() => {
        fail(new SednaError('SEDNA_ERR_TIMEOUT', `no subscribe reply within ${this.options.attemptTimeoutMs} ms`));
      }, this.options.attemptTimeoutMs);
      const fail = (err: unknown, refused = false): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.removeAllListeners();
        socket.on('error', () => undefined);
        socket.terminate();
        const error = isSednaError(err)
          ? err
          : new SednaError(
              'SEDNA_ERR_NETWORK',
              `cannot reach the aggregation server at ${this.url}: ${messageOf(err)}`,
              {
                cause: err,
              },
            );
        resolve({ ok: false, error, refused, subscribeSent });
      };
      socket.once('error', fail);
      socket.once('unexpected-response', (_request, response) => {
        fail(
          new SednaError(
            'SEDNA_ERR_NETWORK',
            `the server answered the WebSocket upgrade with HTTP ${response.statusCode}`,
          ),
        );
      });
      socket.once('close', (code, reason) => {
        fail(new SednaError('SEDNA_ERR_NETWORK', `closed during the handshake (${code} ${reason.toString()})`));
      });
      socket.once('open', () => {
        const subscribe: Record<string, unknown> = { type: 'subscribe', client_id: this.clientId };
        subscribe.encoding = this.options.encoding;
        if (this.options.token !== undefined) subscribe.token = this.options.token;
        subscribe.session_secret = this.sessionSecret;
        if (this.options.transmitter?.kind === 's3') subscribe.transmitter = 's3';
        socket.send(JSON.stringify(subscribe));
        subscribeSent = true;
      });
      const early: { data: RawData; isBinary: boolean }[] = [];
      socket.on('message', (data: RawData, isBinary: boolean) => {
        if (settled) return;
        if (isBinary) {
          early.push({ data, isBinary });
          return;
        }
        let frame: Frame;
        try {
          frame = readMessage(data, false).frame;
        } catch {
          return;
        }
        if (frame.type === 'error') {
          fail(errorFromFrame(frame), true);
          return;
        }
        if (frame.type !== 'subscribe' || frame.client_id !== this.clientId) {
          early.push({ data, isBinary });
          return;
        }
        settled = true;
        clearTimeout(timer);
        socket.removeAllListeners();
        this.adopt(socket, frame, attempt);
        for (const m of early) this.onMessage(m.data, m.isBinary);
        resolve({ ok: true });
      });
    });
  }

  private adopt(socket: WebSocket, reply: Frame, attempt: number): void {
    const rejoin = this.everConnected;
    this.socket = socket;
    this.everConnected = true;
    this.hello = isHello(reply.server) ? reply.server : undefined;
    this.wireEncoding = this.hello?.encoding ?? 'json';
    const s3 = this.options.transmitter;
    this.s3 = this.hello?.transmitter === 's3' && s3?.kind === 's3' ? s3 : undefined;
    if (this.hello !== undefined) this.nextRound = this.hello.round_number;
    this.lastSeen = Date.now();
    this.lastFrame = { type: 'subscribe', at: this.lastSeen };
    socket.on('message', (data: RawData, isBinary: boolean) => {
      this.lastSeen = Date.now();
      this.onMessage(data, isBinary);
    });
    socket.on('ping', () => {
      this.lastSeen = Date.now();
    });
    socket.on('error', (err) => {
      this.log.debug({ err }, 'websocket error');
    });
    socket.on('close', (code: number, reason: Buffer) => {
      this.onClose(socket, code, reason.toString());
    });
    this.armLiveness();
    this.log.info({ url: this.url, encoding: this.wireEncoding, rejoin, serverRound: this.nextRound }, 'subscribed');
    this.emit('connected', { attempt, rejoin, encoding: this.wireEncoding, serverRound: this.nextRound });
    // The server lost an update we sent (a Python server drops it with the connection; ours says).
    const pending = this.pending;
    if (rejoin && pending !== undefined) {
      const serverHasIt = this.hello?.update_received === true;
      const sameRound =
        this.hello === undefined || pending.round === undefined || pending.round === this.hello.round_number;
      if (!serverHasIt && sameRound) {
        this.log.info({ round: pending.round }, 're-sending the update the server did not get');
        void this.sendUpdate(
          pending.weights,
          pending.numSamples,
          pending.round === undefined ? {} : { round: pending.round },
        ).catch((err: unknown) => {
          this.log.warn({ err: messageOf(err) }, 'could not re-send the update');
        });
      }
    }
  }

  private armLiveness(): void {
    if (this.liveness !== undefined) clearInterval(this.liveness);
    const period = Math.max(50, Math.min(5_000, this.options.livenessTimeoutMs / 4));
    this.liveness = setInterval(() => {
      if (this.socket?.readyState === WebSocket.OPEN && Date.now() - this.lastSeen > this.options.livenessTimeoutMs) {
        this.log.warn(`no frame or ping from the server for ${this.options.livenessTimeoutMs} ms; reconnecting`);
        this.socket.terminate();
      }
    }, period);
    this.liveness.unref();
  }

  private onClose(socket: WebSocket, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    if (code === CLOSE_CODES.NORMAL && this.fatal === undefined && !this.closed) this.ended = true;
    const willReconnect = !this.closed && !this.ended && this.fatal === undefined && this.options.reconnect;
    this.emit('disconnected', { code, reason, willReconnect });
    if (!willReconnect) {
      if (this.liveness !== undefined) clearInterval(this.liveness);
      const error =
        this.fatal ??
        (this.closed
          ? closedError('AggregationClient')
          : new SednaError(
              'SEDNA_ERR_ROUND_FAILED',
              this.ended ? 'the aggregation server ended the job' : `the connection closed (${code} ${reason})`,
            ));
      this.failWaiters(error);
      return;
    }
    this.log.warn({ code, reason }, 'connection to the aggregation server lost; reconnecting');
    this.reconnecting = this.connect().then(
      () => {
        this.reconnecting = undefined;
      },
      (err: unknown) => {
        this.reconnecting = undefined;
        this.fatal = isSednaError(err) ? err : new SednaError('SEDNA_ERR_NETWORK', messageOf(err), { cause: err });
        if (this.liveness !== undefined) clearInterval(this.liveness);
        this.failWaiters(this.fatal);
      },
    );
  }

  private failWaiters(error: SednaError): void {
    for (const w of this.aggregateWaiters.splice(0)) w.reject(error);
    for (const { waiter } of this.messageWaiters.splice(0)) waiter.reject(error);
  }

  // -------------------------------------------------------------------------------------------
  // Receiving

  private onMessage(data: RawData, isBinary: boolean): void {
    let frame: Frame;
    let weights: WeightRecord[] | undefined;
    try {
      ({ frame, weights } = readMessage(data, isBinary));
    } catch (err) {
      this.log.warn({ err: messageOf(err) }, 'ignoring a frame that is not part of the protocol');
      return;
    }
    this.lastFrame = { type: frame.type, at: Date.now() };
    if (frame.type === 'error') {
      const error = errorFromFrame(frame);
      if (isDropCode(error.code))
        this.fatal = error; // the server closes next
      else if (error.code === 'SEDNA_ERR_ROUND_FAILED' || frame.code === 'SEDNA_ERR_ROUND_FAILED') {
        this.deliverAggregate(new SednaError('SEDNA_ERR_ROUND_FAILED', error.message, { details: error.details }));
      } else if (error.code === 'SEDNA_ERR_NOT_CHOSEN') {
        // Refused for this round; the aggregate still comes. Not to be sent again after a reconnect.
        this.log.warn({ err: error.message }, 'the server refused our update: not chosen for the round');
        this.pending = undefined;
      }
      return;
    }
    if (frame.type === 'recv_weight') {
      let ref: S3WeightsRef | undefined;
      try {
        ref = s3RefOf(frame.data, 'SEDNA_ERR_ROUND_FAILED');
      } catch (err) {
        this.deliverAggregate(err as SednaError);
        return;
      }
      if (ref !== undefined) {
        this.receiveFromS3(frame, ref);
        return;
      }
      this.onAggregate(frame, weights);
      return;
    }
    this.emit('message', frame);
    const waiting = this.messageWaiters.findIndex((w) => w.type === undefined || w.type === frame.type);
    if (waiting >= 0) {
      const [entry] = this.messageWaiters.splice(waiting, 1);
      entry?.waiter.resolve(frame);
      return;
    }
    this.messages.push(frame);
    if (this.messages.length > this.options.maxQueuedMessages) this.messages.shift();
  }

  /**
   * An aggregate whose weights are in S3: read (size and SHA-256 checked) in the order the
   * frames came; a failure is this round's SEDNA_ERR_ROUND_FAILED.
   */
  private receiveFromS3(frame: Frame, ref: S3WeightsRef): void {
    const s3 = this.s3 ?? (this.options.transmitter?.kind === 's3' ? this.options.transmitter : undefined);
    this.receiveChain = this.receiveChain.then(async () => {
      if (s3 === undefined) {
        this.deliverAggregate(
          new SednaError('SEDNA_ERR_ROUND_FAILED', 'an S3 aggregate, but this client has no S3 transmitter'),
        );
        return;
      }
      try {
        const { weights } = await s3.get(ref, { type: 'recv_weight', maxBytes: this.options.maxMessageBytes });
        this.onAggregate(frame, weights);
      } catch (err) {
        this.log.error({ err: messageOf(err) }, 'could not read the aggregate from S3');
        this.deliverAggregate(err as SednaError);
      }
    });
  }

  private onAggregate(frame: Frame, weights: WeightRecord[] | undefined): void {
    let message: AggregateMessage;
    try {
      message = readAggregate(frame, weights);
    } catch (err) {
      this.log.error({ err: messageOf(err) }, 'malformed aggregate from the server');
      this.deliverAggregate(err as SednaError);
      return;
    }
    this.nextRound = message.round + 1;
    if (this.pending !== undefined && (this.pending.round === undefined || this.pending.round <= message.round)) {
      this.pending = undefined;
    }
    this.emit('aggregate', message);
    this.deliverAggregate(message);
  }

  private deliverAggregate(value: AggregateMessage | SednaError): void {
    const waiter = this.aggregateWaiters.shift();
    if (waiter === undefined) {
      // Only the newest matters: a later aggregate supersedes an unread one.
      this.latest = value;
      return;
    }
    if (value instanceof SednaError) waiter.reject(value);
    else waiter.resolve(value);
  }

  /**
   * The next aggregate (or the unread latest one). Rejects with SEDNA_ERR_ROUND_FAILED for a
   * malformed `recv_weight` or a failed round, with the server's code when it dropped us or ended
   * the job (SEDNA_ERR_ROUND_STALLED when it gave up on a round), and with SEDNA_ERR_ROUND_STALLED
   * after `timeoutMs` (default: `waitTimeoutMs`), having logged what it waited for.
   */
  nextAggregate(
    options: { timeoutMs?: number; signal?: AbortSignal; minRound?: number } = {},
  ): Promise<AggregateMessage> {
    const { minRound } = options;
    // Skips an aggregate older than the round asked for (one resent after a reconnect, say).
    const bound = options.timeoutMs ?? this.waitBoundMs();
    const started = Date.now();
    const what = { waitingFor: 'an aggregate', round: minRound ?? this.nextRound, started, bound };
    const next = async (): Promise<AggregateMessage> => {
      const timeoutMs = Math.max(0, started + bound - Date.now());
      const message = await this.nextAnyAggregate({ ...options, timeoutMs }, what);
      return minRound === undefined || message.round >= minRound ? message : next();
    };
    return next();
  }

  private nextAnyAggregate(
    options: { timeoutMs: number; signal?: AbortSignal },
    what: WaitDescription,
  ): Promise<AggregateMessage> {
    const latest = this.latest;
    if (latest !== undefined) {
      this.latest = undefined;
      return latest instanceof SednaError ? Promise.reject(latest) : Promise.resolve(latest);
    }
    const stopped = this.stoppedError();
    if (stopped !== undefined) return Promise.reject(stopped);
    return this.wait(this.aggregateWaiters, options, what, 'SEDNA_ERR_ROUND_STALLED');
  }

  /**
   * The next frame of `type` (any type when omitted) other than aggregates; Sedna's
   * `recv(wait_data_type)`. Rejects with SEDNA_ERR_TIMEOUT after `timeoutMs` (default: `waitTimeoutMs`).
   */
  recv(type?: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Frame> {
    const at = this.messages.findIndex((m) => type === undefined || m.type === type);
    if (at >= 0) return Promise.resolve(this.messages.splice(at, 1)[0] as Frame);
    const stopped = this.stoppedError();
    if (stopped !== undefined) return Promise.reject(stopped);
    const list: Waiter<Frame>[] = [];
    const bound = options.timeoutMs ?? this.waitBoundMs();
    const what = { waitingFor: `a "${type ?? 'any'}" frame`, round: this.nextRound, started: Date.now(), bound };
    const promise = this.wait(list, { ...options, timeoutMs: bound }, what, 'SEDNA_ERR_TIMEOUT');
    const waiter = list[0] as Waiter<Frame>;
    this.messageWaiters.push({ type, waiter });
    return promise;
  }

  /**
   * The `round_config` frame of round `round` or a later one (older ones are skipped), from a
   * server whose hello says `round_config: true`: the algorithm's round configuration (`data`,
   * e.g. FedProx's `mu`) and, with client selection, whether this client trains (`selected`).
   * Rejects as `recv` does.
   */
  async roundConfig(
    round: number,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<RoundConfigFrame> {
    const bound = options.timeoutMs ?? this.waitBoundMs();
    const started = Date.now();
    for (;;) {
      const timeoutMs = Math.max(0, started + bound - Date.now());
      const frame = await this.recv('round_config', { ...options, timeoutMs });
      const number = frame.round_number;
      if (typeof number !== 'number' || number < round) continue;
      const data = frame.data;
      return {
        round: number,
        data:
          typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {},
        selected: frame.selected !== false,
      };
    }
  }

  /** The default bound of a wait: `waitTimeoutMs`, else the server's round deadline plus the connect timeout. */
  private waitBoundMs(): number {
    if (this.options.waitTimeoutMs !== undefined) return this.options.waitTimeoutMs;
    const announced = this.hello?.round_deadline_ms;
    const deadline =
      typeof announced === 'number' && Number.isFinite(announced) && announced > 0
        ? announced
        : DEFAULT_ROUND_DEADLINE_MS;
    return deadline + this.options.connectTimeoutMs;
  }

  /** What a wait that passed its bound was waiting for: logged at error level and the error's details. */
  private diagnose(what: WaitDescription): Record<string, unknown> {
    const now = Date.now();
    return {
      client: this.clientId,
      url: this.url,
      waitingFor: what.waitingFor,
      round: what.round,
      serverRound: this.nextRound,
      waitedMs: now - what.started,
      boundMs: what.bound,
      connected: this.connected,
      reconnecting: this.reconnecting !== undefined,
      pendingUpdateRound: this.pending === undefined ? undefined : (this.pending.round ?? 'unknown'),
      lastMessage:
        this.lastFrame === undefined ? undefined : { type: this.lastFrame.type, agoMs: now - this.lastFrame.at },
      lastHeardFromServerAgoMs: this.lastSeen === 0 ? undefined : now - this.lastSeen,
    };
  }

  private stoppedError(): SednaError | undefined {
    if (this.closed) return closedError('AggregationClient');
    if (this.fatal !== undefined) return this.fatal;
    if (this.ended) return new SednaError('SEDNA_ERR_ROUND_FAILED', 'the aggregation server ended the job');
    return undefined;
  }

  private wait<T>(
    list: Waiter<T>[],
    options: { timeoutMs: number; signal?: AbortSignal },
    what: WaitDescription,
    timeoutCode: 'SEDNA_ERR_ROUND_STALLED' | 'SEDNA_ERR_TIMEOUT',
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const aborted = (): Error => {
        const reason: unknown = options.signal?.reason;
        return reason instanceof Error
          ? reason
          : new SednaError('SEDNA_ERR_TIMEOUT', `aborted waiting for ${what.waitingFor}`);
      };
      if (options.signal?.aborted === true) {
        reject(aborted());
        return;
      }
      const timer = setTimeout(() => {
        const diagnostic = this.diagnose(what);
        const message =
          `waited ${what.bound} ms for ${what.waitingFor} from the aggregation server` +
          (what.round === undefined ? '' : ` (round ${what.round})`) +
          '; giving up';
        this.log.error(diagnostic, message);
        waiter.reject(new SednaError(timeoutCode, message, { details: diagnostic }));
      }, timerDelay(options.timeoutMs));
      const onAbort = (): void => {
        waiter.reject(aborted());
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        const i = list.indexOf(waiter);
        if (i >= 0) list.splice(i, 1);
        const j = this.messageWaiters.findIndex((w) => w.waiter === waiter);
        if (j >= 0) this.messageWaiters.splice(j, 1);
      };
      const waiter: Waiter<T> = {
        resolve: (v) => {
          cleanup();
          resolve(v);
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      list.push(waiter);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  private async whenConnected(): Promise<WebSocket> {
    for (;;) {
      const stopped = this.stoppedError();
      if (stopped !== undefined) throw stopped;
      const socket = this.socket;
      if (socket?.readyState === WebSocket.OPEN) return socket;
      if (this.reconnecting !== undefined) await this.reconnecting;
      else throw new SednaError('SEDNA_ERR_NETWORK', 'not connected to the aggregation server');
    }
  }

  /** Runs `work` after every earlier send: frames of one message are never interleaved. */
  private serialize(work: () => Promise<void>): Promise<void> {
    const run = this.sendChain.then(work);
    this.sendChain = run.catch(() => undefined);
    return run;
  }

  /**
   * Writes one frame; resolves once ws has handed it to the socket. A server that stops reading
   * would hold that forever: past `sendTimeoutMs` the connection is dropped and the send fails.
   */
  private write(
    socket: WebSocket,
    data: string | Uint8Array,
    options: { binary: boolean; fin: boolean },
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const timer = setTimeout(() => {
        const bound = this.options.sendTimeoutMs;
        const diagnostic = {
          ...this.diagnose({ waitingFor: 'a frame to be written', round: this.nextRound, started, bound }),
          bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength,
          bufferedBytes: socket.bufferedAmount,
        };
        const message = `the aggregation server did not take a ${diagnostic.bytes}-byte frame within ${bound} ms; dropping the connection`;
        this.log.error(diagnostic, message);
        reject(new SednaError('SEDNA_ERR_TIMEOUT', message, { details: diagnostic }));
        socket.terminate();
      }, this.options.sendTimeoutMs);
      socket.send(data, { binary: options.binary, fin: options.fin, compress: false }, (err) => {
        clearTimeout(timer);
        // ws passes null (not undefined, whatever its types say) on success.
        if (!(err instanceof Error)) resolve();
        else reject(new SednaError('SEDNA_ERR_NETWORK', `send failed: ${messageOf(err)}`, { cause: err }));
      });
    });
  }

  /**
   * Sends this client's weights for the round in progress (`update_weight`): one binary frame in
   * binary mode (written as fragments that reference the tensors), Sedna's JSON lists otherwise.
   * The update is kept until its round's aggregate arrives, and sent again after a reconnect if
   * the server lost it. `round` is the round the weights were trained for (default: the round in
   * progress now); a sedna-sdk server ignores an update whose round already closed.
   */
  sendUpdate(weights: readonly WeightRecord[], numSamples: number, options: { round?: number } = {}): Promise<void> {
    checkNumSamples(numSamples, 'numSamples');
    if (weights.length === 0) throw invalidArgument('weights', [], 'at least one tensor');
    const round = options.round ?? this.nextRound;
    this.pending = { weights, numSamples, round };
    return this.serialize(async () => {
      const socket = await this.whenConnected();
      // The envelope of a binary frame or an S3 object (Sedna's JSON frame carries the lists).
      const envelope: Record<string, unknown> = {
        type: 'update_weight',
        client: this.clientId,
        data: { num_samples: numSamples },
        job_name: this.jobName,
      };
      if (round !== undefined) envelope.round_number = round;
      const s3 = this.s3;
      if (s3 !== undefined) {
        // Up to S3 (multipart, from the tensors), then only the reference on the socket.
        const ref = await s3.putUpdate(this.clientId, round, envelope, weights);
        const frame = { ...envelope, data: { num_samples: numSamples, [S3_REF_FIELD]: ref } };
        await this.write(await this.whenConnected(), JSON.stringify(frame), { binary: false, fin: true });
        return;
      }
      if (this.wireEncoding === 'binary') {
        const bytes = weights.reduce((n, w) => n + w.data.byteLength, 0);
        if (bytes <= SINGLE_FRAME_BYTES) {
          // One WebSocket frame: the receiver then copies it once (ws joins fragments with a
          // second copy), which saves the server an allocation and a copy per update.
          await this.write(socket, encodeBinaryMessage(envelope, weights), { binary: true, fin: true });
          return;
        }
        // Larger updates go as fragments that reference the tensors: the client never holds a
        // second full copy (masking copies one fragment at a time).
        const chunks = encodeBinaryMessageChunks(envelope, weights);
        let window: Promise<void>[] = [];
        for (let i = 0; i < chunks.length; i++) {
          const last = i === chunks.length - 1;
          window.push(this.write(socket, chunks[i] as Uint8Array, { binary: true, fin: last }));
          // A window of fragments in flight: masking copies each, so memory stays bounded. Every
          // write of the window is awaited, so none of their failures goes unhandled.
          if (last || window.length === 8) {
            await Promise.all(window);
            window = [];
          }
        }
        return;
      }
      const frame = {
        type: 'update_weight',
        client: this.clientId,
        data: { num_samples: numSamples, weights: weightsToJsonTensors(weights) },
        job_name: this.jobName,
      };
      // Floats as Python writes them (`1.0`): a Python server's np.asarray then gets float64.
      await this.write(socket, toPythonJson(frame), { binary: false, fin: true });
    });
  }

  /**
   * Sends any other frame, `{"type", "client", "data", "job_name"}` (Sedna's `send(data, msg_type)`):
   * a Python server re-broadcasts it to every client; a sedna-sdk server ignores it (issue 13).
   */
  send(data: unknown, type = 'message'): Promise<void> {
    if (type === 'update_weight' || type === 'subscribe') {
      throw invalidArgument('type', type, 'a message type other than update_weight/subscribe (use sendUpdate)');
    }
    return this.serialize(async () => {
      const socket = await this.whenConnected();
      const frame = { type, client: this.clientId, data, job_name: this.jobName };
      await this.write(socket, JSON.stringify(frame), { binary: false, fin: true });
    });
  }

  /** Casts an aggregate to the local model's layout (names and dtypes; shapes must match). */
  static fitToLayout(message: AggregateMessage, layout: WeightLayout): WeightRecord[] {
    try {
      return castWeightsLike(message.weights, layout, `aggregate of round ${message.round}`);
    } catch (err) {
      throw new SednaError('SEDNA_ERR_ROUND_FAILED', `malformed recv_weight: ${messageOf(err)}`, { cause: err });
    }
  }

  /** Closes the connection (1000). Idempotent; waiting calls reject with SEDNA_ERR_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.liveness !== undefined) clearInterval(this.liveness);
    const socket = this.socket;
    this.failWaiters(closedError('AggregationClient'));
    if (socket === undefined || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => {
        resolve();
      });
      socket.close(CLOSE_CODES.NORMAL, 'client closing');
      setTimeout(() => {
        socket.terminate();
      }, 2_000).unref();
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
