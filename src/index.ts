/**
 * sedna-sdk: the TypeScript worker SDK for KubeEdge Sedna.
 *
 * What a worker script uses: the job kinds, the Estimator contract and weight records, the
 * algorithms and their registry, datasources and FileOps, the servers and clients a worker
 * calls, errors and configuration. Wire-level pieces (the weights frame, report-body builders,
 * protocol constants, defaults) are in `sedna-sdk/protocol`; the estimator backends and the test
 * kit have their own entry points (`sedna-sdk/backend/onnx`, `sedna-sdk/backend/tfjs`,
 * `sedna-sdk/testing`). Importing this module registers the built-in algorithms.
 *
 * Every change of this surface shows in `etc/sedna-sdk.api.md` (`npm run api:update`).
 *
 * @packageDocumentation
 */

// Configuration: the variables the Sedna controller injects, and typed readers for the rest.
export {
  loadConfig,
  getParameter,
  getNumberParameter,
  getIntegerParameter,
  getBooleanParameter,
  getListParameter,
  getAlgorithmFromConfig,
  type SednaConfig,
  type Env,
  type LogLevel,
  type MiningMode,
  type ComparisonOperator,
  type AlgorithmSpec,
  type AlgorithmParamValue,
  type NumberParameterOptions,
} from './common/config.js';

// Errors: one SednaError with a stable code; ERROR_CATALOG says what each means and how to fix it.
export {
  SednaError,
  isSednaError,
  ERROR_CATALOG,
  type SednaErrorCode,
  type SednaErrorOptions,
  type ErrorCodeInfo,
} from './common/errors.js';

// The algorithm registry, and how algorithms cast their CRD parameters.
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
export { numberParam, rangeParam, intParam, type ParamInput } from './algorithms/params.js';

// Logging and the package version.
export { getLogger, configureLogger, type Logger, type LoggerOptions } from './common/logger.js';
export { VERSION } from './common/version.js';

// The Estimator contract, weight records, and the backend registry. The backends themselves are
// their own entry points: the core never loads onnxruntime-node or TF.js until asked.
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
export type { WeightRecord, WeightDtype, WeightData, WeightDataByDtype } from './backend/weights.js';
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
  type MaybePromise,
} from './backend/registry.js';
export type { RemoteFiles } from './backend/model-io.js';
export { accuracy, argmax, computeMetrics } from './backend/metrics.js';
// Tensors sent as JSON the way Python writes them (float32 1.0 as `1.0`, shape kept).
export { JsonTensor, type JsonTensorData } from './common/python-json.js';

