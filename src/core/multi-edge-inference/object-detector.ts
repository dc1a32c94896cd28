/**
 * The edge detection/tracking component (Sedna's `ObjectDetector`, spec §8.4): frames from a
 * video source, gated by optical flow, through the user's detector/tracker model; the results go
 * to feature extraction (Kafka `object_detection` or `POST /feature_extraction/feature_extraction`),
 * and the enriched results come back (Kafka `enriched_object` or `POST /video_analytics/video_analytics`).
 *
 * Differences from Sedna, on purpose:
 * - the gate compares each frame with the previous one (Sedna compares with the first frame ever,
 *   because it never updates `prev_frame`, so once anything moved every frame passes);
 * - enriched results are not pickled into a shared folder: they go to `onEnriched` and, with
 *   `forwardToReid`, to the ReID service (`POST /reid/reid`), so the pipeline needs no shared volume.
 */
import { loadConfig, type SednaConfig } from '../../common/config.js';
import { K8sResourceKind } from '../../common/constants.js';
import { LukasKanade, type MotionGate } from '../../algorithms/optical-flow/lukas-kanade.js';
import { KAFKA_TOPICS } from '../../datasources/kafka.js';
import type { DetTrackResult } from '../../datasources/multi-edge/records.js';
import type { VideoFrame } from '../../datasources/video.js';
import type { MultiEdgeClient } from '../../service/client/multi-edge-client.js';
import { MULTI_EDGE_SERVICES } from '../../service/server/multi-edge-server.js';
import { Component, FORWARD, type ComponentOptions, type ComponentStats } from './component.js';
import type { Outbox } from './outbox.js';
import { PLUGIN, pluginClient } from './plugins.js';
import { loadModels, type PluggableModel } from './pluggable-model.js';

export type DetectorModel = PluggableModel<VideoFrame>;

export interface ObjectDetectorOptions extends Partial<Omit<ComponentOptions<DetectorModel>, 'models'>> {
  models: readonly DetectorModel[];
  config?: SednaConfig;
  /** The optical-flow gate; default LukasKanade (OpenCV WASM); `false` forwards every frame. */
  gate?: MotionGate | false;
  /** Feature extraction over REST (when Kafka is off); default from FE_MODEL_BIND_URL/PORT. */
  featureExtraction?: MultiEdgeClient;
  /** Send the enriched results that come back on to the ReID service over REST. */
  forwardToReid?: boolean | MultiEdgeClient;
  /** Called with every enriched result that comes back from feature extraction. */
  onEnriched?: (records: DetTrackResult[]) => void | Promise<void>;
  /** Model path handed to `load()`; default MODEL_URL. */
  modelPath?: string;
}

export interface ObjectDetectorStats extends ComponentStats {
  /** Frames the optical-flow gate held back (no movement). */
  readonly skippedByGate: number;
  /** Detection results handed to feature extraction. */
  readonly detections: number;
  /** Enriched results received back. */
  readonly enriched: number;
  /** Enriched results forwarded to ReID. */
  readonly forwarded: number;
  /** Enriched results whose forwarding to ReID failed for good. */
  readonly forwardFailures: number;
  /** Requests that forwarded them. */
  readonly forwardSends: number;
}

export class ObjectDetector extends Component<VideoFrame, DetectorModel> {
  private gate: MotionGate | undefined;
  private previous: VideoFrame | undefined;
  private fe: MultiEdgeClient | undefined;
  private toReid: Outbox<DetTrackResult> | undefined;
  private onEnriched: ObjectDetectorOptions['onEnriched'];
  private detectorCounters = { skippedByGate: 0, detections: 0, enriched: 0 };

  private constructor(options: ComponentOptions<DetectorModel>) {
    super('ObjectDetector', K8sResourceKind.VIDEO_ANALYTICS_JOB, options);
  }

  /** Loads the models and the gate, connects Kafka if enabled, builds the server; `start()` listens. */
  static async create(options: ObjectDetectorOptions): Promise<ObjectDetector> {
    const config = options.config ?? loadConfig();
    const full: ComponentOptions<DetectorModel> = { ...options, config };
    const self = new ObjectDetector(full);
    try {
      await loadModels(options.models, options.modelPath ?? config.modelUrl);
      self.gate = options.gate === false ? undefined : (options.gate ?? (await LukasKanade.create()));
      if (options.gate === undefined && self.gate !== undefined) {
        const gate = self.gate;
        self.own({ close: () => gate.close?.() });
      }
      self.onEnriched = options.onEnriched;
      const kafka = self.kafkaSettings(full);
      if (kafka !== undefined) {
        await self.connectProducer(kafka);
        await self.connectConsumer(kafka, [KAFKA_TOPICS.ENRICHED_OBJECT], 'default', (r) => self.receiveEnriched(r));
      } else {
        self.fe = options.featureExtraction ?? pluginClient(config, PLUGIN.FEATURE_EXTRACTION_I);
        if (options.featureExtraction === undefined) {
          self.own(self.fe);
        }
      }
      if (options.forwardToReid !== undefined && options.forwardToReid !== false) {
        const reid = options.forwardToReid === true ? pluginClient(config, PLUGIN.REID_I) : options.forwardToReid;
        if (options.forwardToReid === true) self.own(reid);
        self.toReid = self.outbox(FORWARD, reid.endpoint, async (records) => {
          await reid.transmit(records);
        });
      }
      await self.serve(MULTI_EDGE_SERVICES.DETECTION, PLUGIN.VIDEO_ANALYTICS, full, {
        put: (records) => self.receiveEnriched(records),
      });
    } catch (err) {
      return self.abandon(err);
    }
    return self;
  }

  /** Listens on the detection route (for enriched results); resolves with the URL. */
  async start(): Promise<string> {
    return this.server === undefined ? '' : this.server.start();
  }

  override get stats(): ObjectDetectorStats {
    const forward = this.toReid?.stats;
    return {
      ...super.stats,
      ...this.detectorCounters,
      forwarded: forward?.sent ?? 0,
      forwardFailures: forward?.sendFailures ?? 0,
      forwardSends: forward?.sends ?? 0,
    };
  }

  /** The gate: the first frame passes, then only frames that moved against the previous one. */
  protected override preprocess(frame: VideoFrame): VideoFrame | undefined {
    const previous = this.previous;
    this.previous = frame;
    if (previous === undefined || this.gate === undefined) return frame;
    if (this.gate.moved(previous.image, frame.image)) return frame;
    this.detectorCounters.skippedByGate++;
    return undefined;
  }

  protected async process(batch: VideoFrame[]): Promise<void> {
    for (const model of this.models) {
      const results = await model.inference(batch);
      this.detectorCounters.detections += results.length;
      await this.sendOn(results, KAFKA_TOPICS.OBJECT_DETECTION, this.fe);
    }
  }

  private async receiveEnriched(records: DetTrackResult[]): Promise<void> {
    this.detectorCounters.enriched += records.length;
    await this.onEnriched?.(records);
    await this.toReid?.push(records);
  }
}
