/**
 * Designed errors. Every failure the library reports is a {@link SednaError} whose `code` is one
 * of the stable `SEDNA_ERR_*` strings below. Codes are never reused or renamed; `docs/errors.md`
 * is generated from {@link ERROR_CATALOG} (`npm run docs:gen`) and a test keeps it in sync.
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
  // Models and backends
  SEDNA_ERR_NO_BACKEND: {
    meaning:
      'No estimator backend could be initialised for the requested BACKEND_TYPE; the message lists each candidate and why it failed.',
    fix: 'Install the backend package named in the message (onnxruntime-node, @tensorflow/tfjs), or set BACKEND_TYPE to a backend that is installed.',
    httpStatus: 500,
  },
  SEDNA_ERR_MODEL_NOT_FOUND: {
    meaning: 'The model file or folder does not exist at the given path or URL.',
    fix: 'Check MODEL_URL / the path in the message; in a cluster, check the Model resource and its volume.',
    httpStatus: 500,
  },
  SEDNA_ERR_MODEL_INVALID: {
    meaning: 'The model file exists but cannot be loaded (corrupt, truncated or of another format).',
    fix: "Re-export or re-upload the model; the message shows the loader's own error.",
    httpStatus: 500,
  },
  SEDNA_ERR_MODEL_NOT_LOADED: {
    meaning: 'A model operation was called before a model was loaded or built.',
    fix: 'Call `load()` (or train) before `predict()` / `getWeights()`.',
    httpStatus: 503,
  },
  SEDNA_ERR_SHAPE_MISMATCH: {
    meaning: 'Input data does not have the shape or type the model expects.',
    fix: "Reshape the input to the model's input shape shown in the message.",
    httpStatus: 400,
  },
  SEDNA_ERR_WEIGHTS_MISMATCH: {
    meaning: 'Weights do not match the model or the round: different names, dtypes, shapes or count.',
    fix: 'Send weights from the same model architecture; the message names the first differing tensor.',
    httpStatus: 400,
  },
  SEDNA_ERR_METRIC: {
    meaning: 'An evaluation metric failed or returned something other than a finite number (or a list of them).',
    fix: 'Make the metric function return a number or an array of numbers.',
    httpStatus: 500,
  },
  SEDNA_ERR_INFERENCE: {
    meaning: 'The model (or a user post-process callback) threw while predicting.',
    fix: 'See the cause; check the input data and the callback.',
    httpStatus: 500,
  },
  SEDNA_ERR_HEM_INPUT: {
    meaning:
      'A hard-example-mining filter got predictions in a shape or range it cannot read (e.g. boxes with fewer than 5 fields, probabilities outside [0, 1]).',
    fix: 'Post-process the model output into the form the filter documents (boxes `[x1, y1, x2, y2, score, ...]` or class probabilities).',
    httpStatus: 400,
  },
  // Data and files
  SEDNA_ERR_DATA_FORMAT: {
    meaning: 'A data file cannot be parsed: ragged CSV rows, non-numeric cells in a numeric column, a bad index line.',
    fix: 'Fix the file at the row and column the message names.',
    httpStatus: 400,
  },
  SEDNA_ERR_ARCHIVE_TOO_LARGE: {
    meaning:
      'An archive would unpack to more bytes or entries than the limits allow, or expands more than the allowed ratio over its compressed size (a decompression bomb).',
    fix: 'Check where the archive comes from; if it is genuine, raise `archive.maxBytes` / `maxEntries` / `maxRatio` in the FileOps options.',
    httpStatus: 413,
  },
  SEDNA_ERR_FILE_NOT_FOUND: {
    meaning: 'A file or object named by a path or URL does not exist.',
    fix: 'Check the path or URL in the message (and DATA_PATH_PREFIX / volume mounts in a cluster).',
    httpStatus: 404,
  },
  SEDNA_ERR_UNSUPPORTED_URL: {
    meaning: 'A URL has a scheme FileOps does not handle.',
    fix: 'Use a local path, file://, http(s):// or s3:// URL.',
    httpStatus: 400,
  },
  SEDNA_ERR_STORAGE: {
    meaning: 'The object store (S3) refused or failed an operation.',
    fix: 'See the cause; check the bucket, key and S3_ENDPOINT_URL.',
    httpStatus: 502,
  },
  SEDNA_ERR_ACCESS_DENIED: {
    meaning: 'The object store rejected the credentials or the request signature.',
    fix: 'Check ACCESS_KEY_ID / SECRET_ACCESS_KEY (the Secret referenced by the Model or Dataset resource).',
    httpStatus: 403,
  },
  // Network: clients
  SEDNA_ERR_NETWORK: {
    meaning: 'A remote service could not be reached (connection refused, reset, DNS failure).',
    fix: 'Check that the service runs and the host/port in the message are right.',
    httpStatus: 502,
  },
  SEDNA_ERR_TIMEOUT: {
    meaning: 'An operation did not finish within its deadline.',
    fix: "Check the remote side's health, or raise the timeout option named in the message.",
    httpStatus: 504,
  },
  SEDNA_ERR_HTTP_STATUS: {
    meaning: 'A remote service answered with an error status.',
    fix: 'See the status, URL and the remote error in the message.',
    httpStatus: 502,
  },
  SEDNA_ERR_BAD_RESPONSE: {
    meaning: 'A remote service answered with a body that does not follow the protocol.',
    fix: 'Check that the remote side speaks the same protocol version; the message shows what was wrong.',
    httpStatus: 502,
  },
  SEDNA_ERR_LC_REJECTED: {
    meaning:
      'The LocalController rejected a worker report (HTTP 400), e.g. because the body name differs from the worker name in the path.',
    fix: "Make WORKER_NAME and the report's `name` agree; the message carries the LC's answer.",
    httpStatus: 502,
  },
  // Network: servers
  SEDNA_ERR_BAD_REQUEST: {
    meaning: "A request body is not valid JSON or does not match the endpoint's schema.",
    fix: 'Send the body the endpoint documents; the message names the first offending field.',
    httpStatus: 400,
  },
  SEDNA_ERR_UNSUPPORTED_MEDIA_TYPE: {
    meaning: 'A request body has a content type the endpoint does not accept.',
    fix: 'Send JSON with `content-type: application/json`.',
    httpStatus: 415,
  },
  SEDNA_ERR_PAYLOAD_TOO_LARGE: {
    meaning: 'A request body or message is larger than the configured limit.',
    fix: "Send less data per request, or raise the server's size limit option.",
    httpStatus: 413,
  },
  SEDNA_ERR_NOT_FOUND: {
    meaning: 'No route matches the request method and path.',
    fix: 'Check the URL; `GET /{servername}` lists the routes of an inference server.',
    httpStatus: 404,
  },
  SEDNA_ERR_OVERLOADED: {
    meaning: 'The server is at its concurrency limit and its queue is full.',
    fix: "Retry later (with backoff), or raise the server's concurrency / queue limits.",
    httpStatus: 503,
  },
  SEDNA_ERR_INTERNAL: {
    meaning: 'An unexpected error inside a server handler.',
    fix: "See the server's log for the cause; this is a bug if it is not caused by a user callback.",
    httpStatus: 500,
  },
  // Federated learning and other protocols
  SEDNA_ERR_PROTOCOL: {
    meaning: 'A peer broke the protocol: a frame before `subscribe`, an unknown or malformed frame.',
    fix: 'Follow the protocol in docs; the message names the frame.',
    httpStatus: 400,
  },
  SEDNA_ERR_DUPLICATE_CLIENT: {
    meaning: 'A client subscribed with an id that another live connection already uses.',
    fix: 'Give each worker its own id (WORKER_NAME), or let the old connection close before reconnecting.',
    httpStatus: 409,
  },
  SEDNA_ERR_UNAUTHORIZED: {
    meaning:
      "A peer did not prove it may use the service: no or a wrong shared token (the aggregator's AGG_TOKEN / AGG_TOKEN_FILE). The aggregator closes with 4010; its HTTP routes answer 401.",
    fix: 'Give every trainer and the aggregator the same token (AGG_TOKEN or a mounted AGG_TOKEN_FILE); see docs/security.md.',
    httpStatus: 401,
  },
  SEDNA_ERR_INVALID_UPDATE: {
    meaning: 'A model update carries invalid values: NaN or Infinity weights, a negative or non-integer sample count.',
    fix: 'Check the local training (diverged loss) and the sample count sent with the weights.',
    httpStatus: 400,
  },
  SEDNA_ERR_ROUND_FAILED: {
    meaning: 'A federated round could not complete for this client (malformed aggregate, timeout, aggregator gone).',
    fix: 'See the cause; the job reports the failure to the LC.',
    httpStatus: 500,
  },
  SEDNA_ERR_ROUND_STALLED: {
    meaning:
      'A federated round could not complete within its bound: the aggregator waited `stallTimeoutMs` (CONNECT_TIMEOUT) with every missing participant disconnected, or the round passed `roundDeadlineMs`; or a trainer got no aggregate within its wait bound. The aggregator tells its clients with this code (close code 4009) and ends the job.',
    fix: 'Read the logged diagnostic (round, clients seen, updates received, last message of each client): restart the missing trainer, make PARTICIPANTS_COUNT match the trainers that run, or raise the bound if rounds legitimately take longer.',
    httpStatus: 504,
  },
  SEDNA_ERR_NOT_CHOSEN: {
    meaning:
      "A federated client sent an update for a round it was not chosen to train in (client selection, `client_choose`); the update is refused, the client stays connected and gets the round's aggregate.",
    fix: 'Train only when the round_config frame of the round says `selected: true` (FederatedLearning does); with a Sedna Python client, do not use client selection.',
    httpStatus: 409,
  },
  SEDNA_ERR_REPORT_TIMEOUT: {
    meaning:
      "The last report to the LocalController (the LC reporter's final flush in `close()`) did not complete within `flushTimeoutMs`; the logged diagnostic holds the counters that were not delivered.",
    fix: 'Check that LC_SERVER points at a LocalController that answers; the worker closes anyway.',
    httpStatus: 504,
  },
  SEDNA_ERR_HOT_UPDATE: {
    meaning:
      'A model hot update could not be applied: the config file is half-written or invalid, or the model it names is missing or corrupt.',
    fix: 'The old model keeps serving; fix the config file or the model and the next poll retries.',
    httpStatus: 500,
  },
  // Lifelong learning and the knowledge base
  SEDNA_ERR_PICKLE_REJECTED: {
    meaning:
      'A pickle names a Python class or function outside the allowlist (anything but Sedna index classes and plain data), or uses a pickle feature that would run code; nothing in it was executed.',
    fix: 'Keep samples in the index as plain lists (not numpy arrays or DataFrames), or send the JSON index format (docs/lifelong-learning.md).',
    httpStatus: 400,
  },
  SEDNA_ERR_KB_FILE_NAME: {
    meaning:
      'A knowledge-base file name is not a plain file name: it holds a path (`/`, `\\`, `..`), a NUL or control character, is empty or too long, or names a file the knowledge base keeps for itself.',
    fix: 'Upload and download files by their base name only (e.g. `task-a.model`).',
    httpStatus: 400,
  },
  SEDNA_ERR_KB_INDEX: {
    meaning:
      'A lifelong-learning index is invalid: a required field is missing or of the wrong type, a task appears twice, or it references a model that is not there.',
    fix: 'The message names the field or the model; upload the models first, then send the index with `update`.',
    httpStatus: 400,
  },
  SEDNA_ERR_KB_NO_INDEX: {
    meaning: 'The knowledge base has no index yet, so there is nothing to change or read.',
    fix: 'Send an index with `POST /knowledgebase/update` (the train worker does) first.',
    httpStatus: 409,
  },
  SEDNA_ERR_KB_UNKNOWN_TASK: {
    meaning: 'A status update names a task group the knowledge base does not hold.',
    fix: 'Use the group entries of the current index (`POST /knowledgebase/query` lists them).',
    httpStatus: 404,
  },
  SEDNA_ERR_KB_DATABASE: {
    meaning:
      'The knowledge-base database (KB_URL) cannot be opened or written: not a SQLite file, corrupt, or on a read-only or full disk. It was left as it is.',
    fix: 'Restore or move the file the message names; a new file is created when none exists.',
    httpStatus: 500,
  },
  SEDNA_ERR_TASK_DATA: {
    meaning:
      'Multi-task learning cannot use the data: the attribute columns a task definition needs are missing, a row is ragged, there are no samples, or a label is missing.',
    fix: 'Give the columns named in the message (the CRD/`task_definition` parameters list them) and one label per sample.',
    httpStatus: 400,
  },
  // Multi-edge inference: records, images, video, Kafka
  SEDNA_ERR_RECORD_FORMAT: {
    meaning:
      'A multi-edge record frame (a REST body or a Kafka message) is not one of ours: wrong magic or version, truncated, or its header does not match its data.',
    fix: 'Send frames written by `encodeRecords()` (sedna-sdk); a Python Sedna peer sends pickles, which sedna-sdk never reads (see docs/multi-edge-inference.md).',
    httpStatus: 400,
  },
  SEDNA_ERR_IMAGE_DECODE: {
    meaning:
      'An image (a frame, a scene, a crop or a query image) is not an image the codec can decode, e.g. a truncated JPEG, or it declares more than 4096 × 4096 pixels.',
    fix: 'Send JPEG or PNG bytes of at most 4096 × 4096 pixels; check the producer that encoded the image named in the message.',
    httpStatus: 400,
  },
  SEDNA_ERR_VIDEO_SOURCE: {
    meaning:
      'A video source failed: the file or URL cannot be opened or decoded, or a stream stopped and did not come back.',
    fix: 'Check the video address in the message (and that ffmpeg can play it: `ffmpeg -i URL -f null -`); streams reconnect with backoff until `maxReconnects`.',
    httpStatus: 502,
  },
  SEDNA_ERR_KAFKA: {
    meaning: 'The Kafka brokers could not be reached, or refused to take or give messages.',
    fix: 'Check KAFKA_BIND_IPS / KAFKA_BIND_PORTS and that the brokers run; results not yet acknowledged stay queued and are retried.',
    httpStatus: 502,
  },
  // `sedna run`: the local control plane
  SEDNA_ERR_INVALID_RESOURCE: {
    meaning:
      'A job YAML document does not validate against the Sedna CRD schema, or refers to a Dataset or Model that is not defined.',
    fix: 'Correct the field the message names (file, line, document, field path and the rule it breaks).',
    httpStatus: 400,
  },
  SEDNA_ERR_WORKER_COMMAND: {
    meaning:
      "A worker's container has no command to run locally (no command/args, no image mapping), or its program does not exist.",
    fix: 'Give the container a `command`, or map its image to a folder with a Dockerfile (sedna.local.yaml or --image); docs/sedna-run.md.',
    httpStatus: 500,
  },
  SEDNA_ERR_PORT_IN_USE: {
    meaning: 'A port `sedna run` needs (the status page, or a port the job names) is taken by another process.',
    fix: 'Stop the other process, or choose another port (--ui-port, or the port in the job template).',
    httpStatus: 500,
  },
  SEDNA_ERR_JOB_RUNNING: {
    meaning: 'The same job (kind, namespace, name) is already running under another `sedna run` on this machine.',
    fix: 'Watch it with `sedna status`, or stop it (Ctrl-C in its terminal) before running it again.',
    httpStatus: 409,
  },
  SEDNA_ERR_JOB_FAILED: {
    meaning:
      "A job run by `sedna run` failed: a worker crashed more times than the restart policy allows, or exited with an error where the job's state machine needs success.",
    fix: "Read the worker's last log lines in the message (all of them in the run folder's logs/), fix the worker, run again.",
    httpStatus: 500,
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
