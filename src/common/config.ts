/**
 * Sedna's configuration, read once from the environment into one frozen, validated object.
 *
 * The Sedna control plane (GlobalManager) injects settings into worker pods as environment
 * variables; the Python library read them at import time from ~20 places. Here one table,
 * {@link CONFIG_VARIABLES}, names every variable, its type, default, who sets it and what reads
 * it; `loadConfig()` parses all of them, and `docs/configuration.md` is generated from the same
 * table. Only this module and the CLI read `process.env`.
 */
import { z } from 'zod';
import { invalidConfig, invalidParameters } from './errors.js';
import { primaryHostIp } from './host-ip.js';

/** An environment: `process.env` or any plain record of strings. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Pino's level names; `LOG_LEVEL` accepts these and Python's (WARNING, CRITICAL), any case. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export type MiningMode = 'inference-then-mining' | 'mining-then-inference';
export type ComparisonOperator = '>' | '<' | '=' | '>=' | '<=';

/** An algorithm chosen in the job resource: `{ method: <NAME>, param: <PARAMETERS as a record> }`. */
export interface AlgorithmSpec {
  readonly method: string;
  readonly param: Readonly<Record<string, AlgorithmParamValue>>;
}
/** CRD values arrive as strings; code-supplied overrides may be typed. */
export type AlgorithmParamValue = string | number | boolean;

/** Every setting a worker can receive, typed. See docs/configuration.md. */
export interface SednaConfig {
  // Identity and reporting (GlobalManager injects these into every worker).
  readonly namespace: string;
  readonly workerName: string;
  readonly jobName: string;
  readonly serviceName: string;
  readonly lcServer: string;
  readonly lcPeriod: number;
  readonly logLevel: LogLevel;
  /** Prometheus metrics at `/metrics` on every server of the process (SEDNA_METRICS). */
  readonly serverMetrics: boolean;
  // Models and data.
  readonly backendType: string;
  readonly deviceCategory: string;
  readonly cudaVisibleDevices: string | undefined;
  readonly dataPathPrefix: string;
  readonly originalDatasetUrl: string | undefined;
  readonly trainDatasetUrl: string | undefined;
  readonly testDatasetUrl: string | undefined;
  readonly datasetName: string | undefined;
  readonly modelUrl: string | undefined;
  readonly modelUrls: readonly string[] | undefined;
  readonly modelName: string | undefined;
  readonly modelPath: string | undefined;
  readonly baseModelUrl: string | undefined;
  readonly pretrainedModelUrl: string;
  readonly modelLoadMode: string;
  readonly modelHotUpdate: boolean;
  readonly modelHotUpdateConfig: string | undefined;
  readonly modelPollPeriodSeconds: number;
  /** The same variable as Sedna's lifelong-learning edge reads it: default 30, not 60. */
  readonly indexPollPeriodSeconds: number;
  readonly heSavedUrl: string | undefined;
  readonly parameters: string | undefined;
  // Storage.
  readonly s3EndpointUrl: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  // Joint inference.
  readonly hem: AlgorithmSpec | undefined;
  readonly miningMode: MiningMode;
  readonly bigModelIp: string;
  readonly bigModelPort: number;
  readonly bigModelBindIp: string;
  readonly bigModelBindPort: number;
  // Federated learning.
  readonly aggProtocol: 'ws' | 'wss';
  readonly aggIp: string;
  readonly aggPort: number;
  readonly aggBindIp: string;
  readonly aggBindPort: number;
  readonly connectTimeout: number;
  readonly participantsCount: number;
  readonly exitRound: number;
  readonly aggMaxNumSamples: number;
  readonly aggS3KeepObjects: boolean;
  readonly aggToken: string | undefined;
  readonly aggTokenFile: string | undefined;
  readonly serviceToken: string | undefined;
  readonly serviceTokenFile: string | undefined;
  readonly aggregationAlgorithm: string;
  readonly transmitter: 'ws' | 's3';
  readonly aggDataPath: string;
  // Lifelong learning and the knowledge base.
  readonly kbServer: string | undefined;
  readonly outputUrl: string;
  readonly hasCompletedInitialTraining: boolean;
  readonly cloudKbIndex: string | undefined;
  readonly operator: ComparisonOperator;
  readonly modelThreshold: number;
  readonly minTrainSample: number;
  readonly edgeOutputUrl: string;
  readonly unseenSaveUrl: string;
  readonly kbUrl: string;
  readonly knowledgeBaseServer: string | undefined;
  readonly knowledgeBasePath: string;
  readonly statusIp: string;
  readonly imageTopicUrl: string;
  readonly utd: AlgorithmSpec | undefined;
  readonly utSavedUrl: string | undefined;
  readonly utdSavedUrl: string | undefined;
  readonly metrics: string | undefined;
  readonly metricParam: string | undefined;
  // Multi-edge inference.
  readonly batchSize: number;
  readonly kafkaEnabled: boolean;
  readonly kafkaBindIps: readonly string[];
  readonly kafkaBindPorts: readonly number[];
  readonly reidModelBindUrl: string | undefined;
  readonly reidModelBindPort: number;
  readonly feModelBindUrl: string | undefined;
  readonly feModelBindPort: number;
  readonly detModelBindUrl: string | undefined;
  readonly detModelBindPort: number;
}

