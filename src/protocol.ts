/**
 * `sedna-sdk/protocol`: the wire-level pieces under the jobs, for tools, tests and workers that
 * speak Sedna's protocols themselves: the binary weights frame and Sedna's JSON lists, the
 * aggregation protocol's constants, LC report bodies and worker identities, the configuration
 * and error tables, the servers' and clients' defaults, and the building blocks the jobs run on
 * (micro-batching, the hot-update poller, the FedAvg accumulator, the update queue). A worker
 * script normally needs none of it: `sedna-sdk` has the jobs, servers and clients.
 *
 * Every change of this surface shows in `etc/sedna-sdk-protocol.api.md` (`npm run api:update`).
 *
 * @packageDocumentation
 */

// The weights codec: binary frames (magic "SDNW", version 1) and Sedna's nested JSON lists.
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
  type WeightRecord,
  type WeightDtype,
} from './backend/weights.js';

// The aggregation protocol (WebSocket) and the pieces of a round.
export {
  CLOSE_CODES,
  type ExitFlag,
  type Frame as AggregationFrame,
  type ServerHello,
  type WireEncoding,
} from './service/aggregation-protocol.js';
export {
  RoundLayout,
  UpdateQueue,
  checkNumSamples,
  availableKernels,
  BUILTIN_AGGREGATIONS,
  type KernelName,
} from './algorithms/aggregation/index.js';
export { BUILTIN_HEM_FILTERS, readBoxes, probabilityRow } from './algorithms/hard-example-mining/index.js';

// Reports to the LocalController: bodies, identities, the time format. (The resource kinds and
// statuses, K8sResourceKind and K8sResourceKindStatus, are in sedna-sdk: jobs name them.)
export {
  jobReport,
  reportBody,
  workerIdentity,
  formatLocalTime,
  type LCReport,
  type ReportResult,
  type WorkerIdentity,
} from './service/client/lc-client.js';
export { jointInferenceOwner, MicroBatcher, type MicroBatchOptions } from './core/joint-inference/index.js';

// Incremental learning's hot-update file (the hard-example format is in sedna-sdk).
export {
  HotUpdatePoller,
  parseHotUpdateConfig,
  isUpdateTime,
  type HotUpdateConfig,
  type HotUpdateFailure,
  type HotUpdatePollerOptions,
  type PollOutcome,
} from './core/incremental-learning/index.js';

// Tables and defaults: every environment variable, the transports' defaults. (ERROR_CATALOG,
// every error code, is in sedna-sdk.)
export {
  CONFIG_VARIABLES,
  parseCrdParameters,
  type ConfigVariable,
  type ConfigTable,
  type SednaConfig,
} from './common/config.js';
export { backoffDelay, DEFAULT_HTTP_OPTIONS, type RetryPolicy } from './common/http-client.js';
export { DEFAULT_SERVER_OPTIONS, toErrorReply, type ErrorBody } from './service/server/base.js';
export { ConcurrencyLimiter, type ConcurrencyOptions } from './service/server/concurrency.js';
export { DEFAULT_INFERENCE_BODY_LIMIT } from './service/server/inference-server.js';
export { DEFAULT_HEM_METHOD } from './core/hem.js';
export { primaryHostIp } from './common/host-ip.js';

// Lifelong learning's wire pieces: the knowledge-base index (typed JSON; Python pickles read by an
// allowlist, nothing executed), the KB's SQLite tables and download paths, the built-in lists.
export {
  SEDNA_PICKLE_CLASSES,
  parseKBIndex,
  validateKBIndex,
  serializeKBIndex,
  readPythonIndex,
  type PyIndexView,
} from './datasources/kb-index.js';
export { readPickle, type PickleReadOptions } from './datasources/pickle-reader.js';
export { writePickle } from './datasources/pickle-writer.js';
export { PyDict, PyObject, PySet, PyTuple, type PyKey, type PyValue } from './datasources/pickle-values.js';
export { downloadPath as kbDownloadPath, kbBindAddress } from './service/server/kb-server.js';
export { sqlitePathOf } from './service/server/kb-database.js';
export {
  BUILTIN_MTL_ALGORITHMS,
  createStep,
  evaluateTasks,
  toTaskTable,
  attributeEntry,
} from './algorithms/multi-task-learning/index.js';
export { BUILTIN_UTD_ALGORITHMS } from './algorithms/unseen-task-detect/index.js';
export {
  shouldDrop,
  indexVersion,
  loadDeployment,
  readIndex,
  type Deployment,
} from './core/lifelong-learning/index.js';
// Multi-edge inference: record frames (REST bodies and Kafka messages), Kafka topics and brokers,
// the plugins' variables and defaults.
export {
  encodeResults,
  encodeTargets,
  decodeRecords,
  decodeResults,
  decodeTargets,
  isRecordFrame,
  RECORD_FRAME_MAGIC,
  RECORD_FRAME_VERSION,
  RECORD_CONTENT_TYPE,
  type RecordFrame,
} from './datasources/multi-edge/codec.js';
export { KAFKA_TOPICS, kafkaBrokers } from './datasources/kafka.js';
export { REGISTERED_PLUGINS, type PluginSpec } from './core/multi-edge-inference/plugins.js';
export { DEFAULT_MULTI_EDGE_BODY_LIMIT } from './service/server/multi-edge-server.js';
export { MAX_DECODED_PIXELS } from './datasources/multi-edge/image.js';
export { LUKAS_KANADE_DEFAULTS } from './algorithms/optical-flow/lukas-kanade.js';
