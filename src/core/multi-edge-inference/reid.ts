/**
 * The ReID component (Sedna's `ReID`, spec §8.4, §9.9): on start it asks each model for its query
 * records (`updatePlugin`), has feature extraction compute their features (`get_target_features`)
 * and gives them back (`updateTarget`); then every enriched frame that arrives
 * (`POST /reid/reid`, or Kafka `enriched_object` when `consumerTopics` names it) is matched.
 * `TargetMatcher` is the matching model Sedna's example implements.
 *
 * Sedna logs and forgets a failed target update (an FE that starts later leaves ReID without
 * targets for good); we retry with backoff until `targetRetries` is spent, then fail `start()`.
 */
import { loadConfig, type SednaConfig } from '../../common/config.js';
import { K8sResourceKind } from '../../common/constants.js';
import { SednaError, invalidArgument, messageOf } from '../../common/errors.js';
import { backoffDelay } from '../../common/http-client.js';
import { meanRow, stackFeatures } from '../../algorithms/reid/features.js';
import { matchQueryToTargets } from '../../algorithms/reid/matching.js';
import { packFeatures, type PackedFeatures } from '../../algorithms/reid/similarity-kernel.js';
import { DetTrackResult, type Target } from '../../datasources/multi-edge/records.js';
import type { MultiEdgeClient } from '../../service/client/multi-edge-client.js';
import { MULTI_EDGE_SERVICES } from '../../service/server/multi-edge-server.js';
import { Component, type ComponentOptions } from './component.js';
import { PLUGIN, pluginClient } from './plugins.js';
import { loadModels, type PluggableModel } from './pluggable-model.js';

export type ReIDModel = PluggableModel<DetTrackResult>;

export interface ReIDOptions extends Partial<Omit<ComponentOptions<ReIDModel>, 'models'>> {
  models: readonly ReIDModel[];
  config?: SednaConfig;
  /** Feature extraction (for the query images); default FE_MODEL_BIND_URL/PORT. */
  featureExtraction?: MultiEdgeClient;
  /** Kafka topics to consume enriched results from (Sedna: none; e.g. `['enriched_object']`). */
  consumerTopics?: readonly string[];
  /** Attempts at fetching the targets' features before start() fails (default 10). */
  targetRetries?: number;
  modelPath?: string;
}

export class ReID extends Component<DetTrackResult, ReIDModel> {
  private fe: MultiEdgeClient | undefined;
  private targetRetries = 10;

  private constructor(options: ComponentOptions<ReIDModel>) {
    // Sedna's ReID defaults to asynchronous processing.
    super('ReID', K8sResourceKind.REID_JOB, { ...options, asynchronous: options.asynchronous ?? true });
  }

  static async create(options: ReIDOptions): Promise<ReID> {
    const config = options.config ?? loadConfig();
    const full: ComponentOptions<ReIDModel> = { ...options, config };
    const self = new ReID(full);
    try {
      await loadModels(options.models, options.modelPath ?? config.modelUrl);
      self.targetRetries = options.targetRetries ?? 10;
      self.fe = options.featureExtraction ?? pluginClient(config, PLUGIN.FEATURE_EXTRACTION_I);
      if (options.featureExtraction === undefined) {
        self.own(self.fe);
      }
      const topics = options.consumerTopics ?? [];
      const kafka = topics.length > 0 ? self.kafkaSettings({ ...full, kafka: options.kafka ?? true }) : undefined;
      if (kafka !== undefined) await self.connectConsumer(kafka, topics, 'reid', (records) => self.putAll(records));
      await self.serve(MULTI_EDGE_SERVICES.REID, PLUGIN.REID, full, {
        put: (records) => self.putAll(records),
      });
    } catch (err) {
      return self.abandon(err);
    }
    return self;
  }

  /** Fetches the targets' features (with retries), then listens; resolves with the URL. */
  async start(): Promise<string> {
    await this.updateOperationalMode(null);
    return this.server === undefined ? '' : this.server.start();
  }

  /** Sedna's `update_operational_mode`: query records → FE target features → each model. */
  override async updateOperationalMode(status: unknown): Promise<number> {
    let updated = 0;
    for (const model of this.models) {
      const query = await model.updatePlugin?.(status);
      if (query === undefined || query === null) continue;
      if (!Array.isArray(query) || !query.every((q) => q instanceof DetTrackResult))
        throw invalidArgument('updatePlugin() result', query, 'a list of DetTrackResult holding the query images');
      const targets = await this.fetchTargets(query);
      await model.updateTarget?.(targets);
      updated++;
    }
    return updated;
  }