/** One row of the configuration table. */
export interface ConfigVariable<T> {
  /** The variable's name as Sedna spells it (looked up exactly, then in upper case). */
  readonly name: string;
  readonly type: string;
  /** The default, as documented; `undefined` means "unset". */
  readonly defaultText: string;
  readonly setBy: string;
  readonly readBy: string;
  /** Parses the raw value; `undefined` when unset or empty. `config` holds the rows parsed before this one. */
  readonly parse: (raw: string | undefined, config: Partial<SednaConfig>) => T;
}

// ---------------------------------------------------------------------------------------------
// Value parsers. Each returns a parser for one variable, so the error can name the variable.

type Parser<T> = (name: string) => (raw: string | undefined, config: Partial<SednaConfig>) => T;

function check<T>(name: string, raw: string, schema: z.ZodType<T>, expected: string): T {
  const result = schema.safeParse(raw);
  if (!result.success) throw invalidConfig(name, raw, expected, result.error);
  return result.data;
}

const optionalString: Parser<string | undefined> = () => (raw) => raw;
const stringOr =
  (fallback: string): Parser<string> =>
  () =>
  (raw) =>
    raw ?? fallback;

const INT_TEXT = /^[+-]?\d+$/;
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

const intIn =
  (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> =>
  (name) =>
  (raw) =>
    raw === undefined
      ? fallback
      : check(
          name,
          raw.trim(),
          z.string().regex(INT_TEXT).transform(Number).pipe(z.number().int().min(min).max(max)),
          `an integer from ${min} to ${max}`,
        );

const port = (fallback: number): Parser<number> => intIn(fallback, 1, 65535);
/** A port to listen on: 0 asks the OS for a free one (tests, local runs). */
const bindPort = (fallback: number): Parser<number> => intIn(fallback, 0, 65535);

const positiveNumber =
  (fallback: number): Parser<number> =>
  (name) =>
  (raw) =>
    raw === undefined
      ? fallback
      : check(
          name,
          raw.trim(),
          z.string().regex(NUMBER_TEXT).transform(Number).pipe(z.number().positive()),
          'a positive number',
        );

const finiteNumber =
  (fallback: number): Parser<number> =>
  (name) =>
  (raw) =>
    raw === undefined
      ? fallback
      : check(name, raw.trim(), z.string().regex(NUMBER_TEXT).transform(Number).pipe(z.number()), 'a number');

// Python's distutils strtobool, which Sedna uses for KAFKA_ENABLED; MODEL_HOT_UPDATE compares with
// "true" case-insensitively, which this accepts too. Anything else is an error, not `false`.
const TRUE_WORDS = new Set(['y', 'yes', 't', 'true', 'on', '1']);
const FALSE_WORDS = new Set(['n', 'no', 'f', 'false', 'off', '0']);
const bool =
  (fallback: boolean): Parser<boolean> =>
  (name) =>
  (raw) => {
    if (raw === undefined) return fallback;
    const word = raw.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    throw invalidConfig(name, raw, 'a boolean (true/false, yes/no, on/off, 1/0)');
  };

const oneOf =
  <T extends string>(fallback: T, values: readonly T[], normalise: (s: string) => string = (s) => s): Parser<T> =>
  (name) =>
  (raw) => {
    if (raw === undefined) return fallback;
    const value = normalise(raw.trim());
    const found = values.find((v) => v === value);
    if (found === undefined) throw invalidConfig(name, raw, `one of ${values.join(', ')}`);
    return found;
  };

const httpUrl =
  (fallback: string): Parser<string> =>
  (name) =>
  (raw) => {
    if (raw === undefined) return fallback;
    const url = check(
      name,
      raw.trim(),
      z.url({ protocol: /^https?$/ }),
      'an http(s) URL such as http://127.0.0.1:9100',
    );
    return url.replace(/\/+$/, '');
  };

const optionalHttpUrl: Parser<string | undefined> = (name) => (raw) =>
  raw === undefined ? undefined : httpUrl('')(name)(raw, {});

const s3Endpoint: Parser<string> = (name) => (raw) => {
  if (raw === undefined) return '';
  // Sedna's FileOps prefixes a scheme-less endpoint with https://.
  const withScheme = /^[a-z]+:\/\//i.test(raw.trim()) ? raw.trim() : `https://${raw.trim()}`;
  return httpUrl('')(name)(withScheme, {});
};

const list =
  (separator: string): Parser<readonly string[] | undefined> =>
  () =>
  (raw) => {
    if (raw === undefined) return undefined;
    const items = raw
      .split(separator)
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    return Object.freeze(items);
  };

const listOrEmpty =
  (separator: string): Parser<readonly string[]> =>
  (name) =>
  (raw, config) =>
    list(separator)(name)(raw, config) ?? Object.freeze([]);

const portList: Parser<readonly number[]> = (name) => (raw, config) =>
  Object.freeze(
    listOrEmpty('|')(name)(raw, config).map((item) => {
      const value = Number(item);
      if (!INT_TEXT.test(item) || value < 1 || value > 65535) {
        throw invalidConfig(
          name,
          raw,
          `a \`|\`-separated list of integers from 1 to 65535 (bad item ${JSON.stringify(item)})`,
        );
      }
      return value;
    }),
  );

const LOG_LEVELS: Readonly<Record<string, LogLevel>> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
  fatal: 'fatal',
  silent: 'silent',
};
const logLevel: Parser<LogLevel> = (name) => (raw) => {
  if (raw === undefined) return 'info';
  const level = LOG_LEVELS[raw.trim().toLowerCase()];
  if (level === undefined) throw invalidConfig(name, raw, `one of ${Object.keys(LOG_LEVELS).join(', ')} (any case)`);
  return level;
};

