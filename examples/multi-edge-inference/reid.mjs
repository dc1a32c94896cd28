#!/usr/bin/env node
// Multi-edge inference, ReID worker (the ReIDJob's pod): fetches the features of the searched
// person's query images from feature extraction, then matches every enriched frame against them
// and writes one JSON line per frame to output_url/matches.jsonl.
//   query_images      `|`-separated image paths (Sedna's parameter)
//   user_id           whose search this is (default DEFAULT)
//   match_threshold   similarity a box needs to be the target (default 0.75, Sedna's)
//   output_url        folder for matches.jsonl (default /data/output)
//   consumer_topics   `|`-separated Kafka topics to read enriched results from (default none: REST)
//   REID_MODEL_BIND_URL / REID_MODEL_BIND_PORT   this worker's server (default <pod IP>:5000)
//   FE_MODEL_BIND_URL / FE_MODEL_BIND_PORT       feature extraction (for the query images)
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  ReID,
  TargetMatcher,
  getListParameter,
  getNumberParameter,
  getParameter,
  loadConfig,
  parseDetectionTime,
} from 'sedna-sdk';

const queryPaths = getListParameter('query_images', [], { separator: '|' });
if (queryPaths.length === 0) throw new Error("set query_images to the searched person's images (`|`-separated paths)");
const outputDir = getParameter('output_url', '/data/output');
await fs.mkdir(outputDir, { recursive: true });
const out = await fs.open(path.join(outputDir, 'matches.jsonl'), 'a');

const matcher = new TargetMatcher({
  userId: getParameter('user_id', 'DEFAULT'),
  queryImages: await Promise.all(queryPaths.map((p) => fs.readFile(p))),
  matchThreshold: getNumberParameter('match_threshold', 0.75, { min: -1, max: 1 }),
  onMatch: async ({ record, index, score, matchedAt }) => {
    const detected = record.detectionTime === undefined ? undefined : parseDetectionTime(record.detectionTime);
    const line = {
      camera: record.camera,
      frameIndex: record.frameIndex,
      match: index,
      box: index >= 0 ? record.bboxCoord[index] : null,
      score: Number.isFinite(score) ? Number(score.toFixed(4)) : null,
      latencyMs: detected === undefined ? null : matchedAt - detected * 1000,
    };
    await out.write(`${JSON.stringify(line)}\n`);
  },
});
const topics = getListParameter('consumer_topics', [], { separator: '|' });
const reid = await ReID.create({ models: [matcher], config: loadConfig(), consumerTopics: topics });
const url = await reid.start(); // fetches the target features first (retrying until FE answers)
process.stdout.write(`${JSON.stringify({ event: 'listening', url })}\n`);
const stop = async () => {
  await reid.close();
  await out.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
