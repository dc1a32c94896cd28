/**
 * The aggregation server's wire protocol on 127.0.0.1 with raw WebSocket peers: Sedna's JSON
 * frames replayed from the Python capture, the client list route, re-broadcast, a mixed
 * JSON/binary round, and every kind of bad input (coded error frame, drop, round goes on).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { AggregationServer, type AggregationServerOptions } from '../../src/service/server/aggregation-server.js';
import { CLOSE_CODES } from '../../src/service/aggregation-protocol.js';
import { SHARED } from '../helpers/shared.js';
import { RawClient, f32 } from '../helpers/raw-ws.js';

interface CapturedFrame {
  client: string;
  dir: 'client->server' | 'server->client';
  frame: string;
  parsed: Record<string, unknown>;
}
const capture = JSON.parse(fs.readFileSync(path.join(SHARED, 'captures/fl-ws-frames.json'), 'utf8')) as {
  frames: CapturedFrame[];
};

/** Keys in order and value types, recursively: the "shape" of a frame. */
function skeleton(value: unknown): unknown {
  if (Array.isArray(value)) return ['list', value.map(skeleton)];
  if (value === null) return 'null';
  if (typeof value === 'object') return Object.entries(value).map(([k, v]) => [k, skeleton(v)]);
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return typeof value;
}

function flat(value: unknown): number[] {
  return Array.isArray(value) ? value.flatMap(flat) : [value as number];
}

async function startServer(options: AggregationServerOptions = {}): Promise<AggregationServer> {
  const server = await AggregationServer.create({ host: '127.0.0.1', port: 0, ...options });
  await server.start();
  return server;
}

describe('Sedna v1 protocol: replaying the Python client', () => {
  it("answers the captured Python client frames with frames of exactly the Python server's shape", async () => {
    const server = await startServer({ participantsCount: 2, exitRound: 3 });
    const names = [...new Set(capture.frames.map((f) => f.client))];
    const clients = new Map<string, RawClient>();
    try {
      for (let i = 0; i < capture.frames.length; i++) {
        const f = capture.frames[i]!;
        if (f.dir !== 'client->server') continue;
        // Before each send, each client has what the capture shows it had received by then.
        for (const name of names) {
          const expected = capture.frames
            .slice(0, i)
            .filter((g) => g.client === name && g.dir === 'server->client').length;
          if (expected > 0) await clients.get(name)!.waitCount(expected);
        }
        let client = clients.get(f.client);
        if (client === undefined) {
          client = await RawClient.connect(server.wsUrl);
          clients.set(f.client, client);
        }
        client.sendText(f.frame); // the exact bytes Python sent
      }
      for (const name of names) {
        const expected = capture.frames.filter((g) => g.client === name && g.dir === 'server->client');
        const client = clients.get(name)!;
        await client.waitCount(expected.length);
        expect(client.frames.map((r) => r.json.type)).toEqual(expected.map((g) => g.parsed.type));
        client.frames.forEach((got, k) => {
          const want = expected[k]!.parsed;
          expect(got.text).toBeDefined(); // JSON mode: text frames only
          expect(skeleton(got.json)).toEqual(skeleton(want));
          if (want.type === 'recv_weight') {
            const { weights, ...rest } = got.json.data as Record<string, unknown>;
            const { weights: wantWeights, ...wantRest } = want.data as Record<string, unknown>;
            expect(rest).toEqual(wantRest);
            expect({ ...got.json, data: undefined }).toEqual({ ...want, data: undefined });
            const a = flat(weights);
            flat(wantWeights).forEach((v, j) => expect(a[j]).toBeCloseTo(v, 14));
          } else {
            expect(got.json).toEqual(want);
          }
        });
      }
      await Promise.all([...clients.values()].map((c) => c.close()));
      await expect(server.done).resolves.toMatchObject({ rounds: 3 });
    } finally {
      await Promise.all([...clients.values()].map((c) => c.close()));
      await server.close();
    }
  });
});