// Sedna falls back to the default for values below 1 (documented behaviour, kept).
const pollPeriod =
  (fallback: number): Parser<number> =>
  (name) =>
  (raw, config) => {
    const value = intIn(fallback, Number.MIN_SAFE_INTEGER)(name)(raw, config);
    return value < 1 ? fallback : value;
  };

const hemSpec: Parser<AlgorithmSpec | undefined> = () => (_raw, _config) => undefined; // filled by loadConfig

// ---------------------------------------------------------------------------------------------
// The table. Order matters only where a default derives from an earlier row (unseenSaveUrl).

const GM = 'GlobalManager';
const USER = 'user (pod template env)';

export type ConfigTable = { readonly [K in keyof SednaConfig]: ConfigVariable<SednaConfig[K]> };

function row<T>(
  name: string,
  type: string,
  defaultText: string,
  setBy: string,
  readBy: string,
  parser: Parser<T>,
): ConfigVariable<T> {
  return { name, type, defaultText, setBy, readBy, parse: parser(name) };
}

export const CONFIG_VARIABLES: ConfigTable = {
  namespace: row(
    'NAMESPACE',
    'string',
    '""',
    `${GM}: every worker`,
    'JobBase identity: LC reports (`namespace`)',
    stringOr(''),
  ),
  workerName: row(
    'WORKER_NAME',
    'string',
    '""',
    `${GM}: every worker`,
    'JobBase identity: LC reports (`name`, URL path); FederatedLearning client id',
    stringOr(''),
  ),
  jobName: row(
    'JOB_NAME',
    'string',
    '"sedna"',
    `${GM}: IL, FL, LL, multi-edge jobs (not JointInferenceService)`,
    'JobBase identity: LC reports (`ownerName`); BigModelService and AggregationServer route names; logger name',
    stringOr('sedna'),
  ),
  serviceName: row(
    'SERVICE_NAME',
    'string',
    '""',
    `${GM}: JointInferenceService, FeatureExtractionService`,
    'JointInference: the report owner when JOB_NAME is unset (see docs/joint-inference.md)',
    stringOr(''),
  ),
  lcServer: row(
    'LC_SERVER',
    'http(s) URL',
    'http://127.0.0.1:9100',
    `${GM}: every reporting worker`,
    'LCClient.fromConfig: the LC reports of every job',
    httpUrl('http://127.0.0.1:9100'),
  ),
  lcPeriod: row(
    'LC_PERIOD',
    'positive number (seconds)',
    '30',
    USER,
    'JointInference: its LCReporter period',
    positiveNumber(30),
  ),
  logLevel: row(
    'LOG_LEVEL',
    'trace|debug|info|warn(ing)|error|critical|fatal|silent',
    'INFO',
    USER,
    'logger',
    logLevel,
  ),
  backendType: row(
    'BACKEND_TYPE',
    'string (upper-cased)',
    'TENSORFLOW',
    USER,
    'worker scripts: `createEstimator(config.backendType)` (ONNX, TENSORFLOW/KERAS → TF.js)',
    (name) => (raw, c) => stringOr('TENSORFLOW')(name)(raw, c).trim().toUpperCase(),
  ),
  deviceCategory: row(
    'DEVICE_CATEGORY',
    'string',
    'CPU',
    USER,
    'nothing yet (the backends run on CPU); kept for worker scripts',
    stringOr('CPU'),
  ),
  cudaVisibleDevices: row(
    'CUDA_VISIBLE_DEVICES',
    'string',
    'unset',
    'the container runtime',
    'nothing yet (the backends run on CPU); kept for worker scripts',
    optionalString,
  ),
  dataPathPrefix: row(
    'DATA_PATH_PREFIX',
    'path',
    '/home/data',
    `${GM}: workers with host-path volumes`,
    'IncrementalLearning, FederatedLearning: removed from model URLs in LC reports',
    stringOr('/home/data'),
  ),
  originalDatasetUrl: row(
    'ORIGINAL_DATASET_URL',
    'path or URL',
    'unset',
    `${GM}: IL, LL`,
    'worker scripts: the base of index-relative sample paths',
    optionalString,
  ),
  trainDatasetUrl: row(
    'TRAIN_DATASET_URL',
    'path or URL',
    'unset',
    `${GM}: IL, FL, LL train workers`,
    'worker scripts',
    optionalString,
  ),
  testDatasetUrl: row(
    'TEST_DATASET_URL',
    'path or URL',
    'unset',
    `${GM}: IL, LL eval workers`,
    'worker scripts',
    optionalString,
  ),
  datasetName: row('DATASET_NAME', 'string', 'unset', `${GM}: FL train workers`, 'worker scripts', optionalString),
  modelUrl: row(
    'MODEL_URL',
    'path or URL',
    'unset',
    `${GM}: most workers`,
    'JointInference, BigModelService, IncrementalLearning, FederatedLearning: where models are loaded from / saved to',
    optionalString,
  ),
  modelUrls: row(
    'MODEL_URLS',
    '`;`-separated list',
    'unset',
    `${GM}: IL eval (new;deployed), LL eval/infer`,
    'IncrementalLearning.evaluate',
    list(';'),
  ),
  modelName: row(
    'MODEL_NAME',
    'string',
    'unset',
    `${GM}: FL train workers`,
    'IncrementalLearning: the model file name under MODEL_URL',
    optionalString,
  ),
  modelPath: row(
    'model_path',
    'path',
    'unset',
    USER,
    'IncrementalLearning: overrides the computed model path',
    optionalString,
  ),
  baseModelUrl: row(
    'BASE_MODEL_URL',
    'path or URL',
    'unset',
    `${GM}: IL train worker`,
    'IncrementalLearning.train (start weights)',
    optionalString,
  ),
  pretrainedModelUrl: row(
    'PRETRAINED_MODEL_URL',
    'path or URL',
    './',
    `${GM}: FL (optional)`,
    'worker scripts',
    stringOr('./'),
  ),
  modelLoadMode: row(
    'MODEL_LOAD_MODE',
    'string',
    'file',
    USER,
    'nothing yet (Sedna: `file` requires the model file to exist)',
    stringOr('file'),
  ),
  modelHotUpdate: row(
    'MODEL_HOT_UPDATE',
    'boolean',
    'false',
    `${GM}: IL inference with hotUpdateEnabled`,
    'IncrementalLearning: model hot update',
    bool(false),
  ),
  modelHotUpdateConfig: row(
    'MODEL_HOT_UPDATE_CONFIG',
    'path',
    'unset',
    `${GM}: /model-hot-update/model_config.json`,
    'IncrementalLearning: model hot update',
    optionalString,
  ),
  modelPollPeriodSeconds: row(
    'MODEL_POLL_PERIOD_SECONDS',
    'integer (seconds)',
    '60 (values < 1 → 60)',
    `${GM}: pollPeriodSeconds`,
    'IncrementalLearning: model hot update',
    pollPeriod(60),
  ),
  indexPollPeriodSeconds: row(
    'MODEL_POLL_PERIOD_SECONDS',
    'integer (seconds)',
    '30 (values < 1 → 30)',
    `${USER} (the controller sets none for LL)`,
    "LifelongLearning.inference: index hot update (Sedna's LL edge default)",
    pollPeriod(30),
  ),
  heSavedUrl: row(
    'HE_SAVED_URL',
    'path',
    'unset',
    USER,
    'IncrementalLearning.inference: hard-example folder',
    optionalString,
  ),
  parameters: row('PARAMETERS', 'string', 'unset', USER, 'nothing (vestigial in Sedna; kept raw)', optionalString),
  serverMetrics: row(
    'SEDNA_METRICS',
    'boolean',
    'false',
    USER,
    'createServer (every server of the SDK): Prometheus metrics at `/metrics`',
    bool(false),
  ),
  s3EndpointUrl: row(
    'S3_ENDPOINT_URL',
    'http(s) URL',
    '"" (AWS)',
    `${GM}: from the S3 secret`,
    'FileOps (s3://)',
    s3Endpoint,
  ),
  accessKeyId: row('ACCESS_KEY_ID', 'string', '""', `${GM}: from the S3 secret`, 'FileOps (s3://)', stringOr('')),
  secretAccessKey: row(
    'SECRET_ACCESS_KEY',
    'string',
    '""',
    `${GM}: from the S3 secret`,
    'FileOps (s3://)',
    stringOr(''),
  ),
  hem: row(
    'HEM_NAME + HEM_PARAMETERS',
    'algorithm name + JSON list of {key,value}',
    'unset',
    `${GM}: JI edge, IL inference (hardExampleMining)`,
    'JointInference, IncrementalLearning',
    hemSpec,
  ),
  miningMode: row(
    'MINING_MODE',
    'inference-then-mining|mining-then-inference',
    'inference-then-mining',
    USER,
    'JointInference',
    oneOf<MiningMode>('inference-then-mining', ['inference-then-mining', 'mining-then-inference']),
  ),
  bigModelIp: row(
    'BIG_MODEL_IP',
    'host',
    "this host's primary IPv4",
    `${GM}: JI edge (<service>-cloud.<namespace>)`,
    'JointInference → cloud',
    () => (raw) => raw ?? primaryHostIp(),
  ),
  bigModelPort: row('BIG_MODEL_PORT', 'port', '5000', `${GM}: JI edge`, 'JointInference → cloud', port(5000)),
  // Sedna binds the primary interface (reachable from other nodes), not every interface: see
  // docs/security.md. `0.0.0.0` is still an explicit choice.
  bigModelBindIp: row(
    'BIG_MODEL_BIND_IP',
    'host',
    "this host's primary IPv4",
    USER,
    'BigModelService bind address',
    () => (raw) => raw ?? primaryHostIp(),
  ),
  bigModelBindPort: row(
    'BIG_MODEL_BIND_PORT',
    'port',
    '5000',
    `${GM}: JI cloud`,
    'BigModelService port (0: any free port)',
    bindPort(5000),
  ),
  aggProtocol: row(
    'AGG_PROTOCOL',
    'ws|wss',
    'ws',
    USER,
    'FederatedLearning client',
    oneOf<'ws' | 'wss'>('ws', ['ws', 'wss'], (s) => s.toLowerCase()),
  ),
  aggIp: row(
    'AGG_IP',
    'host',
    '127.0.0.1',
    `${GM}: FL train workers`,
    'FederatedLearning client',
    stringOr('127.0.0.1'),
  ),
  aggPort: row('AGG_PORT', 'port', '7363', `${GM}: FL train workers`, 'FederatedLearning client', port(7363)),
  aggBindIp: row(
    'AGG_BIND_IP',
    'host',
    "this host's primary IPv4",
    USER,
    'AggregationServer bind address',
    () => (raw) => raw ?? primaryHostIp(),
  ),
  aggBindPort: row(
    'AGG_BIND_PORT',
    'port',
    '7363',
    `${GM}: FL aggregator`,
    'AggregationServer port (0: any free port)',
    bindPort(7363),
  ),
  connectTimeout: row(
    'CONNECT_TIMEOUT',
    'positive number (seconds)',
    '300',
    USER,
    'FederatedLearning client: connect and heartbeat timeout; AggregationServer: client liveness',
    positiveNumber(300),
  ),
  participantsCount: row(
    'PARTICIPANTS_COUNT',
    'integer ≥ 1',
    '1',
    `${GM}: FL (number of training workers)`,
    'AggregationServer',
    intIn(1, 1),
  ),
  exitRound: row('exit_round', 'integer ≥ 1', '3', USER, 'AggregationServer: rounds before exit', intIn(3, 1)),
  aggMaxNumSamples: row(
    'AGG_MAX_NUM_SAMPLES',
    'integer ≥ 1',
    '10000000',
    USER,
    'AggregationServer: largest num_samples an update may claim (larger: refused, SEDNA_ERR_INVALID_UPDATE)',
    intIn(10_000_000, 1),
  ),
  aggS3KeepObjects: row(
    'AGG_S3_KEEP_OBJECTS',
    'boolean',
    'false',
    USER,
    'AggregationServer with TRANSMITTER=s3: keep every update and aggregate in S3 (default: an update is deleted once read, an aggregate once two newer rounds are published)',
    bool(false),
  ),
  aggToken: row(
    'AGG_TOKEN',
    'string',
    'unset (no token)',
    'user (pod template env, from a Secret)',
    'AggregationServer and FederatedLearning client: shared token of the federated round (docs/security.md)',
    optionalString,
  ),
  aggTokenFile: row(
    'AGG_TOKEN_FILE',
    'path',
    'unset',
    'user (a mounted Secret)',
    'AggregationServer and FederatedLearning client: file holding the shared token (instead of AGG_TOKEN)',
    optionalString,
  ),
  serviceToken: row(
    'SERVICE_TOKEN',
    'string',
    'unset (no token)',
    'user (pod template env, from a Secret)',
    'BigModelService, JointInference, multi-edge servers and clients, KBServer and LifelongLearning: shared token of the REST services (docs/security.md)',
    optionalString,
  ),
  serviceTokenFile: row(
    'SERVICE_TOKEN_FILE',
    'path',
    'unset',
    'user (a mounted Secret)',
    'BigModelService, JointInference, multi-edge servers and clients, KBServer and LifelongLearning: file holding the shared token (instead of SERVICE_TOKEN)',
    optionalString,
  ),
  aggregationAlgorithm: row(
    'aggregation_algorithm',
    'string',
    'FedAvg',
    USER,
    'FederatedLearning, AggregationServer',
    stringOr('FedAvg'),
  ),
  transmitter: row(
    'TRANSMITTER',
    'ws|s3',
    'ws',
    `${GM}: FL`,
    'FederatedLearningV2, AggregationServerV2 (transmitterFromConfig)',
    oneOf<'ws' | 's3'>('ws', ['ws', 's3'], (s) => s.toLowerCase()),
  ),
  aggDataPath: row(
    'AGG_DATA_PATH',
    'path or s3:// URL',
    './',
    `${GM}: FL with S3 transmitter`,
    'transmitterFromConfig (TRANSMITTER=s3: the S3Transmitter bucket and key prefix, s3://bucket/prefix)',
    stringOr('./'),
  ),
  kbServer: row(
    'KB_SERVER',
    'http(s) URL',
    'unset',
    `${GM}: LL train/eval`,
    'LifelongLearning KB client',
    optionalHttpUrl,
  ),
  outputUrl: row('OUTPUT_URL', 'path or URL', '/tmp', `${GM}: LL`, 'LifelongLearning', stringOr('/tmp')),
  hasCompletedInitialTraining: row(
    'HAS_COMPLETED_INITIAL_TRAINING',
    'boolean',
    'false',
    `${GM}: LL train`,
    'LifelongLearning.train',
    bool(false),
  ),
  cloudKbIndex: row(
    'CLOUD_KB_INDEX',
    'path or URL',
    'unset',
    `${GM}: LL train (update)`,
    'LifelongLearning.train (update)',
    optionalString,
  ),
  operator: row(
    'operator',
    '> < = >= <=',
    '>',
    USER,
    'LifelongLearning.evaluate drop rule',
    oneOf<ComparisonOperator>('>', ['>', '<', '=', '>=', '<=']),
  ),
  modelThreshold: row(
    'model_threshold',
    'number',
    '0.1',
    USER,
    'LifelongLearning.evaluate drop rule',
    finiteNumber(0.1),
  ),
  minTrainSample: row(
    'MIN_TRAIN_SAMPLE',
    'integer ≥ 0',
    '10',
    USER,
    'LifelongLearning.train: smallest task trained',
    intIn(10, 0),
  ),
  edgeOutputUrl: row(
    'edge_output_url',
    'path',
    '/var/lib/sedna/kb',
    USER,
    'LifelongLearning edge knowledge base',
    stringOr('/var/lib/sedna/kb'),
  ),
  unseenSaveUrl: row(
    'unseen_save_url',
    'path',
    '<DATA_PATH_PREFIX>/unseen_samples',
    USER,
    'LifelongLearning edge, unseen samples',
    () => (raw, c) => raw ?? `${c.dataPathPrefix ?? '/home/data'}/unseen_samples`,
  ),
  kbUrl: row(
    'KB_URL',
    'sqlite URL',
    'sqlite:///lifelong_kb.sqlite3',
    'KB deployment',
    'KBServer: its database file',
    stringOr('sqlite:///lifelong_kb.sqlite3'),
  ),
  knowledgeBaseServer: row(
    'KnowledgeBaseServer',
    'http(s)://<ipv4>:<port>',
    'unset (0.0.0.0:9020)',
    'KB deployment',
    'KBServer: bind address',
    optionalString,
  ),
  knowledgeBasePath: row(
    'KnowledgeBasePath',
    'path',
    '"" (current directory)',
    'KB deployment',
    'KBServer: save folder',
    stringOr(''),
  ),
  statusIp: row(
    'STATUS_IP',
    'host',
    '127.0.0.1',
    USER,
    'to come: LifelongLearning unseen-sample detection',
    stringOr('127.0.0.1'),
  ),
  imageTopicUrl: row(
    'IMAGE_TOPIC_URL',
    'path',
    '/tmp/',
    USER,
    'to come: LifelongLearning unseen-sample detection',
    stringOr('/tmp/'),
  ),
  utd: row(
    'UTD_NAME + UTD_PARAMETERS',
    'algorithm name + JSON list of {key,value}',
    'unset (TaskAttrFilter)',
    USER,
    'LifelongLearning inference: unseen-task detection',
    hemSpec,
  ),
  utSavedUrl: row('UT_SAVED_URL', 'path', 'unset', USER, 'LifelongLearning inference: unseen samples', optionalString),
  utdSavedUrl: row(
    'UTD_SAVED_URL',
    'path',
    'unset',
    USER,
    "LifelongLearning inference: unseen samples (the atcii script's spelling)",
    optionalString,
  ),
  metrics: row(
    'metrics',
    'metric name(s), comma-separated',
    'precision_score',
    USER,
    'LifelongLearning.evaluate',
    optionalString,
  ),
  metricParam: row(
    'metric_param',
    'JSON object',
    '{"average": "micro"}',
    USER,
    'LifelongLearning.evaluate',
    optionalString,
  ),
  batchSize: row(
    'batch_size',
    'integer ≥ 1',
    '1',
    USER,
    'multi-edge BaseService: items per model call (ObjectDetector, FEService, ReID)',
    intIn(1, 1),
  ),
  kafkaEnabled: row(
    'KAFKA_ENABLED',
    'boolean',
    'false',
    `${GM}: multi-edge with kafkaSupport`,
    'ObjectDetector, FEService: Kafka topics object_detection / enriched_object instead of REST',
    bool(false),
  ),
  kafkaBindIps: row(
    'KAFKA_BIND_IPS',
    '`|`-separated hosts',
    '[]',
    USER,
    'KafkaProducer, KafkaConsumer: multi-edge Kafka brokers, zipped with `KAFKA_BIND_PORTS`',
    listOrEmpty('|'),
  ),
  kafkaBindPorts: row(
    'KAFKA_BIND_PORTS',
    '`|`-separated ports',
    '[]',
    USER,
    'KafkaProducer, KafkaConsumer: one port per `KAFKA_BIND_IPS` host',
    portList,
  ),
  reidModelBindUrl: row(
    'REID_MODEL_BIND_URL',
    'host',
    'unset (server: the primary IPv4; client: reid-reid)',
    USER,
    'ReID server bind host; ObjectDetector client host (`forwardToReid`)',
    optionalString,
  ),
  reidModelBindPort: row('REID_MODEL_BIND_PORT', 'port', '5000', USER, 'ReID server port and its clients', port(5000)),
  feModelBindUrl: row(
    'FE_MODEL_BIND_URL',
    'host',
    'unset (server: the primary IPv4; client: feature-extraction-fe)',
    USER,
    'FEService bind host; ObjectDetector and ReID client host',
    optionalString,
  ),
  feModelBindPort: row('FE_MODEL_BIND_PORT', 'port', '6000', USER, 'FEService port and its clients', port(6000)),
  detModelBindUrl: row(
    'DET_MODEL_BIND_URL',
    'host',
    'unset (server: the primary IPv4; client: video-analytics-videoanalytics)',
    USER,
    'ObjectDetector bind host; FEService client host (enriched results)',
    optionalString,
  ),
  detModelBindPort: row('DET_MODEL_BIND_PORT', 'port', '4000', USER, 'ObjectDetector port and its clients', port(4000)),
};

