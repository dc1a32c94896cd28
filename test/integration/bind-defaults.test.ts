/**
 * Safe bind defaults (issue 13, item 7): no server listens on every interface unless asked.
 * Sedna's servers bind what Sedna binds (the *_BIND_IP variable, else the primary interface IP);
 * everything else binds loopback.
 */
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/common/config.js';
import { primaryHostIp } from '../../src/common/host-ip.js';
import { OnnxEstimator } from '../../src/backend/onnx.js';
import { BigModelService } from '../../src/core/joint-inference/big-model-service.js';
import { createServer } from '../../src/service/server/base.js';
import { AggregationServer } from '../../src/service/server/aggregation-server.js';
import { InferenceServer } from '../../src/service/server/inference-server.js';
import { CLOUD_ONNX } from '../helpers/backend-fixtures.js';

test('createServer and InferenceServer bind loopback when no host is given', async () => {
  const plain = await createServer({ name: 'bind' });
  const inference = await InferenceServer.create({ model: { inference: () => [] } });
  try {
    await plain.listen();
    await inference.start();
    expect((plain.app.server.address() as AddressInfo).address).toBe('127.0.0.1');
    expect((inference.app.server.address() as AddressInfo).address).toBe('127.0.0.1');
  } finally {
    await plain.close();
    await inference.close();
  }
});

test("BigModelService and AggregationServer bind Sedna's default, the primary interface, not 0.0.0.0", async () => {
  const config = loadConfig({});
  expect(config.bigModelBindIp).toBe(primaryHostIp());
  expect(config.aggBindIp).toBe(primaryHostIp());
  expect(AggregationServer.optionsFromConfig(config).host).toBe(primaryHostIp());
  const service = await BigModelService.create({
    estimator: await OnnxEstimator.create(),
    modelUrl: CLOUD_ONNX,
    config,
    port: 0,
  });
  const aggregator = await AggregationServer.create({ ...AggregationServer.optionsFromConfig(config), port: 0 });
  try {
    await service.start();
    await aggregator.start();
    expect((service as unknown as { server: InferenceServer }).server.app.server.address()).toMatchObject({
      address: primaryHostIp(),
    });
    expect(new URL(aggregator.url).hostname).toBe(primaryHostIp());
  } finally {
    await service.close();
    await aggregator.close();
  }
});

test('the variables still choose, 0.0.0.0 included', async () => {
  const config = loadConfig({ BIG_MODEL_BIND_IP: '0.0.0.0', AGG_BIND_IP: '127.0.0.1' });
  expect(config.bigModelBindIp).toBe('0.0.0.0');
  expect(AggregationServer.optionsFromConfig(config).host).toBe('127.0.0.1');
  const everywhere = await createServer({ name: 'bind', host: '0.0.0.0' });
  try {
    await everywhere.listen();
    expect((everywhere.app.server.address() as AddressInfo).address).toBe('0.0.0.0');
  } finally {
    await everywhere.close();
  }
});
