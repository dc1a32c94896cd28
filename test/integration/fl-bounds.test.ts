/**
 * Issue 19: a federated job never hangs silently. The stall itself (a trainer that gave up on a
 * slow subscribe reply while the aggregator had registered it), then every bound of the
 * aggregation server, client and job, each with a hostile or stalled peer: the bound passes, the
 * worker logs what it waited for at error level (what LOG_LEVEL=error still prints) and fails with
 * a coded error.
 */
import { once } from 'node:events';
import { WebSocketServer, type WebSocket } from 'ws';
import { loadConfig } from '../../src/common/config.js';
import { FederatedLearning } from '../../src/core/federated-learning/index.js';
import { AggregationClient } from '../../src/service/client/aggregation-client.js';
import { AggregationServer } from '../../src/service/server/aggregation-server.js';
import { CLOSE_CODES } from '../../src/service/aggregation-protocol.js';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import type { WeightRecord } from '../../src/backend/weights.js';
import { rejectionOf } from '../helpers/errors.js';
import { startAggregator, trainerConfig } from '../helpers/fl.js';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture.js';
import { RawClient } from '../helpers/raw-ws.js';
import { SoftmaxEstimator, loadDigits } from '../helpers/softmax-estimator.js';
import { deadPort } from '../helpers/scripted-server.js';
import { TcpRelay } from '../helpers/tcp-relay.js';

const digits = loadDigits();
const shard = { x: digits.train.x.slice(0, 200), y: digits.train.y.slice(0, 200) };

let logs: CapturedLogs;
beforeEach(() => {
  logs = captureLogs('error');
});
afterEach(() => logs.restore());

const errorLines = (component: string): Record<string, unknown>[] =>
  logs.lines().filter((l) => l.component === component && l.level === 50);

const config = (port: number, name: string, extra: Record<string, string> = {}) =>
  trainerConfig(port, name, { jobName: 'fl-bounds', lcServer: 'http://127.0.0.1:9' }, extra);
const startServer = startAggregator;

const estimator = (seed: number) => new SoftmaxEstimator({ features: 64, classes: 10, seed });
const update = (client: string, n = 10) => ({
  type: 'update_weight',
  client,
  data: { num_samples: n, weights: [[1, 2]] },
  job_name: 'j',
});

describe('the stall of issue 19: a subscribe reply that arrives late', () => {
  it('is retried, not fatal: the trainer rejoins the place the aggregator kept for it and the job finishes', async () => {
    const server = await startServer({ participantsCount: 1, exitRound: 1 });
    const relay = await TcpRelay.start(server.port);
    // The first connection's reply never comes (as under load, later than the attempt deadline).
    relay.on('link', (link) => {
      if (link.index === 0) link.holdAfterHead();
    });
    const joins: boolean[] = [];
    server.on('client-join', (e) => joins.push(e.rejoin));
    try {
      const job = await FederatedLearning.create({
        estimator: estimator(1),
        config: config(relay.port, 'slow'),
        lcClient: false,
        client: { attemptTimeoutMs: 300, retry: { baseDelayMs: 10, maxDelayMs: 50 } },
      });
      await relay.links[0]!.clientClosed; // the first attempt gave up on its reply
      const result = await job.train(shard);
      expect(result.rounds.map((r) => [r.round, r.exitFlag])).toEqual([[1, 'ok']]);
      expect(relay.links.length).toBeGreaterThanOrEqual(2);
      // Wherever the first subscribe got to, the trainer ended in the round, and nothing failed.
      expect(joins.at(-1)).toBe(joins.length > 1);
      expect(errorLines('fl.client')).toEqual([]);
      await job.close();
      await server.done;
    } finally {
      await relay.close();
      await server.close();
    }
  });

  it('a "duplicate client" answer after a subscribe that may have registered us is retried until the old connection is gone', async () => {
    const server = await startServer({ participantsCount: 1, exitRound: 1 });
    const relay = await TcpRelay.start(server.port);
    relay.on('link', (link) => {
      if (link.index === 0) {
        // The aggregator registers the first subscribe, its reply is lost, and it does not see
        // that connection die until the retry has been refused.
        link.holdAfterHead();
        link.keepServerSide = true;
      }
      if (link.index === 1) void link.serverClosed.then(() => relay.links[0]!.closeServerSide());
    });
    server.once('client-join', () => relay.links[0]!.closeClientSide());
    const refused: string[] = [];
    server.on('client-error', (e) => refused.push(e.code));
    try {
      const job = await FederatedLearning.create({
        estimator: estimator(2),
        config: config(relay.port, 'ghost'),
        lcClient: false,
        client: { retry: { baseDelayMs: 10, maxDelayMs: 50 } },
      });
      expect(refused).toContain('SEDNA_ERR_DUPLICATE_CLIENT');
      const result = await job.train(shard);
      expect(result.rounds).toHaveLength(1);
      await job.close();
      await server.done;
    } finally {
      await relay.close();
      await server.close();
    }
  });

  it('a duplicate id on a first subscribe that nothing of ours could have made is still a configuration error', async () => {
    const server = await startServer({ participantsCount: 2 });
    const first = await RawClient.connect(server.wsUrl);
    await first.subscribe('twin');
    try {
      const error = await rejectionOf(
        AggregationClient.create({ url: server.wsUrl, clientId: 'twin', connectTimeoutMs: 5_000 }),
      );
      expect(error).toMatchObject({ code: 'SEDNA_ERR_DUPLICATE_CLIENT' });
    } finally {
      await first.close();
      await server.close();
    }
  });
});

