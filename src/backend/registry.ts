/**
 * The backend registry: which code builds an {@link Estimator} for a `BACKEND_TYPE`.
 *
 * Modelled on onnxruntime's `backend-impl.ts`: backends register under a name with a priority;
 * each one's `init` (which dynamically imports its heavy peer package) runs lazily, at most once,
 * and its promise is shared by concurrent callers; a failed init is remembered with its reason.
 * Resolving a type tries its candidates in priority order and, if none initialises, throws one
 * SEDNA_ERR_NO_BACKEND listing every candidate and why it failed.
 *
 * Built in: `onnx` (BACKEND_TYPE `ONNX`), `tfjs` (`TENSORFLOW`, `KERAS`) and `classical` (`SKLEARN`). Users register their
 * own, e.g. `registerBackend('sklearn', init, 0, { types: ['SKLEARN'] })`, or hand a job their own
 * estimator object through {@link asEstimator} (Sedna's "Customize" estimator). The registry's
 * state lives under a global `Symbol.for` key, so two copies of the package share it.
 */
import { globalState } from '../common/global-state.js';
import { SednaError, invalidArgument, messageOf } from '../common/errors.js';
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
import type { RemoteFiles } from './model-io.js';
import type { WeightRecord } from './weights.js';

/** Options every backend understands; backends document their own extras (e.g. tfjs `model`). */
export interface EstimatorCreateOptions {
  /** Load this model while creating the estimator. */
  readonly modelUrl?: string;
  /** FileOps for remote model locations. */
  readonly fileOps?: RemoteFiles;
  readonly [option: string]: unknown;
}

/** What an initialised backend offers: a way to build estimators. */
export interface BackendFactory {
  create(options?: EstimatorCreateOptions): Promise<Estimator>;
}

/** Loads a backend's dependencies (dynamic imports) and returns its factory. Runs at most once. */
export type BackendInit = () => Promise<BackendFactory> | BackendFactory;

export interface RegisterBackendOptions {
  /** BACKEND_TYPE values served (any case); default: the backend's name. */
  readonly types?: readonly string[];
}

export type BackendState = 'registered' | 'initialising' | 'ready' | 'failed';

/** A registered backend as {@link listBackends} shows it. */
export interface BackendInfo {
  readonly name: string;
  readonly priority: number;
  readonly types: readonly string[];
  readonly state: BackendState;
  /** Why init failed (state `failed`). */
  readonly error?: string;
}

interface Entry {
  readonly name: string;
  readonly init: BackendInit;
  readonly priority: number;
  readonly types: readonly string[];
  promise?: Promise<BackendFactory>;
  factory?: BackendFactory;
  error?: string;
}

interface RegistryState {
  readonly entries: Map<string, Entry>;
}

function state(): RegistryState {
  return globalState<RegistryState>('sedna-sdk.backend-registry', () => ({ entries: new Map() }));
}

function normaliseType(type: string): string {
  return type.trim().toUpperCase();
}

/**
 * Registers a backend. Same name: a lower priority than the registered one is ignored, an equal
 * priority with a different `init` is an error, a higher one replaces it (and its init state).
 */
export function registerBackend(
  name: string,
  init: BackendInit,
  priority = 0,
  options: RegisterBackendOptions = {},
): void {
  if (typeof name !== 'string' || name.trim() === '') throw invalidArgument('name', name, 'a non-empty backend name');
  if (typeof init !== 'function') throw invalidArgument('init', init, 'a function returning the backend factory');
  if (!Number.isFinite(priority)) throw invalidArgument('priority', priority, 'a finite number');
  const types = (options.types ?? [name]).map(normaliseType);
  if (types.some((t) => t === ''))
    throw invalidArgument('options.types', options.types, 'non-empty BACKEND_TYPE names');
  const { entries } = state();
  const existing = entries.get(name);
  if (existing !== undefined) {
    if (existing.priority > priority) return;
    if (existing.priority === priority) {
      if (existing.init === init) return;
      throw invalidArgument(
        'name',
        name,
        `a backend name not taken at priority ${priority} (another backend is registered under it)`,
      );
    }
  }
  entries.set(name, { name, init, priority, types });
}

/** Removes a backend (its cached init with it). Returns whether it was registered. */
export function unregisterBackend(name: string): boolean {
  return state().entries.delete(name);
}

function stateOf(e: Entry): BackendState {
  if (e.factory !== undefined) return 'ready';
  if (e.error !== undefined) return 'failed';
  return e.promise === undefined ? 'registered' : 'initialising';
}

/** Every registered backend, highest priority first. */
export function listBackends(): BackendInfo[] {
  return sorted([...state().entries.values()]).map((e) => ({
    name: e.name,
    priority: e.priority,
    types: e.types,
    state: stateOf(e),
    ...(e.error === undefined ? {} : { error: e.error }),
  }));
}

