/**
 * Joint inference, the edge side (Sedna's `JointInference`, spec §5.1): the edge model answers;
 * a hard-example-mining filter decides which samples are hard; hard ones go to the big cloud model
 * (BigModelService) and its answer wins. The worker reports its counters to the LocalController.
 *
 * Differences from Sedna, on purpose:
 * - the cloud call has a deadline; if the cloud is slow, down or answers garbage, the edge result
 *   comes back in time and the failure is counted and logged (or thrown, if asked);
 * - each inference is counted once in `inferenceNumber` (Sedna counted hard examples twice);
 * - in mining-then-inference mode the cloud result is the `result` list (Sedna returned the whole
 *   response body), and a failed cloud call falls back to the edge model;
 * - unknown HEM names and bad HEM parameters fail at `create()`, not at the first sample;
 * - reports name the JointInferenceService (SERVICE_NAME) as their owner. The controller injects
 *   SERVICE_NAME, not JOB_NAME, so Sedna's reports said `ownerName: "sedna"` and the GlobalManager
 *   looked for a service of that name (Sedna issue #365: the counters never reached the resource).
 *   The cloud route stays `/{JOB_NAME}` = `/sedna`, so Python workers still find each other.
 */
import type { HardExampleFilter } from '../../algorithms/hard-example-mining/base.js';
import type { Estimator, PredictOptions } from '../../backend/estimator.js';
import { LCClient, type LCReport, type WorkerIdentity } from '../../service/client/lc-client.js';
import { LCReporter } from '../../service/client/lc-reporter.js';
import { ModelClient } from '../../service/client/model-client.js';
import type { JsonTensorData } from '../../common/python-json.js';
import { exposeInferenceCounts } from '../job-metrics.js';
import { resolvePostProcess, type PostProcess } from '../callbacks.js';
import {
  getAlgorithmFromConfig,
  type AlgorithmParamValue,
  type AlgorithmSpec,
  type Env,
  type MiningMode,
  type SednaConfig,
} from '../../common/config.js';
import { K8sResourceKind } from '../../common/constants.js';
import { serviceTokenOption } from '../../common/shared-token.js';
import { SednaError, invalidConfig, messageOf } from '../../common/errors.js';
import { createHemFilter, type HemChoice } from '../hem.js';
import { JobBase, OwnedResources } from '../job-base.js';

export interface JointInferenceOptions<X = unknown, P = unknown> {
  /** The edge model. JointInference owns it from now on (closes it) unless `ownsEstimator: false`. */
  estimator: Estimator<X, unknown, P>;
  /** Settings; default `loadConfig()` (the variables the Sedna controller injects). */
  config?: SednaConfig;
  /** Load the edge model from here during `create()`; default MODEL_URL when set, `false` to skip. */
  modelUrl?: string | false;
  /** The HEM filter, a `{method, param}` spec, or `null` for none; default HEM_NAME/HEM_PARAMETERS. */
  hardExampleMining?: HemChoice;
  /**
   * Client of the cloud BigModelService; default from BIG_MODEL_IP, BIG_MODEL_PORT and JOB_NAME,
   * with the shared token of SERVICE_TOKEN / SERVICE_TOKEN_FILE when set. Pass your own
   * `ModelClient` for https or mutual TLS (`ca`, `cert`, `key`).
   */
  cloud?: ModelClient;
  /**
   * Deadline of an inference that goes to the cloud (default 2000 ms): the cloud call gets what is
   * left of it after the edge part, minus a small margin for timer lateness, so `inference()`
   * returns within it even when the cloud never answers.
   */
  cloudTimeoutMs?: number;
  /** What a failed cloud call does: answer with the edge result (default) or throw. */
  onCloudFailure?: 'edge' | 'throw';
  /** The LC reporter; default one from LC_SERVER and LC_PERIOD; `false` for none. */
  reporter?: LCReporter | false;
  /** Default from MINING_MODE. */
  miningMode?: MiningMode;
  /** Close the estimator in `close()` (default true). */
  ownsEstimator?: boolean;
}

