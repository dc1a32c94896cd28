/**
 * Each client of a federated round gets the aggregate in the precision its encoding carries
 * (issue 13 item 2): a JSON client the float64 weighted mean exactly as Sedna's numpy server
 * computes it (`row += W_c * n_c / total`, client by client), a float64 binary client the same
 * float64 values, a float32 binary client that mean rounded once. Real server on 127.0.0.1, raw
 * WebSocket peers; the updates are sent one after another, each accepted before the next, so the
 * order of summation is known.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import type { AggregationServer, AggregationServerOptions } from '../../src/service/server/aggregation-server.js';
import { FedAvg } from '../../src/algorithms/aggregation/fedavg.js';
import { UpdateQueue, type ClientUpdate } from '../../src/algorithms/aggregation/base.js';
import type { WeightRecord } from '../../src/backend/weights.js';
import { RawClient, type Received } from '../helpers/raw-ws.js';
import { SHARED } from '../helpers/shared.js';
import { startAggregator } from '../helpers/fl.js';

const servers: AggregationServer[] = [];
const peers: RawClient[] = [];

async function startServer(options: AggregationServerOptions): Promise<AggregationServer> {
  const server = await startAggregator(options);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.kill()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

type Kind = 'json' | 'float32' | 'float64';

interface Participant {
  readonly id: string;
  readonly kind: Kind;
  readonly numSamples: number;
  /** One flat tensor per entry (float32 values for a float32 client). */
  readonly tensors: readonly (readonly number[])[];
}

/** Sedna's FedAvg as numpy runs it: zeros, then `row += W * n / total` for each client in order. */
function sednaReference(participants: readonly Participant[]): Float64Array[] {
  const total = participants.reduce((sum, p) => sum + p.numSamples, 0);
  return (participants[0] as Participant).tensors.map((first, t) => {
    const row = new Float64Array(first.length);
    for (const p of participants) {
      const w = p.tensors[t] as readonly number[];
      for (let i = 0; i < row.length; i++) row[i] = (row[i] as number) + ((w[i] as number) * p.numSamples) / total;
    }
    return row;
  });
}

/** Σ n·W / Σ n with one running float64 sum: the arithmetic the numpy order must be told apart from. */
function sumThenDivide(participants: readonly Participant[]): Float64Array[] {
  const total = participants.reduce((sum, p) => sum + p.numSamples, 0);
  return (participants[0] as Participant).tensors.map((first, t) => {
    const sum = new Float64Array(first.length);
    for (const p of participants) {
      const w = p.tensors[t] as readonly number[];
      for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + (w[i] as number) * p.numSamples;
    }
    return sum.map((v) => v / total);
  });
}

function records(p: Participant): WeightRecord[] {
  return p.tensors.map((values, t) =>
    p.kind === 'float64'
      ? { name: `t${t}`, dtype: 'float64', shape: [values.length], data: Float64Array.from(values) }
      : { name: `t${t}`, dtype: 'float32', shape: [values.length], data: Float32Array.from(values) },
  );
}

const recvWeight = (f: Received): boolean => f.json.type === 'recv_weight';

/** Same bits, element by element (-0 and +0 differ). */
function expectBits(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(Array.from(actual).map((v) => (Object.is(v, -0) ? '-0' : v))).toEqual(
    Array.from(expected).map((v) => (Object.is(v, -0) ? '-0' : v)),
  );
}

/**
 * Runs one round: every participant subscribes in its encoding, then sends its update once the
 * previous one is accepted. Returns what each received.
 */
async function runRound(participants: readonly Participant[]): Promise<Map<string, Received>> {
  const server = await startServer({ participantsCount: participants.length });
  const clients = new Map<string, RawClient>();
  for (const p of participants) {
    const client = await RawClient.connect(server.wsUrl);
    peers.push(client);
    await client.subscribe(p.id, p.kind === 'json' ? {} : { encoding: 'binary' });
    clients.set(p.id, client);
  }
  for (const p of participants) {
    const client = clients.get(p.id) as RawClient;
    const accepted = new Promise<void>((resolve, reject) => {
      const onUpdate = (event: { client: string; outcome: string }): void => {
        if (event.client !== p.id) return;
        server.off('update', onUpdate);
        if (event.outcome === 'accepted') resolve();
        else reject(new Error(`update of ${p.id}: ${event.outcome}`));
      };
      server.on('update', onUpdate);
    });
    if (p.kind === 'json') {
      client.sendJson({
        type: 'update_weight',
        client: p.id,
        data: { num_samples: p.numSamples, weights: p.tensors },
        job_name: 'j',
      });
    } else {
      client.sendBinary(
        { type: 'update_weight', data: { num_samples: p.numSamples }, job_name: 'j', round_number: 1 },
        records(p),
      );
    }
    await accepted;
  }
  const received = new Map<string, Received>();
  for (const p of participants) received.set(p.id, await (clients.get(p.id) as RawClient).waitFor(recvWeight));
  return received;
}