// ---------------------------------------------------------------------------------------------
// Lookup rules.

/**
 * Sedna's parameter lookup (`Context.get_parameters`): the exact name first, then the name in
 * upper case; an empty string counts as unset. Returns `defaultValue` when unset.
 */
export function getParameter(name: string, defaultValue?: undefined, env?: Env): string | undefined;
export function getParameter<D>(name: string, defaultValue: D, env?: Env): string | D;
export function getParameter<D>(name: string, defaultValue?: D, env: Env = process.env): string | D | undefined {
  const raw = lookup(env, name);
  return raw === undefined ? defaultValue : raw;
}

/** Bounds for `getNumberParameter` and `getIntegerParameter`. */
export interface NumberParameterOptions {
  /** Smallest accepted value (inclusive). */
  readonly min?: number;
  /** Largest accepted value (inclusive). */
  readonly max?: number;
  /** Where to look (default `process.env`). */
  readonly env?: Env;
}

function readNumber(
  name: string,
  defaultValue: number | undefined,
  options: NumberParameterOptions,
  integer: boolean,
): number | undefined {
  const raw = lookup(options.env ?? process.env, name);
  if (raw === undefined) return defaultValue;
  const { min = -Infinity, max = Infinity } = options;
  const text = raw.trim();
  const value = Number(text);
  if (!(integer ? INT_TEXT : NUMBER_TEXT).test(text) || !Number.isFinite(value) || value < min || value > max) {
    const range =
      min === -Infinity && max === Infinity
        ? ''
        : max === Infinity
          ? ` ≥ ${min}`
          : min === -Infinity
            ? ` ≤ ${max}`
            : ` from ${min} to ${max}`;
    throw invalidConfig(name, raw, `${integer ? 'an integer' : 'a number'}${range}`);
  }
  return value;
}

