/**
 * The one server factory: every HTTP/WebSocket server in sedna-sdk is a fastify instance built
 * here, so limits, validation, error bodies, health checks, TLS and shutdown behave the same
 * everywhere.
 *
 * - Bind host/port come from the caller (who takes them from Sedna's `*_BIND_IP`/`*_BIND_PORT`,
 *   whose default is the primary interface IP, as Sedna's). Without one, loopback: a server is
 *   never exposed on every interface unless asked (docs/security.md).
 * - Bodies over `bodyLimitBytes` get 413; JSON schemas are checked without type coercion (so
 *   `"data": "x"` is not silently turned into `["x"]`); errors are `{ code, message }` with 4xx
 *   for client faults and never a stack trace.
 * - `requestTimeoutMs` bounds every request (504 `SEDNA_ERR_TIMEOUT`); `requestSignal(request)`
 *   aborts at the deadline or when the client goes away. (fastify's own `handlerTimeout` aborts a
 *   POST's signal as soon as its body is read, fastify PR #6725, so we keep our own.)
 * - `close()` stops accepting, lets in-flight requests finish (up to `closeGraceMs`), then closes.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ERROR_CATALOG, SednaError, invalidArgument, messageOf, type SednaErrorCode } from '../../common/errors.js';
import { getLogger, type Logger } from '../../common/logger.js';
import { bearerOf, tokensMatch } from '../../common/shared-token.js';
import { metricsHookFor } from './metrics-hook.js';
import type { ServerMetrics } from './metrics.js';

export interface TlsOptions {
  keyPath: string;
  certPath: string;
  /** CA bundle (PEM) that client certificates must chain to; with `requestCert`, mutual TLS. */
  caPath?: string;
  /** Ask every client for a certificate signed by `caPath` and refuse connections without one. */
  requestCert?: boolean;
}

export interface ServerOptions {
  /** Used in logs and as the default health-check identity. */
  name: string;
  /** Bind address (default 127.0.0.1: loopback only; `0.0.0.0` for every interface). */
  host?: string;
  /** Port; 0 picks a free one (tests). */
  port?: number;
  /** Largest request body (default 16 MiB). */
  bodyLimitBytes?: number;
  /**
   * Deadline for one request's whole life, 0 = none (default 60 s): the answer is 504 and the
   * connection is closed. Receiving the request (headers and body) is bounded by it too.
   */
  requestTimeoutMs?: number;
  /** How long a client may take to send the request headers (default 30 s, at most requestTimeoutMs). */
  headersTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept between requests (default 72 s). */
  keepAliveTimeoutMs?: number;
  /**
   * A connection on which nothing moves for this long is closed, 0 = never (default: the longer
   * of the request deadline and the keep-alive timeout, plus 10 s; 0 when requestTimeoutMs is 0).
   */
  connectionTimeoutMs?: number;
  /** Connections open at once; more are closed as they arrive (default 1024). */
  maxConnections?: number;
  /** How long `close()` waits for in-flight requests before cutting connections (default 10 s). */
  closeGraceMs?: number;
  /** Path of the health route (default `/healthz`); `false` for none. */
  healthPath?: string | false;
  tls?: TlsOptions;
  /**
   * Shared token: every request but the health check must carry `Authorization: Bearer <token>`,
   * or gets 401 `SEDNA_ERR_UNAUTHORIZED` before any route runs. Default none (docs/security.md).
   */
  token?: string;
  logger?: Logger;
  /**
   * Replaces the `{code, message}` 404 answer for requests no route matches (the LC emulator
   * mimics Go's plain-text one). Gets node's raw request and response.
   */
  notFound?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Prometheus metrics at `/metrics` (default: the SEDNA_METRICS variable, false); see metrics.ts. */
  metrics?: boolean;
}

export interface ErrorBody {
  code: SednaErrorCode;
  message: string;
}

/** A fastify instance plus the lifecycle the rest of sedna-sdk relies on. */
export interface SednaServer {
  readonly app: FastifyInstance;
  readonly name: string;
  /** Starts listening; resolves with the base URL (e.g. `http://127.0.0.1:43211`). */
  listen(): Promise<string>;
  /** The base URL once listening. */
  readonly url: string;
  readonly port: number;
  /** The server's metrics when they are on: servers add their own families to it. */
  readonly metrics: ServerMetrics | undefined;
  close(): Promise<void>;
}

const MIB = 1024 * 1024;

