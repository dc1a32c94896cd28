/**
 * Joint inference end to end on 127.0.0.1: the edge ONNX model with a CrossEntropy filter, the
 * cloud ONNX model behind BigModelService, reports to the LC emulator.
 */
import type http from 'node:http';
import { OnnxEstimator } from '../../src/backend/onnx.js';
import { ClassFactory, ClassType } from '../../src/common/class-factory.js';
import { loadConfig } from '../../src/common/config.js';
import { BigModelService } from '../../src/core/joint-inference/big-model-service.js';
import { JointInference } from '../../src/core/joint-inference/joint-inference.js';
import { ModelClient } from '../../src/service/client/model-client.js';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import { deadPort, scriptedServer } from '../helpers/scripted-server.js';
import { CLOUD_ONNX, EDGE_ONNX, loadDigits } from '../helpers/backend-fixtures.js';

const test = loadDigits('test');
const samples = test.x.slice(0, 80);
const labels = test.y.slice(0, 80);
const argmax = (row: readonly number[]): number => row.indexOf(Math.max(...row));
const HEM = { method: 'CrossEntropy', param: { threshold_cross_entropy: '0.75' } };

describe('JointInference with a real cloud on loopback', () => {
  let lc: LCEmulator;
  let cloud: BigModelService;
  let cloudDirect: OnnxEstimator;

  beforeAll(async () => {
    lc = await LCEmulator.start();
    cloud = await BigModelService.create({
      estimator: await OnnxEstimator.create(),
      modelUrl: CLOUD_ONNX,
      config: loadConfig({}),
      host: '127.0.0.1',
      port: 0,
    });
    await cloud.start();
    cloudDirect = await OnnxEstimator.create({ modelUrl: CLOUD_ONNX });
  });
  afterAll(async () => {
    await cloud.close();
    await cloudDirect.close();
    await lc.close();
  });

  it('keeps easy samples at the edge, sends hard ones up, and reports each inference once', async () => {
    const config = loadConfig({
      WORKER_NAME: 'edgeworker-abcde',
      NAMESPACE: 'default',
      LC_SERVER: lc.url,
      LC_PERIOD: '0.1',
      BIG_MODEL_IP: '127.0.0.1',
      BIG_MODEL_PORT: String(cloud.port),
      HEM_NAME: HEM.method,
      HEM_PARAMETERS: JSON.stringify([{ key: 'threshold_cross_entropy', value: '0.75' }]),
    });
    const ji = await JointInference.create({ estimator: await OnnxEstimator.create(), config, modelUrl: EDGE_ONNX });
    const requestsBefore = cloud.stats.requests;
    let hard = 0;
    let jointCorrect = 0;
    let edgeCorrect = 0;
    for (let i = 0; i < samples.length; i++) {
      const out = await ji.inference([samples[i]!]);
      const edgeRow = (out.edgeResult as number[][])[0]!;
      if (argmax(edgeRow) === labels[i]) edgeCorrect++;
      if (out.isHardExample) {
        hard++;
        // The cloud's answer is the cloud model's own prediction for this sample.
        expect(out.cloudResult).toEqual(await cloudDirect.predict([samples[i]!]));
        expect(out.result).toBe(out.cloudResult);
      } else {
        expect(out.cloudResult).toBeUndefined();
        expect(out.result).toBe(out.edgeResult);
      }
      if (argmax((out.result as number[][])[0]!) === labels[i]) jointCorrect++;
    }
    expect(cloud.stats.requests - requestsBefore).toBe(hard);
    expect(hard).toBeGreaterThan(0);
    expect(hard / samples.length).toBeLessThan(0.4);
    expect(jointCorrect).toBeGreaterThan(edgeCorrect);
    expect(ji.stats).toEqual({ inferences: samples.length, hardExamples: hard, cloudFailures: 0 });

    await ji.close(); // delivers the last counters
    const last = lc.accepted().at(-1)!;
    expect(last).toMatchObject({
      name: 'edgeworker-abcde',
      namespace: 'default',
      ownerName: 'sedna',
      ownerKind: 'jointinferenceservice',
      kind: 'inference',
      results: [],
      ownerInfo: { inferenceNumber: samples.length, hardExampleNumber: hard, uploadCloudRatio: hard / samples.length },
    });
    expect(last).not.toHaveProperty('status');
    expect(lc.forwarded.at(-1)?.content.output.ownerInfo).toMatchObject({ inferenceNumber: samples.length });
    expect(ji.reportHealth).toMatchObject({ lastReportDelivered: true });
  });

  it('applies a post-process by registered name before mining', async () => {
    ClassFactory.registerCls((rows: number[][]) => rows[0], ClassType.CALLBACK, 'first_row');
    const ji = await JointInference.create({
      estimator: await OnnxEstimator.create({ modelUrl: EDGE_ONNX }),
      config: loadConfig({}),
      modelUrl: false,
      hardExampleMining: null,
      cloud: new ModelClient({ host: '127.0.0.1', port: cloud.port }),
      reporter: false,
    });
    const out = await ji.inference([samples[0]!], { postProcess: 'first_row' });
    expect(out.isHardExample).toBe(false); // no HEM: never hard
    expect(out.result).toEqual((out.edgeResult as number[][])[0]);
    await expect(ji.inference([samples[0]!], { postProcess: 'no_such_callback' })).rejects.toMatchObject({
      code: 'SEDNA_ERR_UNKNOWN_ALGORITHM',
    });
    await ji.close();
  });

  it('mining-then-inference sends hard samples straight to the cloud', async () => {
    const edgeModel = await OnnxEstimator.create({ modelUrl: EDGE_ONNX });
    const cloudOnly = await JointInference.create({
      estimator: edgeModel,
      config: loadConfig({}),
      modelUrl: false,
      hardExampleMining: { method: 'CloudOnly', param: {} },
      miningMode: 'mining-then-inference',
      cloud: new ModelClient({ host: '127.0.0.1', port: cloud.port }),
      reporter: false,
    });
    const up = await cloudOnly.inference([samples[1]!]);
    expect(up).toMatchObject({ isHardExample: true, edgeResult: undefined });
    expect(up.cloudResult).toEqual(await cloudDirect.predict([samples[1]!]));
    await cloudOnly.close();

    const edgeOnly = await JointInference.create({
      estimator: await OnnxEstimator.create({ modelUrl: EDGE_ONNX }),
      config: loadConfig({}),
      modelUrl: false,
      hardExampleMining: { method: 'EdgeOnly', param: {} },
      miningMode: 'mining-then-inference',
      reporter: false,
      cloud: new ModelClient({ host: '127.0.0.1', port: cloud.port }),
    });
    const local = await edgeOnly.inference([samples[1]!]);
    expect(local).toMatchObject({ isHardExample: false, cloudResult: undefined });
    expect(local.edgeResult).toHaveLength(1);
    await edgeOnly.close();
  });
});

