#!/usr/bin/env node
// Federated learning v2, training worker: Sedna's `FederatedLearningV2(data, estimator,
// aggregation, transmitter).train()`.
//
// Configured by what the Sedna controller injects (AGG_IP, AGG_PORT, WORKER_NAME, JOB_NAME,
// NAMESPACE, LC_SERVER, MODEL_URL, TRAIN_DATASET_URL) and by the pod template's variables:
//
//   aggregation_algorithm  must match the aggregator's (default FedAvgV2)
//   TRANSMITTER            ws (default) or s3 (S3_ENDPOINT_URL, ACCESS_KEY_ID, SECRET_ACCESS_KEY,
//                          AGG_DATA_PATH as on the aggregator)
//   epochs, batch_size, learning_rate   Sedna's estimator hyperparameters (CRD strings)
//
// Trains until the aggregator ends the job (its rounds, or its target accuracy), reports to the
// LC each round and prints one JSON line with the rounds it saw. A bad setting is a coded error
// on stderr and exit code 1. SIGTERM (the pod deleted, `podman stop`) stops the training between
// batches, reports `train failed` to the LC and exits 143; before the aggregator answered, at once.
import { constants } from 'node:os';
import { FederatedLearningV2, getParameter, loadConfig } from 'sedna-sdk';
import { TfjsEstimator } from 'sedna-sdk/backend/tfjs';
import { createDigitsModel, loadDigitsCsv } from '../federated-learning/digits.mjs';

let trainer;
const stopping = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'])
  process.once(signal, () => {
    if (trainer === undefined) process.exit(128 + constants.signals[signal]);
    stopping.abort(signal);
  });
try {
  const config = loadConfig();
  if (config.trainDatasetUrl === undefined) throw new Error('TRAIN_DATASET_URL is not set');
  const estimator = await TfjsEstimator.create({ model: (tf) => createDigitsModel(tf) });
  estimator.hyperparameters = {
    epochs: getParameter('epochs') ?? '2',
    batch_size: getParameter('batch_size') ?? '32',
    learning_rate: getParameter('learning_rate') ?? '0.01',
  };
  trainer = await FederatedLearningV2.create({
    data: { trainset: await loadDigitsCsv(config.trainDatasetUrl, 'train') },
    estimator,
    aggregation: getParameter('aggregation_algorithm') ?? 'FedAvgV2',
    transmitter: FederatedLearningV2.getTransmitterFromConfig(config),
    config,
  });
  const result = await trainer.train({ signal: stopping.signal });
  process.stdout.write(
    `${JSON.stringify({
      worker: config.workerName,
      transmitter: trainer.transmitter.kind,
      rounds: result.rounds.map((r) => ({ round: r.round, selected: r.selected, totalSamples: r.totalSamples })),
      modelUrl: result.modelUrl,
    })}\n`,
  );
  await trainer.close();
} catch (err) {
  if (stopping.signal.aborted) {
    process.stderr.write(`trainer: ${stopping.signal.reason}: stopped before the last round\n`);
    process.exitCode = 128 + constants.signals[stopping.signal.reason];
  } else {
    const coded = typeof err?.code === 'string' && err.code.startsWith('SEDNA_ERR_');
    process.stderr.write(`trainer: ${coded ? `${err.code}: ${err.message}` : (err?.stack ?? err)}\n`);
    process.exitCode = 1;
  }
  await trainer?.close();
}
