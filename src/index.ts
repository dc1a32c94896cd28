/**
 * sedna-sdk: the TypeScript worker SDK for KubeEdge Sedna.
 *
 * This barrel exports the core (configuration, errors, the algorithm registry, logging). Areas
 * with heavy optional dependencies have their own entry points (`sedna-sdk/backend/onnx`, ...).
 */
export {
  loadConfig,
  getParameter,
  getNumberParameter,
  getIntegerParameter,
  getBooleanParameter,
  getListParameter,
  getAlgorithmFromConfig,
  parseCrdParameters,
  CONFIG_VARIABLES,
  type SednaConfig,
  type Env,
  type LogLevel,
  type MiningMode,
  type ComparisonOperator,
  type AlgorithmSpec,
  type AlgorithmParamValue,
  type ConfigVariable,
  type ConfigTable,
  type NumberParameterOptions,
} from './common/config.js';
export {
  SednaError,
  isSednaError,
  ERROR_CATALOG,
  type SednaErrorCode,
  type SednaErrorOptions,
  type ErrorCodeInfo,
} from './common/errors.js';
export {
  ClassFactory,
  ClassType,
  type ClassKind,
  type ClassTypeName,
  type AlgorithmParamsMap,
  type AlgorithmParams,
  type RawAlgorithmParams,
  type Registrable,
  type RegistrableFunction,
  type RegistryEntry,
  type RegisterDecorator,
} from './common/class-factory.js';
export { getLogger, configureLogger, type Logger, type LoggerOptions } from './common/logger.js';
export { primaryHostIp } from './common/host-ip.js';
export { VERSION } from './common/version.js';

// Estimator backends: the contract, the registry and metric helpers. The backends themselves are
// their own entry points (sedna-sdk/backend/onnx, sedna-sdk/backend/tfjs): the core never loads
// onnxruntime-node or TF.js; the registry imports them on first use.
export type {
  Estimator,
  Dataset,
  Metrics,
  MetricFunction,
  EpochProgress,
  TrainOptions,
  PredictOptions,
  EvaluateOptions,
  ModelResultEntry,
  ModelInfoOptions,
} from './backend/estimator.js';
export {
  registerBackend,
  unregisterBackend,
  listBackends,
  resolveBackend,
  createEstimator,
  asEstimator,
  type BackendFactory,
  type BackendInit,
  type BackendInfo,
  type BackendState,
  type RegisterBackendOptions,
  type ResolvedBackend,
  type EstimatorCreateOptions,
  type CustomEstimator,
} from './backend/registry.js';
export { accuracy, argmax, computeMetrics } from './backend/metrics.js';

// Service layer: the server factory, the HTTP client, LC reporting, inference REST.
export {
  K8sResourceKind,
  K8sResourceKindStatus,
  type ResourceKind,
  type ReportStatus,
  type ReportKind,
} from './common/constants.js';
export {
  createHttpClient,
  HttpClient,
  HttpRequestError,
  backoffDelay,
  DEFAULT_HTTP_OPTIONS,
  type HttpClientOptions,
  type HttpRequest,
  type HttpResponse,
  type HttpMethod,
  type ResponseKind,
  type RetryPolicy,
} from './common/http-client.js';
export {
  LCClient,
  jobReport,
  reportBody,
  workerIdentity,
  formatLocalTime,
  type LCClientOptions,
  type LCReport,
  type ReportResult,
  type WorkerIdentity,
} from './service/client/lc-client.js';
export {
  LCReporter,
  type LCReporterOptions,
  type LCReporterEvents,
  type InferenceCounters,
} from './service/client/lc-reporter.js';
export {
  ModelClient,
  type ModelClientOptions,
  type InferenceCallOptions,
  type ServerInfo,
} from './service/client/model-client.js';
export {
  createServer,
  requestSignal,
  toErrorReply,
  DEFAULT_SERVER_OPTIONS,
  type ServerOptions,
  type SednaServer,
  type TlsOptions,
  type ErrorBody,
} from './service/server/base.js';
export { ConcurrencyLimiter, type ConcurrencyOptions } from './service/server/concurrency.js';
export {
  InferenceServer,
  DEFAULT_INFERENCE_BODY_LIMIT,
  type InferenceModel,
  type InferenceContext,
  type InferenceServerOptions,
  type InferenceServerStats,
} from './service/server/inference-server.js';

// What every job kind is built on: configuration, identity, LC reports, owned resources, close.
export {
  JobBase,
  OwnedResources,
  type Closeable,
  type JobBaseInit,
  type ReportHealth,
  type ReportOutcome,
} from './core/job-base.js';
export { checkComparable, type MetricListOptions } from './core/metric-lists.js';