describe('AggregationServer: routes, re-broadcast and a mixed JSON/binary round', () => {
  let server: AggregationServer;
  beforeEach(async () => {
    server = await startServer({ participantsCount: 2, exitRound: 2 });
  });
  afterEach(async () => {
    await server.close();
  });

  it('lists clients at GET /{aggregation} and shows one by client_id (query or JSON body, as Sedna)', async () => {
    const a = await RawClient.connect(server.wsUrl);
    await a.subscribe('a');
    const list: unknown = await (await fetch(`${server.url}/FedAvg`)).json();
    expect(list).toEqual({ clients: ['a'] });
    const one = (await (await fetch(`${server.url}/FedAvg?client_id=a`)).json()) as Record<string, unknown>;
    expect(one).toMatchObject({ client_id: 'a', info: { encoding: 'json', connected: true, rounds_contributed: 0 } });
    expect(typeof one.connected_at).toBe('number');
    const viaBody = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        `${server.url}/FedAvg`,
        { method: 'GET', headers: { 'content-type': 'application/json', 'content-length': '17' } },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ client_id: 'a' }));
    });
    expect(viaBody.status).toBe(200);
    expect(JSON.parse(viaBody.body)).toMatchObject({ client_id: 'a' });
    const missing = await fetch(`${server.url}/FedAvg?client_id=zz`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'SEDNA_ERR_NOT_FOUND' });
    await expect(RawClient.connect(server.wsUrl.replace(/FedAvg$/, 'Other'))).rejects.toThrow(/404/);
    await a.close();
  });

  it('relays no other frame (Sedna re-broadcast them to every client; issue 13 item 4d): the sender keeps its place', async () => {
    const a = await RawClient.connect(server.wsUrl);
    const b = await RawClient.connect(server.wsUrl);
    await a.subscribe('a');
    await b.subscribe('b');
    a.sendText(JSON.stringify({ type: 'message', client: 'a', data: { hello: [1, 2] }, job_name: 'j' }));
    a.sendJson({ type: 'update_weight', client: 'a', data: { num_samples: 1, weights: [[1]] }, job_name: 'j' });
    b.sendJson({ type: 'update_weight', client: 'b', data: { num_samples: 1, weights: [[3]] }, job_name: 'j' });
    const [atA, atB] = await Promise.all([
      a.waitFor((f) => f.json.type === 'recv_weight'),
      b.waitFor((f) => f.json.type === 'recv_weight'),
    ]);
    expect([atA.json.data, atB.json.data]).toMatchObject([{ weights: [[2]] }, { weights: [[2]] }]);
    expect([a.ofType('message'), b.ofType('message')]).toEqual([[], []]);
    await Promise.all([a.close(), b.close()]);
  });

  it('aggregates a round with one binary and one JSON client; each gets the aggregate in its own encoding', async () => {
    const bin = await RawClient.connect(server.wsUrl);
    const json = await RawClient.connect(server.wsUrl);
    const hello = await bin.subscribe('bin', { encoding: 'binary' });
    expect(hello.json.server).toMatchObject({
      name: 'sedna-sdk',
      encoding: 'binary',
      round_number: 1,
      update_received: false,
    });
    const plain = await json.subscribe('json');
    expect(plain.json).toEqual({ type: 'subscribe', client_id: 'json' });
    bin.sendBinary({ type: 'update_weight', client: 'bin', data: { num_samples: 1 }, job_name: 'j', round_number: 1 }, [
      f32('w', [2], [1, 2]),
      f32('b', [], [10]),
    ]);
    json.sendJson({
      type: 'update_weight',
      client: 'json',
      data: { num_samples: 3, weights: [[5, 6], 30] },
      job_name: 'j',
    });
    const [atBin, atJson] = await Promise.all([
      bin.waitFor((f) => f.json.type === 'recv_weight'),
      json.waitFor((f) => f.json.type === 'recv_weight'),
    ]);
    expect(atBin.text).toBeUndefined();
    expect(atBin.json).toEqual({
      type: 'recv_weight',
      client: 'json',
      data: { total_sample: 4, round_number: 1, exit_flag: 'continue' },
      job_name: 'j',
      round_number: 1,
    });
    expect(atBin.weights!.map((w) => [w.dtype, w.shape, Array.from(w.data as Float32Array)])).toEqual([
      ['float32', [2], [4, 5]],
      ['float32', [], [25]],
    ]);
    expect(atJson.json).toEqual({
      type: 'recv_weight',
      client: 'json',
      data: { total_sample: 4, round_number: 1, weights: [[4, 5], 25], exit_flag: 'continue' },
      job_name: 'j',
      round_number: 1,
    });
    // Floats as Python writes them: a Python trainer's np.asarray gets float64, not int64 (issue 13).
    expect(atJson.text).toContain('"weights":[[4.0,5.0],25.0]');
    await Promise.all([bin.close(), json.close()]);
  });
});