/**
 * A number parameter (the `getParameter` lookup, then cast): `defaultValue` when unset, a
 * SEDNA_ERR_INVALID_CONFIG error naming the variable when the value is not a finite number or is
 * out of `min`/`max` (where `Number(getParameter(...))` silently gave NaN).
 */
export function getNumberParameter(name: string, defaultValue: number, options?: NumberParameterOptions): number;
export function getNumberParameter(
  name: string,
  defaultValue?: number,
  options?: NumberParameterOptions,
): number | undefined;
export function getNumberParameter(
  name: string,
  defaultValue?: number,
  options: NumberParameterOptions = {},
): number | undefined {
  return readNumber(name, defaultValue, options, false);
}

/** Like `getNumberParameter`, for whole numbers (`"3"`, not `"3.5"`). */
export function getIntegerParameter(name: string, defaultValue: number, options?: NumberParameterOptions): number;
export function getIntegerParameter(
  name: string,
  defaultValue?: number,
  options?: NumberParameterOptions,
): number | undefined;
export function getIntegerParameter(
  name: string,
  defaultValue?: number,
  options: NumberParameterOptions = {},
): number | undefined {
  return readNumber(name, defaultValue, options, true);
}

/**
 * A boolean parameter: true/false, yes/no, on/off, 1/0 (any case, as Sedna's strtobool);
 * `defaultValue` when unset; anything else is SEDNA_ERR_INVALID_CONFIG naming the variable.
 */
