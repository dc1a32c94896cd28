/**
 * The TensorFlow.js backend (`sedna-sdk/backend/tfjs`): a trainable {@link Estimator} around a
 * `tf.LayersModel`. TF.js is an optional peer, imported on first use; which TF.js backend runs is
 * decided once per process, in this order:
 *
 * 1. `@tensorflow/tfjs-node` (native libtensorflow) when it loads. Any load error falls through,
 *    not only "module not found": installed with --ignore-scripts it throws without a code.
 * 2. `@tensorflow/tfjs` + `@tensorflow/tfjs-backend-wasm`, pointed at the .wasm files in
 *    node_modules (no network). SIMD yes, threads no; it trains dense layers but not conv layers.
 * 3. `@tensorflow/tfjs`'s pure-JS cpu backend (everything works, slowly).
 *
 * Types, precisely: samples are rows of numbers (each the model input's non-batch dims,
 * flattened); labels are class indices (sparse categorical cross-entropy) or target rows;
 * `predict(batch)` returns the model's first output as rows (`number[][]`).
 *
 * Saved models are TF.js "layers-model" folders, `model.json` + `weights.bin`, readable by
 * `tf.loadLayersModel` anywhere.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as tfjs from '@tensorflow/tfjs';
import { SednaError, closedError, invalidArgument, messageOf, missingDependency, showValue } from '../common/errors.js';
import { getLogger } from '../common/logger.js';
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
import { checkModelUrl, joinLocation, readModelFile, writeModelDir, type RemoteFiles } from './model-io.js';
import { checkSameLayout, elementCount, type WeightRecord } from './weights.js';

export { accuracy, argmax } from './metrics.js';
export type { RemoteFiles } from './model-io.js';

/** The TF.js namespace (`@tensorflow/tfjs`, or `@tensorflow/tfjs-node` which re-exports it). */
export type Tf = typeof tfjs;
export type LayersModel = tfjs.LayersModel;

/** Which TF.js backend runs: native libtensorflow, WebAssembly, or plain JavaScript. */
export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface TfRuntime {
  readonly tf: Tf;
  readonly backend: TfBackendName;
  /** Why each backend before the chosen one was skipped. */
  readonly skipped: readonly { readonly backend: TfBackendName; readonly reason: string }[];
}

// A variable, not a literal: TypeScript must not resolve this optional, usually absent package.
const TFJS_NODE = '@tensorflow/tfjs-node';

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

const DEFAULT_ORDER: readonly TfBackendName[] = ['tensorflow', 'wasm', 'cpu'];

let runtimePromise: Promise<TfRuntime> | undefined;

/** Where the wasm backend's .wasm files are in node_modules (with a trailing slash). */
function wasmDir(): string {
  const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  return `${path.dirname(entry)}${path.sep}`;
}

async function tryBackend(name: TfBackendName, pure: () => Promise<Tf>): Promise<Tf> {
  if (name === 'tensorflow') {
    // tfjs-node registers and selects its 'tensorflow' backend on import.
    const tf = (await import(TFJS_NODE)) as Tf;
    await tf.ready();
    if (tf.getBackend() !== 'tensorflow')
      throw new Error(`tfjs-node loaded but the active backend is ${tf.getBackend()}`);
    return tf;
  }
  const tf = await pure();
  if (name !== 'wasm') {
    if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
    await tf.ready();
    return tf;
  }
  // The wasm module's Emscripten runtime adds process-wide 'uncaughtException' and
  // 'unhandledRejection' handlers that rethrow (printing the whole minified module on a crash).
  // A library must not install process handlers (ARCHITECTURE rule 2): remove the ones it added.
  const emitter: NodeJS.EventEmitter = process;
  const before = PROCESS_EVENTS.map((event) => new Set(emitter.listeners(event)));
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    try {
      wasm.setWasmPaths(wasmDir());
    } catch {
      // Already initialised by the application with its own paths: keep them.
    }
    if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') failed");
    await tf.ready();
    return tf;
  } finally {
    PROCESS_EVENTS.forEach((event, i) => {
      for (const listener of emitter.listeners(event)) {
        if (!(before[i] as Set<unknown>).has(listener))
          emitter.removeListener(event, listener as (...args: unknown[]) => void);
      }
    });
  }
}

