/**
 * The multi-task learning engine (Sedna's `MulTaskLearning`, spec §3.5), as pure computation:
 * define tasks, group them, train one model per group (and a global model for rare groups), and
 * answer samples with the model of their task. Storing models and the index is the job's business
 * (src/core/lifelong-learning); the engine hands back trained estimators and records.
 *
 * Each step is a registered algorithm (kind `multi_task_learening`, Sedna's spelling), chosen as
 * `{ method, param }` (param may be a JSON string, as the CRD carries it) or given as an object.
 * The rare-task rule is Sedna's MTL rule: a group with `samples <= MIN_TRAIN_SAMPLE` gets no model
 * of its own and shares the global model trained on all samples.
 */
import type { Dataset, Estimator, MetricFunction, Metrics, TrainOptions } from '../../backend/estimator.js';
import { computeMetrics } from '../../backend/metrics.js';
import { selectedRowsPredictOf } from '../../backend/selected-rows.js';
import { ClassFactory, ClassType } from '../../common/class-factory.js';
import { SednaError, invalidArgument, invalidAlgorithmParam, messageOf } from '../../common/errors.js';
import type { KBExtractorRecord } from '../../datasources/kb-index.js';
import type {
  AllocationResult,
  InferenceIntegrate,
  Task,
  TaskAllocation,
  TaskDefinition,
  TaskGroup,
  TaskRelationDiscover,
  TaskRemodeling,
} from './artifact.js';
import { selectionOf, toTaskTable, type Row, type TaskTable, type TaskTableInput } from './task-table.js';

/** A step given by registry name (`{ method, param }`) or as an object. */
export type StepChoice<T> =
  T | { readonly method: string; readonly param?: Readonly<Record<string, unknown>> | string };

export interface MultiTaskLearningOptions {
  taskDefinition?: StepChoice<TaskDefinition>;
  taskRelationDiscover?: StepChoice<TaskRelationDiscover>;
  /** The allocation step by name; default: the one paired with the definition. */
  taskMining?: { readonly method: string; readonly param?: Readonly<Record<string, unknown>> | string };
  taskRemodeling?: StepChoice<TaskRemodeling>;
  inferenceIntegrate?: StepChoice<InferenceIntegrate>;
  /** Groups with at most this many samples share the global model (MIN_TRAIN_SAMPLE, default 10). */
  minTrainSample?: number;
}

/** Which allocation step pairs with which definition when none is named (Sedna's rule). */
export const MINING_FOR_DEFINITION: Readonly<Record<string, string>> = {
  TaskDefinitionByDataAttr: 'TaskMiningByDataAttr',
  TaskDefinitionBySVC: 'TaskMiningBySVC',
};

/** Parses a step's `param` (a record, or a JSON object string as Sedna accepted). */
export function stepParams(method: string, param: unknown): Record<string, unknown> {
  if (param === undefined || param === null || param === '') return {};
  if (typeof param === 'string') {
    try {
      const parsed = JSON.parse(param) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        return parsed as Record<string, unknown>;
    } catch {
      // reported below
    }
    throw invalidAlgorithmParam(method, 'param', param, 'a JSON object of parameters');
  }
  if (typeof param !== 'object' || Array.isArray(param))
    throw invalidAlgorithmParam(method, 'param', param, 'an object');
  return param as Record<string, unknown>;
}

function isSpec(value: unknown): value is { method: string; param?: unknown } {
  return typeof value === 'object' && value !== null && typeof (value as { method?: unknown }).method === 'string';
}

/** Builds a step from a choice, checking it has the method the engine calls. */
export function createStep<T>(
  choice: StepChoice<T> | undefined,
  fallback: string,
  method: keyof T & string,
  extra: Readonly<Record<string, unknown>> = {},
): T {
  if (choice !== undefined && !isSpec(choice)) {
    if (typeof (choice as Record<string, unknown>)[method] !== 'function')
      throw invalidArgument('step', choice, `an object with ${method}() or { method, param }`);
    return choice;
  }
  const spec = choice as { method: string; param?: unknown } | undefined;
  const name = spec === undefined || spec.method === '' ? fallback : spec.method;
  if (name === '') throw invalidArgument('step', spec, 'a registered algorithm name');
  const cls = ClassFactory.getCls<new (params: unknown) => T>(ClassType.MTL, name);
  const step = new cls({ ...stepParams(name, spec?.param), ...extra });
  if (typeof (step as Record<string, unknown>)[method] !== 'function')
    throw invalidArgument('step', name, `a registered ${ClassType.MTL} class whose instances have ${method}()`);
  return step;
}

