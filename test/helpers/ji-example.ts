/**
 * Runs examples/joint-inference's workers as a pod would: child processes configured only by
 * environment variables (shared by the integration and conformance suites).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { ROOT } from './paths.js';

export const JI_EXAMPLE = path.join(ROOT, 'examples', 'joint-inference');
const MODELS = path.join(ROOT, 'test', 'fixtures', 'models');
export const DIGITS_TEST_CSV = path.join(ROOT, 'test', 'fixtures', 'data', 'digits-test.csv');

/** Starts cloud.mjs on a free port; resolves once it listens. Stop it with `child.kill()`. */
export function startCloudWorker(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [path.join(JI_EXAMPLE, 'cloud.mjs')], {
    cwd: ROOT,
    env: {
      ...process.env,
      MODEL_URL: path.join(MODELS, 'digits-cloud.onnx'),
      BIG_MODEL_BIND_IP: '127.0.0.1',
      BIG_MODEL_BIND_PORT: '0',
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    readline
      .createInterface({ input: child.stdout })
      .once('line', (line) => resolve({ child, port: (JSON.parse(line) as { port: number }).port }));
    child.once('exit', (code) => reject(new Error(`cloud.mjs exited with ${code}: ${stderr}`)));
  });
}

/** What the controller would inject into the edge worker, plus the example's own variables. */
export function edgeWorkerEnv(opts: { lcServer: string; cloudPort: number; outputDir: string }): NodeJS.ProcessEnv {
  return {
    WORKER_NAME: 'edgeworker-x1y2z',
    NAMESPACE: 'default',
    SERVICE_NAME: 'digits-inference',
    MODEL_URL: path.join(MODELS, 'digits-edge.onnx'),
    BIG_MODEL_IP: '127.0.0.1',
    BIG_MODEL_PORT: String(opts.cloudPort),
    HEM_NAME: 'CrossEntropy',
    HEM_PARAMETERS: '[{"key":"threshold_cross_entropy","value":"0.75"}]',
    LC_SERVER: opts.lcServer,
    LC_PERIOD: '1',
    input_url: DIGITS_TEST_CSV,
    output_url: opts.outputDir,
    loop: 'false',
    LOG_LEVEL: 'warn',
  };
}
