/**
 * What every job kind shares (Sedna's `JobBase`): its configuration, the worker's identity in
 * reports, stage reports to the LocalController that never throw, the resources it owns, the
 * closed guard, and `close()` / `Symbol.asyncDispose`. A job file then holds only what its job
 * does. Each part is optional: a job without LC reports passes no `lc`, a job with nothing to
 * release owns nothing.
 *
 * @example A new job kind on JobBase
 * ```ts
 * import { JobBase, OwnedResources, toMetricLists, K8sResourceKind } from 'sedna-sdk';
 * import type { Estimator, Dataset, LCClient, SednaConfig } from 'sedna-sdk';
 *
 * class Trainer extends JobBase {
 *   private constructor(config: SednaConfig, lc: LCClient | undefined, resources: OwnedResources,
 *                       private readonly estimator: Estimator) {
 *     super({ name: 'Trainer', config, lc, resources, ownerKind: K8sResourceKind.LIFELONG_LEARNING_JOB });
 *   }
 *
 *   static async create(options: { estimator: Estimator; config?: SednaConfig; lcClient?: LCClient | false }) {
 *     const config = JobBase.resolveConfig(options.config);
 *     const resources = new OwnedResources();
 *     resources.own(options.estimator);                         // closed last
 *     const lc = JobBase.lcClientFor(options.lcClient, config, resources);
 *     return new Trainer(config, lc, resources, options.estimator);
 *   }
 *
 *   async train(data: Dataset) {
 *     this.assertOpen();
 *     try {
 *       const metrics = await this.estimator.train(data);
 *       const url = await this.estimator.save(this.config.modelUrl ?? 'model');
 *       await this.report('train', 'completed', [{ format: 'onnx', url, metrics: toMetricLists(metrics) }]);
 *     } catch (err) {
 *       await this.report('train', 'failed'); // never throws: a down LC never fails the stage
 *       throw err;
 *     }
 *   }
 * }
 *
 * await using job = await Trainer.create({ estimator });  // close() at the end of the scope
 * ```
 */
import { EventEmitter } from 'node:events';
import {
  LCClient,
  jobReport,
  workerIdentity,
  type ReportResult,
  type WorkerIdentity,
} from '../service/client/lc-client.js';
import { loadConfig, type SednaConfig } from '../common/config.js';
import type { ReportKind, ReportStatus, ResourceKind } from '../common/constants.js';
import { SednaError, closedError, messageOf } from '../common/errors.js';
import { getLogger, type Logger } from '../common/logger.js';

/** Anything a job can own: closed (sync or async) when the job closes. */
export interface Closeable {
  close(): unknown;
}

/**
 * What a job owns, released by `closeAll()` in reverse order of acquisition (the estimator, taken
 * first, closes last). `create()` functions fill one before the job exists, so a failed `create()`
 * can release what it made so far.
 */
export class OwnedResources {
  private readonly items: Closeable[] = [];

  /** Takes `resource` over; returns it, for `const x = resources.own(new X())`. */
  own<T extends Closeable>(resource: T): T {
    this.items.push(resource);
    return resource;
  }

