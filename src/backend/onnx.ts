/**
 * The ONNX backend (`sedna-sdk/backend/onnx`): an inference-only {@link Estimator} on
 * onnxruntime-node. onnxruntime-node is an optional peer, imported on first use; when it is
 * missing, `OnnxEstimator.create()` fails with SEDNA_ERR_MISSING_DEPENDENCY.
 *
 * Types, precisely (the Estimator contract leaves them open):
 * - `predict(x)` takes a batch as rows (`number[][]`, each row the input's non-batch dims
 *   flattened), as `{ data, dims }` (a typed array plus its shape), or as named inputs; it
 *   returns the model's first output as rows (`number[][]`, `[N, ...]` flattened per sample).
 *   `run(x)` returns every output, named, as typed arrays with their dims.
 * - `evaluate(data)` takes samples (`x`: rows, `y`: class labels) and reports accuracy unless
 *   other metrics are given.
 * - `getWeights()` reads the graph's initializers; `setWeights()` rewrites them and rebuilds the
 *   session. `train()` throws SEDNA_ERR_NOT_SUPPORTED.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import {
  SednaError,
  closedError,
  invalidArgument,
  messageOf,
  missingDependency,
  notSupported,
  showValue,
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
} from './estimator.js';
import { accuracy, computeMetrics } from './metrics.js';
import {
  checkModelUrl,
  isLocalDir,
  joinLocation,
  readModelFile,
  writeModelFile,
  type RemoteFiles,
} from './model-io.js';
import { decodeModel, replaceInitializers } from './onnx-proto.js';
import { checkSameLayout, elementCount, type WeightRecord } from './weights.js';

export { accuracy, argmax } from './metrics.js';
export type { RemoteFiles } from './model-io.js';

type Ort = typeof import('onnxruntime-node');

let ortPromise: Promise<Ort> | undefined;

/** Imports onnxruntime-node once; rejects with SEDNA_ERR_MISSING_DEPENDENCY when it cannot load. */
export function loadOnnxRuntime(): Promise<Ort> {
  ortPromise ??= import('onnxruntime-node').catch((err: unknown) => {
    throw missingDependency('onnxruntime-node', 'the ONNX backend', err);
  });
  return ortPromise;
}

// ---------------------------------------------------------------------------------------------
// Public types

/** A batch as rows: one array of numbers per sample (the input's non-batch dims, flattened). */
export type OnnxRows = readonly (readonly number[])[];

/** Typed arrays accepted as input tensors (the element type must match the model's input). */
export type OnnxInputData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

/** A tensor as flat data plus its shape, e.g. `{ data: new Float32Array(2 * 64), dims: [2, 64] }`. */
export interface OnnxTensorInput {
  readonly data: OnnxInputData;
  readonly dims: readonly number[];
}

/** Inputs by name (every input of the model, nothing else), as tensors or rows. */
export type OnnxFeeds = Readonly<Record<string, OnnxTensorInput | OnnxRows>>;

/** What `predict()` / `run()` accept. Rows and a bare tensor are for single-input models. */
export type OnnxInput = OnnxRows | OnnxTensorInput | OnnxFeeds;

/** One output of `run()`. */
export interface OnnxOutput {
  readonly type: Tensor.Type;
  readonly dims: readonly number[];
  readonly data: Tensor.DataType;
}

/** An input or output as the model declares it; symbolic dims are strings (`'N'`). */
export interface OnnxValueInfo {
  readonly name: string;
  /** Element type (`float32`, `int64`, ...), or `undefined` for non-tensor values. */
  readonly type: Tensor.Type | undefined;
  /** Empty when the model does not declare the shape. */
  readonly shape: readonly (number | string)[];
}

/** A labelled set of samples for `evaluate()`: rows and class labels. */
export type OnnxDataset = Dataset<readonly number[], number>;

