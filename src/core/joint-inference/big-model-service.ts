/**
 * Joint inference, the cloud side (Sedna's `BigModelService`, spec §5.1, §6.3): the big model
 * behind the inference REST server, at `POST /{name}/predict`.
 *
 * The route name is JOB_NAME, which defaults to `sedna`: the controller injects SERVICE_NAME, not
 * JOB_NAME, into JointInferenceService workers, so with Sedna the path is always `/sedna/predict`
 * unless the pod template sets JOB_NAME. We keep that, so a Python edge and ours find the route.
 * Bind address and port come from BIG_MODEL_BIND_IP (default: the host's primary IPv4, as Sedna)
 * and BIG_MODEL_BIND_PORT (5000).
 */
import type { Estimator, PredictOptions } from '../../backend/estimator.js';
import { InferenceServer, type InferenceContext } from '../../service/server/inference-server.js';
import type { ServerOptions } from '../../service/server/base.js';
import { resolvePostProcess } from '../callbacks.js';
import type { SednaConfig } from '../../common/config.js';
import { K8sResourceKind } from '../../common/constants.js';
import { SednaError } from '../../common/errors.js';
import { serviceTokenOption } from '../../common/shared-token.js';
import { JobBase, OwnedResources } from '../job-base.js';
import { MicroBatcher, type MicroBatchOptions } from './micro-batcher.js';

export interface BigModelServiceOptions<X = unknown, P = unknown> {
  /** The big model. The service owns it (closes it) unless `ownsEstimator: false`. */
  estimator: Estimator<X, unknown, P>;
  config?: SednaConfig;
  /** Load the model from here during `create()`; default MODEL_URL when set, `false` to skip. */
  modelUrl?: string | false;
  /** Route name; default JOB_NAME (`sedna`). */
  servername?: string;
  /** Default BIG_MODEL_BIND_IP / BIG_MODEL_BIND_PORT. */
  host?: string;
  port?: number;
  /** Requests running at once (default 4) and waiting (default 64). */
  maxConcurrency?: number;
  maxQueue?: number;
  /** Deadline per request (default 30 s). */
  requestTimeoutMs?: number;
  bodyLimitBytes?: number;
  tls?: ServerOptions['tls'];
  /**
   * Shared token every request must carry (`Authorization: Bearer`); default SERVICE_TOKEN or the
   * file SERVICE_TOKEN_FILE names, none when unset. `false`: no token even when those are set.
   */
  token?: string | false;
  /**
   * Run concurrent requests as one model batch. Each request's `data` must then be a list of
   * samples, and the model must return one output row per sample.
   */
  microBatch?: MicroBatchOptions;
  predictOptions?: PredictOptions;
  ownsEstimator?: boolean;
}

/** The cloud side sends no reports (as Sedna's); it is a job for its lifecycle: config, owned model and server, close. */
export class BigModelService<X = unknown, P = unknown> extends JobBase {
  private readonly server: InferenceServer;
  private readonly estimator: Estimator<X, unknown, P>;

  private constructor(
    config: SednaConfig,
    server: InferenceServer,
    estimator: Estimator<X, unknown, P>,
    resources: OwnedResources,
  ) {
    super({
      name: 'BigModelService',
      component: 'big-model-service',
      config,
      ownerKind: K8sResourceKind.JOINT_INFERENCE_SERVICE,
      resources,
    });
    this.server = server;
    this.estimator = estimator;
  }

  /** Loads the model and builds the server; call `start()` to listen. */
  static async create<X, P>(options: BigModelServiceOptions<X, P>): Promise<BigModelService<X, P>> {
    const config = JobBase.resolveConfig(options.config);
    const modelUrl = options.modelUrl === undefined ? config.modelUrl : options.modelUrl;
    if (modelUrl !== false && modelUrl !== undefined) await options.estimator.load(modelUrl);
    const { estimator, predictOptions } = options;
    const batcher =
      options.microBatch === undefined
        ? undefined
        : new MicroBatcher<unknown, unknown>(async (samples) => {
            const rows = await estimator.predict(samples as X, predictOptions);
            if (!Array.isArray(rows))
              throw new SednaError('SEDNA_ERR_INFERENCE', 'micro-batching needs a model that returns a list of rows');
            return rows as unknown[];
          }, options.microBatch);
    const model = {
      inference: async (data: unknown[], context: InferenceContext): Promise<unknown> => {
        const postProcess = requestedCallback(context.callback);
        const output =
          batcher === undefined ? await estimator.predict(data as X, predictOptions) : await batcher.submit(data);
        return postProcess === undefined ? output : await postProcess(output);
      },
    };
    const server = await InferenceServer.create({
      model,
      servername: options.servername ?? config.jobName,
      host: options.host ?? config.bigModelBindIp,
      port: options.port ?? config.bigModelBindPort,
      ...(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency }),
      ...(options.maxQueue === undefined ? {} : { maxQueue: options.maxQueue }),
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
      ...(options.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: options.bodyLimitBytes }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
      ...(options.token === false
        ? {}
        : options.token === undefined
          ? serviceTokenOption(config)
          : { token: options.token }),
    });
    // Released last acquired first: the server (in-flight requests finish), then the model.
    const resources = new OwnedResources();
    if (options.ownsEstimator ?? true) resources.own(options.estimator);
    resources.own(server);
    return new BigModelService(config, server, options.estimator, resources);
  }

  /** Listens; resolves with the base URL. */
  start(): Promise<string> {
    if (this.closed) return Promise.reject(this.closedError());
    return this.server.start();
  }

  get url(): string {
    return this.server.url;
  }

  get port(): number {
    return this.server.port;
  }

  /** `{url}/{servername}`: what a ModelClient calls. */
  get endpoint(): string {
    return this.server.endpoint;
  }

  get servername(): string {
    return this.server.servername;
  }

  get stats(): InferenceServer['stats'] {
    return this.server.stats;
  }

  /** Sedna's `BigModelService.inference`: the model on `data`, then the named callback if any. */
  async inference(data: X, postProcess?: string): Promise<unknown> {
    this.assertOpen();
    const output = await this.estimator.predict(data);
    const fn = resolvePostProcess<P, unknown>(postProcess);
    return fn === undefined ? output : fn(output);
  }
}

/**
 * The post-process a client named in its request. An unknown name is the client's error (400),
 * and the answer does not list the registered names (they are the server's business).
 */
function requestedCallback(name: string | undefined): ((output: unknown) => unknown) | undefined {
  try {
    return resolvePostProcess<unknown, unknown>(name);
  } catch (err) {
    if (!(err instanceof SednaError)) throw err;
    throw new SednaError('SEDNA_ERR_BAD_REQUEST', `unknown callback ${JSON.stringify(name)}`, {
      details: { callback: name },
    });
  }
}