/**
 * Loads TF.js and selects its backend, once per process (TF.js's backend is global). `order`
 * only matters on the first call. Rejects with SEDNA_ERR_MISSING_DEPENDENCY when not even
 * `@tensorflow/tfjs` loads.
 */
export function loadTfjs(order: readonly TfBackendName[] = DEFAULT_ORDER): Promise<TfRuntime> {
  runtimePromise ??= (async () => {
    let pureTf: Promise<Tf> | undefined;
    const pure = (): Promise<Tf> => (pureTf ??= import('@tensorflow/tfjs') as Promise<Tf>);
    const skipped: { backend: TfBackendName; reason: string }[] = [];
    for (const backend of order) {
      try {
        const tf = await tryBackend(backend, pure);
        getLogger('backend.tfjs').info(
          { backend, skipped },
          `TF.js backend: ${backend}${skipped.length > 0 ? ` (skipped ${skipped.map((s) => s.backend).join(', ')})` : ''}`,
        );
        return { tf, backend, skipped };
      } catch (err) {
        skipped.push({ backend, reason: messageOf(err) });
      }
    }
    const detail = skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
    throw missingDependency('@tensorflow/tfjs', `the TF.js backend (tried ${detail})`);
  })();
  // A failed selection is not cached: installing the package and retrying works.
  runtimePromise.catch(() => {
    runtimePromise = undefined;
  });
  return runtimePromise;
}

// ---------------------------------------------------------------------------------------------

/** Builds the model, given the TF.js namespace in use (so the model and the runtime match). */
export type TfModelFactory = (tf: Tf) => LayersModel | Promise<LayersModel>;

/** A batch as rows, or as flat float32 data with its shape. */
export type TfInput =
  readonly (readonly number[])[] | { readonly data: Float32Array; readonly dims: readonly number[] };

/** Samples for train/evaluate: rows, with class indices or target rows as labels. */
export type TfDataset = Dataset<readonly number[], number | readonly number[]>;

export interface TfjsEstimatorOptions {
  /** Builds a fresh model (used when `modelUrl` is not given). */
  readonly model?: TfModelFactory;
  /** Loads a saved model (folder or its model.json; path, `file://`, or remote with `fileOps`). */
  readonly modelUrl?: string;
  /** Backend preference for the process-wide selection; default tensorflow, wasm, cpu. */
  readonly backends?: readonly TfBackendName[];
  /** FileOps (or any {@link RemoteFiles}) for http(s):// and s3:// model locations. */
  readonly fileOps?: RemoteFiles;
  /**
   * Also embed the weights in model.json (base64, field `weightDataBase64`), default true, so the
   * one file is a whole model. Sedna's LocalController deploys a model by copying the single file
   * its first result names (model.json); without the embedded copy weights.bin would be left
   * behind. Standard TF.js loaders ignore the field and read weights.bin, which is still written.
   */
  readonly embedWeights?: boolean;
}

export interface TfTrainOptions extends TrainOptions {
  /** Loss used when `train()` compiles the model; default: sparse categorical cross-entropy for class-index labels, mean squared error for target rows. */
  loss?: string;
  /** Shuffle the training data each epoch (default true). */
  shuffle?: boolean;
  /**
   * Start from a fresh optimizer (Adam's moments at zero), as a new worker would: a simulation
   * that trains many virtual clients on one estimator keeps them from sharing optimizer state.
   */
  resetOptimizer?: boolean;
  /**
   * FedProx's proximal term `μ/2 · ‖w − reference‖²` (reference: the round's global weights, in
   * `getWeights()` order): after every batch each trainable float weight takes the proximal step
   * `w ← (w + c·reference) / (1 + c)` with `c = learningRate · μ`, the exact minimiser of the term
   * plus the distance to the optimizer's result. μ = 0 changes nothing.
   */
  proximal?: { readonly mu: number; readonly reference: readonly WeightRecord[] };
}

export const TFJS_MODEL_JSON = 'model.json';
export const TFJS_WEIGHTS_BIN = 'weights.bin';
/** Our model.json extension holding the weights (see `embedWeights`). */
export const TFJS_EMBEDDED_WEIGHTS = 'weightDataBase64';

const DEFAULT_BATCH = 32;
const DEFAULT_EVAL_BATCH = 256;
const DEFAULT_LEARNING_RATE = 0.001;

