#!/usr/bin/env node
// Multi-edge inference, feature-extraction worker (the FeatureExtractionService's pod): adds a
// feature vector per detected box and sends the enriched results back to the detection service
// (REST: DET_MODEL_BIND_URL/PORT; Kafka: `enriched_object`). Also answers the ReID worker's
// get_target_features for its query images.
//   FE_MODEL_BIND_URL / FE_MODEL_BIND_PORT     this worker's server (default <pod IP>:6000)
//   DET_MODEL_BIND_URL / DET_MODEL_BIND_PORT   where enriched results go over REST
import { FEService, loadConfig } from 'sedna-sdk';
import { ColorHistogramExtractor } from './models.mjs';

const fe = await FEService.create({ models: [new ColorHistogramExtractor()], config: loadConfig() });
const url = await fe.start();
process.stdout.write(`${JSON.stringify({ event: 'listening', url })}\n`);
const stop = async () => {
  await fe.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