export interface OnnxEstimatorOptions {
  /** Load this model (path, `file://`, or a remote URL with `fileOps`) during `create()`. */
  readonly modelUrl?: string;
  /** Extra onnxruntime session options, over the defaults `{ logSeverityLevel: 3 }`. */
  readonly sessionOptions?: InferenceSession.SessionOptions;
  /** FileOps (or any {@link RemoteFiles}) for http(s):// and s3:// model locations. */
  readonly fileOps?: RemoteFiles;
}

/** The file name used when `save()` / `load()` get a folder. */
export const ONNX_MODEL_FILE = 'model.onnx';

const DEFAULT_EVAL_BATCH = 256;

// ---------------------------------------------------------------------------------------------
// Input conversion (the hot path: everything per-model is computed once at load)

type RowArrayType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8';

interface InputSpec extends OnnxValueInfo {
  /** Values per sample when every non-batch dim is fixed; undefined otherwise. */
  readonly rowLength: number | undefined;
  readonly shapeText: string;
  /** The typed array class for `type` (identity check on the hot path), if it is one we take. */
  readonly arrayClass: (new (length: number) => OnnxInputData) | undefined;
}

const ARRAY_CLASS: Readonly<Record<string, new (length: number) => OnnxInputData>> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
};

function describeShape(type: string | undefined, shape: readonly (number | string)[]): string {
  return `${type ?? 'non-tensor'} [${shape.length === 0 ? '?' : shape.join(', ')}]`;
}

function inputSpec(meta: InferenceSession.ValueMetadata): InputSpec {
  const type = meta.isTensor ? meta.type : undefined;
  const shape = meta.isTensor ? [...meta.shape] : [];
  const rest = shape.slice(1);
  const rowLength = shape.length >= 1 && rest.every((d) => typeof d === 'number') ? elementCount(rest) : undefined;
  return {
    name: meta.name,
    type,
    shape,
    rowLength,
    shapeText: describeShape(type, shape),
    arrayClass: type === undefined ? undefined : ARRAY_CLASS[type],
  };
}

function shapeMismatch(spec: InputSpec, actualType: string, actualDims: readonly number[], why: string): SednaError {
  return new SednaError(
    'SEDNA_ERR_SHAPE_MISMATCH',
    `input "${spec.name}" expects ${spec.shapeText}, got ${actualType} [${actualDims.join(', ')}] (${why})`,
    {
      details: {
        input: spec.name,
        expected: { type: spec.type, shape: spec.shape },
        actual: { type: actualType, shape: actualDims },
      },
    },
  );
}

const TYPED_ARRAY_TYPE: Readonly<Record<string, RowArrayType>> = {
  '[object Float32Array]': 'float32',
  '[object Float64Array]': 'float64',
  '[object Int32Array]': 'int32',
  '[object BigInt64Array]': 'int64',
  '[object Uint8Array]': 'uint8',
};

function isTensorInput(value: unknown): value is OnnxTensorInput {
  return (
    typeof value === 'object' &&
    value !== null &&
    ArrayBuffer.isView((value as { data?: unknown }).data) &&
    Array.isArray((value as { dims?: unknown }).dims)
  );
}

