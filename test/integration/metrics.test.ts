/**
 * Prometheus metrics from the one server factory (issue 17, item 4): `/metrics` exists only when
 * asked for, counts answered requests by route and status, errors by SEDNA_ERR_* code, and the
 * servers' own families (the inference queue, FL rounds and bytes).
 */
import { SednaError } from '../../src/common/errors.js';
import { createServer } from '../../src/service/server/base.js';
import { InferenceServer } from '../../src/service/server/inference-server.js';
import { loadMetricsConfig } from '../../src/common/config.js';
import { AggregationServer } from '../../src/service/server/aggregation-server.js';
import { RawClient } from '../helpers/raw-ws.js';

/** The value of one sample line `name{labels} value` in an exposition text (undefined when absent). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inside = line.slice(name.length + 1, line.lastIndexOf('}'));
    const found = Object.fromEntries(
      [...inside.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] as string, m[2] as string]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

test('SEDNA_METRICS turns metrics on; they are off by default', () => {
  expect(loadMetricsConfig({}).enabled).toBe(false);
  expect(loadMetricsConfig({ SEDNA_METRICS: 'true' }).enabled).toBe(true);
  expect(() => loadMetricsConfig({ SEDNA_METRICS: 'maybe' })).toThrow(SednaError);
});

test('without metrics there is no /metrics route and no metrics object', async () => {
  const server = await createServer({ name: 'plain', metrics: false });
  server.app.get('/x', () => ({ ok: true }));
  try {
    await server.listen();
    expect(server.metrics).toBeUndefined();
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe('SEDNA_ERR_NOT_FOUND');
  } finally {
    await server.close();
  }
});

test('/metrics counts requests by route and status, latency, and errors by code', async () => {
  const server = await createServer({ name: 'metered', metrics: true });
  server.app.get('/ok/:id', () => ({ ok: true }));
  server.app.get('/bad', () => {
    throw new SednaError('SEDNA_ERR_INVALID_ARGUMENT', 'no');
  });
  try {
    await server.listen();
    for (let i = 0; i < 3; i += 1) expect((await fetch(`${server.url}/ok/${i}`)).status).toBe(200);
    expect((await fetch(`${server.url}/bad`)).status).toBe(400);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    // One series per route pattern, not per URL: /ok/0, /ok/1, /ok/2 count together.
    expect(sample(text, 'sedna_http_requests_total', { server: 'metered', route: '/ok/:id', status: '200' })).toBe(3);
    expect(sample(text, 'sedna_http_requests_total', { server: 'metered', route: '/bad', status: '400' })).toBe(1);
    expect(sample(text, 'sedna_http_request_duration_seconds_count', { server: 'metered', route: '/ok/:id' })).toBe(3);
    expect(sample(text, 'sedna_http_errors_total', { server: 'metered', code: 'SEDNA_ERR_INVALID_ARGUMENT' })).toBe(1);
    // The process-wide metrics come with every server's page.
    expect(text).toContain('sedna_process_nodejs_heap_size_used_bytes');
    // Scraping is not itself a counted request.
    expect(text).not.toContain('route="/metrics"');
  } finally {
    await server.close();
  }
});

test("an inference server's queue gauges read its limiter at scrape time", async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const server = await InferenceServer.create({
    metrics: true,
    maxConcurrency: 1,
    model: {
      inference: async () => {
        await gate;
        return [1];
      },
    },
  });
  try {
    const url = await server.start();
    const predict = (): Promise<Response> =>
      fetch(`${url}/sedna/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: [[0]] }),
      });
    const first = predict();
    const second = predict();
    // Wait until both requests are in: one on the model, one waiting for it.
    let text = '';
    for (;;) {
      text = await (await fetch(`${url}/metrics`)).text();
      if (sample(text, 'sedna_inference_queue_depth', {}) === 1) break;
      await new Promise((r) => setImmediate(r));
    }
    expect(sample(text, 'sedna_inference_active', {})).toBe(1);
    release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    text = await (await fetch(`${url}/metrics`)).text();
    expect(sample(text, 'sedna_inference_queue_depth', {})).toBe(0);
    expect(sample(text, 'sedna_inference_active', {})).toBe(0);
  } finally {
    await server.close();
  }
});

test("the aggregator's families: rounds, updates, bytes in and out, connected clients", async () => {
  const server = await AggregationServer.create({
    host: '127.0.0.1',
    port: 0,
    metrics: true,
    participantsCount: 2,
    exitRound: 2,
    exitGraceMs: 100,
  });
  await server.start();
  const clients: RawClient[] = [];
  try {
    const update = (client: string, values: number[]): string =>
      JSON.stringify({ type: 'update_weight', client, data: { num_samples: 1, weights: [values] }, job_name: 'j' });
    for (const id of ['a', 'b']) {
      const client = await RawClient.connect(server.wsUrl);
      await client.subscribe(id);
      clients.push(client);
    }
    const scrape = async (): Promise<string> => (await fetch(`${server.url}/metrics`)).text();
    expect(sample(await scrape(), 'sedna_fl_clients', {})).toBe(2);
    const [a, b] = clients as [RawClient, RawClient];
    const sentBytes = Buffer.byteLength(update('a', [1, 2])) + Buffer.byteLength(update('b', [3, 4]));
    a.sendText(update('a', [1, 2]));
    b.sendText(update('b', [3, 4]));
    await Promise.all([a, b].map((c) => c.waitFor((f) => f.json.type === 'recv_weight')));
    const text = await scrape();
    expect(sample(text, 'sedna_fl_rounds_total', {})).toBe(1);
    expect(sample(text, 'sedna_fl_updates_total', {})).toBe(2);
    expect(sample(text, 'sedna_fl_round_duration_seconds_count', {})).toBe(1);
    // Every client message counts (the two subscribes too); each client got one aggregate.
    expect(sample(text, 'sedna_fl_received_bytes_total', {})).toBeGreaterThan(sentBytes);
    expect(sample(text, 'sedna_fl_sent_bytes_total', {})).toBeGreaterThan(0);
  } finally {
    for (const c of clients) await c.kill();
    await server.close();
  }
});