export const DEFAULT_SERVER_OPTIONS = Object.freeze({
  host: '127.0.0.1',
  bodyLimitBytes: 16 * MIB,
  requestTimeoutMs: 60_000,
  headersTimeoutMs: 30_000,
  keepAliveTimeoutMs: 72_000,
  maxConnections: 1024,
  closeGraceMs: 10_000,
  healthPath: '/healthz',
});

/** Fastify's own error codes that mean "the client sent something wrong", mapped to ours. */
const FRAMEWORK_CODES: Readonly<Record<string, SednaErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'SEDNA_ERR_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'SEDNA_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'SEDNA_ERR_BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'SEDNA_ERR_BAD_REQUEST',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'SEDNA_ERR_BAD_REQUEST',
  FST_ERR_VALIDATION: 'SEDNA_ERR_BAD_REQUEST',
  FST_ERR_BAD_URL: 'SEDNA_ERR_BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'SEDNA_ERR_BAD_REQUEST',
};

/** Turns anything thrown in a handler into the status and `{code, message}` body we send. */
export function toErrorReply(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof SednaError) return { status: err.httpStatus, body: { code: err.code, message: err.message } };
  const fastifyError = err as Partial<FastifyError> & { validation?: unknown };
  const mapped = typeof fastifyError.code === 'string' ? FRAMEWORK_CODES[fastifyError.code] : undefined;
  if (mapped !== undefined) {
    return {
      status: ERROR_CATALOG[mapped].httpStatus,
      body: { code: mapped, message: cleanFrameworkMessage(messageOf(err)) },
    };
  }
  // A SyntaxError from JSON.parse in a content parser is a client fault.
  if (err instanceof SyntaxError)
    return { status: 400, body: { code: 'SEDNA_ERR_BAD_REQUEST', message: `malformed JSON: ${err.message}` } };
  const status = typeof fastifyError.statusCode === 'number' ? fastifyError.statusCode : 500;
  if (status >= 400 && status < 500)
    return { status, body: { code: 'SEDNA_ERR_BAD_REQUEST', message: messageOf(err) } };
  return { status: 500, body: { code: 'SEDNA_ERR_INTERNAL', message: 'internal server error' } };
}

function cleanFrameworkMessage(message: string): string {
  // fastify prefixes validation messages with the schema location ("body/data must be array").
  return message.replace(/^body\//, 'body.');
}

interface SocketTimeouts {
  readonly keepAlive: number;
  readonly headers: number;
  readonly request: number;
  readonly connection: number;
  readonly checkEvery: number;
  readonly maxConnections: number;
}

function nonNegativeMs(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw invalidArgument(name, value, 'a number of milliseconds >= 0');
  return Math.round(v);
}

/** The node server's socket timeouts and connection cap, from the options and their defaults. */
function socketTimeouts(options: ServerOptions, requestTimeout: number): SocketTimeouts {
  const request = nonNegativeMs('requestTimeoutMs', requestTimeout, DEFAULT_SERVER_OPTIONS.requestTimeoutMs);
  const keepAlive = nonNegativeMs(
    'keepAliveTimeoutMs',
    options.keepAliveTimeoutMs,
    DEFAULT_SERVER_OPTIONS.keepAliveTimeoutMs,
  );
  // Node refuses a headers timeout longer than the request timeout.
  const headersWanted = nonNegativeMs(
    'headersTimeoutMs',
    options.headersTimeoutMs,
    DEFAULT_SERVER_OPTIONS.headersTimeoutMs,
  );
  const headers = request > 0 ? Math.min(headersWanted, request) : headersWanted;
  const connection = nonNegativeMs(
    'connectionTimeoutMs',
    options.connectionTimeoutMs,
    request > 0 ? Math.max(request, keepAlive) + 10_000 : 0,
  );
  const maxConnections = options.maxConnections ?? DEFAULT_SERVER_OPTIONS.maxConnections;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw invalidArgument('maxConnections', maxConnections, 'an integer >= 1');
  }
  const shortest = Math.min(...[headers, request].filter((t) => t > 0), 30_000);
  return {
    keepAlive,
    headers,
    request,
    connection,
    checkEvery: Math.max(50, Math.floor(shortest / 4)),
    maxConnections,
  };
}

