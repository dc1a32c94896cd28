/**
 * The feature-extraction component (Sedna's `FEService`, spec §8.4): detection results in
 * (Kafka `object_detection` or `POST /feature_extraction/feature_extraction`), the user's model adds
 * one feature vector per box, enriched results out (Kafka `enriched_object` or `POST
 * /video_analytics/video_analytics` on the detector). It also answers `get_target_features` for
 * the ReID component's query images.
 */
import { loadConfig, type SednaConfig } from '../../common/config.js';
import { K8sResourceKind } from '../../common/constants.js';
import { SednaError } from '../../common/errors.js';
import { KAFKA_TOPICS } from '../../datasources/kafka.js';
import type { DetTrackResult, Target } from '../../datasources/multi-edge/records.js';
import type { MultiEdgeClient } from '../../service/client/multi-edge-client.js';
import { MULTI_EDGE_SERVICES } from '../../service/server/multi-edge-server.js';
import { Component, type ComponentOptions } from './component.js';
import { PLUGIN, pluginClient } from './plugins.js';
import { loadModels, type PluggableModel } from './pluggable-model.js';

export type FeatureModel = PluggableModel<DetTrackResult>;

export interface FEServiceOptions extends Partial<Omit<ComponentOptions<FeatureModel>, 'models'>> {
  models: readonly FeatureModel[];
  config?: SednaConfig;
  /** Where enriched results go over REST (when Kafka is off); default DET_MODEL_BIND_URL/PORT. */
  detection?: MultiEdgeClient;
  modelPath?: string;
}

export class FEService extends Component<DetTrackResult, FeatureModel> {
  private detection: MultiEdgeClient | undefined;

  private constructor(options: ComponentOptions<FeatureModel>) {
    super('FEService', K8sResourceKind.FEATURE_EXTRACTION_SERVICE, options);
  }

  static async create(options: FEServiceOptions): Promise<FEService> {
    const config = options.config ?? loadConfig();
    const full: ComponentOptions<FeatureModel> = { ...options, config };
    const self = new FEService(full);
    try {
      await loadModels(options.models, options.modelPath ?? config.modelUrl);
      const kafka = self.kafkaSettings(full);
      if (kafka !== undefined) {
        await self.connectProducer(kafka);
        await self.connectConsumer(kafka, [KAFKA_TOPICS.OBJECT_DETECTION], 'feature-extraction', (records) =>
          self.putAll(records),
        );
      } else {
        self.detection = options.detection ?? pluginClient(config, PLUGIN.VIDEO_ANALYTICS_I);
        if (options.detection === undefined) {
          self.own(self.detection);
        }
      }
      await self.serve(MULTI_EDGE_SERVICES.FEATURE_EXTRACTION, PLUGIN.FEATURE_EXTRACTION, full, {
        put: (records) => self.putAll(records),
        getTargetFeatures: (records) => self.getTargetFeatures(records),
      });
    } catch (err) {
      return self.abandon(err);
    }
    return self;
  }

  async start(): Promise<string> {
    return this.server === undefined ? '' : this.server.start();
  }

  /** Sedna's `get_target_features`: the first model's features of the query images. */
  async getTargetFeatures(records: DetTrackResult[]): Promise<Target[]> {
    const model = this.models[0] as FeatureModel;
    if (model.getTargetFeatures === undefined)
      throw new SednaError('SEDNA_ERR_NOT_SUPPORTED', 'the feature-extraction model has no getTargetFeatures()');
    return model.getTargetFeatures(records);
  }

  protected async process(batch: DetTrackResult[]): Promise<void> {
    // Sedna runs every model and keeps the last result; so do we.
    let enriched: DetTrackResult[] = [];
    for (const model of this.models) enriched = await model.inference(batch);
    await this.sendOn(enriched, KAFKA_TOPICS.ENRICHED_OBJECT, this.detection);
  }
}