function rowsToData(spec: InputSpec, rows: OnnxRows): { data: OnnxInputData; dims: number[] } {
  const n = rows.length;
  const first = rows[0];
  if (!Array.isArray(first)) {
    throw shapeMismatch(
      spec,
      'rows',
      [n],
      `a batch must be an array of rows (number[][]), got ${showValue(first, 40)} as row 0`,
    );
  }
  const rowLength = spec.rowLength ?? first.length;
  const dims =
    spec.shape.length > 2 && spec.rowLength !== undefined ? [n, ...(spec.shape.slice(1) as number[])] : [n, rowLength];
  const type = spec.type ?? 'float32';
  let data: OnnxInputData;
  switch (type) {
    case 'float32':
      data = new Float32Array(n * rowLength);
      break;
    case 'float64':
      data = new Float64Array(n * rowLength);
      break;
    case 'int32':
      data = new Int32Array(n * rowLength);
      break;
    case 'uint8':
      data = new Uint8Array(n * rowLength);
      break;
    case 'int64': {
      const big = new BigInt64Array(n * rowLength);
      for (let i = 0; i < n; i++) {
        const row = rows[i] as readonly number[];
        if (row.length !== rowLength)
          throw shapeMismatch(
            spec,
            'rows',
            [n, row.length],
            `row ${i} has ${row.length} values, expected ${rowLength}`,
          );
        for (let j = 0; j < rowLength; j++) {
          const v = row[j] as number;
          if (!Number.isInteger(v))
            throw shapeMismatch(spec, 'rows', [n, rowLength], `row ${i} holds ${showValue(v)}, not an integer`);
          big[i * rowLength + j] = BigInt(v);
        }
      }
      return { data: big, dims };
    }
    default:
      throw shapeMismatch(spec, 'rows', [n, rowLength], `rows cannot be converted to ${type}; pass { data, dims }`);
  }
  for (let i = 0; i < n; i++) {
    const row = rows[i] as readonly number[];
    // Rows come from requests too (BigModelService): a null or a string row is the caller's error.
    if (!Array.isArray(row) && !ArrayBuffer.isView(row))
      throw shapeMismatch(spec, 'rows', [n], `row ${i} is ${showValue(row, 40)}, not a list of numbers`);
    if (row.length !== rowLength)
      throw shapeMismatch(spec, 'rows', [n, row.length], `row ${i} has ${row.length} values, expected ${rowLength}`);
    // A typed array's set() would turn a string into NaN and null into 0, silently.
    if (Array.isArray(row)) {
      for (let j = 0; j < rowLength; j++)
        if (typeof row[j] !== 'number') throw notNumber(spec, n, rowLength, i, row[j]);
    }
    data.set(row, i * rowLength);
  }
  return { data, dims };
}

function notNumber(spec: InputSpec, n: number, rowLength: number, i: number, value: unknown): SednaError {
  return shapeMismatch(spec, 'rows', [n, rowLength], `row ${i} holds ${showValue(value)}, not a number`);
}

function checkTensor(spec: InputSpec, data: OnnxInputData, dims: readonly number[]): void {
  // Hot path: a constructor identity check; the realm-proof tag lookup only when it differs
  // (arrays from another realm, or the wrong type).
  if (spec.type !== undefined && data.constructor !== spec.arrayClass) {
    const actualType = TYPED_ARRAY_TYPE[Object.prototype.toString.call(data)] ?? 'unknown';
    if (actualType !== spec.type) throw shapeMismatch(spec, actualType, dims, 'wrong element type');
  }
  const { shape } = spec;
  const rank = shape.length;
  if (rank > 0) {
    if (dims.length !== rank)
      throw shapeMismatch(spec, spec.type ?? 'tensor', dims, `rank ${dims.length}, expected ${rank}`);
    for (let i = 0; i < rank; i++) {
      const want = shape[i];
      if (typeof want === 'number' && want !== dims[i]) {
        throw shapeMismatch(spec, spec.type ?? 'tensor', dims, `dim ${i} is ${dims[i]}, expected ${want}`);
      }
    }
  }
  let count = 1;
  for (const d of dims) count *= d;
  if (count !== data.length)
    throw shapeMismatch(spec, spec.type ?? 'tensor', dims, `${data.length} values for ${count} elements`);
}

/** Checks that a dataset's samples are rows of numbers (the first one, as a cheap guard). */
function checkSamples(x: readonly unknown[]): OnnxRows {
  const first = x[0];
  if (x.length > 0 && !(Array.isArray(first) && (first.length === 0 || typeof first[0] === 'number'))) {
    throw new SednaError(
      'SEDNA_ERR_SHAPE_MISMATCH',
      `evaluate: data.x must hold one row of numbers per sample, got ${showValue(first, 60)} as sample 0`,
      {
        details: { sample: 0 },
      },
    );
  }
  return x as OnnxRows;
}