  protected async process(batch: DetTrackResult[]): Promise<void> {
    for (const model of this.models) await model.inference(batch);
  }

  private async fetchTargets(query: DetTrackResult[]): Promise<Target[]> {
    const fe = this.fe as MultiEdgeClient;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fe.getTargetFeatures(query);
      } catch (err) {
        if (attempt >= this.targetRetries) throw err;
        const wait = backoffDelay(attempt - 1, {
          maxAttempts: this.targetRetries,
          baseDelayMs: 200,
          maxDelayMs: 3_000,
        });
        this.log.warn({ err: messageOf(err), attempt, waitMs: wait }, 'cannot get the target features yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }
}

export interface TargetMatch {
  readonly record: DetTrackResult;
  /** The index of the best-matching box, or -1 when no box reaches `matchThreshold`. */
  readonly index: number;
  readonly score: number;
  /** When the match was made (epoch ms). */
  readonly matchedAt: number;
}

export interface TargetMatcherOptions {
  /** Sedna's `user_id` (default `DEFAULT`). */
  userId?: string;
  /** The searched person's images (JPEG/PNG bytes): Sedna's `query_images`. */
  queryImages: readonly Uint8Array[];
  /** Sedna's `match_threshold` (default 0.75). */
  matchThreshold?: number;
  /** Compare with the mean query feature (Sedna's `avg_mode`). */
  avgMode?: boolean;
  /** Called with every frame's outcome. */
  onMatch?: (match: TargetMatch) => void | Promise<void>;
}

/**
 * The ReID matching model of Sedna's example (`reid/worker.py`): the query images' features come
 * in through `updateTarget`; each frame's boxes are matched with `match_query_to_targets`, and the
 * best box at or above `matchThreshold` is marked (`isTarget` = its index, `targetID` = the target's id).
 */
export class TargetMatcher implements ReIDModel {
  readonly userId: string;
  readonly matchThreshold: number;
  /** The target's features, packed once per target set (the mean row with `avgMode`). */
  private query: PackedFeatures | undefined;
  private targetId = '0000';
  private counters = { frames: 0, matched: 0, withoutFeatures: 0 };

  constructor(private readonly options: TargetMatcherOptions) {
    if (options.queryImages.length === 0)
      throw invalidArgument('queryImages', options.queryImages, 'at least one image');
    this.userId = options.userId ?? 'DEFAULT';
    this.matchThreshold = options.matchThreshold ?? 0.75;
    if (!(this.matchThreshold >= -1 && this.matchThreshold <= 1))
      throw invalidArgument('matchThreshold', options.matchThreshold, 'a similarity from -1 to 1');
  }

  get stats(): { frames: number; matched: number; withoutFeatures: number } {
    return { ...this.counters };
  }

  updatePlugin(): DetTrackResult[] {
    return [new DetTrackResult({ userID: this.userId, bbox: [...this.options.queryImages] })];
  }

  updateTarget(targets: Target[]): void {
    const features = targets.filter((t) => t.userid === this.userId).flatMap((t) => t.features);
    if (features.length === 0)
      throw new SednaError('SEDNA_ERR_BAD_RESPONSE', `feature extraction returned no features for user ${this.userId}`);
    const matrix = stackFeatures(features, 'target features');
    this.query = packFeatures(this.options.avgMode === true ? meanRow(matrix) : matrix, 'target features');
    this.targetId = targets.find((t) => t.userid === this.userId)?.targetid ?? '0000';
  }

  async inference(batch: DetTrackResult[]): Promise<DetTrackResult[]> {
    if (this.query === undefined)
      throw new SednaError('SEDNA_ERR_MODEL_NOT_LOADED', 'no target features yet: start() fetches them');
    const out: DetTrackResult[] = [];
    for (const record of batch) {
      this.counters.frames++;
      let index = -1;
      let score = -Infinity;
      if (record.features.length === 0) this.counters.withoutFeatures++;
      else {
        const best = matchQueryToTargets(this.query, record.features);
        score = best.score;
        if (best.score >= this.matchThreshold) index = best.index;
      }
      record.isTarget = index >= 0 ? index : false;
      record.targetID = record.features.map((_, i) => (i === index ? this.targetId : ''));
      if (index >= 0) this.counters.matched++;
      await this.options.onMatch?.({ record, index, score, matchedAt: Date.now() });
      out.push(record);
    }
    return out;
  }
}
