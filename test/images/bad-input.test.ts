/**
 * Bad input inside a container: a missing model, an unreachable LocalController or aggregator. The
 * worker prints its coded error on stderr and exits non-zero, promptly: never a silent hang, and
 * never a success the controller would believe. What it did before the failure stays on its volumes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, stage, workerName, type RunOptions } from './containers.js';
import { NAMESPACE, writeDigitsDataset } from './workers.js';

/** An LC_SERVER naming a Service nobody provides on the network. */
const NO_LC = 'http://sedna-lc-gone:9100';
const models = { host: path.join(FIXTURES, 'models'), container: '/home/data/models' };

const the = stage({ lc: false });

/** What the controller injects into a joint-inference edge worker here: an LC nobody provides. */
function edgeEnv(extra: Record<string, string>): Record<string, string> {
  return {
    NAMESPACE,
    WORKER_NAME: workerName('edgeworker'),
    SERVICE_NAME: 'digits-inference',
    LC_SERVER: NO_LC,
    HEM_NAME: 'CrossEntropy',
    HEM_PARAMETERS: '[{"key":"threshold_cross_entropy","value":"0.75"}]',
    LOG_LEVEL: 'silent', // the coded error is printed whatever the log level
    ...extra,
  };
}

/** Runs a worker to its end; resolves with its exit code, stderr and how long it ran. */
async function runToEnd(
  options: RunOptions,
  timeoutMs = 90_000,
): Promise<{ code: number | null; stderr: string; ms: number }> {
  const container = await the.run(options);
  const code = await container.waitForExit(timeoutMs);
  return { code, stderr: container.lines.stderr.join('\n'), ms: performance.now() - container.startedAt };
}

describe('a missing model', () => {
  it('joint-inference edge (onnx): SEDNA_ERR_MODEL_NOT_FOUND on stderr, exit 1', async () => {
    const result = await runToEnd({
      image: 'sedna-sdk-example-joint-inference-edge',
      env: edgeEnv({ MODEL_URL: '/home/data/models/no-such-model.onnx' }),
      volumes: [models],
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^edge: failed: SEDNA_ERR_MODEL_NOT_FOUND: .*no-such-model\.onnx/m);
  });

  it('incremental-learning inference (tfjs): SEDNA_ERR_MODEL_NOT_FOUND on stderr, exit 1', async () => {
    const result = await runToEnd({
      image: 'sedna-sdk-example-incremental-learning-inference',
      env: {
        NAMESPACE,
        JOB_NAME: 'digits-il',
        WORKER_NAME: workerName('inferworker'),
        LC_SERVER: NO_LC,
        MODEL_URL: '/home/data/models/no-such-model/model.json',
        MODEL_HOT_UPDATE: 'true',
        MODEL_HOT_UPDATE_CONFIG: '/model-hot-update/model_config.json',
        HE_SAVED_URL: '/home/data/hard-examples',
        LOG_LEVEL: 'silent',
      },
      volumes: [
        models,
        { host: the.dir('hot-update', true), container: '/model-hot-update', writable: true },
        { host: the.dir('hard', true), container: '/home/data/hard-examples', writable: true },
      ],
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^inference: failed: SEDNA_ERR_MODEL_NOT_FOUND: /m);
  });
});

describe('an unreachable LocalController', () => {
  it('incremental-learning train: trains and keeps the model, but exits 1 with the report error', async () => {
    const data = the.dir('il-data');
    const index = writeDigitsDataset(data, 'train', [...Array(30).keys()]);
    const output = the.dir('il-output', true);
    const result = await runToEnd({
      image: 'sedna-sdk-example-incremental-learning-train',
      env: {
        NAMESPACE,
        JOB_NAME: 'digits-il',
        WORKER_NAME: workerName('train-worker'),
        LC_SERVER: NO_LC,
        MODEL_URL: '/home/data/output/train/1',
        TRAIN_DATASET_URL: `/home/data/data/${path.basename(index)}`,
        ORIGINAL_DATASET_URL: `/home/data/data/${path.basename(index)}`,
        epochs: '2',
        LOG_LEVEL: 'silent',
      },
      volumes: [
        { host: data, container: '/home/data/data' },
        { host: output, container: '/home/data/output', writable: true },
      ],
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^train: the last report did not reach the LocalController: SEDNA_ERR_NETWORK: .*sedna-lc-gone/m,
    );
    expect(fs.existsSync(path.join(output, 'train', '1', 'model', 'model.json'))).toBe(true);
  });

  it('joint-inference edge: classifies its input, then exits 1 because the last counters were not delivered', async () => {
    const output = the.dir('ji-output', true);
    const result = await runToEnd({
      image: 'sedna-sdk-example-joint-inference-edge',
      env: edgeEnv({
        MODEL_URL: '/home/data/models/digits-edge.onnx',
        BIG_MODEL_IP: 'digits-inference-cloud.default', // no cloud either: the edge answers alone
        input_url: '/data/input/digits-test.csv',
        output_url: '/data/output',
        loop: 'false',
        cloud_timeout_ms: '500',
      }),
      volumes: [
        models,
        { host: path.join(FIXTURES, 'data'), container: '/data/input' },
        { host: output, container: '/data/output', writable: true },
      ],
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^edge: the last report did not reach the LocalController: SEDNA_ERR_NETWORK: .*sedna-lc-gone/m,
    );
    expect(fs.readFileSync(path.join(output, 'all.jsonl'), 'utf8').trim().split('\n')).toHaveLength(359);
  });
});

describe('an unreachable aggregator', () => {
  it('federated-learning trainer: gives up after CONNECT_TIMEOUT with a coded error, exit 1', async () => {
    const result = await runToEnd({
      image: 'sedna-sdk-example-federated-learning-trainer',
      env: {
        NAMESPACE,
        JOB_NAME: 'digits-fl',
        WORKER_NAME: workerName('trainworker'),
        LC_SERVER: NO_LC,
        AGG_IP: 'digits-fl-aggregation.default',
        AGG_PORT: '7363',
        CONNECT_TIMEOUT: '3',
        TRAIN_DATASET_URL: '/home/data/data/digits-train.csv',
        LOG_LEVEL: 'silent',
      },
      volumes: [{ host: path.join(FIXTURES, 'data'), container: '/home/data/data' }],
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^trainer: failed: SEDNA_ERR_[A-Z_]+: /m);
    expect(result.ms).toBeLessThan(30_000);
  });
});