/** A rejected promise for a value caught from our own synchronous checks. */
function rejected(err: unknown): Promise<never> {
  return Promise.reject(err instanceof Error ? err : new Error(String(err)));
}

// ---------------------------------------------------------------------------------------------
// The estimator

/** A loaded model: the session plus everything precomputed for the hot path. */
interface Loaded {
  readonly session: InferenceSession;
  readonly bytes: Uint8Array;
  readonly source: string;
  readonly inputs: readonly InputSpec[];
  readonly inputByName: ReadonlyMap<string, InputSpec>;
  /** Set when the model has exactly one input: rows and bare tensors go there. */
  readonly single: InputSpec | undefined;
  readonly outputs: readonly OnnxValueInfo[];
  readonly firstOutput: string;
  /** Runs in flight; a replaced session is released when they finish. */
  pending: number;
  retired: boolean;
  /** predict()'s completion handlers, made once per model so a call allocates no closures. */
  readonly onRows: (out: InferenceSession.ReturnType) => number[][];
  readonly onError: (err: unknown) => never;
}

function release(state: Loaded): Promise<void> {
  return state.session.release().catch(() => undefined);
}

function inferenceError(state: Loaded, err: unknown): SednaError {
  return new SednaError('SEDNA_ERR_INFERENCE', `ONNX inference failed (${state.source}): ${messageOf(err)}`, {
    cause: err,
    details: { location: state.source },
  });
}

/** One run of `state` finished: release a replaced session after its last run. */
function settle(state: Loaded): void {
  state.pending--;
  if (state.retired && state.pending === 0) void release(state);
}

/**
 * An onnxruntime-node session behind the Estimator contract. Create with
 * `await OnnxEstimator.create({ modelUrl })`; release with `close()`.
 */
export class OnnxEstimator implements Estimator {
  readonly backend = 'onnx';
  private state: Loaded | undefined;
  private closed = false;

  private constructor(
    private readonly ort: Ort,
    private readonly options: OnnxEstimatorOptions,
  ) {}

  /** Imports onnxruntime-node (once) and, when `modelUrl` is given, loads the model. */
  static async create(options: OnnxEstimatorOptions = {}): Promise<OnnxEstimator> {
    checkModelUrl(options.modelUrl, 'a model path or URL');
    const estimator = new OnnxEstimator(await loadOnnxRuntime(), options);
    if (options.modelUrl !== undefined) await estimator.load(options.modelUrl);
    return estimator;
  }

  /** The loaded model's location, or undefined before `load()`. */
  get modelSource(): string | undefined {
    return this.state?.source;
  }

  /** The model's inputs as declared (name, element type, shape). */
  get inputs(): readonly OnnxValueInfo[] {
    return this.loaded().inputs.map(({ name, type, shape }) => ({ name, type, shape }));
  }

  /** The model's outputs as declared. */
  get outputs(): readonly OnnxValueInfo[] {
    return this.loaded().outputs;
  }

  /**
   * Loads a model file (a path, `file://`, or http(s)/s3 through `fileOps`; a local folder means
   * `<folder>/model.onnx`). The previous model keeps serving until the new one is ready, so a
   * failed load changes nothing.
   */
  async load(url: string): Promise<void> {
    this.assertOpen();
    const location = (await isLocalDir(url)) ? joinLocation(url, ONNX_MODEL_FILE) : url;
    const bytes = await readModelFile(location, this.options.fileOps);
    await this.loadBytes(bytes, location);
  }

  /** Loads a model from memory (`source` names it in errors and `modelSource`). */
  async loadBytes(bytes: Uint8Array, source = '<memory>'): Promise<void> {
    this.assertOpen();
    const next = await this.open(bytes, source);
    if (this.closed) {
      await release(next);
      throw closedError('OnnxEstimator');
    }
    this.swap(next);
  }