  /** Closes everything, last acquired first; every one is closed even if one fails (the first error is rethrown). */
  async closeAll(): Promise<void> {
    let failure: { error: unknown } | undefined;
    while (this.items.length > 0) {
      const item = this.items.pop() as Closeable;
      try {
        await item.close();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}

/** How a report went. A report failure never fails the stage; it is logged and shown here. */
export interface ReportOutcome {
  readonly sent: boolean;
  readonly error?: SednaError;
}

/** Reports that did not reach the LocalController. */
export interface ReportHealth {
  readonly reportFailures: number;
  readonly lastReportError: SednaError | undefined;
  /**
   * False when the most recent report did not reach the LC; after `close()`, whether the last one
   * did. A worker's entry point exits non-zero on false: the controller never saw its final state.
   */
  readonly lastReportDelivered: boolean;
}

/**
 * What a job gives JobBase. Its identity in reports is `identity` when given, else Sedna's JobBase
 * identity for `ownerKind` (`name = WORKER_NAME or JOB_NAME`, `namespace = NAMESPACE or JOB_NAME`,
 * `ownerName = JOB_NAME`).
 */
export type JobBaseInit = JobBaseCommon &
  (
    | { readonly ownerKind: ResourceKind; readonly identity?: WorkerIdentity }
    | { readonly identity: WorkerIdentity; readonly ownerKind?: ResourceKind }
  );

export interface JobBaseCommon {
  /** The job's class name, as `SEDNA_ERR_CLOSED` errors name it. */
  readonly name: string;
  readonly config: SednaConfig;
  /** Where stage reports go; undefined: reports are skipped (`report()` resolves `{ sent: false }`). */
  readonly lc?: LCClient | undefined;
  /** What the job owns; released by `close()` after `beforeClose()`. */
  readonly resources?: OwnedResources;
  /** Logger component name (default: `name`). */
  readonly component?: string;
}

/** A job's events, as Node's `EventEmitter<T>` takes them (`[never]`: untyped, no events declared). */
export type JobEventMap<T> = Record<keyof T, unknown[]> | [never];

export abstract class JobBase<Events extends JobEventMap<Events> = [never]> extends EventEmitter<Events> {
  readonly config: SednaConfig;
  readonly identity: WorkerIdentity;
  private readonly jobName: string;
  private readonly component: string;
  private readonly lc: LCClient | undefined;
  private readonly resources: OwnedResources;
  private closedFlag = false;
  private reportFailureCount = 0;
  private lastReportFailure: SednaError | undefined;
  private lastDelivered = true;

  protected constructor(init: JobBaseInit) {
    super();
    this.jobName = init.name;
    this.component = init.component ?? init.name;
    this.config = init.config;
    this.identity = init.identity ?? workerIdentity(init.config, init.ownerKind as ResourceKind);
    this.lc = init.lc;
    this.resources = init.resources ?? new OwnedResources();
  }

  /** The options' config, else the variables the Sedna controller injects (`loadConfig()`). */
  static resolveConfig(config: SednaConfig | undefined): SednaConfig {
    return config ?? loadConfig();
  }

  /**
   * The LC client a job reports through: the one given, none for `false`, else a new one from
   * LC_SERVER that `resources` owns.
   */
  static lcClientFor(
    option: LCClient | false | undefined,
    config: SednaConfig,
    resources: OwnedResources,
  ): LCClient | undefined {
    if (option === false) return undefined;
    return option ?? resources.own(LCClient.fromConfig(config));
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** Throws SEDNA_ERR_CLOSED after `close()`: every public operation starts with it. */
  protected assertOpen(): void {
    if (this.closedFlag) throw closedError(this.jobName);
  }

  /** The SEDNA_ERR_CLOSED error of this job, for operations that reject instead of throwing. */
  protected closedError(): SednaError {
    return closedError(this.jobName);
  }

  /** Takes over a resource made after construction (a poller, a connection); released by `close()`. */
  protected own<T extends Closeable>(resource: T): T {
    return this.resources.own(resource);
  }

  /** The job's logger (looked up on use, so `configureLogger()` after creation still applies). */
  protected get log(): Logger {
    return getLogger(this.component);
  }

  /** How the reports to the LocalController went (stage reports and, for inference jobs, periodic ones). */
  get reportHealth(): ReportHealth {
    return {
      reportFailures: this.reportFailureCount,
      lastReportError: this.lastReportFailure,
      lastReportDelivered: this.lastDelivered,
    };
  }

  /** Records a report that reached the LC (for reports sent outside `report()`, e.g. by an LCReporter). */
  protected recordReportDelivered(): void {
    this.lastDelivered = true;
  }

  /** Records a report that did not reach the LC; returns the failure as a SednaError. */
  protected recordReportFailure(err: unknown): SednaError {
    const error =
      err instanceof SednaError
        ? err
        : new SednaError('SEDNA_ERR_INTERNAL', `reporting to the LocalController failed: ${messageOf(err)}`, {
            cause: err,
          });
    this.reportFailureCount++;
    this.lastReportFailure = error;
    this.lastDelivered = false;
    return error;
  }

  /**
   * Sends one stage report (`kind`, `status`, `results`, `ownerInfo`, with Sedna's omission rules).
   * Never throws: a failure is logged, counted in `reportHealth` and returned.
   */
  protected async report(
    kind: ReportKind,
    status: ReportStatus,
    results?: readonly ReportResult[],
    ownerInfo?: Readonly<Record<string, unknown>>,
  ): Promise<ReportOutcome> {
    if (this.lc === undefined) return { sent: false };
    try {
      await this.lc.send(this.identity.name, jobReport(this.identity, kind, status, results, ownerInfo));
      this.recordReportDelivered();
      return { sent: true };
    } catch (err) {
      const error = this.recordReportFailure(err);
      this.log.error({ err: error, kind, status }, `could not report ${kind} ${status} to the LocalController`);
      return { sent: false, error };
    }
  }

  /** Runs `emit` (an event emission); a listener that throws is logged and never breaks the job's own work. */
  protected notify(emit: () => void, listener = 'an event listener'): void {
    try {
      emit();
    } catch (err) {
      this.log.error({ err }, `${listener} threw`);
    }
  }

  /** The job's own teardown, run by `close()` before the owned resources are released. */
  protected beforeClose(): Promise<void> | void {
    // nothing by default
  }

  /** Runs the job's teardown, then releases what it owns (last acquired first). Idempotent. */
  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    try {
      await this.beforeClose();
    } finally {
      await this.resources.closeAll();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