/** A group with its trained model (undefined for a rare group, which uses the global model). */
export interface TrainedGroup<Y = unknown> {
  readonly index: number;
  readonly entry: string;
  readonly tasks: readonly Task<Y>[];
  readonly sampleCount: number;
  readonly estimator: Estimator | undefined;
  readonly metrics: Metrics | null;
  readonly rare: boolean;
  /** Not retrained: `keepModel` said its existing model stays (an update that brought it no new samples). */
  readonly kept: boolean;
}

export interface TrainOutcome<Y = unknown> {
  readonly extractor: KBExtractorRecord;
  /** The allocation step's name and parameters, for the index. */
  readonly mining: { readonly method: string; readonly param: Record<string, unknown> };
  readonly groups: readonly TrainedGroup<Y>[];
  /** The model shared by rare groups (and the fallback for unknown tasks), when trained. */
  readonly global: { readonly estimator: Estimator; readonly metrics: Metrics } | undefined;
}

export interface EngineTrainOptions {
  /** A fresh, untrained estimator per model. */
  readonly createEstimator: () => Promise<Estimator>;
  readonly trainOptions?: TrainOptions;
  /** `auto` (default): a global model only when a group is rare, as Sedna; `always`; `never`. */
  readonly globalModel?: 'auto' | 'always' | 'never';
  /** Called after each model is trained (entry, index, of how many). */
  readonly onModel?: (entry: string, done: number, total: number) => void;
  /**
   * Whether a group keeps the model it already has (an update: its tasks got no new samples). Only
   * groups big enough for a model of their own are asked; rare groups follow the global model.
   */
  readonly keepModel?: (group: { readonly entry: string; readonly tasks: readonly string[] }) => boolean;
}

/** The models that answer, as the job holds them after loading an index. */
export interface DeployedModels<P = unknown> {
  readonly allocation: TaskAllocation;
  /** Task entry → group index. */
  readonly groupOfTask: ReadonlyMap<string, number>;
  readonly groups: readonly {
    readonly entry: string;
    readonly estimator: Estimator<unknown, unknown, P> | undefined;
  }[];
  /** Answers samples of unknown tasks and of groups without a model. */
  readonly fallback: { readonly entry: string; readonly estimator: Estimator<unknown, unknown, P> } | undefined;
}

/** The rows one model answered. */
export interface TaskPrediction<P = unknown> {
  /** The entry of the group (or of the fallback model) that answered. */
  readonly entry: string;
  /** Group index, -1 for the fallback model. */
  readonly group: number;
  readonly rows: readonly number[];
  readonly predictions: readonly P[];
}

export interface PredictOutcome<P = unknown> {
  readonly result: P[];
  readonly tasks: readonly TaskPrediction<P>[];
  readonly allocation: AllocationResult;
}

/** One task group's scores on evaluation data (what the drop rule looks at). */
export interface TaskScores {
  readonly entry: string;
  readonly group: number;
  readonly sampleCount: number;
  readonly scores: Metrics;
}

export interface EvaluateOutcome {
  /** Scores over all samples. */
  readonly metrics: Metrics;
  /** Scores per answering model, in group order (the fallback model last, as entry of its own). */
  readonly tasks: readonly TaskScores[];
}

export class MultiTaskLearning {
  private definitionStep: TaskDefinition | undefined;
  readonly relation: TaskRelationDiscover;
  readonly remodeling: TaskRemodeling;
  readonly integrate: InferenceIntegrate;
  readonly minTrainSample: number;
  private readonly definitionChoice: MultiTaskLearningOptions['taskDefinition'];
  private readonly miningChoice: MultiTaskLearningOptions['taskMining'];