  private async open(bytes: Uint8Array, source: string): Promise<Loaded> {
    // Under test runners with several JS realms a Buffer from `fs` fails onnxruntime's
    // `instanceof Uint8Array`; a view in this realm over the same memory passes (no copy).
    const foreign: ArrayBufferView = bytes;
    const view =
      bytes instanceof Uint8Array ? bytes : new Uint8Array(foreign.buffer, foreign.byteOffset, foreign.byteLength);
    let session: InferenceSession;
    try {
      session = await this.ort.InferenceSession.create(view, { logSeverityLevel: 3, ...this.options.sessionOptions });
    } catch (err) {
      throw new SednaError('SEDNA_ERR_MODEL_INVALID', `cannot load ONNX model ${source}: ${messageOf(err)}`, {
        cause: err,
        details: { location: source },
      });
    }
    const inputs = session.inputMetadata.map(inputSpec);
    const outputs = session.outputMetadata.map((m) => ({
      name: m.name,
      type: m.isTensor ? m.type : undefined,
      shape: m.isTensor ? [...m.shape] : [],
    }));
    const firstOutput = outputs[0]?.name;
    if (firstOutput === undefined) {
      await release({ session } as Loaded);
      throw new SednaError('SEDNA_ERR_MODEL_INVALID', `ONNX model ${source} has no outputs`, {
        details: { location: source },
      });
    }
    const state: Loaded = {
      session,
      bytes,
      source,
      inputs,
      inputByName: new Map(inputs.map((i) => [i.name, i])),
      single: inputs.length === 1 ? inputs[0] : undefined,
      outputs,
      firstOutput,
      pending: 0,
      retired: false,
      onRows: (out) => {
        settle(state);
        return tensorRows(out[firstOutput] as Tensor);
      },
      onError: (err) => {
        settle(state);
        throw inferenceError(state, err);
      },
    };
    return state;
  }

  private swap(next: Loaded): void {
    const previous = this.state;
    this.state = next;
    if (previous !== undefined) this.retire(previous);
  }

  private retire(state: Loaded): void {
    state.retired = true;
    if (state.pending === 0) void release(state);
  }

  private assertOpen(): void {
    if (this.closed) throw closedError('OnnxEstimator');
  }

  private loaded(): Loaded {
    if (this.closed) throw closedError('OnnxEstimator');
    if (this.state === undefined) {
      throw new SednaError('SEDNA_ERR_MODEL_NOT_LOADED', 'OnnxEstimator: no model loaded; call load(url) first');
    }
    return this.state;
  }

  /** The tensor for a bare batch (tensor or rows), or undefined when `value` is neither. */
  private batchTensor(spec: InputSpec, value: unknown): Tensor | undefined {
    let data: OnnxInputData;
    let dims: readonly number[];
    if (isTensorInput(value)) {
      ({ data, dims } = value);
      checkTensor(spec, data, dims);
    } else if (Array.isArray(value)) {
      ({ data, dims } = rowsToData(spec, value as OnnxRows));
    } else {
      return undefined;
    }
    // The element type is the model's (checked above), so the tensor is built without inference.
    return new this.ort.Tensor(spec.type ?? 'float32', data as Float32Array, dims);
  }

  private feedsFor(state: Loaded, x: OnnxInput): InferenceSession.FeedsType {
    const single = state.single;
    if (single !== undefined) {
      const tensor = this.batchTensor(single, x);
      if (tensor !== undefined) {
        const feeds: Record<string, Tensor> = {};
        feeds[single.name] = tensor;
        return feeds;
      }
    }
    const batch = single === undefined && (Array.isArray(x) || isTensorInput(x));
    if (batch) {
      throw invalidArgument(
        'x',
        '<batch>',
        `named inputs: the model has ${state.inputs.length} inputs (${state.inputs.map((i) => i.name).join(', ')})`,
      );
    }
    if (typeof x !== 'object') throw invalidArgument('x', x, 'rows (number[][]), { data, dims } or named inputs');
    const feeds: Record<string, Tensor> = {};
    for (const [name, value] of Object.entries(x as OnnxFeeds)) {
      const spec = state.inputByName.get(name);
      if (spec === undefined) {
        throw invalidArgument(
          `x.${name}`,
          '<input>',
          `one of the model's inputs: ${state.inputs.map((i) => i.name).join(', ')}`,
        );
      }
      const tensor = this.batchTensor(spec, value);
      if (tensor === undefined) {
        throw shapeMismatch(spec, typeof value, [], `expected rows or { data, dims }, got ${showValue(value, 60)}`);
      }
      feeds[name] = tensor;
    }
    const missing = state.inputs.filter((i) => !(i.name in feeds)).map((i) => i.name);
    if (missing.length > 0)
      throw invalidArgument('x', Object.keys(feeds), `values for every input; missing ${missing.join(', ')}`);
    return feeds;
  }