function sorted(entries: Entry[]): Entry[] {
  return entries.sort((a, b) => b.priority - a.priority);
}

/** Initialises a backend once; a failure is remembered (the same reason is returned later). */
async function initialise(entry: Entry): Promise<BackendFactory | string> {
  if (entry.factory !== undefined) return entry.factory;
  if (entry.error !== undefined) return entry.error;
  entry.promise ??= (async () => {
    const factory = await entry.init();
    if (typeof (factory as Partial<BackendFactory> | undefined)?.create !== 'function') {
      throw new TypeError('init() did not return an object with a create(options) method');
    }
    return factory;
  })();
  try {
    entry.factory = await entry.promise;
    return entry.factory;
  } catch (err) {
    entry.error ??= messageOf(err);
    return entry.error;
  }
}

/** The backend chosen for a BACKEND_TYPE, initialised. */
export interface ResolvedBackend {
  readonly name: string;
  readonly factory: BackendFactory;
}

/**
 * Finds and initialises the backend for `type` (a BACKEND_TYPE value, any case): its candidates
 * in priority order, the first that initialises wins. Without a type, every backend is a
 * candidate. Throws SEDNA_ERR_NO_BACKEND listing each candidate's failure, or the known types when
 * none serves `type`.
 */
export async function resolveBackend(type?: string): Promise<ResolvedBackend> {
  const wanted = type === undefined || type.trim() === '' ? undefined : normaliseType(type);
  const all = sorted([...state().entries.values()]);
  const candidates = wanted === undefined ? all : all.filter((e) => e.types.includes(wanted));
  const label = wanted === undefined ? 'any BACKEND_TYPE' : `BACKEND_TYPE=${wanted}`;
  if (candidates.length === 0) {
    const known = all.map((e) => `${e.name} (${e.types.join(', ')})`).join('; ') || 'none';
    throw new SednaError(
      'SEDNA_ERR_NO_BACKEND',
      `no estimator backend is registered for ${label}; registered: ${known}. Register one with registerBackend(name, init, priority, { types: ['${wanted ?? 'NAME'}'] }) or pass your own estimator object`,
      { details: { type: wanted, registered: all.map((e) => ({ name: e.name, types: e.types })) } },
    );
  }
  const failures: { name: string; reason: string }[] = [];
  for (const entry of candidates) {
    const result = await initialise(entry);
    if (typeof result !== 'string') return { name: entry.name, factory: result };
    failures.push({ name: entry.name, reason: result });
  }
  throw new SednaError(
    'SEDNA_ERR_NO_BACKEND',
    `no estimator backend could be initialised for ${label}: ${failures.map((f) => `[${f.name}] ${f.reason}`).join('; ')}`,
    { details: { type: wanted, failures } },
  );
}

/** Resolves the backend for `type` and builds an estimator with it. */
export async function createEstimator(
  type: string | undefined,
  options: EstimatorCreateOptions = {},
): Promise<Estimator> {
  const { factory } = await resolveBackend(type);
  return factory.create(options);
}

// ---------------------------------------------------------------------------------------------
// Built-in backends: their modules (and the peers they import) load only when resolved.

function registerBuiltin(name: string, init: BackendInit, priority: number, types: readonly string[]): void {
  // A second copy of the package finds the first one's entries in the shared state: keep them.
  if (!state().entries.has(name)) registerBackend(name, init, priority, { types });
}

registerBuiltin(
  'onnx',
  async () => {
    const onnx = await import('./onnx.js');
    await onnx.loadOnnxRuntime();
    return { create: (options) => onnx.OnnxEstimator.create(options) };
  },
  100,
  ['ONNX'],
);

registerBuiltin(
  'tfjs',
  async () => {
    const tfjs = await import('./tfjs.js');
    await tfjs.loadTfjs();
    return { create: (options) => tfjs.TfjsEstimator.create(options) };
  },
  100,
  ['TENSORFLOW', 'KERAS', 'TFJS'],
);

registerBuiltin(
  'classical',
  async () => {
    const classical = await import('./classical.js');
    await classical.loadClassicalLibs();
    return { create: (options) => classical.ClassicalEstimator.create(options) };
  },
  // Below the default priority: a user's own SKLEARN backend (registered at 0) serves SKLEARN.
  -100,
  ['SKLEARN', 'CLASSICAL'],
);

// ---------------------------------------------------------------------------------------------
// Custom estimators ("Customize" in Sedna)

export type MaybePromise<T> = T | Promise<T>;

/**
 * A user's own model object. `train` (or sklearn-style `fit`), `predict`, `evaluate`, `load` and
 * `save` are required; the rest have defaults (weights: not supported; `modelInfo`: the file
 * extension as the format, as Sedna's base backend does; `close`: nothing). Methods may be sync.
 */