/** Builds a fastify server with sedna-sdk's limits, error bodies, health route and lifecycle. */
export async function createServer(options: ServerOptions): Promise<SednaServer> {
  if (options.name.trim() === '') throw invalidArgument('name', options.name, 'a server name');
  const host = options.host ?? DEFAULT_SERVER_OPTIONS.host;
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw invalidArgument('port', port, 'an integer from 0 to 65535');
  const logger = options.logger ?? getLogger(`server.${options.name}`);
  const tls =
    options.tls === undefined
      ? null
      : {
          key: await readTlsFile(options.tls.keyPath, 'key'),
          cert: await readTlsFile(options.tls.certPath, 'certificate'),
          ...(options.tls.caPath === undefined ? {} : { ca: await readTlsFile(options.tls.caPath, 'CA') }),
          ...(options.tls.requestCert === true ? { requestCert: true, rejectUnauthorized: true } : {}),
        };
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_SERVER_OPTIONS.requestTimeoutMs;
  const timeouts = socketTimeouts(options, requestTimeout);
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_SERVER_OPTIONS.bodyLimitBytes;

  const deadlines = new DeadlineWatch(requestTimeout);
  const healthPath = options.healthPath ?? DEFAULT_SERVER_OPTIONS.healthPath;
  const healthBody = JSON.stringify({ status: 'ok', name: options.name });
  const token = options.token;
  if (token !== undefined && token.trim() === '') throw invalidArgument('token', '(empty)', 'a non-empty token');
  const metricsHook = metricsHookFor(options.name, options.metrics);
  const app = Fastify({
    // Our own node server in front of fastify's handler: the health check and the request deadline
    // watch live here, so neither adds a route or a hook to every request (each cost ~20 % of a
    // small route's throughput in bench/server-factory.bench.ts).
    serverFactory: (handler) => {
      const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
        if (healthPath !== false && req.method === 'GET' && req.url === healthPath) {
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(healthBody);
          return;
        }
        if (token !== undefined && !tokensMatch(token, bearerOf(req.headers.authorization))) {
          refuseUnauthorized(res);
          return;
        }
        // /metrics too: with a token, only a scraper that has it reads the counters.
        if (metricsHook?.intercept(req, res) === true) return;
        deadlines.watch(req, res);
        handler(req, res);
      };
      // fastify applies none of its timeout options to a server from a factory: ours does.
      const serverOptions: http.ServerOptions = {
        keepAliveTimeout: timeouts.keepAlive,
        headersTimeout: timeouts.headers,
        requestTimeout: timeouts.request,
        // Node checks the two above on this period (30 s by default): keep it below them.
        connectionsCheckingInterval: timeouts.checkEvery,
      };
      const server =
        tls === null
          ? http.createServer(serverOptions, onRequest)
          : https.createServer({ ...serverOptions, ...tls }, onRequest);
      server.timeout = timeouts.connection;
      server.maxConnections = timeouts.maxConnections;
      return server;
    },
    // No fastify logger: it would make a pino child per request (half the throughput here); we log
    // failures ourselves in the error handler.
    logger: false,
    bodyLimit,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Unmatched requests go straight to our 404 (fastify's setNotFoundHandler cost ~20 % of every
    // matched request's throughput in bench/server-factory.bench.ts).
    routerOptions: { defaultRoute: options.notFound ?? codedNotFound },
    // fastify answers these itself, in its own `{error, message, statusCode}` shape, unless told:
    // a URL it cannot decode (`/sedna/%zz`), a parameter over its length limit ...
    frameworkErrors: (err, request, reply) => {
      sendError(reply, request, err, logger);
    },
    // ... and what node's parser refuses before there is a request (bad HTTP, 431, 408).
    clientErrorHandler: codedClientError,
    // Validate what was sent, never "fix" it: no coercion, no stripping, no defaults injected.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
  }) as unknown as FastifyInstance;

  app.setErrorHandler((err, request, reply) => {
    metricsHook?.countError(toErrorReply(err).body.code);
    return handleError(reply, request, err, logger, bodyLimit);
  });
  metricsHook?.install(app);
  app.addHook('onClose', (_instance, done) => {
    deadlines.stop();
    done();
  });

  const closeGrace = options.closeGraceMs ?? DEFAULT_SERVER_OPTIONS.closeGraceMs;
  let url = '';
  let boundPort = 0;
  let closing: Promise<void> | undefined;

  return {
    app,
    name: options.name,
    get url() {
      return url;
    },
    get port() {
      return boundPort;
    },
    metrics: metricsHook?.metrics,
    async listen() {
      await app.listen({ host, port });
      const address = app.server.address() as AddressInfo;
      boundPort = address.port;
      const shownHost = host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
      url = `${tls === null ? 'http' : 'https'}://${shownHost}:${boundPort}`;
      logger.info({ url, bind: host }, `${options.name} listening`);
      return url;
    },
    close() {
      closing ??= closeGracefully(app, closeGrace, logger);
      return closing;
    },
  };
}

