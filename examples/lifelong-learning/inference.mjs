#!/usr/bin/env node
// Lifelong learning, inference worker (the LifelongLearningJob's deploySpec), on the edge.
//
// Configured by what the Sedna controller injects: WORKER_NAME, NAMESPACE, JOB_NAME, LC_SERVER,
// MODEL_URLS (`<outputDir>/deploy/index.pkl`); plus the pod template's variables, as in Sedna's
// thermal-comfort example:
//
//   infer_dataset_url          the CSV the samples arrive in (default /data/testData.csv); rows
//                              appended to it are answered as they come
//   UT_SAVED_URL               folder for samples of unseen tasks (UTD_SAVED_URL is read too)
//   UTD_NAME, UTD_PARAMETERS   the unseen-task detector (default TaskAttrFilter)
//   edge_output_url            the edge's copy of the index and models (default /var/lib/sedna/kb)
//   MODEL_POLL_PERIOD_SECONDS  how often a new index is looked for (default 30)
//   infer_poll_ms              how often the CSV is looked at for new rows (default 1000)
//
// Answers each row with its task's model and writes it, with the prediction and whether its task
// is unseen, to `<infer_dataset_url>_out.csv` (Sedna's name); unseen samples go to UT_SAVED_URL.
// Prints a JSON line `{answered, unseen}` after each batch of new rows.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { LifelongLearning, getIntegerParameter, getLogger, getParameter, loadConfig } from 'sedna-sdk';
import { LABEL, createEstimator, readPenguins } from './penguins.mjs';

const log = getLogger('inference');
const config = loadConfig();
const source = getParameter('infer_dataset_url', '/data/testData.csv');
const output = `${source}_out.csv`;
const pollMs = getIntegerParameter('infer_poll_ms', 1000, { min: 1 });
const ll = await LifelongLearning.create({ createEstimator, config });
ll.on('indexUpdate', (update) => log.info(update, 'a new index serves'));
ll.on('indexUpdateFailed', (err) => log.warn({ err }, 'a new index was refused; the old one serves'));

const csvCell = (v) => (/[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
let answered = 0;
let unseenCount = 0;
let lastSize = -1;

/** Answers the rows added since the last look (the file is re-read whole: it is a small CSV). */
async function answerNewRows() {
  const size = await fsp.stat(source).then(
    (s) => s.size,
    () => -1,
  );
  if (size === lastSize || size < 0) return;
  const data = await readPenguins(source, 'test');
  const columns = data.table.columns;
  if (answered === 0) await fsp.writeFile(output, `${[...columns, LABEL, 'pred', 'unseen'].map(csvCell).join(',')}\n`);
  const lines = [];
  for (let i = answered; i < data.x.length; i++) {
    // One sample per call, as samples arrive one by one.
    const out = await ll.inference({ columns, x: [data.x[i]] });
    if (out.unseen[0]) unseenCount++;
    lines.push([...Array.from(data.x[i]), data.y?.[i] ?? '', out.result[0], out.unseen[0]].map(csvCell).join(','));
  }
  lastSize = size;
  if (lines.length === 0) return;
  await fsp.appendFile(output, `${lines.join('\n')}\n`);
  answered = data.x.length;
  log.info({ answered, unseen: unseenCount }, 'answered');
  process.stdout.write(`${JSON.stringify({ answered, unseen: unseenCount, output })}\n`);
}

let stopping = false;
const stop = async () => {
  stopping = true;
  await ll.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

if (!fs.existsSync(source)) log.warn({ source }, 'no samples yet; waiting for the file');
while (!stopping) {
  // A half-written row or a knowledge base that is not up yet: logged, and tried again.
  await answerNewRows().catch((err) => log.error({ err }, 'answering new rows failed; trying again'));
  await new Promise((resolve) => setTimeout(resolve, pollMs));
}