// Storage and datasources: the one FileOps router (paths, file://, http(s)://, s3://) and
// Sedna's datasources (index files, streaming CSV).
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
export type { ArchiveLimits } from './datasources/archive.js';
export type { HttpFilesOptions } from './datasources/http-files.js';
export {
  BaseDataSource,
  MemoryDataSource,
  loadDataSource,
  DATASOURCE_FORMAT,
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

// Hard example mining: the built-in filters (registered under Sedna's names) and their contract.
export {
  ThresholdFilter,
  CrossEntropyFilter,
  IBTFilter,
  RandomFilter,
  CloudOnlyFilter,
  EdgeOnlyFilter,
  entropyConfidence,
  type HardExampleFilter,
  type DetectionBox,
  type HemParamsMap,
  type ThresholdParams,
  type CrossEntropyParams,
  type IBTParams,
  type RandomParams,
} from './algorithms/hard-example-mining/index.js';

// Aggregation: FedAvg and the contract your own strategy implements.
export {
  FedAvg,
  FedAvgAccumulator,
  type FedAvgParams,
  type KernelName,
  type AggregationAlgorithm,
  type AggregateResult,
  type AggregationParamsMap,
  type ClientUpdate,
  type RoundConfig,
  type UpdateEncoding,
  type UpdateStream,
} from './algorithms/aggregation/index.js';

// Clients a worker calls: the HTTP client, the LocalController, the cloud model, the aggregator.
export {
  createHttpClient,
  HttpClient,
  HttpRequestError,
  type HttpClientOptions,
  type HttpRequest,
  type HttpResponse,
  type HttpMethod,
  type ResponseKind,
  type RetryPolicy,
} from './common/http-client.js';
export {
  K8sResourceKind,
  K8sResourceKindStatus,
  type ResourceKind,
  type ReportStatus,
  type ReportKind,
} from './common/constants.js';
export {
  LCClient,
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
  AggregationClient,
  type AggregationClientOptions,
  type AggregationClientTls,
  type AggregationClientEvents,
  type AggregateMessage,
  type RoundConfigFrame,
} from './service/client/aggregation-client.js';
export type {
  WireEncoding,
  ExitFlag,
  ServerHello,
  DropCode,
  Frame as AggregationFrame,
} from './service/aggregation-protocol.js';
export type { WeightLayout } from './backend/weights.js';

// Servers a worker runs: the one server factory, inference REST, the aggregator.
export {
  createServer,
  requestSignal,
  type ServerOptions,
  type SednaServer,
  type TlsOptions,
  type ErrorBody,
} from './service/server/base.js';
export type { ServerMetrics } from './service/server/metrics.js';
export {
  InferenceServer,
  type InferenceModel,
  type InferenceContext,
  type InferenceServerOptions,
  type InferenceServerStats,
} from './service/server/inference-server.js';
export {
  AggregationServer,
  type AggregationServerOptions,
  type AggregationServerEvents,
  type AggregationClientInfo,
  type AggregationSummary,
  type RoundEvent,
  type RoundDiagnostic,
  type AggregationSettings,
  type RoundBound,
  type ClientTrace,
  type ClientChooseOption,
} from './service/server/aggregation-server.js';
export type { SubmitOutcome } from './service/server/aggregation-round.js';

// What every job kind is built on, and the helpers jobs share.
export {
  JobBase,
  OwnedResources,
  type Closeable,
  type JobBaseInit,
  type JobBaseCommon,
  type JobEventMap,
  type ReportHealth,
  type ReportOutcome,
} from './core/job-base.js';
export {
  toMetricLists,
  checkComparable,
  metricDeltas,
  type MetricLists,
  type MetricListOptions,
} from './core/metric-lists.js';
export { createHemFilter, type HemChoice } from './core/hem.js';
export { resolvePostProcess, type PostProcess, type PostProcessFunction } from './core/callbacks.js';

// Joint inference: the edge job and the cloud model service.
export {
  JointInference,
  BigModelService,
  type JointInferenceOptions,
  type JointInferenceCallOptions,
  type JointInferenceResult,
  type JointInferenceStats,
  type BigModelServiceOptions,
  type MicroBatchOptions,
} from './core/joint-inference/index.js';

// Incremental learning: train/eval/inference workers, the hard-example folder, hot update.
export {
  IncrementalLearning,
  HardExampleStore,
  HARD_EXAMPLE_FORMAT,
  listHardExamples,
  readHardExample,
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
  type PollOutcome,
  type HotUpdateConfig,
  type HotUpdateFailure,
  type ModelVersion,
} from './core/incremental-learning/index.js';

// Federated learning v1: the training worker's job.
export {
  FederatedLearning,
  type FederatedLearningOptions,
  type FederatedTrainOptions,
  type FederatedRound,
  type FederatedTrainResult,
} from './core/federated-learning/index.js';

// -----------------------------------------------------------------------------------------------
// Federated learning v2, part 1 (issue 15): the strategies beyond FedAvg, client choice, MistNet
// split learning (the TF.js halves take a TfjsEstimator; TF.js stays an optional peer), and the
// in-process simulation. The aggregation server and client use them in part 2.
export {
  FedAvgV2,
  MistNet,
  FedProx,
  FedAdam,
  FedYogi,
  TrimmedMean,
  Krum,
  FedOpt,
  type MistNetParams,
  type MistNetParameters,
  MAX_BATCH,
  type BatchErrors,
  type FedProxParams,
  type FedProxRoundConfig,
  type FedOptParams,
  type TrimmedMeanParams,
  type KrumParams,
  type KrumScore,
} from './algorithms/aggregation/index.js';
// Federated learning v2, part 2: Sedna's v2 trainer and aggregator on the v1 transport.
export {
  FederatedLearningV2,
  AggregationServerV2,
  WSTransmitter,
  S3Transmitter,
  type S3TransmitterOptions,
  type S3WeightsRef,
  transmitterFromConfig,
  type Transmitter,
  type FederatedHyperparameters,
  type FederatedData,
  type EstimatorWithHyperparameters,
  type FederatedLearningV2Options,
  type AggregationServerV2Options,
  type AggregationRoundV2,
  type AggregationSummaryV2,
} from './core/federated-learning/index.js';
export type { ExitCheck } from './service/server/aggregation-server.js';
export {
  SimpleClientChoose,
  WeightedClientChoose,
  BUILTIN_CLIENT_CHOOSERS,
  type ClientCandidate,
  type ClientChooser,
  type ClientChooseParams,
  type ClientChooseParamsMap,
} from './algorithms/client-choose/index.js';
export {
  MistNetEdge,
  MistNetCloud,
  splitModel,
  laplaceScale,
  sampleLaplace,
  addLaplaceNoise,
  clipValues,
  quantize,
  dequantize,
  quantizationStep,
  encodeFeatureBatch,
  decodeFeatureBatch,
  featureValues,
  FEATURES_RECORD,
  LABELS_RECORD,
  QUANTIZATION_RECORD,
  MAX_QUANTIZATION_BITS,
  type FeatureBatch,
  type FeatureQuantization,
  type FeatureRange,
  type MistNetCloudTrainer,
  type MistNetCloudOptions,
  type MistNetEdgeOptions,
  type ModelSplit,
  type SplitInput,
  type SplitLabels,
} from './algorithms/split-learning/index.js';
export { seededRandom, secureRandom, type RandomSource } from './algorithms/random.js';
export {
  simulateFederatedLearning,
  partitionLabels,
  parsePartition,
  type ParsedPartition,
  type AttackKind,
  type FlSimulationOptions,
  type LabelledRows,
  type PartitionOptions,
  type SimulationAttack,
  type SimulationResult,
  type SimulationRound,
} from './core/fl-simulation/index.js';

// Lifelong learning: the job, multi-task learning (registered under Sedna's names), unseen-task
// detection, the knowledge base server and client. The classical-ML estimator is its own entry
// point (sedna-sdk/backend/classical); the index codec and the pickle reader are in sedna-sdk/protocol.
export {
  LifelongLearning,
  type LifelongLearningOptions,
  type LifelongLearningEvents,
  type LLDataInput,
  type LLTrainOptions,
  type LLTrainResult,
  type LLEvaluateOptions,
  type LLEvaluateResult,
  type LLInferenceResult,
  type IndexUpdate,
  type IndexFileConfig,
} from './core/lifelong-learning/index.js';
export {
  MultiTaskLearning,
  TaskDefinitionByDataAttr,
  TaskDefinitionBySVC,
  TaskMiningByDataAttr,
  TaskMiningBySVC,
  TaskAllocationByDataAttr,
  TaskAllocationBySVC,
  DefaultTaskRelationDiscover,
  DefaultTaskRemodeling,
  DefaultInferenceIntegrate,
  type Task,
  type TaskGroup,
  type ModelInfo,
  type TaskDefinition,
  type TaskDefinitionResult,
  type TaskRelationDiscover,
  type TaskAllocation,
  type AllocationResult,
  type TaskSubset,
  type TaskRemodeling,
  type InferenceIntegrate,
  type TaskTable,
  type TaskTableInput,
  type Cell,
  type Row,
  type MtlParamsMap,
  type TaskDefinitionByDataAttrParams,
  type TaskDefinitionBySVCParams,
  type TaskMiningParams,
  type MultiTaskLearningOptions,
  type StepChoice,
  type TaskPrediction,
  type DeployedModels,
  type PredictOutcome,
  type EngineTrainOptions,
  type TrainOutcome,
  type TrainedGroup,
  type EvaluateOutcome,
  type TaskScores,
} from './algorithms/multi-task-learning/index.js';
export {
  TaskAttrFilter,
  ModelProbeFilter,
  type ModelProbeFilterParams,
  type UnseenTaskDetector,
  type UnseenTaskContext,
  type UtdParamsMap,
} from './algorithms/unseen-task-detect/index.js';
export {
  classificationMetric,
  CLASSIFICATION_METRICS,
  type Average,
  type ClassLabel,
} from './backend/classification-metrics.js';
export {
  KB_INDEX_NAME,
  KB_INDEX_FORMAT,
  type KBIndex,
  type KBKnowledge,
  type KBTaskGroupRecord,
  type KBTaskRecord,
  type KBModelRecord,
  type KBSampleRecord,
  type KBExtractorRecord,
  type JsonValue,
  type PyGroupView,
} from './datasources/kb-index.js';
export {
  KBServer,
  kbServerOptionsFromConfig,
  DEFAULT_KB_PORT,
  type KBServerOptions,
  type StoredIndex as KBStoredIndex,
} from './service/server/kb-server.js';
export { KBDatabase, type GroupSummary as KBGroupRow } from './service/server/kb-database.js';
export { KBClient, type KBClientOptions, type KBGroupSummary } from './service/client/kb-client.js';
// -----------------------------------------------------------------------------------------------
// Multi-edge inference (issue 16): records, the model contract and the three components (detection
// with its optical-flow gate, feature extraction, ReID), video sources (ffmpeg), ReID matching, the
// REST server and client, the Kafka producer and consumer. Record frames, topics and defaults are
// in `sedna-sdk/protocol`. kafkajs, @techstark/opencv-js and sharp are optional peers loaded on
// first use: nothing here imports them.
export {
  OP_MODE,
  DetTrackResult,
  Target,
  TargetImages,
  parseDetectionTime,
  formatDetectionTime,
  type OpMode,
  type BoxCoord,
  type DetTrackResultInit,
  type TargetInit,
} from './datasources/multi-edge/records.js';
export { encodeJpeg, decodeImage, cropImage, checkRgbImage, type RgbImage } from './datasources/multi-edge/image.js';
export {
  PLUGIN,
  pluginEndpoint,
  pluginClient,
  type PluginName,
  type PluginEndpoint,
  type PluginEndpointConfig,
} from './core/multi-edge-inference/plugins.js';
export { loadModels, type PluggableModel } from './core/multi-edge-inference/pluggable-model.js';
export {
  BaseService,
  type BaseServiceOptions,
  type BaseServiceStats,
  type OverflowPolicy,
} from './core/multi-edge-inference/base-service.js';
export {
  Component,
  type ComponentOptions,
  type ComponentStats,
  type ComponentServerOptions,
  type KafkaSettings,
} from './core/multi-edge-inference/component.js';
export { Outbox, type OutboxOptions, type OutboxStats } from './core/multi-edge-inference/outbox.js';
export {
  ObjectDetector,
  type ObjectDetectorOptions,
  type ObjectDetectorStats,
  type DetectorModel,
} from './core/multi-edge-inference/object-detector.js';
export { FEService, type FEServiceOptions, type FeatureModel } from './core/multi-edge-inference/fe-service.js';
export {
  ReID,
  TargetMatcher,
  type ReIDOptions,
  type ReIDModel,
  type TargetMatch,
  type TargetMatcherOptions,
} from './core/multi-edge-inference/reid.js';
export {
  VideoSource,
  videoSourceKind,
  type VideoFrame,
  type VideoSourceKind,
  type VideoSourceOptions,
  type VideoSourceStats,
} from './datasources/video.js';
export {
  KafkaProducer,
  KafkaConsumer,
  type KafkaConnection,
  type KafkaProducerOptions,
  type KafkaProducerStats,
  type KafkaConsumerOptions,
  type KafkaConsumerStats,
} from './datasources/kafka.js';
export {
  LukasKanade,
  type MotionGate,
  type GateFrame,
  type LukasKanadeParams,
  type LukasKanadeStats,
} from './algorithms/optical-flow/lukas-kanade.js';
export {
  cosineSimilarityScore,
  matchQueryToTargets,
  stackFeatures,
  normalize,
  type Features,
  type FeatureMatrix,
  type QueryMatch,
} from './algorithms/reid/matching.js';
export { meanRow } from './algorithms/reid/features.js';
export { FeatureIndex, type FeatureIndexOptions, type MatchingBackend } from './algorithms/reid/feature-index.js';
export { packFeatures, similarityTopK, type PackedFeatures, type TopK } from './algorithms/reid/similarity-kernel.js';
export {
  MultiEdgeServer,
  MULTI_EDGE_SERVICES,
  type MultiEdgeHandler,
  type MultiEdgeServerOptions,
  type MultiEdgeServiceName,
} from './service/server/multi-edge-server.js';
export {
  MultiEdgeClient,
  type MultiEdgeClientOptions,
  type MultiEdgeStatus,
} from './service/client/multi-edge-client.js';