  /**
   * Runs the session and maps its outputs. The pending count lets a replaced session finish its
   * runs before it is released.
   */
  private runFeeds<T>(
    state: Loaded,
    feeds: InferenceSession.FeedsType,
    map: (out: InferenceSession.ReturnType) => T,
  ): Promise<T> {
    state.pending++;
    return state.session.run(feeds).then((out) => {
      settle(state);
      return map(out);
    }, state.onError);
  }

  /**
   * Runs the model on a batch and returns its first output as rows: `result[i]` is sample `i`'s
   * output flattened (e.g. 10 class probabilities). Int64 outputs are converted to numbers.
   * With rows and `options.batchSize`, large batches run in chunks.
   */
  predict(x: OnnxInput, options?: PredictOptions): Promise<number[][]> {
    try {
      const state = this.loaded();
      if (Array.isArray(x)) {
        if (x.length === 0) return Promise.resolve([]);
        const batchSize = options?.batchSize;
        if (batchSize !== undefined && x.length > batchSize) return this.predictInChunks(x as OnnxRows, batchSize);
      }
      // The hot path: one promise hop, no closures (the handlers are made once per model).
      const feeds = this.feedsFor(state, x);
      state.pending++;
      return state.session.run(feeds).then(state.onRows, state.onError);
    } catch (err) {
      return rejected(err);
    }
  }

  private async predictInChunks(rows: OnnxRows, batchSize: number): Promise<number[][]> {
    const out: number[][] = [];
    for (let i = 0; i < rows.length; i += batchSize) {
      for (const row of await this.predict(rows.slice(i, i + batchSize))) out.push(row);
    }
    return out;
  }

  /** Runs the model and returns every output by name, as typed arrays with dims. */
  run(x: OnnxInput): Promise<Readonly<Record<string, OnnxOutput>>> {
    try {
      const state = this.loaded();
      return this.runFeeds(state, this.feedsFor(state, x), (out) => {
        const result: Record<string, OnnxOutput> = {};
        for (const [name, t] of Object.entries(out)) result[name] = { type: t.type, dims: t.dims, data: t.data };
        return result;
      });
    } catch (err) {
      return rejected(err);
    }
  }

  /**
   * Predicts `data.x` in batches and applies the metrics to (`data.y`, predicted rows).
   * Without `options.metrics`, reports `{ accuracy }` (argmax of each row against the label).
   * `data.x` holds samples as rows (an {@link OnnxDataset}). The type also admits
   * `Dataset<OnnxInput>` because the Estimator contract types datasets with predict's input type
   * (a batch, here); such data is checked at run time (SEDNA_ERR_SHAPE_MISMATCH unless rows).
   */
  async evaluate(
    data: OnnxDataset | Dataset<OnnxInput>,
    options: EvaluateOptions<number, readonly number[]> = {},
  ): Promise<Metrics> {
    this.loaded();
    const samples = checkSamples(data.x);
    const labels = data.y as readonly number[] | undefined;
    if (labels?.length !== samples.length) {
      throw invalidArgument(
        'data.y',
        labels === undefined ? undefined : `${labels.length} labels`,
        `one label per sample (${samples.length})`,
      );
    }
    const predictions = await this.predict(samples, { batchSize: options.batchSize ?? DEFAULT_EVAL_BATCH });
    return computeMetrics(options.metrics ?? { accuracy }, labels, predictions);
  }