describe('JointInference when the cloud fails', () => {
  const hardSamples = async (): Promise<number[][]> => {
    // Samples the edge filter calls hard (so every one of them tries the cloud).
    const probe = await JointInference.create({
      estimator: await OnnxEstimator.create({ modelUrl: EDGE_ONNX }),
      config: loadConfig({}),
      modelUrl: false,
      hardExampleMining: HEM,
      cloud: new ModelClient({ host: '127.0.0.1', port: 9 }),
      cloudTimeoutMs: 200,
      reporter: false,
    });
    const hard: number[][] = [];
    for (const s of samples) {
      if (hard.length === 6) break;
      if ((await probe.inference([s])).isHardExample) hard.push(s);
    }
    await probe.close();
    return hard;
  };

  async function jiAgainst(port: number, extra: { onCloudFailure?: 'edge' | 'throw'; cloudTimeoutMs?: number } = {}) {
    return JointInference.create({
      estimator: await OnnxEstimator.create({ modelUrl: EDGE_ONNX }),
      config: loadConfig({ BIG_MODEL_IP: '127.0.0.1', BIG_MODEL_PORT: String(port) }),
      modelUrl: false,
      hardExampleMining: HEM,
      reporter: false,
      cloudTimeoutMs: extra.cloudTimeoutMs ?? 500,
      ...(extra.onCloudFailure === undefined ? {} : { onCloudFailure: extra.onCloudFailure }),
    });
  }

  it.each([
    ['down (connection refused)', 'SEDNA_ERR_NETWORK', null],
    ['answering garbage', 'SEDNA_ERR_BAD_RESPONSE', (res: http.ServerResponse) => res.end('{"answer": 42}')],
    [
      'answering an error status',
      'SEDNA_ERR_HTTP_STATUS',
      (res: http.ServerResponse) => {
        res.statusCode = 500;
        res.end('{}');
      },
    ],
    ['never answering', 'SEDNA_ERR_TIMEOUT', () => undefined],
  ] as const)('returns the edge result in time when the cloud is %s', async (_label, code, behaviour) => {
    const hard = await hardSamples();
    expect(hard.length).toBeGreaterThan(0);
    const server = behaviour === null ? undefined : await scriptedServer((_req, res) => behaviour(res));
    const port = server?.port ?? (await deadPort());
    const ji = await jiAgainst(port);
    try {
      for (const s of hard) {
        const started = Date.now();
        const out = await ji.inference([s]);
        expect(Date.now() - started).toBeLessThan(500 + 300);
        expect(out.isHardExample).toBe(true);
        expect(out.result).toBe(out.edgeResult);
        expect(out.cloudResult).toBeUndefined();
        expect(out.cloudError?.code).toBe(code);
      }
      expect(ji.stats).toEqual({ inferences: hard.length, hardExamples: hard.length, cloudFailures: hard.length });
    } finally {
      await ji.close();
      await server?.close();
    }
  });

  it('throws the cloud failure when asked to', async () => {
    const hard = await hardSamples();
    const server = await scriptedServer((_req, res) => res.end('not json'));
    const ji = await jiAgainst(server.port, { onCloudFailure: 'throw' });
    try {
      await expect(ji.inference([hard[0]!])).rejects.toMatchObject({ code: 'SEDNA_ERR_BAD_RESPONSE' });
    } finally {
      await ji.close();
      await server.close();
    }
  });
});