export interface JointInferenceCallOptions<P = unknown, R = unknown> {
  /** Applied to the edge model's output before mining (a function or a registered CALLBACK name). */
  postProcess?: PostProcess<P, R>;
  /** Sent to the cloud instead of `data` (default: `data`, typed arrays as lists). */
  cloudData?: readonly unknown[];
  /** Passed to the estimator's predict. */
  predictOptions?: PredictOptions;
}

export interface JointInferenceResult<P = unknown, R = unknown> {
  readonly isHardExample: boolean;
  /** The cloud's answer for a hard example that the cloud answered, else the (post-processed) edge result. */
  readonly result: R | unknown[];
  /** The edge model's raw output (undefined when mining-then-inference sent the sample straight to the cloud). */
  readonly edgeResult: P | undefined;
  /** The cloud's `result` list, when the cloud answered. */
  readonly cloudResult: unknown[] | undefined;
  /** Why the cloud did not answer a hard example (the edge result was used). */
  readonly cloudError?: SednaError;
}

export interface JointInferenceStats {
  readonly inferences: number;
  readonly hardExamples: number;
  readonly cloudFailures: number;
}

/** Sedna's `get_hem_algorithm_from_config`: HEM_NAME + HEM_PARAMETERS, code overrides winning. */
function hemFromConfig(
  overrides: Readonly<Record<string, AlgorithmParamValue>> = {},
  env?: Env,
): AlgorithmSpec | undefined {
  return getAlgorithmFromConfig('HEM', overrides, env);
}

export class JointInference<X = unknown, P = unknown> extends JobBase {
  readonly miningMode: MiningMode;
  readonly hem: HardExampleFilter | undefined;
  private readonly estimator: Estimator<X, unknown, P>;
  private readonly cloud: ModelClient;
  private readonly cloudTimeoutMs: number;
  private readonly onCloudFailure: 'edge' | 'throw';
  private readonly reporter: LCReporter | undefined;
  private counts = { inferences: 0, hardExamples: 0, cloudFailures: 0 };
  private cloudDown = false;

  private constructor(
    options: JointInferenceOptions<X, P>,
    parts: {
      config: SednaConfig;
      identity: WorkerIdentity;
      hem: HardExampleFilter | undefined;
      cloud: ModelClient;
      reporter: LCReporter | undefined;
      resources: OwnedResources;
    },
  ) {
    super({
      name: 'JointInference',
      component: 'joint-inference',
      config: parts.config,
      ownerKind: K8sResourceKind.JOINT_INFERENCE_SERVICE,
      identity: parts.identity,
      resources: parts.resources,
    });
    this.estimator = options.estimator;
    this.hem = parts.hem;
    this.cloud = parts.cloud;
    this.reporter = parts.reporter;
    // The periodic reports count in `reportHealth`, as stage reports do for the other jobs.
    this.reporter?.on('sent', () => {
      this.recordReportDelivered();
    });
    this.reporter?.on('failed', (error) => {
      this.recordReportFailure(error);
    });
    this.miningMode = options.miningMode ?? parts.config.miningMode;
    this.cloudTimeoutMs = options.cloudTimeoutMs ?? 2_000;
    this.onCloudFailure = options.onCloudFailure ?? 'edge';
  }

  /** Sedna's `JointInference.get_hem_algorithm_from_config(**overrides)`. */
  static getHemAlgorithmFromConfig(
    overrides: Readonly<Record<string, AlgorithmParamValue>> = {},
    env?: Env,
  ): AlgorithmSpec | undefined {
    return hemFromConfig(overrides, env);
  }