  constructor(options: MultiTaskLearningOptions = {}) {
    this.definitionChoice = options.taskDefinition;
    // Built now when chosen (a bad name or parameter fails here); Sedna's default, which needs
    // `attribute`, only when training asks for it (an inference worker never does).
    if (options.taskDefinition !== undefined) this.definitionStep = createStep(options.taskDefinition, '', 'define');
    this.relation = createStep(options.taskRelationDiscover, 'DefaultTaskRelationDiscover', 'discover');
    this.remodeling = createStep(options.taskRemodeling, 'DefaultTaskRemodeling', 'remodel');
    this.integrate = createStep(options.inferenceIntegrate, 'DefaultInferenceIntegrate', 'integrate');
    this.miningChoice = options.taskMining;
    const min = options.minTrainSample ?? 10;
    if (!Number.isInteger(min) || min < 0) throw invalidArgument('minTrainSample', min, 'an integer ≥ 0');
    this.minTrainSample = min;
  }

  get definition(): TaskDefinition {
    this.definitionStep ??= createStep<TaskDefinition>(undefined, 'TaskDefinitionByDataAttr', 'define');
    return this.definitionStep;
  }

  /** The allocation step for an index's extractor (paired with the definition unless named). */
  miningFor(extractor: KBExtractorRecord): { method: string; param: Record<string, unknown> } {
    if (this.miningChoice !== undefined && this.miningChoice.method !== '') {
      return { method: this.miningChoice.method, param: stepParams(this.miningChoice.method, this.miningChoice.param) };
    }
    const method = MINING_FOR_DEFINITION[extractor.method];
    if (method === undefined) {
      throw invalidArgument(
        'taskMining',
        undefined,
        `an allocation method for the task definition "${extractor.method}"`,
      );
    }
    // Sedna reuses the definition's parameters for the paired mining step.
    const def = isSpec(this.definitionChoice) ? stepParams(extractor.method, this.definitionChoice.param) : {};
    return { method, param: def };
  }

  /** Splits `data` into tasks and groups, trains the models; pure apart from the estimators. */
  async train<Y>(input: TaskTableInput<Y>, options: EngineTrainOptions): Promise<TrainOutcome<Y>> {
    const data = toTaskTable(input);
    if (data.y === undefined)
      throw new SednaError('SEDNA_ERR_TASK_DATA', 'multi-task learning: training needs labels (y)');
    const defined = await this.definition.define(data);
    const groups: readonly TaskGroup<Y>[] = this.relation.discover(defined.tasks);
    const rare = groups.map((g) => g.samples.rows.length <= this.minTrainSample);
    const kept = groups.map(
      (g, i) =>
        rare[i] === false && options.keepModel?.({ entry: g.entry, tasks: g.tasks.map((t) => t.entry) }) === true,
    );
    const wantGlobal = options.globalModel ?? 'auto';
    const needGlobal = wantGlobal === 'always' || (wantGlobal === 'auto' && rare.some(Boolean));
    const total = rare.filter((r, i) => !r && kept[i] !== true).length + (needGlobal ? 1 : 0);
    let done = 0;
    const fit = async (entry: string, samples: TaskTable<Y>): Promise<{ estimator: Estimator; metrics: Metrics }> => {
      const estimator = await options.createEstimator();
      try {
        const metrics = await estimator.train(asDataset(samples), undefined, options.trainOptions);
        options.onModel?.(entry, ++done, total);
        return { estimator, metrics };
      } catch (err) {
        await estimator.close().catch(() => undefined);
        if (err instanceof SednaError) throw err;
        throw new SednaError(
          'SEDNA_ERR_INTERNAL',
          `training the model of task group "${entry}" failed: ${messageOf(err)}`,
          {
            cause: err,
            details: { group: entry },
          },
        );
      }
    };
    const trained: TrainedGroup<Y>[] = [];
    try {
      for (let i = 0; i < groups.length; i++) {
        const g = groups[i] as TaskGroup<Y>;
        const base = { index: i, entry: g.entry, tasks: g.tasks, sampleCount: g.samples.rows.length };
        if (rare[i] === true) trained.push({ ...base, estimator: undefined, metrics: null, rare: true, kept: false });
        else if (kept[i] === true)
          trained.push({ ...base, estimator: undefined, metrics: null, rare: false, kept: true });
        else trained.push({ ...base, ...(await fit(g.entry, g.samples)), rare: false, kept: false });
      }
      const global = needGlobal ? await fit('global', defined.samples) : undefined;
      return { extractor: defined.extractor, mining: this.miningFor(defined.extractor), groups: trained, global };
    } catch (err) {
      for (const g of trained) await g.estimator?.close().catch(() => undefined);
      throw err;
    }
  }

