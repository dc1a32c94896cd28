/**
 * The algorithm registry. Jobs look algorithms up by kind and name (the names the job resource
 * uses, e.g. `HEM_NAME=IBT`); users add their own with a decorator or a function call.
 *
 * Names are always explicit (an alias, or a static `algorithmName`), never `constructor.name`,
 * which bundlers and minifiers rename. The registry lives under a global `Symbol.for` key so
 * two copies of this package in one process (a bundled app plus a dependency) share it.
 */
import { globalState } from './global-state.js';
import { SednaError, invalidArgument, showValue } from './errors.js';
import type { AlgorithmParamValue } from './config.js';

/** Sedna's registry kinds, with Sedna's string values (typos included: they are wire names). */
export const ClassType = {
  GENERAL: 'general',
  HEM: 'hard_example_mining',
  FL_AGG: 'aggregation',
  MTL: 'multi_task_learening',
  UTD: 'unseen_task_detect',
  OF: 'optical_flow',
  ALGORITHM: 'algorithm',
  DATASET: 'data_process',
  CALLBACK: 'post_process_callback',
  UTP: 'unseen_task_processing',
  KM: 'knowledge_management',
  STP: 'seen_task_processing',
  /** sedna-sdk's own kind: Sedna's SimpleClientChoose is a plain class, outside the registry. */
  CLIENT_CHOOSE: 'client_choose',
} as const;

export type ClassTypeName = keyof typeof ClassType;
export type ClassKind = (typeof ClassType)[ClassTypeName];

/** What CRD parameters look like before an algorithm casts them. */
export type RawAlgorithmParams = Readonly<Record<string, AlgorithmParamValue | undefined>>;

/**
 * Parameters per kind and algorithm name. Built-in algorithms add their entries; users extend it
 * by module augmentation so `ClassFactory.create(kind, 'MyFilter', params)` is type-checked:
 *
 * ```ts
 * declare module 'sedna-sdk' {
 *   interface AlgorithmParamsMap {
 *     hard_example_mining: { MyFilter: { threshold?: number | string } };
 *   }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- augmented by modules
export interface AlgorithmParamsMap {}

/** Parameters of a named algorithm: typed where known, the CRD's string record otherwise. */
export type AlgorithmParams<K extends string, N extends string> = K extends keyof AlgorithmParamsMap
  ? N extends keyof AlgorithmParamsMap[K]
    ? AlgorithmParamsMap[K][N]
    : RawAlgorithmParams
  : RawAlgorithmParams;

/** Anything that can be registered: a class (constructed with its params) or a plain function. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry must accept any constructor signature
export type Registrable = abstract new (...args: any[]) => unknown;
/** A plain function may be registered too (Sedna's post-process callbacks). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- same reason
export type RegistrableFunction = (...args: any[]) => unknown;
export type RegistryEntry = Registrable | RegistrableFunction;

interface RegistryState {
  readonly kinds: Map<string, Map<string, RegistryEntry>>;
}

function state(): RegistryState {
  return globalState<RegistryState>('sedna-sdk.class-factory', () => ({ kinds: new Map() }));
}

function explicitName(entry: RegistryEntry, alias: string | undefined): string {
  if (alias !== undefined) {
    if (typeof alias !== 'string' || alias.trim() === '') throw invalidArgument('alias', alias, 'a non-empty string');
    return alias;
  }
  const declared = (entry as { algorithmName?: unknown }).algorithmName;
  if (typeof declared === 'string' && declared.trim() !== '') return declared;
  throw invalidArgument(
    'alias',
    alias,
    'an explicit name: pass one (`register(kind, "MyName")`) or give the class a static `algorithmName`; ' +
      'class names are not used because minifiers change them',
  );
}

function checkKind(kind: unknown): string {
  if (typeof kind !== 'string' || kind.trim() === '')
    throw invalidArgument('kind', kind, 'a ClassType value such as "hard_example_mining"');
  return kind;
}

/** Marks sedna-sdk's own algorithms, so a second copy of the package re-registering them is fine. */
const BUILTIN = Symbol.for('sedna-sdk.builtin-algorithm');

function isSameBuiltin(existing: RegistryEntry, entry: RegistryEntry, name: string): boolean {
  const tag = (x: RegistryEntry): unknown => (x as unknown as Record<symbol, unknown>)[BUILTIN];
  return tag(existing) === name && tag(entry) === name;
}

/** Sedna's kinds whose entries jobs construct with `new` (all but GENERAL and CALLBACK). */
const CLASS_KINDS: ReadonlySet<string> = new Set(
  Object.values(ClassType).filter((kind) => kind !== ClassType.GENERAL && kind !== ClassType.CALLBACK),
);

/** Can `new fn()` run? Probed without calling `fn` (arrow, async and method functions cannot). */
function isConstructor(fn: RegistryEntry): boolean {
  try {
    Reflect.construct(Object, [], fn);
    return true;
  } catch {
    return false;
  }
}

