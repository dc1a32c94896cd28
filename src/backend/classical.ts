/**
 * The classical-ML backend (`sedna-sdk/backend/classical`): a trainable {@link Estimator} for
 * tabular data, in pure JavaScript, as Sedna's tabular examples use scikit-learn / XGBoost
 * (BACKEND_TYPE=SKLEARN). Two models from mljs, loaded on first use (optional peers):
 *
 * - `decision-tree` (default): ml-cart's CART classifier (Gini);
 * - `random-forest`: ml-random-forest's bagged CART trees.
 *
 * Types: `x` is a batch of rows of finite numbers; labels are class values (numbers or strings),
 * mapped to class indices for the trees and back. `predict(rows)` returns one class per row,
 * `predictProba(rows)` one probability row per sample (in `classes` order), which
 * `ModelProbeFilter` reads. Models are saved as JSON (`{format, version, algorithm, classes,
 * features, model}`), atomically, never as a pickle. Note that ml-cart's split search is quadratic
 * in a node's sample count: thousands of samples per model train in seconds, not milliseconds.
 */
import {
  SednaError,
  closedError,
  invalidArgument,
  messageOf,
  missingDependency,
  notSupported,
} from '../common/errors.js';
import { removePathPrefix } from '../datasources/file-ops.js';
import type {
  Dataset,
  Estimator,
  EvaluateOptions,
  Metrics,
  ModelInfoOptions,
  ModelResultEntry,
  PredictOptions,
  TrainOptions,
} from './estimator.js';
import { accuracy, computeMetrics } from './metrics.js';
import { readModelFile, writeModelFile, type RemoteFiles } from './model-io.js';
import { offerSelectedRowsPredict } from './selected-rows.js';
import type { WeightRecord } from './weights.js';

export type ClassicalAlgorithm = 'decision-tree' | 'random-forest';
export type ClassValue = number | string;
export type ClassicalRow = ArrayLike<number>;

export const CLASSICAL_MODEL_FORMAT = 'sedna-sdk/classical-model';

export interface ClassicalOptions {
  /** Default `decision-tree`. */
  readonly algorithm?: ClassicalAlgorithm;
  /** Deepest tree (default 10). */
  readonly maxDepth?: number;
  /** Fewest samples in a node that is split further (default 3). */
  readonly minNumSamples?: number;
  /** Trees of a random forest (default 20). */
  readonly nEstimators?: number;
  /** Share of features each forest tree sees (default 1: all). */
  readonly maxFeatures?: number;
  /** Seed of the forest's sampling (default 42): the same data trains the same forest. */
  readonly seed?: number;
  /** Load this model file at creation. */
  readonly modelUrl?: string;
  /** FileOps for remote model locations. */
  readonly fileOps?: RemoteFiles;
}

/** The saved model, as JSON. */
export interface ClassicalModelFile {
  readonly format: typeof CLASSICAL_MODEL_FORMAT;
  readonly version: 1;
  readonly algorithm: ClassicalAlgorithm;
  readonly classes: readonly ClassValue[];
  readonly features: number;
  readonly model: unknown;
}

interface Tree {
  train(x: number[][], y: number[]): void;
  predict(x: number[][]): number[];
  toJSON(): unknown;
}
interface CartTree extends Tree {
  root: { classify(row: ArrayLike<number>): { to1DArray(): number[] } };
}
interface Forest extends Tree {
  predictionValues(x: number[][]): { getRow(i: number): number[]; rows: number };
}
interface MlLibs {
  readonly DecisionTreeClassifier: { new (options: object): CartTree; load(model: unknown): CartTree };
  readonly RandomForestClassifier: { new (options: object): Forest; load(model: unknown): Forest };
}

let libs: Promise<MlLibs> | undefined;
const CART = 'ml-cart';
const FOREST = 'ml-random-forest';

