/**
 * The REST servers of multi-edge inference (Sedna's `DetectionServer`, `FEServer`, `ReIDServer`,
 * spec §8.3), on the routes Sedna uses, with `{service}` one of `video_analytics`,
 * `feature_extraction`, `reid`:
 *
 *   POST /{service}/{service}               record frame (results) → 200 {"accepted": n}
 *   POST /{service}/update_service          JSON (the new operational status) → 200 {"result": ...}
 *   POST /feature_extraction/get_target_features   record frame (query images) → record frame (targets)
 *   GET  /{service}/status and GET /{service}      → {"status": "OK", "service", "stats"}
 *
 * What changes from Sedna, on purpose: bodies are typed record frames (`application/x-sedna-records`,
 * see datasources/multi-edge/codec.ts), never pickles; the status answers on the bare service path
 * too, which is what Sedna's own `check_server_status()` calls (Sedna has no route there, so its
 * clients got 404); `/reid/reid` reaches the ReID component (Sedna's called a method that does not
 * exist); a full queue answers 503 `SEDNA_ERR_OVERLOADED` or holds the request (backpressure).
 */
import { SednaError, invalidArgument } from '../../common/errors.js';
import { decodeResults, encodeTargets, RECORD_CONTENT_TYPE } from '../../datasources/multi-edge/codec.js';
import type { DetTrackResult, Target } from '../../datasources/multi-edge/records.js';
import { createServer, requestSignal, type SednaServer, type ServerOptions } from './base.js';

/** Sedna's service names, which are also the route prefixes. */
export const MULTI_EDGE_SERVICES = Object.freeze({
  DETECTION: 'video_analytics',
  FEATURE_EXTRACTION: 'feature_extraction',
  REID: 'reid',
} as const);
export type MultiEdgeServiceName = (typeof MULTI_EDGE_SERVICES)[keyof typeof MULTI_EDGE_SERVICES];

/** What a multi-edge server calls; the components implement it. */
export interface MultiEdgeHandler {
  /** Takes received results (queues them); may wait for room, or throw SEDNA_ERR_OVERLOADED. */
  put(records: DetTrackResult[], signal: AbortSignal): Promise<void> | void;
  /** Sedna's `update_operational_mode(status)` (may return a promise). */
  updateOperationalMode?(status: unknown): unknown;
  /** Feature extraction only: the features of query images. */
  getTargetFeatures?(records: DetTrackResult[]): Promise<Target[]> | Target[];
  /** Counters shown by the status route. */
  stats(): Readonly<Record<string, unknown>>;
}

export interface MultiEdgeServerOptions extends Omit<ServerOptions, 'name'> {
  service: MultiEdgeServiceName;
  handler: MultiEdgeHandler;
}

/** Record frames carry JPEG scenes and crops: 64 MiB leaves room for batches of full frames. */
export const DEFAULT_MULTI_EDGE_BODY_LIMIT = 64 * 1024 * 1024;

export class MultiEdgeServer {
  private constructor(
    private readonly server: SednaServer,
    readonly service: MultiEdgeServiceName,
  ) {}

  static async create(options: MultiEdgeServerOptions): Promise<MultiEdgeServer> {
    const service = options.service;
    if (!Object.values(MULTI_EDGE_SERVICES).includes(service))
      throw invalidArgument('service', service, Object.values(MULTI_EDGE_SERVICES).join(', '));
    const server = await createServer({
      ...options,
      name: `multi-edge.${service}`,
      bodyLimitBytes: options.bodyLimitBytes ?? DEFAULT_MULTI_EDGE_BODY_LIMIT,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    });
    routes(server, service, options.handler);
    return new MultiEdgeServer(server, service);
  }

  start(): Promise<string> {
    return this.server.listen();
  }

  get url(): string {
    return this.server.url;
  }

  get port(): number {
    return this.server.port;
  }

  /** For tests: the fastify instance (`inject()`). */
  get app(): SednaServer['app'] {
    return this.server.app;
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

function routes(server: SednaServer, service: MultiEdgeServiceName, handler: MultiEdgeHandler): void {
  const { app } = server;
  const base = `/${service}`;
  // Record frames arrive as raw bytes; JSON stays JSON (update_service). Nothing else is accepted.
  app.addContentTypeParser(
    [RECORD_CONTENT_TYPE, 'application/octet-stream'],
    { parseAs: 'buffer' },
    (_request, body, done) => {
      done(null, body);
    },
  );
  const records = (body: unknown): DetTrackResult[] => {
    if (!Buffer.isBuffer(body))
      throw new SednaError(
        'SEDNA_ERR_UNSUPPORTED_MEDIA_TYPE',
        `send a record frame with content-type ${RECORD_CONTENT_TYPE}`,
      );
    return decodeResults(body);
  };
  const status = (): Record<string, unknown> => ({ status: 'OK', service, stats: handler.stats() });

  app.get(base, status);
  app.get(`${base}/status`, status);
  app.post(`${base}/${service}`, async (request, reply) => {
    const list = records(request.body);
    // A put() still waiting for room stops when the client goes away or the deadline passes.
    await handler.put(list, requestSignal(request, reply));
    return { accepted: list.length };
  });
  app.post(`${base}/update_service`, async (request) => {
    if (handler.updateOperationalMode === undefined)
      throw new SednaError('SEDNA_ERR_NOT_SUPPORTED', `${service} has no operational modes to update`);
    const result = await handler.updateOperationalMode(request.body ?? null);
    return { result: result ?? null };
  });
  if (service === MULTI_EDGE_SERVICES.FEATURE_EXTRACTION) {
    app.post(`${base}/get_target_features`, async (request, reply) => {
      if (handler.getTargetFeatures === undefined)
        throw new SednaError(
          'SEDNA_ERR_NOT_SUPPORTED',
          'this feature-extraction service cannot compute target features',
        );
      const targets = await handler.getTargetFeatures(records(request.body));
      return reply.type(RECORD_CONTENT_TYPE).send(encodeTargets(targets));
    });
  }
}
