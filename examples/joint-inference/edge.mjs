#!/usr/bin/env node
// Joint inference, edge worker (the JointInferenceService's edgeWorker).
//
// Configured only by what the Sedna controller injects (WORKER_NAME, NAMESPACE, SERVICE_NAME,
// MODEL_URL, BIG_MODEL_IP, BIG_MODEL_PORT, HEM_NAME, HEM_PARAMETERS, LC_SERVER) plus the pod
// template's own variables below, so it runs unchanged in a cluster and on a laptop.
//
//   input_url         CSV of samples to classify (digits: 64 pixel columns, optional `label`)
//   output_url        folder for results: all.jsonl, hard.jsonl (default /data/output)
//   loop              "true": start over when the input is done, like a stream (default true)
//   interval_ms       pause between samples (default 0)
//   cloud_timeout_ms  deadline of a cloud call; the edge answers if the cloud misses it (default 2000)
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  CSVDataParse,
  JointInference,
  getBooleanParameter,
  getLogger,
  getNumberParameter,
  getParameter,
  loadConfig,
} from 'sedna-sdk';
import { OnnxEstimator } from 'sedna-sdk/backend/onnx';

const log = getLogger('edge');
const config = loadConfig();
const inputUrl = getParameter('input_url', '/data/input/digits-test.csv');
const outputDir = getParameter('output_url', '/data/output');
const loop = getBooleanParameter('loop', true);
const intervalMs = getNumberParameter('interval_ms', 0, { min: 0 });
const cloudTimeoutMs = getNumberParameter('cloud_timeout_ms', 2000, { min: 1 });

// The model, the HEM filter (HEM_NAME/HEM_PARAMETERS), the cloud client (BIG_MODEL_IP/PORT) and the
// LC reporter (LC_SERVER/LC_PERIOD) all come from `config`. Bad values fail here, before any work.
const ji = await JointInference.create({ estimator: await OnnxEstimator.create(), config, cloudTimeoutMs });

let stopping = false;
const stop = () => {
  stopping = true;
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

// The digits models expect pixels (0-16) scaled to [0, 1].
const data = await new CSVDataParse('test').parse(inputUrl, { label: 'label' }).catch(async (err) => {
  await ji.close();
  throw err;
});
const rows = data.x.map((x) => Array.from(x, (p) => Number(p) / 16));
const labels = data.y ?? [];

await fs.mkdir(outputDir, { recursive: true });
const all = await fs.open(path.join(outputDir, 'all.jsonl'), 'a');
const hard = await fs.open(path.join(outputDir, 'hard.jsonl'), 'a');
const argmax = (row) => row.indexOf(Math.max(...row));

try {
  do {
    for (let i = 0; i < rows.length && !stopping; i++) {
      const out = await ji.inference([rows[i]]);
      const record = {
        index: i,
        label: labels[i] === undefined ? null : Number(labels[i]),
        prediction: argmax(out.result[0]),
        edgePrediction: argmax(out.edgeResult[0]),
        isHardExample: out.isHardExample,
        cloudAnswered: out.cloudResult !== undefined,
        ...(out.cloudError === undefined ? {} : { cloudError: out.cloudError.code }),
      };
      const line = `${JSON.stringify(record)}\n`;
      await all.write(line);
      if (out.isHardExample) await hard.write(line);
      if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  } while (loop && !stopping);
  log.info(ji.stats, 'edge worker done');
} finally {
  await all.close();
  await hard.close();
  await ji.close(); // delivers the last report to the LC
}
