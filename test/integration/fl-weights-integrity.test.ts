/**
 * Weights that arrive through a real WebSocket are never silently corrupted (issue 13, item 1)
 * and float data reaches a Python peer as floats (item 2). The server here is a scripted one on
 * 127.0.0.1 that answers as a sedna-sdk server would, so the frames it sends are under the
 * test's control (odd payload offsets, NaN).
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { encodeBinaryMessage } from '../../src/service/aggregation-protocol.js';
import { AggregationClient } from '../../src/service/client/aggregation-client.js';
import type { WeightRecord } from '../../src/backend/weights.js';
import { AggregationServer } from '../../src/service/server/aggregation-server.js';
import { rejectionOf } from '../helpers/errors.js';
import { RawClient } from '../helpers/raw-ws.js';
import { ModelClient } from '../../src/service/client/model-client.js';
import { scriptedServer } from '../helpers/scripted-server.js';

interface Scripted {
  url: string;
  /** The first text frame the client sent after subscribing. */
  firstText: Promise<string>;
  close(): Promise<void>;
}

/** Accepts one client, grants `encoding`, and answers each update with `aggregate`. */
async function scriptedAggregator(
  encoding: 'binary' | 'json',
  aggregate: (update: Buffer, socket: WebSocket) => void,
): Promise<Scripted> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  let gotText: (text: string) => void = () => undefined;
  const firstText = new Promise<string>((resolve) => {
    gotText = resolve;
  });
  wss.on('connection', (socket) => {
    socket.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) {
        const frame = JSON.parse(data.toString('utf8')) as { type: string };
        if (frame.type === 'subscribe') {
          const server = {
            name: 'sedna-sdk',
            encoding,
            round_number: 1,
            update_received: false,
            max_message_bytes: 1 << 20,
            exit_round: 1,
            participants_count: 1,
          };
          socket.send(JSON.stringify({ ...frame, server }));
          return;
        }
        gotText(data.toString('utf8'));
      }
      aggregate(data, socket);
    });
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/FedAvg`,
    firstText,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

const envelope = {
  type: 'recv_weight',
  client: 'c1',
  data: { total_sample: 3, round_number: 1, exit_flag: 'ok' },
  job_name: 'j',
  round_number: 1,
};

const f64 = (values: number[]): WeightRecord => ({
  name: 'w',
  dtype: 'float64',
  shape: [values.length],
  data: Float64Array.from(values),
});

describe('weights received over a real socket', () => {
  test('a float64 aggregate in binary mode arrives bit-exact (the payload sits at an odd offset of the socket buffer)', async () => {
    const sent = [0.25, -0.5, 0.125, 1e-300, -7.5];
    // ~200 bytes: ws puts a 4-byte header in front, so the tensor is not 8-aligned in the Buffer.
    const server = await scriptedAggregator('binary', (_u, socket) => {
      socket.send(encodeBinaryMessage(envelope, [f64(sent), { ...f64([3]), name: 'b' }]), { binary: true });
    });
    const client = await AggregationClient.create({ url: server.url, clientId: 'c1', reconnect: false });
    try {
      await client.sendUpdate([f64([1, 2, 3, 4, 5]), { ...f64([3]), name: 'b' }], 3);
      const got = await client.nextAggregate({ timeoutMs: 10_000 });
      expect(got.encoding).toBe('binary');
      expect(Array.from(got.weights[0]?.data as Float64Array)).toEqual(sent);
    } finally {
      await client.close();
      await server.close();
    }
  });

  test('an aggregate holding NaN or Infinity is a coded error, never handed to the model', async () => {
    const server = await scriptedAggregator('binary', (_u, socket) => {
      socket.send(encodeBinaryMessage(envelope, [f64([0.5, Number.NaN, 1])]), { binary: true });
    });
    const client = await AggregationClient.create({ url: server.url, clientId: 'c1', reconnect: false });
    try {
      await client.sendUpdate([f64([1, 2, 3])], 3);
      const error = await rejectionOf(client.nextAggregate({ timeoutMs: 10_000 }));
      expect(error.code).toBe('SEDNA_ERR_ROUND_FAILED');
      expect(error.message).toMatch(/NaN or infinite value at index 1/);
    } finally {
      await client.close();
      await server.close();
    }
  });

  test('in JSON mode, float weights go as Python floats ("1.0"), so a Python server builds float64 arrays', async () => {
    const server = await scriptedAggregator('json', () => undefined);
    const client = await AggregationClient.create({ url: server.url, clientId: 'c1', reconnect: false });
    try {
      await client.sendUpdate(
        [
          { name: 'k', dtype: 'float32', shape: [2, 2], data: Float32Array.from([0, 1, 0, 1]) },
          { name: 'b', dtype: 'int32', shape: [2], data: Int32Array.from([4, 5]) },
        ],
        3,
      );
      expect(await server.firstText).toContain('"weights":[[[0.0,1.0],[0.0,1.0]],[4,5]]');
    } finally {
      await client.close();
      await server.close();
    }
  });
});

test('num_samples sent as a numeric string (Python int() accepts it) counts as that number', async () => {
  const server = await AggregationServer.create({ host: '127.0.0.1', port: 0, participantsCount: 1 });
  await server.start();
  const peer = await RawClient.connect(server.wsUrl);
  try {
    await peer.subscribe('py1');
    peer.sendJson({
      type: 'update_weight',
      client: 'py1',
      data: { num_samples: '3', weights: [[0.5, 1.0]] },
      job_name: 'j',
    });
    const aggregate = await peer.waitFor((f) => f.json.type === 'recv_weight' || f.json.type === 'error');
    expect(aggregate.json.type).toBe('recv_weight');
    expect((aggregate.json.data as { total_sample: unknown }).total_sample).toBe(3);
  } finally {
    await peer.close();
    await server.close();
  }
});

test('the edge sends float features to the cloud as Python floats, as the Python edge does', async () => {
  const cloud = await scriptedServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"result":[1]}');
  });
  const client = new ModelClient({ host: '127.0.0.1', port: cloud.port });
  try {
    await client.inference(Float32Array.from([0, 1, 0, 1]));
    await client.inference([Float64Array.from([0.5, 2]), Int32Array.from([3])]);
    // The captured Python edge: {"post_process": null, "data": [0.0, 0.5, 1.0, 0.2]}.
    expect(cloud.bodies).toEqual([
      '{"post_process":null,"data":[0.0,1.0,0.0,1.0]}',
      '{"post_process":null,"data":[[0.5,2.0],[3]]}',
    ]);
  } finally {
    client.close();
    await cloud.close();
  }
});
