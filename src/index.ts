/**
 * sedna-sdk: the TypeScript worker SDK for KubeEdge Sedna.
 *
 * This barrel exports the core (configuration, errors, the algorithm registry, logging). Areas
 * with heavy optional dependencies have their own entry points (`sedna-sdk/backend/onnx`, ...).
 */
export {
  loadConfig,
  getParameter,
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
} from './core/config.js';
export {
  SednaError,
  isSednaError,
  ERROR_CATALOG,
  type SednaErrorCode,
  type SednaErrorOptions,
  type ErrorCodeInfo,
} from './core/errors.js';
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
} from './core/class-factory.js';
export { getLogger, configureLogger, type Logger, type LoggerOptions } from './core/logger.js';
export { primaryHostIp } from './core/host-ip.js';
export { VERSION } from './version.js';