  /**
   * Builds the edge job: resolves the HEM filter (throwing for unknown names or bad parameters),
   * loads the edge model, and starts the LC reporter.
   */
  static async create<X, P>(options: JointInferenceOptions<X, P>): Promise<JointInference<X, P>> {
    const config = JobBase.resolveConfig(options.config);
    const hem = createHemFilter(options.hardExampleMining === undefined ? config.hem : options.hardExampleMining);
    const miningMode = options.miningMode ?? config.miningMode;
    if (miningMode === 'mining-then-inference' && hem === undefined) {
      throw invalidConfig(
        'MINING_MODE',
        miningMode,
        'a hard-example-mining filter (HEM_NAME) to decide before inference',
      );
    }
    const timeout = options.cloudTimeoutMs ?? 2_000;
    if (!Number.isFinite(timeout) || timeout <= 0)
      throw invalidConfig('cloudTimeoutMs', timeout, 'a positive number of milliseconds');

    const modelUrl = options.modelUrl === undefined ? config.modelUrl : options.modelUrl;
    if (modelUrl !== false && modelUrl !== undefined) await options.estimator.load(modelUrl);

    // Released last acquired first: the reporter (its last report), the clients, then the model.
    const resources = new OwnedResources();
    if (options.ownsEstimator ?? true) resources.own(options.estimator);
    const cloud =
      options.cloud ??
      resources.own(
        new ModelClient({
          serviceName: config.jobName,
          host: config.bigModelIp,
          port: config.bigModelPort,
          timeoutMs: timeout,
          ...serviceTokenOption(config),
        }),
      );
    const owner = jointInferenceOwner(config);
    // The JointInferenceService's identity: the namespace as injected (no JOB_NAME fallback).
    const identity: WorkerIdentity = {
      name: config.workerName === '' ? owner : config.workerName,
      namespace: config.namespace,
      ownerName: owner,
      ownerKind: K8sResourceKind.JOINT_INFERENCE_SERVICE,
    };
    let reporter: LCReporter | undefined;
    if (options.reporter === undefined) {
      const client = resources.own(LCClient.fromConfig(config));
      const message: Omit<LCReport, 'ownerInfo'> = { ...identity, kind: 'inference', results: [] };
      reporter = LCReporter.start({ client, message, periodMs: config.lcPeriod * 1000 });
    } else if (options.reporter !== false) {
      reporter = options.reporter;
    }
    if (reporter !== undefined) resources.own(reporter);
    const job = new JointInference(options, { config, identity, hem, cloud, reporter, resources });
    resources.own(
      exposeInferenceCounts(
        { kind: 'jointinferenceservice', job: owner, stats: () => job.counts },
        config.serverMetrics,
      ),
    );
    return job;
  }

  get stats(): JointInferenceStats {
    return { ...this.counts };
  }

  /**
   * Runs one inference. Resolves within the cloud deadline even when the cloud is down; rejects
   * only for edge-side failures (the model, the post-process, or input the HEM cannot read).
   */
  inference<R = P>(data: X, options: JointInferenceCallOptions<P, R> = {}): Promise<JointInferenceResult<P, R>> {
    // Promise chains rather than async/await: this is the hot path, and each await costs a few
    // hundred nanoseconds against a ~10 µs edge model (bench/joint-inference.bench.ts).
    if (this.closed) return Promise.reject(this.closedError());
    const started = Date.now();
    let postProcess: ((result: P) => R | Promise<R>) | undefined;
    try {
      postProcess = resolvePostProcess(options.postProcess);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.miningMode === 'mining-then-inference') return this.miningFirst(data, options, postProcess, started);
    return this.estimator.predict(data, options.predictOptions).then((edgeResult) => {
      if (postProcess === undefined)
        return this.afterEdge(data, options, edgeResult, edgeResult as unknown as R, started);
      return Promise.resolve(postProcess(edgeResult)).then((processed) =>
        this.afterEdge(data, options, edgeResult, processed, started),
      );
    });
  }

  /** Mining on the (post-processed) edge output, then the cloud for a hard example. */
  private afterEdge<R>(
    data: X,
    options: JointInferenceCallOptions<P, R>,
    edgeResult: P,
    processed: R,
    started: number,
  ): JointInferenceResult<P, R> | Promise<JointInferenceResult<P, R>> {
    const isHard = this.hem?.isHard(processed) ?? false;
    this.count(isHard);
    if (!isHard) return { isHardExample: false, result: processed, edgeResult, cloudResult: undefined };
    return this.askCloud(data, options.cloudData, started).then((cloud) =>
      cloud.result !== undefined
        ? { isHardExample: true, result: cloud.result, edgeResult, cloudResult: cloud.result }
        : { isHardExample: true, result: processed, edgeResult, cloudResult: undefined, cloudError: cloud.error },
    );
  }