interface ModelJson {
  readonly modelTopology: unknown;
  readonly weightsManifest: readonly { readonly paths: readonly string[]; readonly weights: readonly unknown[] }[];
  readonly [key: string]: unknown;
}

function isModelJson(value: unknown): value is ModelJson {
  const v = value as Partial<ModelJson> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.modelTopology === 'object' &&
    Array.isArray(v.weightsManifest) &&
    (v.weightsManifest as unknown[]).every(
      (g) =>
        typeof g === 'object' &&
        g !== null &&
        Array.isArray((g as { paths?: unknown }).paths) &&
        Array.isArray((g as { weights?: unknown }).weights),
    )
  );
}

/** The folder of a saved model given as the folder or its model.json. */
function folderOf(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return trimmed.endsWith(`/${TFJS_MODEL_JSON}`) ? trimmed.slice(0, -TFJS_MODEL_JSON.length - 1) : trimmed;
}

/** The location `url` is in (its folder), for paths and URLs alike. */
function parentOf(url: string): string {
  const at = url.lastIndexOf('/');
  return at <= 0 ? (at === 0 ? '/' : '.') : url.slice(0, at);
}

const WEIGHT_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1 };

/** Bytes the manifest's weights take, or undefined when they are quantized or of odd dtypes. */
function expectedWeightBytes(specs: readonly tfjs.io.WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const s of specs) {
    const width = WEIGHT_BYTES[s.dtype];
    if (width === undefined || s.quantization !== undefined) return undefined;
    total += elementCount(s.shape) * width;
  }
  return total;
}

/** Throws SEDNA_ERR_WEIGHTS_MISMATCH unless `weights` fit the model's (count, dtypes, shapes, in order). */
function checkModelLayout(model: LayersModel, weights: readonly WeightRecord[], where: string): void {
  const layout = model.weights.map((w) => ({
    name: w.originalName,
    dtype: w.dtype === 'int32' ? 'int32' : 'float32',
    shape: w.shape.map((d) => d ?? 0),
    data: new Float32Array(0),
  }));
  checkSameLayout(layout as WeightRecord[], weights, where);
}

/**
 * A TF.js LayersModel behind the Estimator contract. Create with
 * `await TfjsEstimator.create({ model: (tf) => ... })` or `{ modelUrl }`; `close()` disposes it.
 */
export class TfjsEstimator implements Estimator {
  readonly backend = 'tfjs';
  private current: LayersModel | undefined;
  private closed = false;
  private compiledLearningRate: number | undefined;
  /** Optimizers `train()` created (and so may dispose when it replaces them). */
  private readonly ownedOptimizers = new Set<tfjs.Optimizer>();

  private constructor(
    private readonly runtime: TfRuntime,
    private readonly options: TfjsEstimatorOptions,
  ) {}

  static async create(options: TfjsEstimatorOptions = {}): Promise<TfjsEstimator> {
    checkModelUrl(options.modelUrl, 'a model folder, model.json path or URL');
    if (options.model !== undefined && typeof options.model !== 'function') {
      throw invalidArgument('model', options.model, 'a function (tf) => tf.LayersModel');
    }
    const runtime = await loadTfjs(options.backends);
    const estimator = new TfjsEstimator(runtime, options);
    if (options.modelUrl !== undefined) await estimator.load(options.modelUrl);
    else if (options.model !== undefined) estimator.setModel(await options.model(runtime.tf));
    return estimator;
  }

  /** The TF.js namespace in use. */
  get tf(): Tf {
    return this.runtime.tf;
  }

  /** The TF.js backend in use (`tensorflow`, `wasm` or `cpu`). */
  get tfBackend(): TfBackendName {
    return this.runtime.backend;
  }

  /** The wrapped model (for inspection; prefer the estimator's methods). */
  get model(): LayersModel {
    return this.loaded();
  }

  /** Replaces the model (disposing the previous one). */
  setModel(model: LayersModel): void {
    if (this.closed) throw closedError('TfjsEstimator');
    const previous = this.current;
    this.current = model;
    this.compiledLearningRate = undefined;
    if (previous !== undefined && previous !== model) previous.dispose();
  }

  /** A method, not the field, so checks after an `await` are not narrowed away. */
  private isClosed(): boolean {
    return this.closed;
  }