/** Checks what each participant received against the float64 reference, in its own precision. */
function expectPrecisionPerClient(participants: readonly Participant[], received: Map<string, Received>): void {
  const reference = sednaReference(participants);
  for (const p of participants) {
    const frame = received.get(p.id) as Received;
    if (p.kind === 'json') {
      expect(frame.weights).toBeUndefined();
      const lists = (frame.json.data as { weights: number[][] }).weights;
      expect(lists).toHaveLength(reference.length);
      reference.forEach((want, t) => expectBits(lists[t] as number[], want));
      continue;
    }
    const weights = frame.weights as WeightRecord[];
    expect(weights.map((w) => w.dtype)).toEqual(reference.map(() => p.kind));
    reference.forEach((want, t) => {
      const got = (weights[t] as WeightRecord).data;
      // float32: the float64 mean rounded once.
      expectBits(got as Float32Array | Float64Array, p.kind === 'float64' ? want : Float32Array.from(want));
    });
  }
}

const f32 = (values: number[]): number[] => values.map((v) => Math.fround(v));

describe('a round that mixes encodings gives each client the precision its encoding carries', () => {
  it('binary float32 beside JSON: the JSON client gets the float64 mean bit-exact, the binary one its float32 rounding', async () => {
    const participants: Participant[] = [
      { id: 'bin32', kind: 'float32', numSamples: 3, tensors: [f32([0.1, -0.7, 1.3]), f32([2.5e-3])] },
      { id: 'json', kind: 'json', numSamples: 7, tensors: [[0.2, 0.30000000000000004, -1.1], [1 / 3]] },
    ];
    const reference = sednaReference(participants);
    // The case the issue is about: the float32 rounding differs from the float64 mean.
    expect(reference.flatMap((t) => Array.from(t)).some((v) => Math.fround(v) !== v)).toBe(true);
    expectPrecisionPerClient(participants, await runRound(participants));
  });

  it('binary float64 beside binary float32 (and JSON): float64 to the float64 client, float32 to the other', async () => {
    const participants: Participant[] = [
      { id: 'bin32', kind: 'float32', numSamples: 5, tensors: [f32([0.1, 0.2, -3.75])] },
      { id: 'bin64', kind: 'float64', numSamples: 11, tensors: [[Math.PI, -Math.E, 1e-9]] },
      { id: 'json', kind: 'json', numSamples: 2, tensors: [[0.7, 0.1, 2.0]] },
    ];
    expectPrecisionPerClient(participants, await runRound(participants));
  });

  it('the float64 clients get numpy order, not Σ n·W / Σ n (the two differ in the last bits here)', async () => {
    const participants: Participant[] = [
      { id: 'a', kind: 'json', numSamples: 3, tensors: [[0.1, 0.1, 0.1, 0.1]] },
      { id: 'b', kind: 'float64', numSamples: 7, tensors: [[0.1, 0.1, 0.7, 0.3]] },
      { id: 'c', kind: 'float32', numSamples: 13, tensors: [f32([0.1, 0.7, 0.9, 0.5])] },
    ];
    const numpy = sednaReference(participants)[0] as Float64Array;
    const plain = sumThenDivide(participants)[0] as Float64Array;
    expect(Array.from(numpy).every((v, i) => v !== plain[i])).toBe(true);
    expectPrecisionPerClient(participants, await runRound(participants));
  });
});