  /** Not supported: the ONNX backend is inference-only. */
  train(): Promise<Metrics> {
    return Promise.reject(
      notSupported(
        'training with the ONNX backend',
        'it is inference-only; train with the TF.js backend (BACKEND_TYPE=TENSORFLOW) and export the model, or load a trained model',
      ),
    );
  }

  /**
   * Writes the model's bytes (atomically for local paths; a local folder means
   * `<folder>/model.onnx`). Returns where the model went.
   */
  async save(url: string): Promise<string> {
    const state = this.loaded();
    const location = (await isLocalDir(url)) || url.endsWith('/') ? joinLocation(url, ONNX_MODEL_FILE) : url;
    return writeModelFile(location, state.bytes, this.options.fileOps);
  }

  /**
   * The graph's initializers as weight records (fresh copies, in graph order). A model whose
   * initializers are stored externally or in a dtype records cannot hold fails with
   * SEDNA_ERR_NOT_SUPPORTED naming the tensor.
   */
  getWeights(): Promise<WeightRecord[]> {
    // The executor turns a synchronous throw (closed, not loaded) into a rejection.
    return new Promise((resolve) => {
      resolve(this.readWeights(this.loaded()));
    });
  }

  private readWeights(state: Loaded): WeightRecord[] {
    return decodeModel(state.bytes).initializers.map((t) => {
      if (t.ok) return t.record;
      throw notSupported(`reading initializer "${t.name}" of ${state.source}`, t.reason);
    });
  }

  /**
   * Replaces the initializers with `weights` (same count, dtypes and shapes as `getWeights()`,
   * matched by position) and rebuilds the session. In-flight predictions finish on the old one.
   */
  async setWeights(weights: readonly WeightRecord[]): Promise<void> {
    const state = this.loaded();
    const current = this.readWeights(state);
    checkSameLayout(current, weights, 'OnnxEstimator.setWeights');
    const renamed = weights.map((w, i) => ({ ...w, name: (current[i] as WeightRecord).name }));
    const bytes = replaceInitializers(state.bytes, renamed);
    const next = await this.open(bytes, state.source);
    if (this.closed) {
      await release(next);
      throw closedError('OnnxEstimator');
    }
    this.swap(next);
  }

  /** `[{ format: 'onnx', url, metrics }]` with DATA_PATH_PREFIX removed from `url`. */
  modelInfo(url: string, options: ModelInfoOptions = {}): ModelResultEntry[] {
    return [{ format: 'onnx', url: removePathPrefix(url, options.dataPathPrefix), metrics: options.metrics ?? null }];
  }

  /** Releases the session. Idempotent; any later call fails with SEDNA_ERR_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const state = this.state;
    this.state = undefined;
    if (state === undefined) return;
    state.retired = true;
    if (state.pending === 0) await release(state);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** An output tensor as rows of numbers: `[N, ...rest]` → N rows of `prod(rest)` values. */
function tensorRows(t: Tensor): number[][] {
  const data = t.data as ArrayLike<number | bigint>;
  const n = t.dims.length === 0 ? 1 : (t.dims[0] as number);
  const width = n === 0 ? 0 : data.length / n;
  const rows = new Array<number[]>(n);
  // Two loops so the common float case stays monomorphic (no Number() on every element).
  if (t.type === 'int64' || t.type === 'uint64') {
    const all = Array.from(data as ArrayLike<bigint>, Number);
    for (let i = 0; i < n; i++) rows[i] = all.slice(i * width, (i + 1) * width);
    return rows;
  }
  const values = data as ArrayLike<number>;
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(width);
    const base = i * width;
    for (let j = 0; j < width; j++) row[j] = values[base + j] as number;
    rows[i] = row;
  }
  return rows;
}
