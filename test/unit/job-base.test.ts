/**
 * JobBase and OwnedResources: what every job kind inherits (close order, the closed guard, reports
 * that never throw, metrics as lists).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/common/config.js';
import { K8sResourceKind, type ReportKind, type ReportStatus } from '../../src/common/constants.js';
import { JobBase, OwnedResources } from '../../src/core/job-base.js';
import { toMetricLists } from '../../src/core/metric-lists.js';
import { LCClient, type ReportResult } from '../../src/service/client/lc-client.js';
import { errorOf } from '../helpers/errors.js';

const config = loadConfig({ JOB_NAME: 'job-a', WORKER_NAME: 'worker-1', NAMESPACE: 'ns' });

class Probe extends JobBase<{ done: [n: number] }> {
  readonly torn: string[];
  constructor(lc: LCClient | undefined, resources: OwnedResources, torn: string[]) {
    super({
      name: 'Probe',
      config,
      ownerKind: K8sResourceKind.LIFELONG_LEARNING_JOB,
      lc,
      resources,
    });
    this.torn = torn;
  }
  work(): string {
    this.assertOpen();
    return 'ok';
  }
  send(kind: ReportKind, status: ReportStatus, results?: ReportResult[]) {
    return this.report(kind, status, results);
  }
  get health() {
    return this.reportHealth;
  }
  fire(n: number): void {
    this.notify(() => this.emit('done', n));
  }
  protected override beforeClose(): void {
    this.torn.push('job');
  }
}

function closeable(name: string, log: string[], fail = false) {
  return {
    close: async () => {
      await Promise.resolve();
      log.push(name);
      if (fail) throw new Error(`${name} failed`);
    },
  };
}

describe('OwnedResources', () => {
  it('closes last acquired first, all of them even when one fails, and rethrows the first failure', async () => {
    const log: string[] = [];
    const resources = new OwnedResources();
    resources.own(closeable('model', log));
    resources.own(closeable('client', log, true));
    resources.own(closeable('server', log, true));
    await expect(resources.closeAll()).rejects.toThrow('server failed');
    expect(log).toEqual(['server', 'client', 'model']);
    await resources.closeAll(); // nothing left: nothing closed twice
    expect(log).toHaveLength(3);
  });
});

describe('JobBase', () => {
  it('runs the job teardown, then releases its resources, once; then the guard throws SEDNA_ERR_CLOSED', async () => {
    const torn: string[] = [];
    const resources = new OwnedResources();
    resources.own(closeable('estimator', torn));
    resources.own(closeable('lc', torn));
    const job = new Probe(undefined, resources, torn);
    expect(job.work()).toBe('ok');
    expect(job.closed).toBe(false);
    await job[Symbol.asyncDispose]();
    await job.close();
    expect(torn).toEqual(['job', 'lc', 'estimator']);
    expect(job.closed).toBe(true);
    expect(errorOf(() => job.work())).toMatchObject({ code: 'SEDNA_ERR_CLOSED', message: 'Probe is closed' });
  });

  it('sends reports with the identity and never throws when the LC is down (counted, returned)', async () => {
    const bodies: unknown[] = [];
    const server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        bodies.push({ url: req.url, body: JSON.parse(text) as unknown });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const lc = new LCClient({ lcServer: `http://127.0.0.1:${port}`, maxAttempts: 1, timeoutMs: 2_000 });
    const job = new Probe(lc, new OwnedResources(), []);
    const results = [{ format: 'onnx', url: '/m', metrics: toMetricLists({ acc: 0.5 }) }];
    expect(await job.send('train', 'completed', results)).toEqual({ sent: true });
    expect(bodies).toEqual([
      {
        url: '/sedna/workers/worker-1/info',
        body: {
          name: 'worker-1',
          namespace: 'ns',
          ownerName: 'job-a',
          ownerKind: 'lifelonglearningjob',
          kind: 'train',
          status: 'completed',
          results: [{ format: 'onnx', url: '/m', metrics: { acc: [0.5] } }],
        },
      },
    ]);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const outcome = await job.send('eval', 'failed');
    expect(outcome.sent).toBe(false);
    expect(outcome.error?.code).toMatch(/^SEDNA_ERR_/);
    expect(job.health).toEqual({ reportFailures: 1, lastReportError: outcome.error, lastReportDelivered: false });
    expect(job.reportHealth).toEqual(job.health); // public: entry points decide their exit code on it
    lc.close();
  });

  it('reports the last report delivered again once the LC answers after a failure', async () => {
    let up = false;
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(up ? 200 : 503, { 'content-type': 'application/json' }).end('{"Status":200,"Message":"OK"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const lc = new LCClient({ lcServer: `http://127.0.0.1:${port}`, maxAttempts: 1, timeoutMs: 2_000 });
    const job = new Probe(lc, new OwnedResources(), []);
    expect(job.reportHealth.lastReportDelivered).toBe(true); // nothing to deliver yet
    expect((await job.send('train', 'running')).sent).toBe(false);
    expect(job.reportHealth).toMatchObject({ reportFailures: 1, lastReportDelivered: false });
    up = true;
    expect((await job.send('train', 'completed')).sent).toBe(true);
    expect(job.reportHealth).toMatchObject({ reportFailures: 1, lastReportDelivered: true });
    lc.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('keeps a job running when an event listener throws', () => {
    const job = new Probe(undefined, new OwnedResources(), []);
    const seen: number[] = [];
    job.on('done', (n) => {
      seen.push(n);
      throw new Error('listener bug');
    });
    expect(() => job.fire(3)).not.toThrow();
    expect(seen).toEqual([3]);
  });

  it('makes its own LC client only when none is given, and owns it', async () => {
    const resources = new OwnedResources();
    expect(JobBase.lcClientFor(false, config, resources)).toBeUndefined();
    const given = new LCClient({ lcServer: 'http://127.0.0.1:9' });
    expect(JobBase.lcClientFor(given, config, resources)).toBe(given);
    const made = JobBase.lcClientFor(undefined, config, resources);
    expect(made?.lcServer).toBe(config.lcServer);
    given.close();
    await resources.closeAll();
  });
});

describe('toMetricLists', () => {
  it('lists every value; the lenient form adds extras and checks nothing', () => {
    expect(toMetricLists({ loss: 0.3, acc: [0.5, 0.6] }, { strict: false, extra: { num_samples: 10 } })).toEqual({
      loss: [0.3],
      acc: [0.5, 0.6],
      num_samples: [10],
    });
    expect(toMetricLists({ loss: Number.NaN }, { strict: false })).toEqual({ loss: [Number.NaN] });
    expect(errorOf(() => toMetricLists({ loss: Number.NaN }))).toMatchObject({ code: 'SEDNA_ERR_METRIC' });
  });
});