// Hard example mining and joint inference.
export * from './algorithms/hard-example-mining/index.js';
export { numberParam, rangeParam, intParam, type ParamInput } from './algorithms/params.js';
export { createHemFilter, DEFAULT_HEM_METHOD, type HemChoice } from './core/hem.js';
export { resolvePostProcess, type PostProcess, type PostProcessFunction } from './core/callbacks.js';
export {
  JointInference,
  jointInferenceOwner,
  BigModelService,
  MicroBatcher,
  type JointInferenceOptions,
  type JointInferenceCallOptions,
  type JointInferenceResult,
  type JointInferenceStats,
  type BigModelServiceOptions,
  type MicroBatchOptions,
} from './core/joint-inference/index.js';

// Incremental learning: train/eval/inference workers, hard-example store, model hot update.
export {
  IncrementalLearning,
  HardExampleStore,
  listHardExamples,
  readHardExample,
  HARD_EXAMPLE_FORMAT,
  HotUpdatePoller,
  parseHotUpdateConfig,
  isUpdateTime,
  toMetricLists,
  metricDeltas,
  type IncrementalLearningOptions,
  type IncrementalLearningEvents,
  type IncrementalLearningStats,
  type IncrementalTrainOptions,
  type IncrementalEvaluateOptions,
  type InferenceCallOptions as IncrementalInferenceOptions,
  type InferenceResult as IncrementalInferenceResult,
  type TrainResult,
  type EvaluateResult,
  type ModelUpdate,
  type DataInput,
  type HardExampleRecord,
  type HardExampleInfo,
  type HardExampleStoreOptions,
  type HardExampleStoreStats,
  type HotUpdateConfig,
  type HotUpdateFailure,
  type HotUpdatePollerOptions,
  type PollOutcome,
  type MetricLists,
  type ModelVersion,
} from './core/incremental-learning/index.js';

// Storage and datasources: the one FileOps router (paths, file://, http(s)://, s3://; the S3 SDK
// is an optional peer loaded on first use) and Sedna's datasources (index files, streaming CSV).
export {
  FileOps,
  schemeOf,
  isRemote,
  toLocalPath,
  removePathPrefix,
  type Scheme,
  type FileOpsOptions,
  type DownloadOptions,
  type UploadOptions,
} from './datasources/file-ops.js';
export type { S3Options } from './datasources/s3.js';
export type { HttpFilesOptions } from './datasources/http-files.js';
export {
  BaseDataSource,
  MemoryDataSource,
  loadDataSource,
  type DataType,
  type FileStore,
  type DataSourceJson,
} from './datasources/base.js';
export {
  TxtDataParse,
  type TxtDataParseOptions,
  type TxtParseOptions,
  type TxtProcessFunc,
  type LineInfo,
} from './datasources/txt.js';
export {
  CSVDataParse,
  CsvTable,
  forEachCsvRow,
  csvRows,
  type CsvOptions,
  type CsvRow,
  type CsvSchema,
  type CsvSummary,
  type CsvProgress,
  type CsvValue,
  type CsvColumnType,
  type CsvSample,
  type CsvSource,
} from './datasources/csv.js';

// Federated learning v1: aggregation algorithms, the WebSocket aggregator and client, the job,
// and the weights codec they share (binary frames; Sedna's JSON lists at the edge).
export {
  encodeWeightsFrame,
  encodeWeightsFrameChunks,
  allocateWeightsFrame,
  isFramedInPlace,
  decodeWeightsFrame,
  isWeightsFrame,
  weightsToNestedLists,
  weightsFromNestedLists,
  inferNestedShape,
  castWeightsLike,
  layoutOf,
  findNonFinite,
  WEIGHTS_FRAME_MAGIC,
  WEIGHTS_FRAME_VERSION,
  type FrameMeta,
  type NestedList,
  type WeightLayout,
} from './backend/weights.js';
export {
  FedAvg,
  FedAvgAccumulator,
  RoundLayout,
  UpdateQueue,
  checkNumSamples,
  availableKernels,
  BUILTIN_AGGREGATIONS,
  type AggregationAlgorithm,
  type AggregateResult,
  type AggregationParamsMap,
  type ClientUpdate,
  type FedAvgParams,
  type KernelName,
  type RoundConfig,
  type UpdateEncoding,
  type UpdateStream,
} from './algorithms/aggregation/index.js';
export {
  CLOSE_CODES,
  type ExitFlag,
  type Frame as AggregationFrame,
  type ServerHello,
  type WireEncoding,
} from './service/aggregation-protocol.js';
export {
  AggregationServer,
  type AggregationServerOptions,
  type AggregationServerEvents,
  type AggregationClientInfo,
  type AggregationSummary,
  type RoundEvent,
} from './service/server/aggregation-server.js';
export {
  AggregationClient,
  type AggregationClientOptions,
  type AggregationClientEvents,
  type AggregateMessage,
} from './service/client/aggregation-client.js';
export {
  FederatedLearning,
  type FederatedLearningOptions,
  type FederatedTrainOptions,
  type FederatedRound,
  type FederatedTrainResult,
} from './core/federated-learning/index.js';