  private loaded(): LayersModel {
    if (this.closed) throw closedError('TfjsEstimator');
    if (this.current === undefined) {
      throw new SednaError(
        'SEDNA_ERR_MODEL_NOT_LOADED',
        'TfjsEstimator: no model; pass `model` or `modelUrl` to create(), or call load(url)',
      );
    }
    return this.current;
  }

  /** The model input's shape without the batch dim, and its element count. */
  private inputShape(model: LayersModel): { dims: number[]; size: number } {
    const shape = model.inputs[0]?.shape ?? [];
    const dims = shape.slice(1).map((d) => d ?? -1);
    if (dims.some((d) => d < 0)) {
      throw new SednaError(
        'SEDNA_ERR_NOT_SUPPORTED',
        `TfjsEstimator: the model input has a variable non-batch dim [${shape.join(', ')}]; only fixed sample shapes are supported`,
      );
    }
    return { dims, size: elementCount(dims) };
  }

  private shapeError(model: LayersModel, got: string, why: string): SednaError {
    const expected = model.inputs[0]?.shape ?? [];
    return new SednaError(
      'SEDNA_ERR_SHAPE_MISMATCH',
      `model input expects float32 [${expected.map((d) => d ?? 'N').join(', ')}], got ${got} (${why})`,
      { details: { expected: expected.map((d) => d ?? 'N'), actual: got } },
    );
  }

  /** Builds the input tensor for a batch (caller disposes it). */
  private inputTensor(model: LayersModel, x: TfInput): tfjs.Tensor {
    const { tf } = this.runtime;
    const { dims, size } = this.inputShape(model);
    if (Array.isArray(x)) {
      const rows = x as readonly (readonly number[])[];
      const data = new Float32Array(rows.length * size);
      rows.forEach((row, i) => {
        if (!Array.isArray(row) || row.length !== size) {
          throw this.shapeError(
            model,
            `rows [${rows.length}, ${Array.isArray(row) ? row.length : showValue(row, 30)}]`,
            `row ${i} must have ${size} values`,
          );
        }
        data.set(row, i * size);
      });
      return tf.tensor(data, [rows.length, ...dims], 'float32');
    }
    const { data, dims: given } = x as { data: Float32Array; dims: readonly number[] };
    const ok =
      ArrayBuffer.isView(data) &&
      given.length === dims.length + 1 &&
      dims.every((d, i) => given[i + 1] === d) &&
      elementCount(given) === data.length;
    if (!ok)
      throw this.shapeError(model, `[${given.join(', ')}] with ${data.length} values`, 'shape or length differs');
    return tf.tensor(data, [...given], 'float32');
  }

  private labelTensor(y: readonly (number | readonly number[])[]): tfjs.Tensor {
    const { tf } = this.runtime;
    const first = y[0];
    if (typeof first === 'number') return tf.tensor1d(y as number[], 'float32');
    return tf.tensor2d(y as number[][], undefined, 'float32');
  }

  private checkDataset(data: TfDataset, name: string): readonly (number | readonly number[])[] {
    const y = data.y;
    if (y?.length !== data.x.length) {
      throw invalidArgument(
        `${name}.y`,
        y === undefined ? undefined : `${y.length} labels`,
        `one label per sample (${data.x.length})`,
      );
    }
    if (data.x.length === 0) throw invalidArgument(`${name}.x`, [], 'at least one sample');
    return y;
  }