/**
 * 401 for a request without the shared token. The body is not read: the connection is closed so
 * that whatever the client still sends is dropped rather than parsed as a next request.
 */
function refuseUnauthorized(res: http.ServerResponse): void {
  const body: ErrorBody = {
    code: 'SEDNA_ERR_UNAUTHORIZED',
    message: 'this server needs Authorization: Bearer <token> (the shared token of the service)',
  };
  res
    .writeHead(401, {
      'content-type': 'application/json; charset=utf-8',
      'www-authenticate': 'Bearer',
      connection: 'close',
    })
    .end(JSON.stringify(body));
}

// Per-request state lives in symbol properties of the node objects: a WeakMap entry, or an object
// per request held until a sweep, measurably slowed a small route (GC pressure).
const STARTED = Symbol('sedna-sdk.request-started');
const CURRENT = Symbol('sedna-sdk.current-request');
const CONTROLLER = Symbol('sedna-sdk.request-controller');
const WATCHED = Symbol('sedna-sdk.watched-socket');

type TrackedRequest = http.IncomingMessage & { [CONTROLLER]?: AbortController };
type TrackedSocket = Socket & {
  [STARTED]?: number;
  [CURRENT]?: { req: TrackedRequest; res: http.ServerResponse } | undefined;
  [WATCHED]?: boolean;
};

/**
 * The request's cancellation signal: aborts when the server deadline passes (the client then gets
 * 504) or when the client goes away before the answer was sent. Pass it to long work.
 */
export function requestSignal(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const req = request.raw as TrackedRequest;
  let controller = req[CONTROLLER];
  if (controller === undefined) {
    // Made on demand (most routes never ask), with the client-gone watch that goes with it.
    const made = new AbortController();
    controller = made;
    req[CONTROLLER] = made;
    const res = reply.raw;
    res.once('close', () => {
      if (!res.writableFinished && !made.signal.aborted) {
        made.abort(new SednaError('SEDNA_ERR_TIMEOUT', 'the client went away before the answer was sent'));
      }
    });
  }
  return controller.signal;
}

/** Whether the answer to this request has gone out (also when the deadline answered it). */
export function isAnswered(reply: FastifyReply): boolean {
  return reply.sent || reply.raw.headersSent || reply.raw.writableEnded;
}

/**
 * Request deadlines without a timer, a hook or an allocation per request. HTTP/1.1 answers one
 * request per connection at a time, so each socket remembers its current request and when it
 * started; one interval sweeps the open sockets (every quarter deadline, at most 250 ms) and
 * answers overdue requests with 504. A deadline fires within that slack.
 */
class DeadlineWatch {
  private readonly sockets = new Set<TrackedSocket>();
  private timer: NodeJS.Timeout | undefined;
  private readonly sweepMs: number;

  constructor(private readonly timeoutMs: number) {
    this.sweepMs = Math.max(10, Math.min(250, Math.floor(timeoutMs / 4)));
  }

  watch(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.timeoutMs <= 0) return;
    const socket = req.socket as TrackedSocket;
    socket[STARTED] = Date.now();
    socket[CURRENT] = { req, res };
    if (socket[WATCHED] === true) return;
    socket[WATCHED] = true; // once per connection
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.timer === undefined) {
      this.timer = setInterval(() => {
        this.sweep();
      }, this.sweepMs);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private sweep(): void {
    const now = Date.now();
    for (const socket of this.sockets) {
      const current = socket[CURRENT];
      if (current === undefined) continue;
      const { req, res } = current;
      if (res.writableEnded || res.destroyed) {
        socket[CURRENT] = undefined; // answered: let it be collected
        continue;
      }
      if (now - (socket[STARTED] ?? now) < this.timeoutMs) continue;
      socket[CURRENT] = undefined;
      const err = new SednaError(
        'SEDNA_ERR_TIMEOUT',
        `the request did not complete within the server deadline of ${this.timeoutMs} ms`,
      );
      const controller = req[CONTROLLER] ?? new AbortController();
      req[CONTROLLER] = controller;
      controller.abort(err);
      if (!res.headersSent) {
        // Close the connection: the handler may still be running, and the client is better off
        // with a fresh one than with a socket whose previous request is still in flight.
        res
          .writeHead(504, { 'content-type': 'application/json; charset=utf-8', connection: 'close' })
          .end(JSON.stringify({ code: err.code, message: err.message }));
      } else res.destroy();
    }
  }
}