  /** Answers each row with the model of its task; rows of unknown tasks go to the fallback model. */
  async predict<P>(input: TaskTableInput, deployed: DeployedModels<P>): Promise<PredictOutcome<P>> {
    const data = toTaskTable(input);
    const allocation = await deployed.allocation.allocate(data);
    const subsets = this.remodeling.remodel(allocation, deployed.groupOfTask);
    const tasks: TaskPrediction<P>[] = [];
    for (const subset of subsets) {
      const own = subset.group >= 0 ? deployed.groups[subset.group] : undefined;
      const model = own?.estimator === undefined ? deployed.fallback : { entry: own.entry, estimator: own.estimator };
      if (model === undefined) {
        throw new SednaError(
          'SEDNA_ERR_MODEL_NOT_LOADED',
          `no model answers ${subset.rows.length} sample(s) of ${own === undefined ? 'an unknown task' : `task group "${own.entry}"`}: the index has no global model`,
          { details: { group: own?.entry } },
        );
      }
      const out = await predictSubset(model.estimator, subset.samples);
      tasks.push({
        entry: model.entry,
        group: own?.estimator === undefined ? -1 : subset.group,
        rows: subset.rows,
        predictions: predictionList(out, subset.rows.length, model.entry),
      });
    }
    const result = this.integrate.integrate<P>(data.rows.length, tasks);
    return { result, tasks, allocation };
  }
}

/**
 * Predicts labelled `data` and scores it overall and per answering model (Sedna's
 * `MulTaskLearning.evaluate`: the per-task scores feed the drop rule).
 */
export async function evaluateTasks<P>(
  engine: MultiTaskLearning,
  input: TaskTableInput,
  deployed: DeployedModels<P>,
  metrics: Readonly<Record<string, MetricFunction>>,
): Promise<EvaluateOutcome> {
  const data = toTaskTable(input);
  const labels = data.y;
  if (labels === undefined)
    throw new SednaError('SEDNA_ERR_TASK_DATA', 'multi-task learning: evaluation needs labels (y)');
  const outcome = await engine.predict(data, deployed);
  const tasks = outcome.tasks.map((t) => ({
    entry: t.entry,
    group: t.group,
    sampleCount: t.rows.length,
    scores: computeMetrics(
      metrics,
      t.rows.map((r) => labels[r]),
      t.predictions,
    ),
  }));
  return { metrics: computeMetrics(metrics, labels, outcome.result), tasks };
}

/**
 * A model's answer for a subset: read straight from the input rows when the subset is a selection
 * of them and the model offers that (no feature rows built), else `predict` on the subset's rows.
 */
function predictSubset<P>(estimator: Estimator<unknown, unknown, P>, samples: TaskTable): Promise<P> | P {
  const selection = selectionOf(samples);
  const selected = selection === undefined ? undefined : selectedRowsPredictOf(estimator);
  if (selection === undefined || selected === undefined) return estimator.predict(samples.rows);
  return selected(selection.source, selection.indices, selection.keep) as Promise<P> | P;
}

/** A model's batch output as one prediction per row (typed arrays and arrays are accepted). */
function predictionList<P>(out: unknown, rows: number, entry: string): P[] {
  if (Array.isArray(out)) return out as P[];
  if (ArrayBuffer.isView(out) && !(out instanceof DataView)) return Array.from(out as unknown as ArrayLike<P>);
  throw new SednaError(
    'SEDNA_ERR_INFERENCE',
    `the model of "${entry}" returned ${typeof out} for ${rows} samples; a task model must return one prediction per sample (an array)`,
    { details: { group: entry } },
  );
}

/** A task table as the Dataset an estimator trains on (feature rows, labels). */
export function asDataset<Y>(table: TaskTable<Y>): Dataset<Row, Y> {
  return { x: table.rows, y: table.y };
}