  /**
   * Trains with `model.fit`, reporting every epoch through `onEpoch`. Compiles the model (Adam at
   * `learningRate`, default 0.001) when it is not compiled yet or a new learning rate is given.
   * Returns the last epoch's metrics (`loss`, `acc`, and `val_*` with validation data).
   */
  async train(
    trainDataset: TfDataset | Dataset<TfInput>,
    validDataset?: TfDataset | Dataset<TfInput>,
    options: TfTrainOptions = {},
  ): Promise<Metrics> {
    // Rows are checked when the tensors are built (see evaluate() on the wider type).
    const trainData = trainDataset as TfDataset;
    const validData = validDataset as TfDataset | undefined;
    const model = this.loaded();
    const { tf } = this.runtime;
    const yTrain = this.checkDataset(trainData, 'trainData');
    options.signal?.throwIfAborted();
    const lr = options.learningRate;
    const previous = model.optimizer as tfjs.Optimizer | undefined;
    if (
      previous === undefined ||
      options.resetOptimizer === true ||
      (lr !== undefined && lr !== this.compiledLearningRate)
    ) {
      const loss =
        options.loss ?? (typeof yTrain[0] === 'number' ? 'sparseCategoricalCrossentropy' : 'meanSquaredError');
      model.compile({ optimizer: tf.train.adam(lr ?? DEFAULT_LEARNING_RATE), loss, metrics: ['accuracy'] });
      this.compiledLearningRate = lr ?? DEFAULT_LEARNING_RATE;
      // compile() does not release the optimizer it replaces (Adam's moments: 2 × the weights).
      if (previous !== undefined && this.ownedOptimizers.delete(previous)) previous.dispose();
      this.ownedOptimizers.add(model.optimizer);
    }
    const epochs = options.epochs ?? 1;
    const tensors: tfjs.Tensor[] = [];
    try {
      const x = this.inputTensor(model, trainData.x);
      tensors.push(x);
      const y = this.labelTensor(yTrain);
      tensors.push(y);
      let validationData: [tfjs.Tensor, tfjs.Tensor] | undefined;
      if (validData !== undefined) {
        const yValid = this.checkDataset(validData, 'validData');
        const xv = this.inputTensor(model, validData.x);
        tensors.push(xv);
        const yv = this.labelTensor(yValid);
        tensors.push(yv);
        validationData = [xv, yv];
      }
      let last: Record<string, number> = {};
      const { signal, onEpoch } = options;
      const proximalStep = this.proximalStep(
        model,
        options.proximal,
        this.compiledLearningRate ?? DEFAULT_LEARNING_RATE,
      );
      if (proximalStep !== undefined) tensors.push(...proximalStep.tensors);
      await model.fit(x, y, {
        epochs,
        batchSize: options.batchSize ?? DEFAULT_BATCH,
        shuffle: options.shuffle ?? true,
        validationData,
        // tfjs-node prints a progress bar at the default verbosity (1). SILENT is 0, but the
        // ModelLoggingVerbosity enum is not exported by @tensorflow/tfjs.
        // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
        verbose: 0,
        callbacks: {
          onBatchEnd: () => {
            proximalStep?.apply();
            if (signal?.aborted === true) model.stopTraining = true;
          },
          onEpochEnd: (epoch, logs) => {
            last = { ...(logs ?? {}) };
            onEpoch?.({ epoch: epoch + 1, epochs, metrics: last });
          },
        },
      });
      signal?.throwIfAborted();
      return Object.freeze(last);
    } finally {
      for (const t of tensors) t.dispose();
    }
  }

  /**
   * The FedProx step for `train()`: reference tensors (the caller disposes them) and the update
   * applied after each batch; undefined when there is no proximal term.
   */
  private proximalStep(
    model: LayersModel,
    proximal: TfTrainOptions['proximal'],
    learningRate: number,
  ): { tensors: tfjs.Tensor[]; apply: () => void } | undefined {
    if (proximal === undefined) return undefined;
    const { mu, reference } = proximal;
    if (typeof mu !== 'number' || !Number.isFinite(mu) || mu < 0)
      throw invalidArgument('proximal.mu', mu, 'a finite number ≥ 0');
    if (mu === 0) return undefined;
    const { tf } = this.runtime;
    checkModelLayout(model, reference, 'proximal.reference');
    const c = learningRate * mu;
    const pairs = model.weights.flatMap((variable, i) => {
      const ref = reference[i] as WeightRecord;
      if (!variable.trainable || ref.dtype !== 'float32') return [];
      return [{ variable, target: tf.tensor((ref.data as Float32Array).slice(), [...ref.shape], 'float32') }];
    });
    return {
      tensors: pairs.map((p) => p.target),
      apply: () => {
        tf.tidy(() => {
          for (const { variable, target } of pairs)
            variable.write(
              variable
                .read()
                .add(target.mul(c))
                .div(1 + c),
            );
        });
      },
    };
  }

