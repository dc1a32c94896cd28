/**
 * The inference REST server (Sedna's `InferenceServer`, spec §6.3), wire-compatible with Python
 * Sedna workers:
 *
 *   GET  /{servername}          → {"infos": [{"path", "name"}, ...]}
 *   POST /{servername}/predict  {"data": [...], "callback": <str|null>, ...} → {"result": [...]}
 *
 * Extra body keys (the Python edge sends `post_process`) are ignored, as FastAPI does. Unlike the
 * Python server it bounds concurrency (503 when the queue is full) and every request's time (504),
 * and answers bad input with coded 4xx errors instead of FastAPI's 422 `{"detail": ...}`; a Python
 * client only looks at the status class, so it still interoperates.
 */
import { SednaError, invalidArgument, messageOf } from '../../common/errors.js';
import { getLogger } from '../../common/logger.js';
import { createServer, isAnswered, requestSignal, type SednaServer, type ServerOptions } from './base.js';
import { ConcurrencyLimiter } from './concurrency.js';

/** What the server calls for each request. */
export interface InferenceModel {
  /**
   * Runs inference. `callback` is the post-process name the client asked for (if any); `signal`
   * aborts when the request's deadline passes or the client goes away.
   */
  inference(data: unknown[], context: InferenceContext): unknown;
}

export interface InferenceContext {
  readonly callback: string | undefined;
  readonly signal: AbortSignal;
}

export interface InferenceServerOptions extends Omit<ServerOptions, 'name'> {
  model: InferenceModel;
  /** Route prefix (Sedna's `servername`); BigModelService uses the job name, default `sedna`. */
  servername?: string;
  /** Requests running at once (default 4). */
  maxConcurrency?: number;
  /** Requests waiting for a slot before 503 (default 64). */
  maxQueue?: number;
}

export interface InferenceServerStats {
  readonly requests: number;
  readonly failures: number;
  readonly active: number;
  readonly waiting: number;
}

const MIB = 1024 * 1024;
/** Sedna's InferenceServer accepts bodies up to 100 MiB (`max_buffer_size`). */
export const DEFAULT_INFERENCE_BODY_LIMIT = 100 * MIB;
const SERVERNAME = /^[A-Za-z0-9][A-Za-z0-9._~-]*$/;

interface PredictBody {
  data: unknown[];
  callback?: string | null;
}

const predictSchema = {
  body: {
    type: 'object',
    required: ['data'],
    properties: {
      data: { type: 'array' },
      callback: { type: ['string', 'null'] },
    },
  },
} as const;

export class InferenceServer {
  readonly servername: string;
  private readonly server: SednaServer;
  private readonly limiter: ConcurrencyLimiter;
  private requests = 0;
  private failures = 0;

  private constructor(server: SednaServer, servername: string, limiter: ConcurrencyLimiter) {
    this.server = server;
    this.servername = servername;
    this.limiter = limiter;
  }

  /** Builds the server (no socket yet); call `start()` to listen. */
  static async create(options: InferenceServerOptions): Promise<InferenceServer> {
    const servername = options.servername ?? 'sedna';
    if (!SERVERNAME.test(servername))
      throw invalidArgument('servername', servername, 'a URL path segment such as "sedna"');
    if (typeof options.model.inference !== 'function')
      throw invalidArgument('model', options.model, 'an object with inference(data)');
    const limiter = new ConcurrencyLimiter({ limit: options.maxConcurrency ?? 4, queueLimit: options.maxQueue ?? 64 });
    const server = await createServer({
      ...options,
      name: `inference.${servername}`,
      bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_INFERENCE_BODY_LIMIT,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    });
    server.metrics?.gauge('sedna_inference_queue_depth', 'Requests waiting for a model slot', () => limiter.waiting);
    server.metrics?.gauge('sedna_inference_active', 'Requests running on the model', () => limiter.active);
    const self = new InferenceServer(server, servername, limiter);
    self.routes(options.model);
    return self;
  }

  /** Listens; resolves with the base URL. */
  start(): Promise<string> {
    return this.server.listen();
  }

  get url(): string {
    return this.server.url;
  }

  get port(): number {
    return this.server.port;
  }

  /** The endpoint a ModelClient should call: `{url}/{servername}`. */
  get endpoint(): string {
    return `${this.server.url}/${this.servername}`;
  }

  get stats(): InferenceServerStats {
    return {
      requests: this.requests,
      failures: this.failures,
      active: this.limiter.active,
      waiting: this.limiter.waiting,
    };
  }

  /** For tests: the underlying fastify instance (`inject()`). */
  get app(): SednaServer['app'] {
    return this.server.app;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private routes(model: InferenceModel): void {
    const { app } = this.server;
    const base = `/${this.servername}`;
    const infos = [
      { path: base, name: 'model_info' },
      { path: `${base}/predict`, name: 'predict' },
    ];
    // FastAPI parses a body without content-type as JSON; so do we. Other types (text/plain
    // included, which fastify would parse as a string) get 415.
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
      if ((request.headers['content-type'] ?? '') !== '') {
        done(
          new SednaError(
            'SEDNA_ERR_UNSUPPORTED_MEDIA_TYPE',
            `content-type ${request.headers['content-type'] ?? ''} is not JSON`,
          ),
        );
        return;
      }
      try {
        done(null, JSON.parse(body as string) as unknown);
      } catch (err) {
        done(new SednaError('SEDNA_ERR_BAD_REQUEST', `malformed JSON: ${messageOf(err)}`));
      }
    });
    app.get(base, () => ({ infos }));
    app.post<{ Body: PredictBody }>(`${base}/predict`, { schema: predictSchema }, async (request, reply) => {
      this.requests++;
      const signal = requestSignal(request, reply);
      try {
        const context: InferenceContext = { callback: request.body.callback ?? undefined, signal };
        const result = await this.limiter.run(() => model.inference(request.body.data, context), signal);
        // The deadline already answered 504: returning the reply tells fastify not to send again.
        // eslint-disable-next-line @typescript-eslint/return-await -- a FastifyReply is thenable; awaiting it is not what we want
        if (isAnswered(reply)) return reply;
        if (!Array.isArray(result)) {
          throw new SednaError(
            'SEDNA_ERR_INFERENCE',
            `the model returned ${typeof result}, but the predict result must be a list`,
          );
        }
        return { result };
      } catch (err) {
        this.failures++;
        if (isAnswered(reply)) return reply;
        if (err instanceof SednaError) throw err;
        getLogger('inference-server').error({ err }, 'model inference failed');
        throw new SednaError('SEDNA_ERR_INFERENCE', `inference failed: ${messageOf(err)}`, { cause: err });
      }
    });
  }
}