// Round 1 opens with nobody connected (stuck from the start): the bounds below leave the clients'
// connecting a wide margin, even on a loaded machine.
describe('aggregation server: a round that cannot complete ends the job', () => {
  it('fails with SEDNA_ERR_ROUND_STALLED once the missing participant has been away for stallTimeoutMs', async () => {
    const server = await startServer({
      participantsCount: 2,
      minClients: 2,
      roundTimeoutMs: 0,
      stallTimeoutMs: 1_000,
      reconnectGraceMs: 60_000,
      exitRound: 2,
    });
    const failed = once(server, 'failed');
    const a = await RawClient.connect(server.wsUrl);
    const b = await RawClient.connect(server.wsUrl);
    await a.subscribe('a');
    await b.subscribe('b');
    const accepted = once(server, 'update');
    a.sendJson(update('a'));
    await accepted;
    const started = Date.now();
    await b.kill(); // b's trainer dies; a has sent its update and waits for the aggregate
    const error = await rejectionOf(server.done);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(error).toMatchObject({
      code: 'SEDNA_ERR_ROUND_STALLED',
      details: {
        round: 1,
        bound: 'stallTimeoutMs',
        updatesReceived: 1,
        contributors: ['a'],
        participantsCount: 2,
        clientsSeen: 2,
        neverSeen: 0,
        lastMessage: { client: 'a', type: 'update_weight' },
      },
    });
    const clients = error.details.clients;
    expect(clients).toEqual([
      expect.objectContaining({ client: 'a', state: 'connected', contributed: true, lastMessage: 'update_weight' }),
      expect.objectContaining({ client: 'b', state: 'disconnected', contributed: false, lastMessage: 'subscribe' }),
    ]);
    expect((await failed)[0]).toMatchObject({ error: { code: 'SEDNA_ERR_ROUND_STALLED' } });
    // The client still there is told why, with the code's close code.
    expect((await a.closed).code).toBe(CLOSE_CODES.SEDNA_ERR_ROUND_STALLED);
    expect(a.ofType('error').map((f) => f.json.code)).toEqual(['SEDNA_ERR_ROUND_STALLED']);
    // What a worker running with LOG_LEVEL=error prints: the round, who it waited for and why.
    const [line] = errorLines('fl.server');
    expect(line).toMatchObject({ round: 1, updatesReceived: 1, clientsSeen: 2 });
    expect(line!.msg).toMatch(/round 1 stalled .*1 of 2 updates in .*waiting for b \(disconnected/);
  });

  it('fails when no participant ever comes (stallTimeoutMs from the round opening)', async () => {
    const server = await startServer({ participantsCount: 2, stallTimeoutMs: 200 });
    const error = await rejectionOf(server.done);
    expect(error).toMatchObject({
      code: 'SEDNA_ERR_ROUND_STALLED',
      details: { round: 1, clientsSeen: 0, neverSeen: 2, updatesReceived: 0 },
    });
    expect(errorLines('fl.server')[0]!.msg).toMatch(/waiting for 2 participant\(s\) never seen/);
  });

  it('fails at roundDeadlineMs when a client answers pings but never sends its update', async () => {
    const server = await startServer({
      participantsCount: 1,
      roundDeadlineMs: 1_000,
      stallTimeoutMs: 60_000,
      pingIntervalMs: 50,
    });
    const zombie = await RawClient.connect(server.wsUrl);
    await zombie.subscribe('zombie');
    const error = await rejectionOf(server.done);
    expect(error).toMatchObject({
      code: 'SEDNA_ERR_ROUND_STALLED',
      details: { round: 1, bound: 'roundDeadlineMs', updatesReceived: 0 },
    });
    expect((await zombie.closed).code).toBe(CLOSE_CODES.SEDNA_ERR_ROUND_STALLED);
    expect(errorLines('fl.server')[0]!.msg).toMatch(/roundDeadlineMs 1000 ms.*waiting for zombie \(connected/);
  });

  it('is not stalled while the round timeout will close the round (minClients are in)', async () => {
    const server = await startServer({
      participantsCount: 2,
      minClients: 1,
      roundTimeoutMs: 2_000, // longer than the stall bound: the round is stuck in the meantime
      stallTimeoutMs: 1_000,
      exitRound: 1,
    });
    const failures: unknown[] = [];
    server.on('failed', (e) => failures.push(e));
    const a = await RawClient.connect(server.wsUrl);
    const b = await RawClient.connect(server.wsUrl);
    await a.subscribe('a');
    await b.subscribe('b');
    await b.kill();
    const round = once(server, 'round');
    a.sendJson(update('a'));
    expect((await round)[0]).toMatchObject({ round: 1, closedBy: 'timeout', updatesReceived: 1 });
    await a.close();
    expect(await server.done).toMatchObject({ rounds: 1 });
    expect(failures).toEqual([]);
  });
});

describe('aggregation client and job: their own bounds', () => {
  /** An aggregator that subscribes clients (announcing `deadlineMs`), pings, and then does `onUpdate`. */
  async function hostileAggregator(
    deadlineMs: number,
    onSubscribed: (socket: WebSocket) => void = () => undefined,
  ): Promise<{ port: number; close: () => Promise<void> }> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(wss, 'listening');
    const pinger = setInterval(() => {
      for (const socket of wss.clients) socket.ping();
    }, 50);
    wss.on('connection', (socket) => {
      socket.on('error', () => undefined);
      socket.once('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString()) as Record<string, unknown>;
        const server = {
          name: 'sedna-sdk',
          encoding: 'binary',
          round_number: 1,
          update_received: false,
          max_message_bytes: 1 << 30,
          exit_round: 1,
          participants_count: 1,
          round_deadline_ms: deadlineMs,
        };
        socket.send(JSON.stringify({ ...frame, server }), () => onSubscribed(socket));
      });
    });
    return {
      port: (wss.address() as { port: number }).port,
      close: () =>
        new Promise((resolve) => {
          clearInterval(pinger);
          for (const socket of wss.clients) socket.terminate();
          wss.close(() => resolve());
        }),
    };
  }

  it('a trainer gets no aggregate: fails with SEDNA_ERR_ROUND_STALLED at the announced deadline plus CONNECT_TIMEOUT, logged and reported', async () => {
    const aggregator = await hostileAggregator(300);
    const lc = await LCEmulator.start({ host: '127.0.0.1' });
    const job = await FederatedLearning.create({
      estimator: estimator(3),
      config: config(aggregator.port, 'waiting', { CONNECT_TIMEOUT: '0.5', LC_SERVER: lc.url }),
    });
    try {
      const started = Date.now();
      const error = await rejectionOf(job.train(shard));
      expect(Date.now() - started).toBeGreaterThanOrEqual(750); // 300 ms deadline + 500 ms CONNECT_TIMEOUT
      expect(error).toMatchObject({
        code: 'SEDNA_ERR_ROUND_STALLED',
        details: { waitingFor: 'an aggregate', round: 1, boundMs: 800, connected: true, pendingUpdateRound: 1 },
      });
      const [line] = errorLines('fl.client');
      expect(line).toMatchObject({ waitingFor: 'an aggregate', round: 1, lastMessage: { type: 'subscribe' } });
      expect(line!.msg).toBe('waited 800 ms for an aggregate from the aggregation server (round 1); giving up');
      // The job says so to the LocalController.
      await lc.waitFor((r) => r.length >= 1, 5_000);
      expect(JSON.parse(lc.reports.at(-1)!.raw)).toMatchObject({ kind: 'train', status: 'failed' });
    } finally {
      await job.close();
      await lc.close();
      await aggregator.close();
    }
  });

  it('a server that stops reading: the send fails with SEDNA_ERR_TIMEOUT after sendTimeoutMs instead of waiting forever', async () => {
    const aggregator = await hostileAggregator(60_000, (socket) => {
      (socket as unknown as { _socket: { pause(): void } })._socket.pause();
    });
    const client = await AggregationClient.create({
      url: `ws://127.0.0.1:${aggregator.port}/FedAvg`,
      clientId: 'blocked',
      sendTimeoutMs: 300,
      reconnect: false,
    });
    try {
      // 16 MB: more than the kernel buffers of a connection whose reader does not read.
      const weights: WeightRecord[] = [
        { name: 'w', dtype: 'float32', shape: [4_194_304], data: new Float32Array(4_194_304) },
      ];
      const error = await rejectionOf(client.sendUpdate(weights, 10));
      expect(error).toMatchObject({ code: 'SEDNA_ERR_TIMEOUT', details: { waitingFor: 'a frame to be written' } });
      expect(errorLines('fl.client')[0]!.msg).toMatch(/did not take a \d+-byte frame within 300 ms/);
      expect(client.connected).toBe(false); // the connection was dropped
    } finally {
      await client.close();
      await aggregator.close();
    }
  });

  it('connecting gives up at connectTimeoutMs with what it tried, logged', async () => {
    const port = await deadPort();
    const error = await rejectionOf(
      AggregationClient.create({
        url: `ws://127.0.0.1:${port}/FedAvg`,
        clientId: 'early',
        connectTimeoutMs: 300,
        retry: { baseDelayMs: 10, maxDelayMs: 50 },
      }),
    );
    expect(error).toMatchObject({ code: 'SEDNA_ERR_TIMEOUT', details: { client: 'early', rejoin: false } });
    const [line] = errorLines('fl.client');
    expect(line!.msg).toMatch(/^gave up connecting to the aggregation server after \d+ attempts$/);
    expect(line!.lastError).toMatch(/ECONNREFUSED|cannot reach/);
  });

  it('recv() without a timeout is bounded too (waitTimeoutMs)', async () => {
    const aggregator = await hostileAggregator(60_000);
    const client = await AggregationClient.create({
      url: `ws://127.0.0.1:${aggregator.port}/FedAvg`,
      clientId: 'listener',
      waitTimeoutMs: 200,
    });
    try {
      expect(await rejectionOf(client.recv('news'))).toMatchObject({
        code: 'SEDNA_ERR_TIMEOUT',
        details: { waitingFor: 'a "news" frame', boundMs: 200 },
      });
    } finally {
      await client.close();
      await aggregator.close();
    }
  });
});