  /** Runs the model on a batch; returns its first output as rows (`result[i]` for sample `i`). */
  async predict(x: TfInput, options?: PredictOptions): Promise<number[][]> {
    const model = this.loaded();
    if (Array.isArray(x) && x.length === 0) return [];
    const batchSize = options?.batchSize;
    if (batchSize !== undefined && Array.isArray(x) && x.length > batchSize) {
      const rows: number[][] = [];
      const all = x as readonly (readonly number[])[];
      for (let i = 0; i < all.length; i += batchSize) rows.push(...(await this.predict(all.slice(i, i + batchSize))));
      return rows;
    }
    const input = this.inputTensor(model, x);
    let output: tfjs.Tensor;
    try {
      output = this.runtime.tf.tidy(() => {
        const out = model.predict(input);
        return Array.isArray(out) ? (out[0] as tfjs.Tensor) : out;
      });
    } catch (err) {
      throw new SednaError('SEDNA_ERR_INFERENCE', `TF.js inference failed: ${messageOf(err)}`, { cause: err });
    } finally {
      input.dispose();
    }
    try {
      const data = await output.data();
      const n = output.shape.length === 0 ? 1 : output.shape[0];
      const width = n === 0 ? 0 : data.length / n;
      const rows = new Array<number[]>(n);
      for (let i = 0; i < n; i++) rows[i] = Array.from(data.subarray(i * width, (i + 1) * width) as Float32Array);
      return rows;
    } finally {
      output.dispose();
    }
  }

  /**
   * Predicts `data.x` in batches and applies the metrics; default `{ accuracy }`. (The type also
   * admits `Dataset<TfInput>`, as the Estimator contract types datasets with predict's input;
   * samples are checked at run time.)
   */
  async evaluate(
    data: TfDataset | Dataset<TfInput>,
    options: EvaluateOptions<number | readonly number[], readonly number[]> = {},
  ): Promise<Metrics> {
    this.loaded();
    const samples = data as TfDataset;
    const labels = this.checkDataset(samples, 'data');
    const predictions = await this.predict(samples.x, { batchSize: options.batchSize ?? DEFAULT_EVAL_BATCH });
    if (options.metrics !== undefined) return computeMetrics(options.metrics, labels, predictions);
    return computeMetrics({ accuracy }, labels as readonly number[], predictions);
  }

  /** The model's weights as records (float32; int32 for integer variables), in `model.weights` order, as fresh copies. */
  async getWeights(): Promise<WeightRecord[]> {
    const model = this.loaded();
    return Promise.all(
      model.weights.map(async (w): Promise<WeightRecord> => {
        const value = w.read();
        // `data()` may hand back the backend's own storage; copy so callers can mutate freely.
        const data = (await value.data()).slice();
        // originalName: TF.js suffixes `name` (`dense/kernel_3`) when models share layer names.
        const name = w.originalName;
        const shape = [...value.shape];
        return w.dtype === 'int32'
          ? { name, dtype: 'int32', shape, data: data as Int32Array }
          : { name, dtype: 'float32', shape, data: data as Float32Array };
      }),
    );
  }

  /** Sets every weight (same count, dtypes and shapes as `getWeights()`, by position). */
  setWeights(weights: readonly WeightRecord[]): Promise<void> {
    // The executor turns a synchronous throw (closed, wrong layout) into a rejection.
    return new Promise((resolve) => {
      const model = this.loaded();
      checkModelLayout(model, weights, 'TfjsEstimator.setWeights');
      const { tf } = this.runtime;
      // Copies: backends may keep the array they are given, and the caller's records stay theirs.
      const tensors = weights.map((w) =>
        w.dtype === 'int32'
          ? tf.tensor((w.data as Int32Array).slice(), [...w.shape], 'int32')
          : tf.tensor((w.data as Float32Array).slice(), [...w.shape], 'float32'),
      );
      try {
        model.setWeights(tensors);
      } finally {
        for (const t of tensors) t.dispose();
      }
      resolve();
    });
  }