export function getBooleanParameter(name: string, defaultValue: boolean, env?: Env): boolean;
export function getBooleanParameter(name: string, defaultValue?: boolean, env?: Env): boolean | undefined;
export function getBooleanParameter(name: string, defaultValue?: boolean, env: Env = process.env): boolean | undefined {
  const raw = lookup(env, name);
  return raw === undefined ? defaultValue : bool(false)(name)(raw, {});
}

/** A list parameter: the value split at `separator` (default `,`), items trimmed, empty ones dropped. */
export function getListParameter(
  name: string,
  defaultValue: readonly string[] = [],
  options: { separator?: string; env?: Env } = {},
): readonly string[] {
  const raw = lookup(options.env ?? process.env, name);
  if (raw === undefined) return defaultValue;
  return raw
    .split(options.separator ?? ',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function lookup(env: Env, name: string): string | undefined {
  const exact = env[name];
  if (exact !== undefined && exact !== '') return exact;
  const upper = env[name.toUpperCase()];
  return upper !== undefined && upper !== '' ? upper : undefined;
}

/**
 * Reads the algorithm the job resource chose: `<PREFIX>_NAME` and `<PREFIX>_PARAMETERS` (the
 * JSON list of `{"key","value"}` string pairs the controller writes, or the literal `null` it
 * writes when there are none). Overrides given by code win over CRD values, as in Sedna.
 * Returns `undefined` when `<PREFIX>_NAME` is unset (Sedna returns `{}`: "no algorithm").
 */
export function getAlgorithmFromConfig(
  prefix: string,
  overrides: Readonly<Record<string, AlgorithmParamValue>> = {},
  env: Env = process.env,
): AlgorithmSpec | undefined {
  const method = lookup(env, `${prefix}_NAME`);
  if (method === undefined) return undefined;
  const variable = `${prefix}_PARAMETERS`;
  const param: Record<string, AlgorithmParamValue> = {
    ...parseCrdParameters(variable, lookup(env, variable)),
    ...overrides,
  };
  return Object.freeze({ method: method.trim(), param: Object.freeze(param) });
}

const crdParameterList = z.array(
  z
    .object({ key: z.string().min(1), value: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional() })
    .loose(),
);

/** Parses the controller's `[{"key","value"}]` list into a record of strings. */
export function parseCrdParameters(variable: string, raw: string | undefined): Record<string, string> {
  if (raw === undefined) return {};
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw invalidParameters(variable, raw, 'not valid JSON', err);
  }
  if (json === null) return {};
  const parsed = crdParameterList.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at [${issue.path.join('].[')}]` : '';
    throw invalidParameters(variable, raw, `${issue?.message ?? 'wrong shape'}${where}`, parsed.error);
  }
  const result: Record<string, string> = {};
  for (const { key, value } of parsed.data) result[key] = value === null || value === undefined ? '' : String(value);
  return result;
}

// ---------------------------------------------------------------------------------------------

/**
 * Parses every Sedna variable from `env` into one frozen, typed object. Throws a
 * `SEDNA_ERR_INVALID_CONFIG` / `SEDNA_ERR_INVALID_PARAMETERS` error naming the first bad variable.
 */
export function loadConfig(env: Env = process.env): SednaConfig {
  const config: Partial<Record<keyof SednaConfig, unknown>> = {};
  for (const key of Object.keys(CONFIG_VARIABLES) as (keyof SednaConfig)[]) {
    const variable = CONFIG_VARIABLES[key];
    config[key] = variable.parse(lookup(env, variable.name), config as Partial<SednaConfig>);
  }
  config.hem = getAlgorithmFromConfig('HEM', {}, env);
  config.utd = getAlgorithmFromConfig('UTD', {}, env);
  return Object.freeze(config) as SednaConfig;
}

/** Only the logger settings, for the logger's lazy start (a bad LOG_LEVEL still throws). */
export function loadLoggingConfig(env: Env = process.env): { level: LogLevel; name: string } {
  return {
    level: CONFIG_VARIABLES.logLevel.parse(lookup(env, 'LOG_LEVEL'), {}),
    name: CONFIG_VARIABLES.jobName.parse(lookup(env, 'JOB_NAME'), {}),
  };
}

/** Whether servers expose Prometheus metrics (SEDNA_METRICS), read without the rest of the config. */
export function loadMetricsConfig(env: Env = process.env): { enabled: boolean } {
  return { enabled: CONFIG_VARIABLES.serverMetrics.parse(lookup(env, 'SEDNA_METRICS'), {}) };
}

/** Renders the configuration table (docs/configuration.md is generated from it). */
export function renderConfigTable(): string {
  const escape = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = ['| variable | type | default | set by | read by | config key |', '|---|---|---|---|---|---|'];
  for (const [key, v] of Object.entries(CONFIG_VARIABLES) as [string, ConfigVariable<unknown>][]) {
    const names = v.name
      .split(' + ')
      .map((n) => `\`${n}\``)
      .join(' + ');
    lines.push(
      `| ${names} | ${escape(v.type)} | ${escape(v.defaultText)} | ${escape(v.setBy)} | ${escape(v.readBy)} | \`${key}\` |`,
    );
  }
  return lines.join('\n');
}