describe('JointInference report health', () => {
  it('tells after close() that the last counters never reached an unreachable LC, with a coded error', async () => {
    const ji = await JointInference.create({
      estimator: await OnnxEstimator.create({ modelUrl: EDGE_ONNX }),
      config: loadConfig({ LC_SERVER: `http://127.0.0.1:${await deadPort()}`, LC_PERIOD: '60' }),
      modelUrl: false,
      hardExampleMining: HEM,
      cloud: new ModelClient({ host: '127.0.0.1', port: 9 }),
      cloudTimeoutMs: 200,
    });
    expect(ji.reportHealth.lastReportDelivered).toBe(true);
    await ji.inference([samples[0]!]);
    await ji.close(); // the last report fails: nothing listens on the LC's port
    expect(ji.reportHealth.lastReportDelivered).toBe(false);
    expect(ji.reportHealth.reportFailures).toBeGreaterThan(0);
    expect(ji.reportHealth.lastReportError?.code).toBe('SEDNA_ERR_NETWORK');
  });
});

describe('JointInference.create bad input', () => {
  const base = async () => ({
    estimator: await OnnxEstimator.create({ modelUrl: EDGE_ONNX }),
    config: loadConfig({}),
    modelUrl: false as const,
    reporter: false as const,
  });

  it('refuses an unknown HEM name, listing the known ones', async () => {
    await expect(
      JointInference.create({ ...(await base()), hardExampleMining: { method: 'Nope', param: {} } }),
    ).rejects.toMatchObject({
      code: 'SEDNA_ERR_UNKNOWN_ALGORITHM',
      message: expect.stringContaining('CrossEntropy') as string,
    });
  });

  it('refuses a HEM parameter that is not a number or out of range', async () => {
    await expect(
      JointInference.create({
        ...(await base()),
        hardExampleMining: { method: 'CrossEntropy', param: { threshold_cross_entropy: 'x' } },
      }),
    ).rejects.toMatchObject({ code: 'SEDNA_ERR_INVALID_ALGORITHM_PARAM' });
    await expect(
      JointInference.create({
        ...(await base()),
        config: loadConfig({ HEM_NAME: 'IBT', HEM_PARAMETERS: '[{"key":"threshold_img","value":"2"}]' }),
      }),
    ).rejects.toMatchObject({ code: 'SEDNA_ERR_INVALID_ALGORITHM_PARAM' });
  });

  it('refuses mining-then-inference without a filter', async () => {
    await expect(
      JointInference.create({ ...(await base()), hardExampleMining: null, miningMode: 'mining-then-inference' }),
    ).rejects.toMatchObject({
      code: 'SEDNA_ERR_INVALID_CONFIG',
    });
  });

  it('reports edge predictions the filter cannot read as a coded error', async () => {
    const ji = await JointInference.create({ ...(await base()), hardExampleMining: { method: 'IBT', param: {} } });
    // IBT reads boxes; a flat row of class probabilities is not a list of boxes.
    const firstRow = (rows: number[][]): number[] => rows[0]!;
    await expect(ji.inference([samples[0]!], { postProcess: firstRow })).rejects.toMatchObject({
      code: 'SEDNA_ERR_HEM_INPUT',
    });
    expect(ji.stats.inferences).toBe(0);
    await ji.close();
    await expect(ji.inference([samples[0]!], { postProcess: firstRow })).rejects.toMatchObject({
      code: 'SEDNA_ERR_CLOSED',
    });
  });

  it('fails at create() when the edge model is missing', async () => {
    await expect(
      JointInference.create({
        estimator: await OnnxEstimator.create(),
        config: loadConfig({ MODEL_URL: '/nonexistent/edge.onnx' }),
        reporter: false,
      }),
    ).rejects.toMatchObject({ code: 'SEDNA_ERR_MODEL_NOT_FOUND' });
  });

  it("exposes Sedna's getHemAlgorithmFromConfig with overrides winning", () => {
    expect(
      JointInference.getHemAlgorithmFromConfig(
        { threshold_img: 0.9 },
        { HEM_NAME: 'IBT', HEM_PARAMETERS: '[{"key":"threshold_img","value":"0.5"}]' },
      ),
    ).toEqual({ method: 'IBT', param: { threshold_img: 0.9 } });
  });
});