// setTimeout keeps at most 2^31 - 1 ms (about 24.8 days) and fires a longer delay after 1 ms: a
// bound meant as "very long" must not become "at once".
describe('bounds longer than a timer can hold', () => {
  const DAYS_116 = '10000000'; // CONNECT_TIMEOUT in seconds: 10^10 ms

  it('a CONNECT_TIMEOUT of 116 days is a long wait, not an immediate failure: the job runs', async () => {
    // The aggregator as its pod runs it: every option from the injected variables.
    const aggregatorConfig = loadConfig({
      JOB_NAME: 'fl-bounds',
      AGG_BIND_IP: '127.0.0.1',
      AGG_BIND_PORT: '0',
      PARTICIPANTS_COUNT: '2',
      exit_round: '1',
      CONNECT_TIMEOUT: DAYS_116,
    });
    const server = await startServer({
      ...AggregationServer.optionsFromConfig(aggregatorConfig),
      roundDeadlineMs: 40 * 24 * 3_600_000,
    });
    const failures: string[] = [];
    server.on('failed', (e) => failures.push(e.error.message));
    try {
      // Round 1 is stuck from its opening (nobody connected) until the second trainer subscribes.
      const jobs = await Promise.all(
        ['long-a', 'long-b'].map((name) =>
          FederatedLearning.create({
            estimator: estimator(3),
            config: config(server.port, name, { CONNECT_TIMEOUT: DAYS_116 }),
            lcClient: false,
          }),
        ),
      );
      const results = await Promise.all(jobs.map((job) => job.train(shard)));
      expect(results.map((r) => r.rounds.map((x) => [x.round, x.exitFlag]))).toEqual([[[1, 'ok']], [[1, 'ok']]]);
      await Promise.all(jobs.map((job) => job.close()));
      await server.done;
      expect(failures).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