function registerEntry(entry: RegistryEntry, kind: string, alias: string | undefined): string {
  if (typeof entry !== 'function') throw invalidArgument('cls', entry, 'a class or function');
  const name = explicitName(entry, alias);
  if (CLASS_KINDS.has(kind) && !isConstructor(entry)) {
    throw invalidArgument(
      'cls',
      entry,
      `a class for "${name}": kind "${kind}" builds its algorithms with \`new\`. Wrap the function in a class ` +
        '(e.g. `class MyFilter { isHard(x) { ... } }`); plain functions are for ClassType.CALLBACK',
    );
  }
  const kinds = state().kinds;
  let names = kinds.get(kind);
  if (names === undefined) {
    names = new Map();
    kinds.set(kind, names);
  }
  const existing = names.get(name);
  if (existing !== undefined && existing !== entry && isSameBuiltin(existing, entry, name)) return name; // first copy wins
  if (existing !== undefined && existing !== entry) {
    throw new SednaError(
      'SEDNA_ERR_DUPLICATE_ALGORITHM',
      `kind "${kind}" already has a different class registered as "${name}"; pick another name`,
      { details: { kind, name } },
    );
  }
  names.set(name, entry);
  return name;
}

/** The parts of a decorator context we use; standard (TC39) decorators pass one, legacy ones do not. */
interface ClassDecoratorContextLike {
  readonly kind: 'class';
  readonly name: string | undefined;
  addInitializer(initializer: (this: unknown) => void): void;
}

function isDecoratorContext(value: unknown): value is ClassDecoratorContextLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === 'class' &&
    typeof (value as { addInitializer?: unknown }).addInitializer === 'function'
  );
}

/** A class decorator usable both as a TC39 standard decorator and with `experimentalDecorators`. */
export type RegisterDecorator = <C extends Registrable>(target: C, context?: ClassDecoratorContext<C>) => void;

export const ClassFactory = {
  /**
   * Class decorator: `@ClassFactory.register(ClassType.HEM, 'MyFilter')`. Works as a TS 5
   * standard decorator (registers through `context.addInitializer`, i.e. once the class is
   * defined) and under `experimentalDecorators` (registers immediately).
   */
  register(kind: ClassKind | (string & {}) = ClassType.GENERAL, alias?: string): RegisterDecorator {
    const checkedKind = checkKind(kind);
    return (target, context) => {
      if (isDecoratorContext(context)) {
        context.addInitializer(function register(this: unknown) {
          registerEntry(this as Registrable, checkedKind, alias);
        });
        return;
      }
      registerEntry(target, checkedKind, alias);
    };
  },

  /** Function form for plain JavaScript: `ClassFactory.registerCls(MyFilter, 'hard_example_mining', 'MyFilter')`. */
  registerCls(
    cls: Registrable | RegistrableFunction,
    kind: ClassKind | (string & {}) = ClassType.GENERAL,
    alias?: string,
  ): string {
    return registerEntry(cls, checkKind(kind), alias);
  },

  /**
   * For sedna-sdk's own algorithms: like `registerCls`, but when another copy of the package in the
   * same process already registered its version of this built-in, the first one stays (no error).
   * @internal
   */
  registerBuiltin(cls: Registrable, kind: ClassKind, name: string): string {
    Object.defineProperty(cls, BUILTIN, { value: name, enumerable: false });
    return registerEntry(cls, checkKind(kind), name);
  },

  /** Is the kind known (and, when `name` is given, is that name registered under it)? */
  isExists(kind: string, name?: string): boolean {
    const names = state().kinds.get(kind);
    if (names === undefined) return false;
    return name === undefined ? true : names.has(name);
  },

  /** The registered names of a kind, sorted. */
  names(kind: string): string[] {
    return [...(state().kinds.get(kind)?.keys() ?? [])].sort();
  },

  /** The class (not an instance) registered under kind + name; `T` lets callers name its type. */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller states the class type it expects
  getCls<T extends RegistryEntry = Registrable>(kind: string, name: string): T {
    if (typeof name !== 'string' || name === '')
      throw invalidArgument('name', name, `an algorithm name of kind "${kind}"`);
    const entry = state().kinds.get(kind)?.get(name);
    if (entry === undefined) {
      const known = ClassFactory.names(kind);
      throw new SednaError(
        'SEDNA_ERR_UNKNOWN_ALGORITHM',
        `no ${kind} algorithm is registered as ${showValue(name)}; known names: ${known.length > 0 ? known.join(', ') : '(none)'}`,
        { details: { kind, name, known } },
      );
    }
    return entry as T;
  },

  /** Looks the class up and constructs it with its parameters (CRD strings are accepted). */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller states the instance type it expects
  create<K extends string, N extends string, R = unknown>(kind: K, name: N, params?: AlgorithmParams<K, N>): R {
    const cls = ClassFactory.getCls<new (p: unknown) => R>(kind, name);
    return new cls(params ?? {});
  },
};