describe('BigModelService', () => {
  it("serves /{JOB_NAME}/predict (sedna by default) and answers the Python edge's body", async () => {
    const service = await BigModelService.create({
      estimator: await OnnxEstimator.create(),
      config: loadConfig({ MODEL_URL: CLOUD_ONNX, BIG_MODEL_BIND_IP: '127.0.0.1', BIG_MODEL_BIND_PORT: '1' }),
      port: 0,
    });
    await service.start();
    try {
      expect(service.servername).toBe('sedna');
      const res = await fetch(`${service.url}/sedna/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ post_process: null, data: [samples[2]] }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { result: number[][] };
      expect(argmax(body.result[0]!)).toBe(labels[2]);
    } finally {
      await service.close();
    }
    const named = await BigModelService.create({
      estimator: await OnnxEstimator.create(),
      config: loadConfig({ JOB_NAME: 'helmet' }),
      modelUrl: CLOUD_ONNX,
      host: '127.0.0.1',
      port: 0,
    });
    expect(named.servername).toBe('helmet');
    await named.close();
  });

  it('micro-batches concurrent requests into fewer model runs with identical answers', async () => {
    const estimator = await OnnxEstimator.create({ modelUrl: CLOUD_ONNX });
    let runs = 0;
    const counting = new Proxy(estimator, {
      get(target, prop, receiver) {
        if (prop === 'predict') {
          return (x: number[][]) => {
            runs++;
            return target.predict(x);
          };
        }
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const service = await BigModelService.create({
      estimator: counting,
      config: loadConfig({}),
      modelUrl: false,
      host: '127.0.0.1',
      port: 0,
      maxConcurrency: 16,
      microBatch: { maxBatchSize: 8, maxDelayMs: 50 },
    });
    await service.start();
    const client = new ModelClient({ host: '127.0.0.1', port: service.port });
    try {
      const answers = await Promise.all(samples.slice(0, 8).map((s) => client.inference([s])));
      expect(runs).toBeLessThan(8);
      for (let i = 0; i < 8; i++) expect(answers[i]).toEqual(await estimator.predict([samples[i]!]));
    } finally {
      client.close();
      await service.close();
    }
  });
});
