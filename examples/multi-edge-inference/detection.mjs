#!/usr/bin/env node
// Multi-edge inference, detection worker (a VideoAnalyticsJob's pod): reads one camera, gates its
// frames with optical flow, detects people and sends the results to feature extraction (REST, or
// Kafka `object_detection` when KAFKA_ENABLED). Enriched results come back on
// /video_analytics/video_analytics (or Kafka `enriched_object`); with forward_to_reid they go on to
// the ReID service.
//
// Configured by what the Sedna controller injects (WORKER_NAME, NAMESPACE, JOB_NAME, MODEL_URL,
// KAFKA_ENABLED) and the pod template's variables, as Sedna's example (spec §9.9):
//   video_address     file path, http(s):// URL (downloaded first) or rtsp:// / rtmp:// stream
//   video_id          the camera id written into each result (default 0)
//   fps               frames per second to read (default: the video's own)
//   forward_to_reid   "true": send enriched results to REID_MODEL_BIND_URL/PORT (default false)
//   DET_MODEL_BIND_URL / DET_MODEL_BIND_PORT   this worker's server (default <pod IP>:4000)
//   FE_MODEL_BIND_URL / FE_MODEL_BIND_PORT     feature extraction (default feature-extraction-fe:6000)
//   KAFKA_BIND_IPS / KAFKA_BIND_PORTS          brokers, `|`-separated
// One JSON line on stdout when listening, one when the video is done; runs until SIGTERM.
import {
  ObjectDetector,
  VideoSource,
  getBooleanParameter,
  getIntegerParameter,
  getLogger,
  getNumberParameter,
  getParameter,
  loadConfig,
} from 'sedna-sdk';
import { ColorBlobDetector } from './models.mjs';

const log = getLogger('detection');
const config = loadConfig();
const camera = getIntegerParameter('video_id', 0, { min: 0 });
const fps = getNumberParameter('fps');
const address = getParameter('video_address');
if (address === undefined) throw new Error('set video_address to a video file, URL or stream');

const detector = await ObjectDetector.create({
  models: [new ColorBlobDetector({ camera })],
  config,
  forwardToReid: getBooleanParameter('forward_to_reid', false),
});
const url = await detector.start();
const print = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
print({ event: 'listening', url, camera });

let stopping = false;
const source = new VideoSource({ url: address, ...(fps === undefined ? {} : { fps }) });
const stop = async () => {
  stopping = true;
  source.close();
  await detector.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

let framesRead = 0;
try {
  for await (const frame of source) {
    framesRead++;
    await detector.put(frame);
  }
  await detector.drain();
} catch (err) {
  log.error({ err }, 'video source failed');
  if (!stopping) print({ event: 'failed', code: err.code, message: err.message });
}
const { skippedByGate, detections, sent, sendFailures, failed } = detector.stats;
print({ event: 'done', camera, framesRead, skippedByGate, detections, sent, sendFailures, failed });
// Keep serving: enriched results for this camera (or the other) may still come back.
