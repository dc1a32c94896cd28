/** Multi-edge inference: records, plugins, the model contract and the three components. */
export * from '../../datasources/multi-edge/records.js';
export * from '../../datasources/multi-edge/codec.js';
export * from '../../datasources/multi-edge/image.js';
export {
  PLUGIN,
  REGISTERED_PLUGINS,
  pluginEndpoint,
  pluginClient,
  type PluginName,
  type PluginSpec,
  type PluginEndpoint,
} from './plugins.js';
export { loadModels, type PluggableModel } from './pluggable-model.js';
export { BaseService, type BaseServiceOptions, type BaseServiceStats, type OverflowPolicy } from './base-service.js';
export { Component, type ComponentOptions, type ComponentStats, type KafkaSettings } from './component.js';
export {
  ObjectDetector,
  type ObjectDetectorOptions,
  type ObjectDetectorStats,
  type DetectorModel,
} from './object-detector.js';
export { FEService, type FEServiceOptions, type FeatureModel } from './fe-service.js';
export {
  ReID,
  TargetMatcher,
  type ReIDOptions,
  type ReIDModel,
  type TargetMatch,
  type TargetMatcherOptions,
} from './reid.js';
