// Both backends load from and save to remote locations through FileOps: a real S3 server (Swift +
// s3api, started by globalSetup) and a plain HTTP server on loopback.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OnnxEstimator } from '../../src/backend/onnx.js';
import { TfjsEstimator } from '../../src/backend/tfjs.js';
import { FileOps } from '../../src/datasources/file-ops.js';
import { EDGE_ONNX, MLP_TFJS, loadDigits, sameWeights } from '../helpers/backend-fixtures.js';
import { s3TestSettings, uniquePrefix } from '../helpers/s3.js';
import fs from 'node:fs';
import path from 'node:path';
import { rejectionOf } from '../helpers/errors.js';

const test = loadDigits('test');
let fileOps: FileOps;
let base: string;

beforeAll(() => {
  const s3 = s3TestSettings();
  fileOps = new FileOps({
    s3: { endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region },
  });
  base = `s3://${s3.bucket}/${uniquePrefix('backends')}`;
});

afterAll(async () => {
  await fileOps.remove(base);
  await fileOps.close();
});

describe('ONNX models on S3', () => {
  it('saves the model bytes to a bucket and loads them back', async () => {
    const local = await OnnxEstimator.create({ modelUrl: EDGE_ONNX, fileOps });
    const url = `${base}/onnx/edge.onnx`;
    expect(await local.save(url)).toBe(url);
    expect(Buffer.from(await fileOps.readFile(url)).equals(fs.readFileSync(EDGE_ONNX))).toBe(true);
    const remote = await OnnxEstimator.create({ modelUrl: url, fileOps });
    expect(remote.modelSource).toBe(url);
    expect(await remote.predict(test.x.slice(0, 20))).toEqual(await local.predict(test.x.slice(0, 20)));
    expect(remote.modelInfo(url, { dataPathPrefix: '/home/data' })).toEqual([{ format: 'onnx', url, metrics: null }]);
    await Promise.all([local.close(), remote.close()]);
  });

  it('a missing object is SEDNA_ERR_MODEL_NOT_FOUND naming the URL', async () => {
    const url = `${base}/onnx/missing.onnx`;
    const err = await rejectionOf(OnnxEstimator.create({ modelUrl: url, fileOps }));
    expect(err.code).toBe('SEDNA_ERR_MODEL_NOT_FOUND');
    expect(err.message).toContain(url);
  });
});

describe('TF.js models on S3', () => {
  it('saves model.json + weights.bin under a prefix and loads them back bit-exactly', async () => {
    const local = await TfjsEstimator.create({ modelUrl: MLP_TFJS, fileOps });
    const url = `${base}/tfjs/mlp`;
    expect(await local.save(url)).toBe(url);
    expect(await fileOps.exists(`${url}/model.json`)).toBe(true);
    expect(await fileOps.exists(`${url}/weights.bin`)).toBe(true);
    const remote = await TfjsEstimator.create({ modelUrl: url, fileOps });
    expect(sameWeights(await remote.getWeights(), await local.getWeights())).toBe(true);
    expect(await remote.predict(test.x.slice(0, 20))).toEqual(await local.predict(test.x.slice(0, 20)));
    await Promise.all([local.close(), remote.close()]);
  });

  it('a missing model is SEDNA_ERR_MODEL_NOT_FOUND naming the URL', async () => {
    const url = `${base}/tfjs/missing`;
    const err = await rejectionOf(TfjsEstimator.create({ modelUrl: url, fileOps }));
    expect(err.code).toBe('SEDNA_ERR_MODEL_NOT_FOUND');
    expect(err.message).toContain(`${url}/model.json`);
  });
});

describe('models over HTTP (read-only)', () => {
  let server: http.Server;
  let origin: string;
  beforeAll(async () => {
    // Serves the fixtures folder; anything else is a 404.
    server = http.createServer((req, res) => {
      const file = path.join(path.dirname(EDGE_ONNX), decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      if (!file.startsWith(path.dirname(EDGE_ONNX)) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.end(fs.readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('loads an ONNX model and a TF.js folder from http:// URLs', async () => {
    const onnx = await OnnxEstimator.create({ modelUrl: `${origin}/digits-edge.onnx`, fileOps });
    const local = await OnnxEstimator.create({ modelUrl: EDGE_ONNX });
    expect(await onnx.predict(test.x.slice(0, 5))).toEqual(await local.predict(test.x.slice(0, 5)));
    const tfjs = await TfjsEstimator.create({ modelUrl: `${origin}/${path.basename(MLP_TFJS)}`, fileOps });
    expect((await tfjs.evaluate(test)).accuracy).toBeGreaterThan(0.97);
    // http(s) is read-only: saving there fails with FileOps' own code.
    expect((await rejectionOf(onnx.save(`${origin}/copy.onnx`))).code).toBe('SEDNA_ERR_NOT_SUPPORTED');
    await Promise.all([onnx.close(), local.close(), tfjs.close()]);
  });

  it('a 404 is SEDNA_ERR_MODEL_NOT_FOUND naming the URL', async () => {
    const url = `${origin}/nothing.onnx`;
    const err = await rejectionOf(OnnxEstimator.create({ modelUrl: url, fileOps }));
    expect(err.code).toBe('SEDNA_ERR_MODEL_NOT_FOUND');
    expect(err.message).toContain(url);
  });
});