describe('AggregationServer: bad input is refused with a coded error, and the round goes on', () => {
  it('drops each offending client with its code and close code; the others finish the round', async () => {
    const server = await startServer({
      participantsCount: 2,
      exitRound: 1,
      maxMessageBytes: 64 * 1024,
      exitGraceMs: 100,
    });
    const errors: { client: string | undefined; code: string }[] = [];
    server.on('client-error', (e) => errors.push({ client: e.client, code: e.code }));
    const good = await RawClient.connect(server.wsUrl);
    await good.subscribe('good', { encoding: 'binary' });
    good.sendBinary(
      { type: 'update_weight', client: 'good', data: { num_samples: 2 }, job_name: 'j', round_number: 1 },
      [f32('w', [2, 3], [1, 2, 3, 4, 5, 6]), f32('b', [3], [1, 1, 1])],
    );
    await new Promise<void>((resolve) => server.once('update', () => resolve()));

    const update = (weights: unknown, numSamples: unknown = 1) =>
      JSON.stringify({ type: 'update_weight', client: 'x', data: { num_samples: numSamples, weights }, job_name: 'j' });
    const okWeights = [
      [
        [1, 1, 1],
        [1, 1, 1],
      ],
      [1, 1, 1],
    ];
    const cases: { name: string; code: string; act: (c: RawClient) => Promise<void> | void }[] = [
      { name: 'a frame before subscribe', code: 'SEDNA_ERR_PROTOCOL', act: (c) => c.sendText(update(okWeights)) },
      {
        name: 'a binary frame before subscribe',
        code: 'SEDNA_ERR_PROTOCOL',
        act: (c) => c.sendBinary({ type: 'update_weight', data: { num_samples: 1 } }, [f32('w', [1], [1])]),
      },
      { name: 'text that is not JSON', code: 'SEDNA_ERR_PROTOCOL', act: (c) => c.sendText('{"type": "subscribe", ') },
      {
        name: 'a duplicate client id',
        code: 'SEDNA_ERR_DUPLICATE_CLIENT',
        act: (c) => c.sendJson({ type: 'subscribe', client_id: 'good' }),
      },
      ...(
        [
          [
            'shapes that differ from the round',
            'SEDNA_ERR_WEIGHTS_MISMATCH',
            update([
              [
                [1, 1],
                [1, 1],
              ],
              [1, 1, 1],
            ]),
          ],
          [
            'ragged lists',
            'SEDNA_ERR_WEIGHTS_MISMATCH',
            update([
              [[1, 1, 1], [1]],
              [1, 1, 1],
            ]),
          ],
          [
            "Python's NaN",
            'SEDNA_ERR_INVALID_UPDATE',
            update(okWeights).replace('[1, 1, 1]]', '[1, NaN, 1]]').replace('[1,1,1]]', '[1,NaN,1]]'),
          ],
          ["Python's Infinity", 'SEDNA_ERR_INVALID_UPDATE', update(okWeights).replace('[1,1,1]]', '[1,-Infinity,1]]')],
          ['a negative num_samples', 'SEDNA_ERR_INVALID_UPDATE', update(okWeights, -5)],
          ['a non-integer num_samples', 'SEDNA_ERR_INVALID_UPDATE', update(okWeights, 2.5)],
          // "10" is accepted, as Python's int() does (issue 13); "10.5" is refused there too.
          ['a num_samples string int() refuses', 'SEDNA_ERR_INVALID_UPDATE', update(okWeights, '10.5')],
          ['an update without data', 'SEDNA_ERR_PROTOCOL', JSON.stringify({ type: 'update_weight', client: 'x' })],
          [
            'a text frame over the size limit',
            'SEDNA_ERR_PAYLOAD_TOO_LARGE',
            JSON.stringify({ type: 'message', data: 'x'.repeat(70 * 1024) }),
          ],
        ] as const
      ).map(([name, code, text]) => ({
        name,
        code,
        act: async (c: RawClient) => {
          await c.subscribe(`bad-${name}`);
          c.sendText(text);
        },
      })),
      ...(
        [
          [
            'dtypes that differ from the round',
            'SEDNA_ERR_WEIGHTS_MISMATCH',
            [{ name: 'w', dtype: 'float64', shape: [2, 3], data: new Float64Array(6) }, f32('b', [3], [0, 0, 0])],
          ],
          [
            'a binary NaN',
            'SEDNA_ERR_INVALID_UPDATE',
            [f32('w', [2, 3], [1, 2, 3, NaN, 5, 6]), f32('b', [3], [0, 0, 0])],
          ],
          [
            'a binary infinity',
            'SEDNA_ERR_INVALID_UPDATE',
            [f32('w', [2, 3], [1, 2, 3, 4, 5, 6]), f32('b', [3], [0, Infinity, 0])],
          ],
          [
            'a binary frame over the size limit',
            'SEDNA_ERR_PAYLOAD_TOO_LARGE',
            [f32('w', [20_000], new Array<number>(20_000).fill(1)), f32('b', [3], [0, 0, 0])],
          ],
        ] as const
      ).map(([name, code, weights]) => ({
        name,
        code,
        act: async (c: RawClient) => {
          await c.subscribe(`bad-${name}`, { encoding: 'binary' });
          c.sendBinary({ type: 'update_weight', data: { num_samples: 1 }, job_name: 'j' }, weights as never);
        },
      })),
      {
        name: 'an update for a future round',
        code: 'SEDNA_ERR_PROTOCOL',
        act: async (c) => {
          await c.subscribe('future', { encoding: 'binary' });
          c.sendBinary({ type: 'update_weight', data: { num_samples: 1 }, round_number: 7 }, [
            f32('w', [2, 3], [1, 2, 3, 4, 5, 6]),
            f32('b', [3], [0, 0, 0]),
          ]);
        },
      },
    ];
    for (const c of cases) {
      const client = await RawClient.connect(server.wsUrl);
      await c.act(client);
      const error = await client.waitFor((f) => f.json.type === 'error');
      const closed = await client.closed;
      expect([c.name, error.json.code]).toEqual([c.name, c.code]);
      expect(typeof error.json.message).toBe('string');
      expect([c.name, closed.code, closed.reason]).toEqual([
        c.name,
        CLOSE_CODES[c.code as keyof typeof CLOSE_CODES],
        c.code,
      ]);
    }
    expect(errors.map((e) => e.code)).toEqual(cases.map((c) => c.code));
    // The round still completes with the well-behaved clients.
    const other = await RawClient.connect(server.wsUrl);
    await other.subscribe('other');
    other.sendText(
      JSON.stringify({
        type: 'update_weight',
        client: 'other',
        data: {
          num_samples: 2,
          weights: [
            [
              [3, 4, 5],
              [6, 7, 8],
            ],
            [3, 3, 3],
          ],
        },
        job_name: 'j',
      }),
    );
    const [atGood, atOther] = await Promise.all([
      good.waitFor((f) => f.json.type === 'recv_weight'),
      other.waitFor((f) => f.json.type === 'recv_weight'),
    ]);
    expect(Array.from(atGood.weights![0]!.data as Float32Array)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(atOther.json.data).toMatchObject({
      total_sample: 4,
      exit_flag: 'ok',
      weights: [
        [
          [2, 3, 4],
          [5, 6, 7],
        ],
        [2, 2, 2],
      ],
    });
    // After the exit round the server closes normally.
    const [closedGood, closedOther] = await Promise.all([good.closed, other.closed]);
    expect([closedGood.code, closedOther.code]).toEqual([1000, 1000]);
    await server.done;
    await server.close();
  });
});