  /** The model as TF.js artifacts: model.json text and the weights bytes. */
  private async artifacts(model: LayersModel): Promise<{ json: string; weights: Uint8Array }> {
    const { tf } = this.runtime;
    let json = '';
    let weights = new Uint8Array(0);
    await model.save(
      tf.io.withSaveHandler((artifacts) => {
        const data =
          artifacts.weightData === undefined
            ? new ArrayBuffer(0)
            : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
        weights = new Uint8Array(data);
        json = JSON.stringify({
          format: artifacts.format ?? 'layers-model',
          generatedBy: artifacts.generatedBy,
          convertedBy: artifacts.convertedBy ?? null,
          modelTopology: artifacts.modelTopology,
          trainingConfig: artifacts.trainingConfig,
          weightsManifest: [{ paths: [TFJS_WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
          ...(this.options.embedWeights === false
            ? {}
            : { [TFJS_EMBEDDED_WEIGHTS]: Buffer.from(weights).toString('base64') }),
        });
        return Promise.resolve({ modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) });
      }),
    );
    return { json, weights };
  }

  /**
   * Saves the model as a TF.js folder (`model.json` + `weights.bin`) at `url`: locally as one
   * atomic folder swap, remotely through FileOps (weights first, model.json last). Returns the
   * folder's location.
   */
  async save(url: string): Promise<string> {
    const model = this.loaded();
    const dir = folderOf(url);
    const { json, weights } = await this.artifacts(model);
    return writeModelDir(
      dir,
      [
        { name: TFJS_WEIGHTS_BIN, data: weights },
        { name: TFJS_MODEL_JSON, data: new TextEncoder().encode(json) },
      ],
      this.options.fileOps,
    );
  }

  /**
   * Loads a TF.js layers model, replacing the current one. `url` is the model's folder or its
   * `.json` file (path, `file://`, or remote through `fileOps`); weights come from the JSON itself
   * when it embeds them (`weightDataBase64`), else from the files the manifest names, next to it.
   */
  async load(url: string): Promise<void> {
    if (this.closed) throw closedError('TfjsEstimator');
    const { tf } = this.runtime;
    const jsonUrl = url.endsWith('.json') ? url : joinLocation(url, TFJS_MODEL_JSON);
    const dir = parentOf(jsonUrl);
    const invalid = (why: string, cause?: unknown): SednaError =>
      new SednaError('SEDNA_ERR_MODEL_INVALID', `cannot load TF.js model ${jsonUrl}: ${why}`, {
        cause,
        details: { location: jsonUrl },
      });
    const text = new TextDecoder().decode(await readModelFile(jsonUrl, this.options.fileOps));
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw invalid(`model.json is not JSON (${messageOf(err)})`, err);
    }
    if (!isModelJson(parsed)) throw invalid('model.json has no modelTopology / weightsManifest');
    let model: LayersModel;
    try {
      const artifacts = await tf.io.getModelArtifactsForJSON(parsed as unknown as tfjs.io.ModelJSON, async (groups) => {
        const specs = groups.flatMap((g) => g.weights);
        const embedded = (parsed as Record<string, unknown>)[TFJS_EMBEDDED_WEIGHTS];
        const files = groups.flatMap((g) => g.paths).map((p) => joinLocation(dir, p));
        const parts =
          typeof embedded === 'string'
            ? [Buffer.from(embedded, 'base64')]
            : await Promise.all(files.map((f) => readModelFile(f, this.options.fileOps)));
        // Exact copies: a Node Buffer's `.buffer` may be a larger shared pool.
        const buffers = parts.map((p) => {
          const copy = new Uint8Array(p.length);
          copy.set(p);
          return copy.buffer;
        });
        const expected = expectedWeightBytes(specs);
        const actual = buffers.reduce((n, b) => n + b.byteLength, 0);
        if (expected !== undefined && actual !== expected) {
          throw invalid(`the weight files hold ${actual} bytes, the manifest needs ${expected}`);
        }
        return [specs, buffers];
      });
      model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    } catch (err) {
      if (err instanceof SednaError) throw err;
      throw invalid(messageOf(err), err);
    }
    if (this.isClosed()) {
      model.dispose();
      throw closedError('TfjsEstimator');
    }
    this.setModel(model);
  }

  /**
   * Report entries for a model saved at `url` (the folder): `{ format: 'json', url: <folder>/model.json }`
   * first, then `{ format: 'tfjs', url: <folder> }`, so the LC finds the model whichever format the
   * Model resource names (as Sedna's TF backend reports a pb file and its ckpt folder).
   */
  modelInfo(url: string, options: ModelInfoOptions = {}): ModelResultEntry[] {
    const dir = folderOf(url);
    const metrics = options.metrics ?? null;
    const strip = (u: string): string => removePathPrefix(u, options.dataPathPrefix);
    return [
      { format: 'json', url: strip(`${dir}/${TFJS_MODEL_JSON}`), metrics },
      { format: 'tfjs', url: strip(dir), metrics },
    ];
  }

  /** Disposes the model. Idempotent; any later call fails with SEDNA_ERR_CLOSED. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.current?.dispose();
      this.current = undefined;
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