describe('golden capture: Python clients against Python Sedna (fl-ws-frames.json)', () => {
  interface CapturedFrame {
    dir: string;
    frame: string;
    parsed: { type: string; client?: string; data: { num_samples?: number; weights: unknown; round_number?: number } };
  }
  const capture = JSON.parse(fs.readFileSync(path.join(SHARED, 'captures/fl-ws-frames.json'), 'utf8')) as {
    frames: CapturedFrame[];
  };
  const sent = capture.frames.filter((f) => f.dir === 'client->server' && f.parsed.type === 'update_weight');
  const received = capture.frames.filter((f) => f.dir === 'server->client' && f.parsed.type === 'recv_weight');
  const flat = (value: unknown): number[] => (Array.isArray(value) ? value.flatMap(flat) : [value as number]);

  it.each([1, 2, 3])(
    'round %i: our aggregate to a JSON client and to a float64 binary client is the Python server’s, bit for bit',
    async (round) => {
      const updates = sent.slice((round - 1) * 2, round * 2);
      // Parsed from the exact captured text: JSON.parse reads Python's repr digits back to the same doubles.
      const python = JSON.parse(
        (received.find((f) => f.parsed.data.round_number === round) as CapturedFrame).frame,
      ) as { data: { weights: unknown[] } };
      const participants: Participant[] = updates.map((f, k) => ({
        id: f.parsed.client as string,
        // One Python client as it is, the other as a sedna-sdk client sending float64 tensors.
        kind: k === 0 ? 'json' : 'float64',
        numSamples: f.parsed.data.num_samples as number,
        tensors: (f.parsed.data.weights as unknown[]).map(flat),
      }));
      const got = await runRound(participants);
      const pythonTensors = python.data.weights.map(flat);
      const json = got.get(participants[0]!.id) as Received;
      (json.json.data as { weights: unknown[] }).weights.forEach((w, t) => expectBits(flat(w), pythonTensors[t]!));
      const binary = got.get(participants[1]!.id) as Received;
      (binary.weights as WeightRecord[]).forEach((w, t) => {
        expect(w.dtype).toBe('float64');
        expectBits(w.data as Float64Array, pythonTensors[t]!);
      });
      // The captured aggregate is not Σ n·W / Σ n: the numpy order is what makes it bit-exact.
      const plain = sumThenDivide(participants).flatMap((t) => Array.from(t));
      expect(plain).not.toEqual(pythonTensors.flat());
    },
  );
});

/** Random participants: 2-5 clients, at least one JSON, 1-2 tensors of 1-6 values. */
const participantsArb = fc
  .record({
    kinds: fc.array(fc.constantFrom<Kind>('json', 'float32', 'float64'), { minLength: 1, maxLength: 4 }),
    sizes: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 2 }),
    seedValues: fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 60, maxLength: 60 }),
    counts: fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 5, maxLength: 5 }),
  })
  .map(({ kinds, sizes, seedValues, counts }): Participant[] => {
    let next = 0;
    const value = (): number => seedValues[next++ % seedValues.length] as number;
    return ['json' as Kind, ...kinds].map((kind, c) => ({
      id: `c${c}`,
      kind,
      numSamples: counts[c] as number,
      tensors: sizes.map((size) =>
        Array.from({ length: size }, () => (kind === 'float32' ? Math.fround(value()) : value())),
      ),
    }));
  });

describe('property: the JSON client’s aggregate is the float64 reference', () => {
  it('through the server, for random rounds mixing JSON, float32 and float64 binary clients', async () => {
    await fc.assert(
      fc.asyncProperty(participantsArb, async (participants) => {
        const got = await runRound(participants);
        expectPrecisionPerClient(participants, got);
        await Promise.all(peers.splice(0).map((p) => p.kill()));
        await Promise.all(servers.splice(0).map((s) => s.close()));
      }),
      { numRuns: 15, seed: 1302 },
    );
  });

  it('in FedAvg itself, whether the updates come one at a time or queued together', async () => {
    await fc.assert(
      fc.asyncProperty(participantsArb, fc.boolean(), async (participants, queued) => {
        const updates = participants.map((p): ClientUpdate => ({
          client: p.id,
          numSamples: p.numSamples,
          encoding: p.kind === 'json' ? 'json' : 'binary',
          weights: p.kind === 'json' ? records({ ...p, kind: 'float64' }) : records(p),
        }));
        const fedavg = new FedAvg();
        let result;
        if (queued) result = await fedavg.aggregate(1, UpdateQueue.of(updates));
        else {
          const queue = new UpdateQueue();
          const running = fedavg.aggregate(1, queue);
          for (const u of updates) await queue.push(u);
          queue.end();
          result = await running;
        }
        const reference = sednaReference(participants);
        const wide = result.float64Weights ?? result.weights;
        reference.forEach((want, t) => {
          expectBits((wide[t] as WeightRecord).data as Float64Array, want);
          const out = (result.weights[t] as WeightRecord).data;
          expectBits(out as Float32Array | Float64Array, out instanceof Float32Array ? Float32Array.from(want) : want);
        });
      }),
      { numRuns: 300, seed: 1303 },
    );
  });
});