export interface CustomEstimator {
  readonly backend?: string;
  train?(trainData: Dataset, validData?: Dataset, options?: TrainOptions): MaybePromise<unknown>;
  fit?(trainData: Dataset, validData?: Dataset, options?: TrainOptions): MaybePromise<unknown>;
  predict(x: unknown, options?: PredictOptions): MaybePromise<unknown>;
  evaluate(data: Dataset, options?: EvaluateOptions): MaybePromise<Metrics>;
  /** May return where the model went (a string); otherwise `url` is reported. */
  save(url: string): MaybePromise<unknown>;
  load(url: string): MaybePromise<void>;
  getWeights?(): MaybePromise<WeightRecord[]>;
  setWeights?(weights: readonly WeightRecord[]): MaybePromise<void>;
  modelInfo?(url: string, options?: ModelInfoOptions): ModelResultEntry[];
  close?(): MaybePromise<void>;
}

const REQUIRED = ['predict', 'evaluate', 'save', 'load'] as const;
const WRAPPED = Symbol('sedna-sdk.custom-estimator');

function method(obj: object, name: string): ((...args: unknown[]) => unknown) | undefined {
  const fn = (obj as Record<string, unknown>)[name];
  return typeof fn === 'function' ? (fn as (...args: unknown[]) => unknown).bind(obj) : undefined;
}

/** The file extension of a location, without the dot (Sedna's base `model_info` format). */
function extensionOf(url: string): string {
  const base = url.replace(/\/+$/, '').split('/').pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}

/**
 * Adapts a user's object to the Estimator contract, checking its methods first: a missing
 * required method throws SEDNA_ERR_INVALID_ARGUMENT naming every one missing. Errors thrown by
 * the user's `predict` become SEDNA_ERR_INFERENCE (the original as `cause`).
 */
export function asEstimator(obj: CustomEstimator): Estimator {
  if (typeof obj !== 'object' || (obj as unknown) === null) {
    throw invalidArgument('estimator', obj, 'an object with predict, evaluate, save, load and train (or fit) methods');
  }
  if ((obj as unknown as Record<symbol, unknown>)[WRAPPED] === true) return obj as unknown as Estimator;
  const missing: string[] = REQUIRED.filter((name) => method(obj, name) === undefined);
  const train = method(obj, 'train') ?? method(obj, 'fit');
  if (train === undefined) missing.push('train (or fit)');
  if (missing.length > 0 || train === undefined) {
    throw new SednaError(
      'SEDNA_ERR_INVALID_ARGUMENT',
      `estimator object is missing required method${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`,
      { details: { argument: 'estimator', missing } },
    );
  }
  const call = async <T>(name: string, args: unknown[], fallback?: () => T): Promise<T> => {
    const fn = method(obj, name);
    if (fn === undefined) {
      if (fallback !== undefined) return fallback();
      throw new SednaError(
        'SEDNA_ERR_NOT_SUPPORTED',
        `${name} is not supported: the custom estimator has no ${name}() method`,
        {
          details: { what: name },
        },
      );
    }
    return (await fn(...args)) as T;
  };
  const backend = typeof obj.backend === 'string' && obj.backend !== '' ? obj.backend : 'custom';
  const estimator: Estimator & { readonly [WRAPPED]: true } = {
    [WRAPPED]: true,
    backend,
    train: async (trainData, validData, options) => {
      const metrics = await train(trainData, validData, options);
      return typeof metrics === 'object' && metrics !== null ? (metrics as Metrics) : {};
    },
    predict: async (x, options) => {
      try {
        return await call<unknown>('predict', [x, options]);
      } catch (err) {
        if (err instanceof SednaError) throw err;
        throw new SednaError('SEDNA_ERR_INFERENCE', `custom estimator predict() threw: ${messageOf(err)}`, {
          cause: err,
        });
      }
    },
    evaluate: (data, options) => call<Metrics>('evaluate', [data, options]),
    save: async (url) => {
      const where = await call<unknown>('save', [url]);
      return typeof where === 'string' && where !== '' ? where : url;
    },
    load: (url) => call<undefined>('load', [url]),
    getWeights: () => call<WeightRecord[]>('getWeights', []),
    setWeights: (weights) => call<undefined>('setWeights', [weights]),
    modelInfo: (url, options = {}) => {
      const own = method(obj, 'modelInfo');
      if (own !== undefined) return own(url, options) as ModelResultEntry[];
      return [
        {
          format: extensionOf(url),
          url: removePathPrefix(url, options.dataPathPrefix),
          metrics: options.metrics ?? null,
        },
      ];
    },
    close: () => call<undefined>('close', [], () => undefined),
  };
  return estimator;
}
