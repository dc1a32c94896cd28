/**
 * Round semantics of the aggregation server on 127.0.0.1: the round timeout with minClients
 * (a killed client no longer stalls the job), reconnecting with the same id, heartbeats around
 * a blocked client, progress events and the shutdown after the exit round.
 */
import path from 'node:path';
import { once } from 'node:events';
import {
  AggregationServer,
  type AggregationServerOptions,
  type RoundEvent,
} from '../../src/service/server/aggregation-server.js';
import { CLOSE_CODES } from '../../src/service/aggregation-protocol.js';
import { RawClient, f32 } from '../helpers/raw-ws.js';
import { runNode } from '../helpers/child.js';
import { ROOT } from '../helpers/paths.js';

async function startServer(options: AggregationServerOptions = {}): Promise<AggregationServer> {
  const server = await AggregationServer.create({ host: '127.0.0.1', port: 0, exitGraceMs: 100, ...options });
  await server.start();
  return server;
}

const jsonUpdate = (client: string, n: number, values: number[]) =>
  JSON.stringify({ type: 'update_weight', client, data: { num_samples: n, weights: [values] }, job_name: 'j' });

async function joined(server: AggregationServer, id: string, extra: Record<string, unknown> = {}) {
  const client = await RawClient.connect(server.wsUrl);
  const reply = await client.subscribe(id, extra);
  return { client, reply };
}

describe('round timeout and minClients', () => {
  it('closes a round with the clients that sent when one is killed mid-round', async () => {
    const server = await startServer({ participantsCount: 3, minClients: 2, roundTimeoutMs: 300, exitRound: 1 });
    const rounds: RoundEvent[] = [];
    server.on('round', (e) => rounds.push(e));
    const [{ client: a }, { client: b }, { client: c }] = await Promise.all([
      joined(server, 'a'),
      joined(server, 'b'),
      joined(server, 'c'),
    ]);
    a.sendText(jsonUpdate('a', 1, [1, 1]));
    b.sendText(jsonUpdate('b', 3, [5, 9]));
    await c.kill(); // dead before sending: Sedna would wait for it forever
    const [atA, atB] = await Promise.all([
      a.waitFor((f) => f.json.type === 'recv_weight'),
      b.waitFor((f) => f.json.type === 'recv_weight'),
    ]);
    expect(atA.json.data).toEqual({ total_sample: 4, round_number: 1, weights: [[4, 7]], exit_flag: 'ok' });
    expect(atB.json.data).toEqual(atA.json.data);
    expect(rounds).toHaveLength(1);
    expect(rounds[0]).toMatchObject({
      round: 1,
      updatesReceived: 2,
      totalSamples: 4,
      clients: ['a', 'b'],
      closedBy: 'timeout',
    });
    expect(rounds[0]!.roundTimeMs).toBeGreaterThanOrEqual(250);
    await Promise.all([a.close(), b.close()]);
    await server.close();
  });

  it('keeps waiting past the timeout until minClients updates are in, then closes at once', async () => {
    const server = await startServer({ participantsCount: 3, minClients: 2, roundTimeoutMs: 100, exitRound: 1 });
    const [{ client: a }, { client: b }] = await Promise.all([joined(server, 'a'), joined(server, 'b')]);
    const timedOut = once(server, 'round-timeout');
    a.sendText(jsonUpdate('a', 1, [2]));
    const [event] = (await timedOut) as [{ round: number; updatesReceived: number; minClients: number }];
    expect(event).toEqual({ round: 1, updatesReceived: 1, minClients: 2 });
    const round = once(server, 'round');
    b.sendText(jsonUpdate('b', 1, [4]));
    const [closed] = (await round) as [RoundEvent];
    expect(closed).toMatchObject({ updatesReceived: 2, closedBy: 'timeout' });
    expect((await a.waitFor((f) => f.json.type === 'recv_weight')).json.data).toMatchObject({ weights: [[3]] });
    await Promise.all([a.close(), b.close()]);
    await server.close();
  });
});

