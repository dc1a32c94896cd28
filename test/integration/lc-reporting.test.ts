/**
 * LCClient, LCReporter and the LC emulator on 127.0.0.1, against Sedna's captured report bodies
 * (test/fixtures/sedna/captures/ji-lc-reports.json, fl-lc-reports.json).
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/common/config.js';
import { K8sResourceKind } from '../../src/common/constants.js';
import {
  formatLocalTime,
  jobReport,
  LCClient,
  reportBody,
  workerIdentity,
  type LCReport,
} from '../../src/service/client/lc-client.js';
import { LCReporter } from '../../src/service/client/lc-reporter.js';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import { SHARED } from '../helpers/shared.js';
import { rejectionOf } from '../helpers/errors.js';
import { captureLogs } from '../helpers/log-capture.js';
import { deadPort, scriptedServer } from '../helpers/scripted-server.js';

interface CapturedReport {
  path: string;
  body: Record<string, unknown>;
  raw: string;
}
const jiCapture = JSON.parse(fs.readFileSync(path.join(SHARED, 'captures/ji-lc-reports.json'), 'utf8')) as {
  reports: CapturedReport[];
};
const flCapture = JSON.parse(fs.readFileSync(path.join(SHARED, 'captures/fl-lc-reports.json'), 'utf8')) as {
  reports: CapturedReport[];
};

const TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

describe('LCClient', () => {
  let lc: LCEmulator;
  let client: LCClient;

  beforeAll(async () => {
    lc = await LCEmulator.start();
    client = new LCClient({ lcServer: lc.url, timeoutMs: 2_000 });
  });
  afterAll(async () => {
    client.close();
    await lc.close();
  });
  beforeEach(() => lc.clear());

  it('posts the captured federated-learning report byte for byte', async () => {
    const captured = flCapture.reports[0]!;
    await client.send(captured.body.name as string, captured.body as unknown as LCReport);
    const received = lc.reports[0]!;
    expect(received.path).toBe(captured.path);
    expect(received.status).toBe(200);
    expect(received.contentType).toBe('application/json');
    // Python's json.dumps puts spaces after separators; the JSON value and key order are what count.
    expect(received.raw).toBe(JSON.stringify(JSON.parse(captured.raw)));
  });

  it("keeps Sedna's key order whatever order the caller used", async () => {
    const report: LCReport = {
      ownerInfo: { currentRound: 1 },
      results: [{ format: 'onnx', url: '/m.onnx', metrics: { acc: [0.9] } }],
      status: 'running',
      kind: 'train',
      ownerKind: 'federatedlearningjob',
      ownerName: 'fl',
      namespace: 'ns',
      name: 'w',
    };
    await client.send('w', report);
    expect(Object.keys(JSON.parse(lc.reports[0]!.raw) as object)).toEqual([
      'name',
      'namespace',
      'ownerName',
      'ownerKind',
      'kind',
      'status',
      'results',
      'ownerInfo',
    ]);
    expect(
      Object.keys(reportBody({ name: 'a', namespace: '', ownerName: 'b', ownerKind: 'default', kind: 'deploy' })),
    ).toEqual(['name', 'namespace', 'ownerName', 'ownerKind', 'kind']);
  });

  it("surfaces a name mismatch as SEDNA_ERR_LC_REJECTED with the LC's message", async () => {
    const report = jobReport(
      { name: 'other', namespace: 'ns', ownerName: 'job', ownerKind: 'federatedlearningjob' },
      'train',
      'running',
    );
    await expect(client.send('worker-a', report)).rejects.toMatchObject({
      code: 'SEDNA_ERR_LC_REJECTED',
      message: expect.stringContaining(
        'worker name(name=worker-a) in the api is different from that(name=other) in the message body',
      ) as string,
    });
    expect(lc.reports).toHaveLength(1); // a rejected report is not retried
  });

  it('fails with a coded error within its deadline when the LC is down', async () => {
    const down = await LCEmulator.start();
    const url = down.url;
    await down.close();
    const deadClient = new LCClient({ lcServer: url, timeoutMs: 500 });
    const started = Date.now();
    await expect(
      deadClient.send(
        'w',
        jobReport(workerIdentity(loadConfig({ WORKER_NAME: 'w' }), 'incrementallearningjob'), 'train', 'completed'),
      ),
    ).rejects.toMatchObject({
      code: 'SEDNA_ERR_NETWORK',
    });
    expect(Date.now() - started).toBeLessThan(1_500);
    deadClient.close();
  });
});

describe('report helpers', () => {
  it('workerIdentity follows JobBase: name and namespace fall back to the job name', () => {
    expect(workerIdentity(loadConfig({ JOB_NAME: 'fl-job' }), K8sResourceKind.FEDERATED_LEARNING_JOB)).toEqual({
      name: 'fl-job',
      namespace: 'fl-job',
      ownerName: 'fl-job',
      ownerKind: 'federatedlearningjob',
    });
    expect(
      workerIdentity(loadConfig({ JOB_NAME: 'j', WORKER_NAME: 'w', NAMESPACE: 'n' }), 'incrementallearningjob'),
    ).toEqual({
      name: 'w',
      namespace: 'n',
      ownerName: 'j',
      ownerKind: 'incrementallearningjob',
    });
  });

  it('jobReport omits empty results and ownerInfo, as report_task_info does', () => {
    const id = { name: 'w', namespace: 'n', ownerName: 'j', ownerKind: 'incrementallearningjob' as const };
    expect(jobReport(id, 'deploy', 'completed', [], {})).toEqual({ ...id, kind: 'deploy', status: 'completed' });
    expect(jobReport(id, 'train', 'completed', [{ format: 'onnx', url: '/m', metrics: null }], { a: 1 })).toEqual({
      ...id,
      kind: 'train',
      status: 'completed',
      results: [{ format: 'onnx', url: '/m', metrics: null }],
      ownerInfo: { a: 1 },
    });
  });

  it('formats local time as Sedna does', () => {
    expect(formatLocalTime(new Date(2026, 0, 2, 3, 4, 5))).toBe('2026-01-02 03:04:05');
  });
});

describe('LCReporter', () => {
  const jiMessage = (name: string): Omit<LCReport, 'ownerInfo'> => ({
    name,
    namespace: '',
    ownerName: 'sedna',
    ownerKind: 'jointinferenceservice',
    kind: 'inference',
    results: [],
  });

  it('sends the joint-inference report in the captured shape, counting each inference once', async () => {
    const lc = await LCEmulator.start();
    const client = new LCClient({ lcServer: lc.url });
    const reporter = LCReporter.start({ client, message: jiMessage('ji-edge'), periodMs: 100 });
    try {
      // The capture's run: 5 inferences, 3 of them hard.
      reporter.updateForCollaborationInference();
      reporter.updateForEdgeInference();
      reporter.updateForCollaborationInference();
      reporter.updateForCollaborationInference();
      reporter.updateForEdgeInference();
      await lc.waitFor((r) => r.length >= 1, 3_000);
      const sent = JSON.parse(lc.reports[0]!.raw) as Record<string, unknown>;
      const captured = jiCapture.reports[0]!.body;
      expect(Object.keys(sent)).toEqual(Object.keys(captured)); // no status, results: [] — as Sedna
      expect({ ...sent, ownerInfo: undefined }).toEqual({ ...captured, ownerInfo: undefined });
      const info = sent.ownerInfo as Record<string, unknown>;
      expect(Object.keys(info)).toEqual(Object.keys(captured.ownerInfo as object));
      // Sedna reported inferenceNumber 8 (hard examples counted twice); we report 5.
      expect(info).toMatchObject({ inferenceNumber: 5, hardExampleNumber: 3, uploadCloudRatio: 0.6 });
      expect(info.startTime).toMatch(TIME);
      expect(info.updateTime).toMatch(TIME);
      expect(lc.forwarded[0]).toEqual({
        header: { namespace: '', resourceKind: 'jointinferenceservice', resourceName: 'sedna', operation: 'status' },
        content: { phase: 'inference', status: '', output: { models: null, ownerInfo: info } },
      });
    } finally {
      await reporter.close();
      client.close();
      await lc.close();
    }
  });

  it('sends only when the counters changed, at most once per period, and close() flushes', async () => {
    const lc = await LCEmulator.start();
    const client = new LCClient({ lcServer: lc.url });
    // The send deadline defaults to the period (80 ms here), which a loaded machine can miss even
    // when the LC got the report; this test is about periods and flushing, not deadlines.
    const reporter = LCReporter.start({ client, message: jiMessage('w'), periodMs: 80, sendTimeoutMs: 5_000 });
    const sent: LCReport[] = [];
    const nextSent = (): Promise<LCReport> => new Promise((resolve) => reporter.once('sent', resolve));
    reporter.on('sent', (r) => sent.push(r));
    try {
      reporter.updateForEdgeInference();
      await nextSent();
      reporter.updateForEdgeInference();
      reporter.updateForEdgeInference();
      const second = await nextSent();
      expect(second.ownerInfo).toMatchObject({ inferenceNumber: 3 }); // two updates, one report
      // Nothing changed since: periods pass without a report. Observe a full period through a
      // second reporter's tick on the same clock rather than a sleep.
      const probe = LCReporter.start({ client, message: jiMessage('probe'), periodMs: 80 });
      probe.updateForEdgeInference();
      await new Promise((resolve) => probe.once('sent', resolve));
      await new Promise((resolve) => probe.once('sent', resolve).updateForEdgeInference());
      await probe.close();
      expect(lc.reports.filter((r) => r.worker === 'w')).toHaveLength(2);
      reporter.updateForCollaborationInference();
      await reporter.close(); // flushes without waiting for the period
      const own = lc.reports.filter((r) => r.worker === 'w');
      expect(own).toHaveLength(3);
      expect(JSON.parse(own[2]!.raw)).toMatchObject({
        ownerInfo: { inferenceNumber: 4, hardExampleNumber: 1, uploadCloudRatio: 0.25 },
      });
      expect(reporter.deliveries).toEqual({ sent: 3, failed: 0 });
      expect(reporter.pending).toBe(false);
      expect(sent).toHaveLength(3);
    } finally {
      await reporter.close();
      client.close();
      await lc.close();
    }
  });

  it('keeps counting through an LC outage and delivers the latest state when the LC is back', async () => {
    const first = await LCEmulator.start();
    const port = first.port;
    // A refused connection fails at once; the deadline is long so that a loaded machine's slow
    // event loop cannot turn the outage into a timeout.
    const client = new LCClient({ lcServer: first.url, timeoutMs: 5_000, maxAttempts: 1 });
    const reporter = LCReporter.start({ client, message: jiMessage('w'), periodMs: 100 });
    const failures: Error[] = [];
    reporter.on('failed', (e) => failures.push(e));
    try {
      reporter.updateForEdgeInference();
      await first.waitFor((r) => r.length === 1, 2_000);
      await first.close(); // the LC goes down
      for (let i = 0; i < 50; i++) reporter.updateForCollaborationInference(); // never blocks, never throws
      await new Promise<void>((resolve) => reporter.once('failed', () => resolve()));
      expect(failures[0]).toMatchObject({ code: 'SEDNA_ERR_NETWORK' });
      expect(reporter.pending).toBe(true);
      const delivered = new Promise((resolve) => reporter.once('sent', resolve));
      const second = await LCEmulator.start({ port }); // the LC comes back on the same address
      try {
        await delivered;
        expect(JSON.parse(second.reports[0]!.raw)).toMatchObject({
          ownerInfo: { inferenceNumber: 51, hardExampleNumber: 50 },
        });
        expect(reporter.pending).toBe(false);
      } finally {
        await reporter.close();
        await second.close();
      }
    } finally {
      client.close();
    }
  });

  it('close() gives up on an LC that never answers at flushTimeoutMs: SEDNA_ERR_REPORT_TIMEOUT, the counters it lost logged at error level', async () => {
    const aborted: Promise<void>[] = [];
    // A hostile LC: takes the request and never answers.
    const lc = await scriptedServer((req) => {
      aborted.push(new Promise((resolve) => req.socket.once('close', () => resolve())));
    });
    const client = new LCClient({ lcServer: lc.url });
    const reporter = LCReporter.start({
      client,
      message: jiMessage('stuck'),
      periodMs: 60_000,
      sendTimeoutMs: 30_000,
      flushTimeoutMs: 200,
    });
    const logs = captureLogs('error');
    try {
      reporter.updateForEdgeInference();
      reporter.updateForCollaborationInference();
      const started = Date.now();
      const error = await rejectionOf(reporter.close());
      expect(Date.now() - started).toBeLessThan(5_000); // the bound, not the 30 s send deadline
      expect(error).toMatchObject({
        code: 'SEDNA_ERR_REPORT_TIMEOUT',
        details: { worker: 'stuck', undelivered: { inferenceNumber: 2, hardExampleNumber: 1 }, flushTimeoutMs: 200 },
      });
      const lines = logs.lines().filter((l) => l.component === 'lc-reporter');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: 50,
        waitingFor: 'the last report to the LocalController',
        undelivered: { inferenceNumber: 2 },
      });
      // The request under way was abandoned, not left to run on after close().
      expect(lc.hits()).toBe(1);
      await aborted[0];
    } finally {
      logs.restore();
      client.close();
      await lc.close();
    }
  });

  it('close() with a flushTimeoutMs beyond what a timer holds (30 days) waits for a slow LC instead of failing at once', async () => {
    // A slow LC: answers each report 100 ms after it arrived.
    const lc = await scriptedServer((_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'), 100);
    });
    const client = new LCClient({ lcServer: lc.url });
    const reporter = LCReporter.start({
      client,
      message: jiMessage('patient'),
      periodMs: 60_000,
      flushTimeoutMs: 30 * 24 * 3_600_000,
    });
    try {
      reporter.updateForEdgeInference();
      await reporter.close();
      expect(reporter.deliveries).toEqual({ sent: 1, failed: 0 });
      expect(JSON.parse(lc.bodies[0]!)).toMatchObject({ ownerInfo: { inferenceNumber: 1 } });
    } finally {
      client.close();
      await lc.close();
    }
  });

  it('close() logs the counters an unreachable LC did not get, and still closes', async () => {
    const client = new LCClient({ lcServer: `http://127.0.0.1:${await deadPort()}`, maxAttempts: 1 });
    const reporter = LCReporter.start({ client, message: jiMessage('alone'), periodMs: 60_000 });
    const logs = captureLogs('error');
    try {
      for (let i = 0; i < 3; i++) reporter.updateForEdgeInference();
      await reporter.close();
      expect(logs.lines()).toEqual([
        expect.objectContaining({
          level: 50,
          msg: 'the last report did not reach the LocalController',
          undelivered: { inferenceNumber: 3, hardExampleNumber: 0, uploadCloudRatio: 0 },
        }),
      ]);
    } finally {
      logs.restore();
      client.close();
    }
  });

  it('rejects a non-positive period', () => {
    const client = new LCClient({ lcServer: 'http://127.0.0.1:9' });
    expect(() => new LCReporter({ client, message: jiMessage('w'), periodMs: 0 })).toThrow(
      expect.objectContaining({ code: 'SEDNA_ERR_INVALID_ARGUMENT' }) as Error,
    );
    client.close();
  });
});