  private async miningFirst<R>(
    data: X,
    options: JointInferenceCallOptions<P, R>,
    postProcess: ((result: P) => R | Promise<R>) | undefined,
    started: number,
  ): Promise<JointInferenceResult<P, R>> {
    const isHard = (this.hem as HardExampleFilter).isHard(data);
    this.count(isHard);
    if (isHard) {
      const cloud = await this.askCloud(data, options.cloudData, started);
      if (cloud.result !== undefined)
        return { isHardExample: true, result: cloud.result, edgeResult: undefined, cloudResult: cloud.result };
      // The cloud could not answer: the edge model does, so the caller still gets a result in time.
      const edgeResult = await this.estimator.predict(data, options.predictOptions);
      const processed = postProcess === undefined ? (edgeResult as unknown as R) : await postProcess(edgeResult);
      return { isHardExample: true, result: processed, edgeResult, cloudResult: undefined, cloudError: cloud.error };
    }
    const edgeResult = await this.estimator.predict(data, options.predictOptions);
    const processed = postProcess === undefined ? (edgeResult as unknown as R) : await postProcess(edgeResult);
    return { isHardExample: false, result: processed, edgeResult, cloudResult: undefined };
  }

  private count(hard: boolean): void {
    this.counts.inferences++;
    if (hard) {
      this.counts.hardExamples++;
      this.reporter?.updateForCollaborationInference();
    } else {
      this.reporter?.updateForEdgeInference();
    }
  }

  private async askCloud(
    data: X,
    cloudData: readonly unknown[] | undefined,
    started: number,
  ): Promise<{ result?: unknown[]; error?: SednaError }> {
    // What is left of the deadline, less a margin for timer lateness under load (3 %, 10-50 ms).
    const margin = Math.min(50, Math.max(10, this.cloudTimeoutMs * 0.03));
    const timeoutMs = Math.max(1, this.cloudTimeoutMs - (Date.now() - started) - margin);
    try {
      const result = await this.cloud.inference(cloudData ?? toList(data), { timeoutMs });
      if (this.cloudDown) this.log.info('the cloud model answers again');
      this.cloudDown = false;
      return { result };
    } catch (err) {
      this.counts.cloudFailures++;
      const error =
        err instanceof SednaError
          ? err
          : new SednaError('SEDNA_ERR_NETWORK', `cloud inference failed: ${messageOf(err)}`, { cause: err });
      if (this.onCloudFailure === 'throw') throw error;
      // Log the first failure of an outage loudly, the rest quietly.
      const log = this.log;
      if (this.cloudDown) log.debug({ err: error }, 'cloud inference failed; using the edge result');
      else
        log.warn(
          { err: error, failures: this.counts.cloudFailures },
          'cloud inference failed; using the edge result until it answers again',
        );
      this.cloudDown = true;
      return { error };
    }
  }
}

/**
 * The owner a joint-inference report names: JOB_NAME when the pod sets it, else the service's
 * own name (SERVICE_NAME), else Sedna's default `sedna`.
 */
export function jointInferenceOwner(config: SednaConfig): string {
  return config.jobName === 'sedna' && config.serviceName !== '' ? config.serviceName : config.jobName;
}

/**
 * The cloud gets JSON lists, as Sedna's `data.tolist()` made them. Typed arrays are passed on as
 * they are: ModelClient writes float arrays as Python floats (`1.0`), which plain numbers lose.
 */
function toList(data: unknown): readonly unknown[] | JsonTensorData {
  if (Array.isArray(data)) return data as unknown[];
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) return data as JsonTensorData;
  return [data];
}