describe('reconnecting with the same id', () => {
  it('rejoins the round in progress with its update kept; clients joining later are told the round', async () => {
    const server = await startServer({ participantsCount: 2, exitRound: 2 });
    const { client: a } = await joined(server, 'a', { encoding: 'binary' });
    const update = once(server, 'update');
    a.sendBinary({ type: 'update_weight', client: 'a', data: { num_samples: 1 }, job_name: 'j', round_number: 1 }, [
      f32('w', [1], [2]),
    ]);
    await update;
    await a.kill();
    const { client: again, reply } = await joined(server, 'a', { encoding: 'binary' });
    expect(reply.json.server).toMatchObject({ round_number: 1, update_received: true });
    const { client: b } = await joined(server, 'b');
    b.sendText(jsonUpdate('b', 1, [4]));
    const agg = await again.waitFor((f) => f.json.type === 'recv_weight');
    expect(agg.json.data).toMatchObject({ total_sample: 2, round_number: 1 });
    expect(Array.from(agg.weights![0]!.data as Float32Array)).toEqual([3]);
    // A client connecting now is told round 2 is in progress.
    const { client: late, reply: lateReply } = await joined(server, 'late', { encoding: 'json' });
    expect(lateReply.json.server).toMatchObject({ encoding: 'json', round_number: 2, update_received: false });
    await Promise.all([again.close(), b.close(), late.close()]);
    await server.close();
  });

  it('sends an aggregate a client missed while away as soon as it is back', async () => {
    const server = await startServer({ participantsCount: 2, exitRound: 1 });
    const { client: a } = await joined(server, 'a');
    const { client: b } = await joined(server, 'b');
    const update = once(server, 'update');
    a.sendText(jsonUpdate('a', 1, [2]));
    await update;
    const left = once(server, 'client-leave');
    await a.kill();
    await left;
    b.sendText(jsonUpdate('b', 1, [4]));
    await b.waitFor((f) => f.json.type === 'recv_weight');
    const { client: back, reply } = await joined(server, 'a');
    expect(reply.json).toEqual({ type: 'subscribe', client_id: 'a' }); // Sedna's echo, then:
    const missed = await back.waitFor((f) => f.json.type === 'recv_weight');
    expect(missed.json.data).toEqual({ total_sample: 2, round_number: 1, weights: [[3]], exit_flag: 'ok' });
    await Promise.all([back.close(), b.close()]);
    await server.done;
  });

  it('forgets a client that does not come back within the grace period', async () => {
    const server = await startServer({ participantsCount: 2, reconnectGraceMs: 50 });
    const { client: a } = await joined(server, 'a');
    const reasons: string[] = [];
    server.on('client-leave', (e) => reasons.push(e.reason));
    const forgotten = new Promise<void>((resolve) =>
      server.on('client-leave', (e) => e.reason === 'did not reconnect' && resolve()),
    );
    await a.kill();
    await forgotten;
    expect(reasons[0]).toMatch(/^disconnected/);
    const rejoin = once(server, 'client-join');
    const { client: back } = await joined(server, 'a');
    expect(((await rejoin) as [{ rejoin: boolean }])[0].rejoin).toBe(false);
    await back.close();
    await server.close();
  });
});

describe('heartbeats', () => {
  it('drops a client that stops answering pings after the liveness timeout (4008)', async () => {
    const server = await startServer({ pingIntervalMs: 50, livenessTimeoutMs: 300 });
    const silent = await RawClient.connect(server.wsUrl, { autoPong: false });
    await silent.subscribe('silent');
    const error = await silent.waitFor((f) => f.json.type === 'error');
    expect(error.json.code).toBe('SEDNA_ERR_TIMEOUT');
    expect((await silent.closed).code).toBe(CLOSE_CODES.SEDNA_ERR_TIMEOUT);
    await server.close();
  });

  it('keeps a client whose event loop is blocked for 2 s by synchronous work, while pinging every 100 ms', async () => {
    const server = await startServer({ pingIntervalMs: 100, livenessTimeoutMs: 3_000 });
    const errors: string[] = [];
    server.on('client-error', (e) => errors.push(e.code));
    const updates: string[] = [];
    server.on('update', (e) => updates.push(`${e.client} r${e.round} ${e.outcome}`));
    const result = await runNode(
      ['--import', 'tsx', path.join(ROOT, 'test/helpers/fl-blocking-client.ts'), server.wsUrl, 'busy', '2000'],
      {
        cwd: ROOT,
        timeoutMs: 20_000,
      },
    );
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout.trim())).toEqual({ ok: true });
    expect(errors).toEqual([]);
    expect(updates).toEqual(['busy r1 accepted']);
    await server.close();
  });
});

describe('progress events and shutdown', () => {
  it('reports each round and closes every connection with 1000 after the exit round', async () => {
    const server = await startServer({ participantsCount: 2, exitRound: 2, exitGraceMs: 300 });
    const events: string[] = [];
    server.on('client-join', (e) => events.push(`join ${e.client}`));
    server.on('update', (e) => events.push(`update ${e.client} r${e.round} ${e.outcome}`));
    server.on('round', (e) =>
      events.push(`round ${e.round} ${e.exitFlag} joined=${e.clientsJoined} updates=${e.updatesReceived}`),
    );
    const { client: a } = await joined(server, 'a');
    const { client: b } = await joined(server, 'b');
    for (let round = 1; round <= 2; round++) {
      const got = Promise.all(
        [a, b].map((c) => c.waitFor((f) => f.json.type === 'recv_weight' && f.json.round_number === round)),
      );
      a.sendText(jsonUpdate('a', 1, [round]));
      b.sendText(jsonUpdate('b', 1, [round]));
      await got;
    }
    // The clients stay connected: the server closes them once the last aggregate is out.
    const [ca, cb, summary] = await Promise.all([a.closed, b.closed, server.done]);
    expect([ca.code, cb.code]).toEqual([1000, 1000]);
    expect(summary).toMatchObject({ rounds: 2, lastRound: { round: 2, exitFlag: 'ok' } });
    expect(events).toEqual([
      'join a',
      'join b',
      'update a r1 accepted',
      'update b r1 accepted',
      'round 1 continue joined=2 updates=2',
      'update a r2 accepted',
      'update b r2 accepted',
      'round 2 ok joined=2 updates=2',
    ]);
    await server.close();
  }, 20_000);
});
