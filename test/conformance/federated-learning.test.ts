/**
 * The federated-learning example workers (v1, and v2: AggregationServerV2/FederatedLearningV2) as
 * they run in pods (child processes configured only by environment variables): an aggregator and
 * two trainers, the trainers reporting each round to the real LocalController. What the
 * GlobalManager receives.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runFederatedJob, writeFederatedShards } from '../helpers/fl-example.js';
import { ROOT } from '../helpers/paths.js';
import { RealLC, type GmMessage } from './real-lc.js';

const ROUNDS = 3;

describe('federated learning trainers → real LocalController', () => {
  let lc: RealLC;
  let tmp: string;

  beforeAll(async () => {
    lc = await RealLC.start();
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'fl-conformance-'));
  });
  afterAll(async () => {
    await lc.stop();
    await fsp.rm(tmp, { recursive: true, force: true });
  });

  async function expectReportsOfEveryRound(api: 'v1' | 'v2', jobName: string): Promise<void> {
    // Two shards of the digits train split, each with the header, under the pods' data mount.
    const hostData = path.join(tmp, `home-data-${jobName}`);
    const shards = writeFederatedShards(hostData);
    const results = await runFederatedJob({
      lcServer: lc.lcServer,
      hostData,
      shards,
      jobName,
      rounds: ROUNDS,
      api,
      timeoutMs: 90_000, // under the test timeout: a stalled worker is named, with its output's tail
    });
    expect(results.map((r) => [r.name, r.code, r.signal, r.stderr])).toEqual(
      ['aggworker', 'trainworker-0', 'trainworker-1'].map((name) => [name, 0, null, '']),
    );

    const mineOnly = (m: GmMessage): boolean => m.header.resourceName === jobName;
    const all = await lc.waitFor((m) => m.filter((x) => mineOnly(x) && x.content.status === 'completed').length >= 2);
    const fl = all.filter((m) => m.header.resourceKind === 'federatedlearningjob' && mineOnly(m));
    expect(fl).toHaveLength(2 * ROUNDS); // every round of every trainer reached the GM
    for (const m of fl) {
      expect(m.header).toEqual({
        namespace: 'default',
        resourceKind: 'federatedlearningjob',
        resourceName: jobName,
        operation: 'status',
      });
      expect(m.content.phase).toBe('train');
    }
    for (const k of [0, 1]) {
      // The LC forwards a trainer's reports in order; the models say whose they are.
      const mine = fl.filter((m) =>
        (m.content.output.models as { url: string }[])[0]!.url.includes(`trainworker-${k}`),
      );
      expect(mine.map((m) => m.content.status)).toEqual(['running', 'running', 'completed']);
      expect(mine.map((m) => m.content.output.ownerInfo!.currentRound)).toEqual([1, 2, 3]);
      for (const m of mine) {
        const models = m.content.output.models as { format: string; url: string; metrics: Record<string, unknown> }[];
        // DATA_PATH_PREFIX removed from the URLs: the GM knows host paths.
        expect(models.map((x) => [x.format, x.url])).toEqual([
          ['json', `/models/trainworker-${k}/model.json`],
          ['tfjs', `/models/trainworker-${k}`],
        ]);
        for (const value of Object.values(models[0]!.metrics)) expect(Array.isArray(value)).toBe(true);
        expect(m.content.output.ownerInfo).toMatchObject({ sampleCount: 500 });
      }
    }
  }

  it('reports every round as federatedlearningjob train status, completed at the end', async () => {
    await expectReportsOfEveryRound('v1', 'digits-fl');
  });

  it('the v2 workers (AggregationServerV2, FederatedLearningV2, FedAvgV2) report the same way', async () => {
    await expectReportsOfEveryRound('v2', 'digits-fl-v2');
  });

  it('reports from the Python worker\'s ownerKind "default" are dropped by the real LC (why we send federatedlearningjob)', async () => {
    const python = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'sedna', 'captures', 'fl-lc-reports.json'), 'utf8'),
    ) as {
      reports: { worker: string; raw: string }[];
    };
    const before = lc.messages().length;
    for (const report of python.reports) {
      const res = await fetch(`${lc.lcServer}/sedna/workers/${report.worker}/info`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: report.raw,
      });
      expect(res.status).toBe(200);
    }
    // A marker report after them: once it arrives, anything the Python reports produced would have too.
    const marker = {
      name: 'marker',
      namespace: 'fl-job',
      ownerName: 'fl-job',
      ownerKind: 'federatedlearningjob',
      kind: 'train',
      status: 'running',
    };
    await fetch(`${lc.lcServer}/sedna/workers/marker/info`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(marker),
    });
    const after = await lc.waitFor((m) => m.length > before);
    expect(after.slice(before).map((m: GmMessage) => m.header.resourceName)).toEqual(['fl-job']);
    expect(after.slice(before)[0]!.content.status).toBe('running');
  });
});
