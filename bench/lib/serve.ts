/**
 * Benchmark servers, one per process: `tsx bench/lib/serve.ts bare|factory|predict|predict-metrics`. Prints the
 * URL of the route under test on its first line, then (predict modes) the URL of a side listener that
 * answers this process's `process.cpuUsage()`, so a bench can count CPU time per request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from '../../src/service/server/base.js';
import { InferenceServer } from '../../src/service/server/inference-server.js';

const mode = process.argv[2];
const hello = { hello: 'world' };

if (mode === 'bare') {
  const server = http.createServer((req, res) => {
    if (req.url === '/hello') {
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(hello));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  server.keepAliveTimeout = 72_000;
  server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hello`));
} else if (mode === 'factory') {
  const server = await createServer({ name: 'bench', host: '127.0.0.1', port: 0 });
  server.app.get('/hello', () => hello);
  const url = await server.listen();
  console.log(`${url}/hello`);
} else if (mode === 'predict' || mode === 'predict-metrics') {
  // A trivial model: the sum of each sample.
  const server = await InferenceServer.create({
    host: '127.0.0.1',
    port: 0,
    metrics: mode === 'predict-metrics',
    maxConcurrency: 64,
    maxQueue: 1024,
    model: { inference: (data) => (data as number[][]).map((row) => row.reduce((a, b) => a + b, 0)) },
  });
  await server.start();
  const cpu = http.createServer((_req, res) => res.end(JSON.stringify(process.cpuUsage())));
  await new Promise<void>((resolve) => cpu.listen(0, '127.0.0.1', resolve));
  console.log(`${server.endpoint}/predict http://127.0.0.1:${(cpu.address() as AddressInfo).port}/cpu`);
} else {
  console.error('usage: serve.ts bare|factory|predict|predict-metrics');
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));