/**
 * The answer to a request node's HTTP parser refused (there is no request object yet): malformed
 * HTTP is 400, headers over node's limit 431, a request not received in time 408, each as
 * `{code, message}`. The connection is then ended: after a parse error, nothing more on it can be
 * read reliably.
 */
function codedClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const answered = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'SEDNA_ERR_TIMEOUT', 'the request was not received in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'SEDNA_ERR_BAD_REQUEST', 'the request headers are larger than the server accepts']
        : [400, 'SEDNA_ERR_BAD_REQUEST', `malformed HTTP request (${err.code ?? 'parse error'})`];
  if (socket.writable && !answered) {
    const body = JSON.stringify({ code, message });
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    // A peer that does not close its side is cut soon after.
    setTimeout(() => socket.destroy(), 2_000).unref();
  } else socket.destroy();
}

/** The default answer for a request no route matches: `{code, message}`, 404. */
function codedNotFound(req: http.IncomingMessage, res: http.ServerResponse): void {
  const body = JSON.stringify({
    code: 'SEDNA_ERR_NOT_FOUND',
    message: `no route for ${req.method ?? ''} ${req.url ?? ''}`,
  });
  res
    .writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
    .end(body);
}

/** How long a body's rest may take to arrive before an early error answer goes out anyway. */
const DRAIN_MS = 10_000;

/**
 * The rest of a request body that an error was raised before reading (a 413 for a body over the
 * limit, a parse error), when it is known and small: fastify answers and closes at once, and a
 * client still sending then often sees a reset (which discards the answer) instead of the 413.
 * Reading (and dropping) the rest first lets the answer arrive; larger rests are not waited for.
 */
function restToDrain(request: FastifyRequest, bodyLimit: number): number {
  const raw = request.raw;
  // `readableEnded`: the body was read to its end (an injected request never sets `complete`).
  if (raw.complete || raw.readableEnded || raw.destroyed) return 0;
  const announced = Number(raw.headers['content-length']);
  return Number.isSafeInteger(announced) && announced <= bodyLimit + Math.max(bodyLimit, MIB) ? announced : 0;
}

function drain(raw: http.IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      raw.off('end', done).off('close', done).off('error', done);
      resolve();
    };
    const timer = setTimeout(done, DRAIN_MS);
    raw.on('end', done).on('close', done).on('error', done);
    raw.resume();
  });
}

function handleError(
  reply: FastifyReply,
  request: FastifyRequest,
  err: unknown,
  logger: Logger,
  bodyLimit: number,
): FastifyReply | Promise<undefined> {
  if (restToDrain(request, bodyLimit) === 0 || toErrorReply(err).status >= 500) {
    return sendError(reply, request, err, logger);
  }
  return drain(request.raw).then(() => {
    // The whole request is read: the connection can stay open for the next one.
    if (request.raw.complete) reply.removeHeader('connection');
    if (!isAnswered(reply) && !request.raw.socket.destroyed) sendError(reply, request, err, logger);
    return undefined;
  });
}

function sendError(reply: FastifyReply, request: FastifyRequest, err: unknown, logger: Logger): FastifyReply {
  const { status, body } = toErrorReply(err);
  if (status >= 500) logger.error({ err, method: request.method, url: request.url }, `request failed: ${body.message}`);
  else logger.debug({ method: request.method, url: request.url, code: body.code }, body.message);
  return reply.code(status).type('application/json').send(body);
}

async function closeGracefully(app: FastifyInstance, graceMs: number, logger: Logger): Promise<void> {
  // fastify.close() stops accepting, answers 503 to new requests on open sockets, closes idle
  // keep-alive sockets and waits for in-flight requests. After the grace period we cut the rest.
  const timer = setTimeout(() => {
    logger.warn(`in-flight requests still running after ${graceMs} ms; closing their connections`);
    app.server.closeAllConnections();
  }, graceMs);
  timer.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}

async function readTlsFile(file: string, what: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw new SednaError('SEDNA_ERR_INVALID_CONFIG', `cannot read the TLS ${what} file ${file}: ${messageOf(err)}`, {
      cause: err,
      details: { file },
    });
  }
}
