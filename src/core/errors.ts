/**
 * Designed errors. Every failure the library reports is a {@link SednaError} whose `code` is one
 * of the stable `SEDNA_ERR_*` strings below. Codes are never reused or renamed; `docs/errors.md`
 * is generated from {@link ERROR_CATALOG} (`npm run docs:errors`) and a test keeps it in sync.
 */

/** What a code means and how to fix it; the single source for docs/errors.md. */
export interface ErrorCodeInfo {
  readonly meaning: string;
  readonly fix: string;
  /** HTTP status a server answers with when this error reaches a client. */
  readonly httpStatus: number;
}

export const ERROR_CATALOG = {
  SEDNA_ERR_INVALID_CONFIG: {
    meaning: 'An environment variable (or a config option) has a value of the wrong type or out of range.',
    fix: 'Correct the variable named in the message; docs/configuration.md lists every variable with its type and default.',
    httpStatus: 500,
  },
  SEDNA_ERR_INVALID_PARAMETERS: {
    meaning:
      'A `<PREFIX>_PARAMETERS` variable is not the JSON list of `{"key","value"}` pairs the Sedna controller writes.',
    fix: 'Write the CRD parameters as `[{"key":"threshold","value":"0.5"}]`, or leave the variable unset / `null`.',
    httpStatus: 500,
  },
  SEDNA_ERR_INVALID_ARGUMENT: {
    meaning: 'A function or constructor was called with an argument it cannot accept.',
    fix: 'Read the message: it names the argument and what was expected.',
    httpStatus: 400,
  },
  SEDNA_ERR_INVALID_ALGORITHM_PARAM: {
    meaning:
      'An algorithm parameter (usually a CRD string value) cannot be cast to the type the algorithm needs, or is out of range.',
    fix: 'Correct the parameter in the job resource (e.g. `hardExampleMining.parameters`) or in the overrides passed by code.',
    httpStatus: 500,
  },
  SEDNA_ERR_UNKNOWN_ALGORITHM: {
    meaning: 'No algorithm of the requested kind is registered under that name.',
    fix: 'Use one of the names the message lists, or register your class with `@ClassFactory.register(kind, name)` before the job is created.',
    httpStatus: 500,
  },
  SEDNA_ERR_DUPLICATE_ALGORITHM: {
    meaning: 'A different class is already registered under this kind and name.',
    fix: 'Pick another name (alias) for your class; re-registering the same class is allowed.',
    httpStatus: 500,
  },
  SEDNA_ERR_MISSING_DEPENDENCY: {
    meaning: 'An optional peer dependency needed by this feature is not installed or failed to load.',
    fix: 'Install the package named in the message (e.g. `npm install onnxruntime-node`).',
    httpStatus: 500,
  },
  SEDNA_ERR_NOT_SUPPORTED: {
    meaning: 'The operation is not supported by this component (e.g. training an ONNX model).',
    fix: 'Use a backend or component that supports the operation; the message says which.',
    httpStatus: 501,
  },
  SEDNA_ERR_CLOSED: {
    meaning: 'The object was used after `close()`.',
    fix: 'Create a new instance; do not use a job, server or client after closing it.',
    httpStatus: 503,
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type SednaErrorCode = keyof typeof ERROR_CATALOG;

export interface SednaErrorOptions {
  cause?: unknown;
  /** Structured facts about the failure (the variable, URL, path, value...). */
  details?: Readonly<Record<string, unknown>>;
}

/** The one error type of the library. Match on `code`, never on the message. */
export class SednaError extends Error {
  readonly code: SednaErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: SednaErrorCode, message: string, options: SednaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SednaError';
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  /** The HTTP status a server should answer with for this error. */
  get httpStatus(): number {
    return ERROR_CATALOG[this.code].httpStatus;
  }

  toJSON(): { code: SednaErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isSednaError(err: unknown, code?: SednaErrorCode): err is SednaError {
  return err instanceof SednaError && (code === undefined || err.code === code);
}

/** Shows a user-supplied value in a message without flooding it. */
export function showValue(value: unknown, max = 120): string {
  let text: string;
  try {
    // JSON.stringify returns undefined for undefined and functions, whatever its type says.
    const json = JSON.stringify(value) as string | undefined;
    text = json ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/** The message of any thrown value. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : showValue(err);
}

// One factory per code, so call sites stay short and messages stay uniform.

export function invalidConfig(variable: string, value: unknown, expected: string, cause?: unknown): SednaError {
  return new SednaError(
    'SEDNA_ERR_INVALID_CONFIG',
    `${variable}=${showValue(value)} is invalid: expected ${expected}`,
    { cause, details: { variable, value, expected } },
  );
}

export function invalidParameters(variable: string, value: unknown, problem: string, cause?: unknown): SednaError {
  return new SednaError(
    'SEDNA_ERR_INVALID_PARAMETERS',
    `${variable}=${showValue(value)} is invalid: ${problem}; expected a JSON list of {"key": string, "value": string} (or null)`,
    { cause, details: { variable, value, problem } },
  );
}

export function invalidArgument(argument: string, value: unknown, expected: string): SednaError {
  return new SednaError(
    'SEDNA_ERR_INVALID_ARGUMENT',
    `${argument}=${showValue(value)} is invalid: expected ${expected}`,
    {
      details: { argument, value, expected },
    },
  );
}

export function invalidAlgorithmParam(algorithm: string, param: string, value: unknown, expected: string): SednaError {
  return new SednaError(
    'SEDNA_ERR_INVALID_ALGORITHM_PARAM',
    `algorithm "${algorithm}": parameter ${param}=${showValue(value)} is invalid: expected ${expected}`,
    { details: { algorithm, param, value, expected } },
  );
}

export function missingDependency(pkg: string, feature: string, cause?: unknown): SednaError {
  const why = cause === undefined ? '' : ` (${messageOf(cause)})`;
  return new SednaError(
    'SEDNA_ERR_MISSING_DEPENDENCY',
    `${feature} needs the optional package "${pkg}", which could not be loaded${why}; install it with: npm install ${pkg}`,
    { cause, details: { package: pkg, feature } },
  );
}

export function notSupported(what: string, hint: string): SednaError {
  return new SednaError('SEDNA_ERR_NOT_SUPPORTED', `${what} is not supported: ${hint}`, { details: { what } });
}

export function closedError(what: string): SednaError {
  return new SednaError('SEDNA_ERR_CLOSED', `${what} is closed`, { details: { what } });
}
