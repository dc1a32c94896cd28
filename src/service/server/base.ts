/**
 * The one server factory: every HTTP/WebSocket server in sedna-sdk is a fastify instance built
 * here, so limits, validation, error bodies, health checks, TLS and shutdown behave the same
 * everywhere.
 *
 * - Bind host/port come from the caller (who takes them from Sedna's `*_BIND_IP`/`*_BIND_PORT`).
 *   Sedna binds the primary interface IP; we default to `0.0.0.0` (pod IP and loopback), see
 *   docs/configuration.md.
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
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ERROR_CATALOG, SednaError, invalidArgument, messageOf, type SednaErrorCode } from '../../common/errors.js';
import { getLogger, type Logger } from '../../common/logger.js';

export interface TlsOptions {
  keyPath: string;
  certPath: string;
}

export interface ServerOptions {
  /** Used in logs and as the default health-check identity. */
  name: string;
  /** Bind address (default 0.0.0.0). */
  host?: string;
  /** Port; 0 picks a free one (tests). */
  port?: number;
  /** Largest request body (default 16 MiB). */
  bodyLimitBytes?: number;
  /** Deadline for one request's whole life, 0 = none (default 60 s). */
  requestTimeoutMs?: number;
  /** Socket idle timeout for keep-alive connections (default 72 s, fastify's). */
  keepAliveTimeoutMs?: number;
  /** How long `close()` waits for in-flight requests before cutting connections (default 10 s). */
  closeGraceMs?: number;
  /** Path of the health route (default `/healthz`); `false` for none. */
  healthPath?: string | false;
  tls?: TlsOptions;
  logger?: Logger;
  /**
   * Replaces the `{code, message}` 404 answer for requests no route matches (the LC emulator
   * mimics Go's plain-text one). Gets node's raw request and response.
   */
  notFound?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
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
  close(): Promise<void>;
}

const MIB = 1024 * 1024;

export const DEFAULT_SERVER_OPTIONS = Object.freeze({
  host: '0.0.0.0',
  bodyLimitBytes: 16 * MIB,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 72_000,
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
        };
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_SERVER_OPTIONS.requestTimeoutMs;

  const deadlines = new DeadlineWatch(requestTimeout);
  const healthPath = options.healthPath ?? DEFAULT_SERVER_OPTIONS.healthPath;
  const healthBody = JSON.stringify({ status: 'ok', name: options.name });
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
        deadlines.watch(req, res);
        handler(req, res);
      };
      return tls === null ? http.createServer(onRequest) : https.createServer(tls, onRequest);
    },
    // No fastify logger: it would make a pino child per request (half the throughput here); we log
    // failures ourselves in the error handler.
    logger: false,
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_SERVER_OPTIONS.bodyLimitBytes,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? DEFAULT_SERVER_OPTIONS.keepAliveTimeoutMs,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Unmatched requests go straight to our 404 (fastify's setNotFoundHandler cost ~20 % of every
    // matched request's throughput in bench/server-factory.bench.ts).
    routerOptions: { defaultRoute: options.notFound ?? codedNotFound },
    // Validate what was sent, never "fix" it: no coercion, no stripping, no defaults injected.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
  }) as unknown as FastifyInstance;

  app.setErrorHandler((err, request, reply) => sendError(reply, request, err, logger));
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
        res
          .writeHead(504, { 'content-type': 'application/json; charset=utf-8' })
          .end(JSON.stringify({ code: err.code, message: err.message }));
      }
    }
  }
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