/** Imports ml-cart and ml-random-forest once; SEDNA_ERR_MISSING_DEPENDENCY when they are missing. */
export function loadClassicalLibs(): Promise<MlLibs> {
  libs ??= Promise.all([
    import(CART).catch((err: unknown) => {
      throw missingDependency(CART, 'the classical-ML backend', err);
    }) as Promise<{ DecisionTreeClassifier: MlLibs['DecisionTreeClassifier'] }>,
    import(FOREST).catch((err: unknown) => {
      throw missingDependency(FOREST, 'the classical-ML backend', err);
    }) as Promise<{ RandomForestClassifier: MlLibs['RandomForestClassifier'] }>,
  ])
    .then(([cart, forest]) => ({
      DecisionTreeClassifier: cart.DecisionTreeClassifier,
      RandomForestClassifier: forest.RandomForestClassifier,
    }))
    .catch((err: unknown) => {
      libs = undefined;
      throw err;
    });
  return libs;
}

function dataError(problem: string, details: Readonly<Record<string, unknown>> = {}): SednaError {
  return new SednaError('SEDNA_ERR_DATA_FORMAT', `classical estimator: ${problem}`, { details });
}

/** Rows as plain number arrays, every cell checked. */
function numericRows(x: readonly unknown[], width: number | undefined): number[][] {
  const rows = new Array<number[]>(x.length);
  for (let i = 0; i < x.length; i++) {
    const row = x[i] as { length?: unknown; [j: number]: unknown } | null | undefined;
    if (row === undefined || row === null || typeof row !== 'object' || typeof row.length !== 'number')
      throw dataError(`sample ${i} is not a row of numbers`, { sample: i });
    if (width !== undefined && row.length !== width) throw widthError(i, row.length, width);
    const out = new Array<number>(row.length);
    for (let j = 0; j < row.length; j++) {
      const v = row[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw cellError(i, j, v);
      out[j] = v;
    }
    rows[i] = out;
  }
  return rows;
}

/**
 * {@link numericRows} of the rows `source[indices[i]]` reduced to `columns`, without building the
 * reduced rows first (the same checks and errors, numbered as in the reduced batch).
 */
function selectedNumericRows(
  source: readonly ArrayLike<unknown>[],
  indices: readonly number[] | undefined,
  columns: readonly number[],
  width: number,
): number[][] {
  const n = indices === undefined ? source.length : indices.length;
  const rows = new Array<number[]>(n);
  const w = columns.length;
  if (n > 0 && w !== width) throw widthError(0, w, width);
  for (let i = 0; i < n; i++) {
    const row = source[indices === undefined ? i : (indices[i] as number)] as ArrayLike<unknown>;
    const out = new Array<number>(w);
    for (let j = 0; j < w; j++) {
      const v = row[columns[j] as number];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw cellError(i, j, v);
      out[j] = v;
    }
    rows[i] = out;
  }
  return rows;
}

function widthError(sample: number, features: number, width: number): SednaError {
  return dataError(`sample ${sample} has ${features} features, the model expects ${width}`, { sample });
}

function cellError(sample: number, feature: number, value: unknown): SednaError {
  return dataError(`sample ${sample}, feature ${feature} is ${JSON.stringify(value)}, not a finite number`, {
    sample,
    feature,
  });
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw invalidArgument(name, value, 'an integer ≥ 1');
  return value;
}

// The contract types a batch and a dataset sample alike (X); here predict takes a batch of rows.
export class ClassicalEstimator implements Estimator {
  readonly backend = 'classical';
  readonly algorithm: ClassicalAlgorithm;
  private model: { tree: CartTree | Forest; classes: ClassValue[]; features: number; source: string } | undefined;
  private closed = false;

  private constructor(
    private readonly libs: MlLibs,
    private readonly options: ClassicalOptions,
  ) {
    const algorithm: unknown = options.algorithm ?? 'decision-tree';
    if (algorithm !== 'decision-tree' && algorithm !== 'random-forest')
      throw invalidArgument('algorithm', options.algorithm, 'decision-tree or random-forest');
    this.algorithm = algorithm;
    // The multi-task learning engine hands a task model its rows inside the wider input table.
    offerSelectedRowsPredict(this, (source, rows, columns) => {
      const m = this.loaded();
      if (!Array.isArray(source)) throw invalidArgument('x', source, 'a batch: an array of rows of numbers');
      return this.classify(m, selectedNumericRows(source, rows, columns, m.features));
    });
  }

  static async create(options: ClassicalOptions = {}): Promise<ClassicalEstimator> {
    const estimator = new ClassicalEstimator(await loadClassicalLibs(), options);
    if (options.modelUrl !== undefined) await estimator.load(options.modelUrl);
    return estimator;
  }

  /** The class values, in probability-row order (after train or load). */
  get classes(): readonly ClassValue[] {
    return this.loaded().classes;
  }

  private newTree(): CartTree | Forest {
    const o = this.options;
    const tree = {
      gainFunction: 'gini',
      maxDepth: positiveInt('maxDepth', o.maxDepth, 10),
      minNumSamples: positiveInt('minNumSamples', o.minNumSamples, 3),
    };
    if (this.algorithm === 'decision-tree') return new this.libs.DecisionTreeClassifier(tree);
    return new this.libs.RandomForestClassifier({
      nEstimators: positiveInt('nEstimators', o.nEstimators, 20),
      maxFeatures: o.maxFeatures ?? 1.0,
      replacement: true,
      useSampleBagging: true,
      seed: o.seed ?? 42,
      noOOB: true,
      treeOptions: tree,
    });
  }

  async train(
    trainData: Dataset<ClassicalRow, ClassValue>,
    validData?: Dataset<ClassicalRow, ClassValue>,
    _options?: TrainOptions,
  ): Promise<Metrics> {
    this.assertOpen();
    const labels = trainData.y;
    if (labels?.length !== trainData.x.length)
      throw dataError(`${labels?.length ?? 0} labels for ${trainData.x.length} samples`);
    if (trainData.x.length === 0) throw dataError('no training samples');
    const x = numericRows(trainData.x, (trainData.x[0] as ArrayLike<number>).length);
    const classes: ClassValue[] = [];
    const indexOf = new Map<ClassValue, number>();
    const y = labels.map((label, i) => {
      if (typeof label !== 'number' && typeof label !== 'string')
        throw dataError(`label ${i} is not a number or string`);
      let k = indexOf.get(label);
      if (k === undefined) {
        k = classes.length;
        classes.push(label);
        indexOf.set(label, k);
      }
      return k;
    });
    const tree = this.newTree();
    try {
      tree.train(x, y);
    } catch (err) {
      throw new SednaError('SEDNA_ERR_INTERNAL', `training the ${this.algorithm} failed: ${messageOf(err)}`, {
        cause: err,
      });
    }
    this.model = { tree, classes, features: x[0]?.length ?? 0, source: '<trained>' };
    await Promise.resolve(); // training is synchronous; let queued I/O run before returning
    const metrics: Record<string, number> = { accuracy: accuracy(y, tree.predict(x)) };
    if (validData !== undefined) {
      metrics.val_accuracy = (await this.evaluate(validData)).accuracy as number;
    }
    return metrics;
  }

  /** One class value per row. */
  predict(x: readonly ClassicalRow[], _options?: PredictOptions): Promise<ClassValue[]> {
    try {
      return Promise.resolve(this.predictSync(x));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The synchronous core of `predict` (the trees are plain JavaScript). */
  predictSync(x: readonly ClassicalRow[]): ClassValue[] {
    const m = this.loaded();
    if (!Array.isArray(x)) throw invalidArgument('x', x, 'a batch: an array of rows of numbers');
    return this.classify(m, numericRows(x, m.features));
  }

  private classify(m: { tree: CartTree | Forest; classes: ClassValue[] }, rows: number[][]): ClassValue[] {
    if (rows.length === 0) return [];
    const predicted = m.tree.predict(rows);
    return predicted.map((k) => m.classes[k] as ClassValue);
  }

  /** Class probabilities per row, in `classes` order (forest: the trees' vote shares). */
  predictProba(x: readonly ClassicalRow[]): Promise<number[][]> {
    try {
      const m = this.loaded();
      const rows = numericRows(x, m.features);
      const k = m.classes.length;
      if ('predictionValues' in m.tree) {
        const votes = m.tree.predictionValues(rows);
        return Promise.resolve(
          rows.map((_, i) => {
            const p = new Array<number>(k).fill(0);
            const row = votes.getRow(i);
            for (const v of row) p[v] = (p[v] as number) + 1 / row.length;
            return p;
          }),
        );
      }
      const tree = m.tree;
      return Promise.resolve(
        rows.map((row) => {
          const dist = tree.root.classify(row).to1DArray();
          return Array.from({ length: k }, (_, c) => dist[c] ?? 0);
        }),
      );
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  async evaluate(data: Dataset<ClassicalRow, ClassValue>, options: EvaluateOptions<ClassValue> = {}): Promise<Metrics> {
    const labels = data.y;
    if (labels?.length !== data.x.length) throw dataError(`${labels?.length ?? 0} labels for ${data.x.length} samples`);
    const predictions = this.predictSync(data.x);
    const metrics = options.metrics ?? {
      accuracy: (t: readonly ClassValue[], p: readonly ClassValue[]) =>
        t.filter((v, i) => v === p[i]).length / Math.max(1, t.length),
    };
    return Promise.resolve(computeMetrics(metrics, labels, predictions));
  }

  /** Writes the model as JSON (atomically for paths; through FileOps for s3://). */
  async save(url: string): Promise<string> {
    const m = this.loaded();
    const file: ClassicalModelFile = {
      format: CLASSICAL_MODEL_FORMAT,
      version: 1,
      algorithm: this.algorithm,
      classes: m.classes,
      features: m.features,
      model: m.tree.toJSON(),
    };
    return writeModelFile(url, Buffer.from(JSON.stringify(file)), this.options.fileOps);
  }

  async load(url: string): Promise<void> {
    this.assertOpen();
    const bytes = await readModelFile(url, this.options.fileOps);
    this.model = { ...this.parse(bytes, url), source: url };
  }

  private parse(bytes: Uint8Array, url: string): { tree: CartTree | Forest; classes: ClassValue[]; features: number } {
    const invalid = (why: string, cause?: unknown): SednaError =>
      new SednaError('SEDNA_ERR_MODEL_INVALID', `${url} is not a classical-ML model: ${why}`, {
        cause,
        details: { location: url },
      });
    let file: Partial<ClassicalModelFile>;
    try {
      file = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<ClassicalModelFile>;
    } catch (err) {
      throw invalid('not JSON', err);
    }
    if (file.format !== CLASSICAL_MODEL_FORMAT || file.version !== 1)
      throw invalid(`format is ${JSON.stringify(file.format)}`);
    if (file.algorithm !== this.algorithm)
      throw invalid(`it holds a ${String(file.algorithm)}, this estimator is a ${this.algorithm}`);
    const classes = file.classes;
    if (
      !Array.isArray(classes) ||
      classes.length === 0 ||
      !classes.every((c) => typeof c === 'number' || typeof c === 'string')
    )
      throw invalid('no class list');
    if (!Number.isInteger(file.features) || (file.features as number) < 1) throw invalid('no feature count');
    try {
      const tree =
        this.algorithm === 'decision-tree'
          ? this.libs.DecisionTreeClassifier.load(file.model)
          : this.libs.RandomForestClassifier.load(file.model);
      return { tree, classes: classes, features: file.features as number };
    } catch (err) {
      throw invalid(messageOf(err), err);
    }
  }

  getWeights(): Promise<WeightRecord[]> {
    return Promise.reject(
      notSupported('getWeights() of a tree model', 'trees have no weight tensors; save() the model'),
    );
  }

  setWeights(): Promise<void> {
    return Promise.reject(notSupported('setWeights() of a tree model', 'trees have no weight tensors; load() a model'));
  }

  modelInfo(url: string, options: ModelInfoOptions = {}): ModelResultEntry[] {
    return [{ format: 'json', url: removePathPrefix(url, options.dataPathPrefix), metrics: options.metrics ?? null }];
  }

  close(): Promise<void> {
    this.closed = true;
    this.model = undefined;
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private assertOpen(): void {
    if (this.closed) throw closedError('ClassicalEstimator');
  }

  private loaded(): { tree: CartTree | Forest; classes: ClassValue[]; features: number; source: string } {
    this.assertOpen();
    if (this.model === undefined)
      throw new SednaError('SEDNA_ERR_MODEL_NOT_LOADED', 'ClassicalEstimator: no model; train() or load(url) first');
    return this.model;
  }
}
