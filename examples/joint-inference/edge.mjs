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
//
// SIGTERM (Kubernetes deleting the pod, `podman stop`) finishes the sample under way, delivers the
// last report to the LC and exits 0. Bad input (a missing model, a bad HEM parameter, an unreadable
// input file) is a coded error on stderr and exit code 1; so is a last report the LC never got.
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
/** The coded error on stderr (whatever LOG_LEVEL says) and exit code 1: the pod fails visibly. */
const fail = (err, context = 'failed') => {
  const coded = typeof err?.code === 'string' && err.code.startsWith('SEDNA_ERR_');
  process.stderr.write(`edge: ${context}: ${coded ? `${err.code}: ${err.message}` : (err?.stack ?? err)}\n`);
  process.exitCode = 1;
};
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'])
  process.once(signal, () => {
    log.info(`${signal}: stopping after the sample under way`);
    stopping = true;
  });

const argmax = (row) => row.indexOf(Math.max(...row));

let ji;
const files = [];
try {
  const inputUrl = getParameter('input_url', '/data/input/digits-test.csv');
  const outputDir = getParameter('output_url', '/data/output');
  const loop = getBooleanParameter('loop', true);
  const intervalMs = getNumberParameter('interval_ms', 0, { min: 0 });
  const cloudTimeoutMs = getNumberParameter('cloud_timeout_ms', 2000, { min: 1 });
  // The model, the HEM filter (HEM_NAME/HEM_PARAMETERS), the cloud client (BIG_MODEL_IP/PORT) and
  // the LC reporter (LC_SERVER/LC_PERIOD) all come from the config. Bad values fail here.
  ji = await JointInference.create({ estimator: await OnnxEstimator.create(), config: loadConfig(), cloudTimeoutMs });
  // The digits models expect pixels (0-16) scaled to [0, 1].
  const data = await new CSVDataParse('test').parse(inputUrl, { label: 'label' });
  const rows = data.x.map((x) => Array.from(x, (p) => Number(p) / 16));
  const labels = data.y ?? [];
  await fs.mkdir(outputDir, { recursive: true });
  const all = await fs.open(path.join(outputDir, 'all.jsonl'), 'a');
  files.push(all);
  const hard = await fs.open(path.join(outputDir, 'hard.jsonl'), 'a');
  files.push(hard);
  log.info({ samples: rows.length, input: inputUrl, output: outputDir, loop }, 'edge worker running');

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
} catch (err) {
  fail(err);
} finally {
  for (const file of files) await file.close();
  // Delivers the last report to the LC; the controller must see the final counters.
  await ji?.close().catch((err) => fail(err, 'closing failed'));
  if (ji !== undefined && !ji.reportHealth.lastReportDelivered)
    fail(ji.reportHealth.lastReportError, 'the last report did not reach the LocalController');
}
