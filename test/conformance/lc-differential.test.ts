/**
 * Differential test of the LC emulator (sedna-sdk/testing) against the real LocalController: the
 * same requests, byte for byte, to both; the same status codes, content types and response
 * bodies; and what the emulator records as forwarded equals what the real LC sent to the GM.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { LCClient, jobReport } from '../../src/service/client/lc-client.js';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import { RealLC, REAL_LC_DIR, type GmMessage } from './real-lc.js';

interface Step {
  label: string;
  method: string;
  path: string;
  body?: string;
  contentType?: string | null;
}

const json = (value: unknown): string => JSON.stringify(value);
const report = (fields: Record<string, unknown>): string => json({ name: 'w1', namespace: 'default', ...fields });

/** Good reports of each kind, then every kind of bad request. */
const STEPS: Step[] = [
  {
    label: 'joint inference, periodic',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({
      ownerName: 'digits',
      ownerKind: 'jointinferenceservice',
      kind: 'inference',
      results: [],
      ownerInfo: {
        startTime: '2026-11-27 11:56:54',
        updateTime: '2026-11-27 11:56:55',
        inferenceNumber: 5,
        hardExampleNumber: 3,
        uploadCloudRatio: 0.6,
      },
    }),
  },
  {
    label: 'federated learning, a round',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({
      ownerName: 'fl-job',
      ownerKind: 'federatedlearningjob',
      kind: 'train',
      status: 'running',
      results: [{ format: 'json', url: '/models/fl/model.json', metrics: { loss: [0.5], num_samples: [30] } }],
      ownerInfo: { currentRound: 1, sampleCount: 90 },
    }),
  },
  {
    label: 'federated learning, completed',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({
      ownerName: 'fl-job',
      ownerKind: 'federatedlearningjob',
      kind: 'train',
      status: 'completed',
      results: [{ format: 'json', url: '/models/fl/model.json', metrics: { loss: [0.2] } }],
      ownerInfo: { currentRound: 3, sampleCount: 90 },
    }),
  },
  {
    label: 'incremental learning train',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({
      ownerName: 'helmet-il',
      ownerKind: 'incrementallearningjob',
      kind: 'train',
      status: 'completed',
      results: [
        { format: 'json', url: '/models/r1/model.json', metrics: { loss: 0.3 } },
        { format: 'tfjs', url: '/models/r1', metrics: { loss: 0.3 } },
      ],
    }),
  },
  {
    label: 'incremental learning eval',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({
      ownerName: 'helmet-il',
      ownerKind: 'incrementallearningjob',
      kind: 'eval',
      status: 'completed',
      results: [
        { format: 'json', url: '/models/r1/model.json', metrics: { accuracy: [0.95] } },
        { format: 'json', url: '/models/r0/model.json', metrics: { accuracy: [0.8] } },
      ],
    }),
  },
  {
    label: 'incremental learning deploy',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({ ownerName: 'helmet-il', ownerKind: 'incrementallearningjob', kind: 'deploy', status: 'completed' }),
  },
  {
    label: 'incremental learning failed',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({ ownerName: 'helmet-il', ownerKind: 'incrementallearningjob', kind: 'train', status: 'failed' }),
  },
  {
    label: 'incremental learning, empty results',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({
      ownerName: 'helmet-il',
      ownerKind: 'incrementallearningjob',
      kind: 'eval',
      status: 'failed',
      results: [],
    }),
  },
  {
    label: 'incremental learning, job the LC does not know',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({ ownerName: 'other-il', ownerKind: 'incrementallearningjob', kind: 'train', status: 'completed' }),
  },
  {
    label: 'lifelong learning, job the LC does not know',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({ ownerName: 'll', ownerKind: 'lifelonglearningjob', kind: 'train', status: 'completed' }),
  },
  {
    label: 'Python FL ownerKind "default"',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({ ownerName: 'fl-job', ownerKind: 'default', kind: 'train', status: 'running' }),
  },
  {
    label: 'unknown ownerKind',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({ ownerName: 'x', ownerKind: 'somethingelse', kind: 'train', status: 'running' }),
  },
  {
    label: 'ownerKind in another case',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({ ownerName: 'digits', ownerKind: 'JointInferenceService', kind: 'inference' }),
  },
  {
    label: 'keys in another case',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: json({ Name: 'w1', OwnerKind: 'jointinferenceservice', OwnerName: 'digits', Kind: 'inference' }),
  },
  {
    label: 'name mismatch',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({ name: 'w2', ownerKind: 'jointinferenceservice' }),
  },
  {
    label: 'missing name',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: json({ ownerKind: 'jointinferenceservice' }),
  },
  { label: 'non-JSON body', method: 'POST', path: '/sedna/workers/w1/info', body: 'not json' },
  { label: 'empty body', method: 'POST', path: '/sedna/workers/w1/info', body: '' },
  { label: 'JSON array body', method: 'POST', path: '/sedna/workers/w1/info', body: '[1,2]' },
  { label: 'numeric name', method: 'POST', path: '/sedna/workers/w1/info', body: json({ name: 5 }) },
  {
    label: 'ownerInfo not an object',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: json({ name: 'w1', ownerInfo: 'str' }),
  },
  {
    label: 'results not a list',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: json({ name: 'w1', results: 'x' }),
  },
  {
    label: 'charset in content type',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({ ownerKind: 'default' }),
    contentType: 'application/json; charset=utf-8',
  },
  {
    label: 'form content type',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({ ownerKind: 'default' }),
    contentType: 'application/x-www-form-urlencoded',
  },
  {
    label: 'no content type',
    method: 'POST',
    path: '/sedna/workers/w1/info',
    body: report({ ownerKind: 'default' }),
    contentType: null,
  },
  { label: 'trailing slash', method: 'POST', path: '/sedna/workers/w1/info/', body: report({ ownerKind: 'default' }) },
  { label: 'GET on the report route', method: 'GET', path: '/sedna/workers/w1/info' },
  { label: 'unknown route', method: 'GET', path: '/nope' },
  { label: 'unknown route, POST', method: 'POST', path: '/sedna/workers/w1', body: report({}) },
];

function send(base: string, step: Step): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    const contentType = step.contentType === undefined ? 'application/json' : step.contentType;
    if (contentType !== null && step.body !== undefined) headers['content-type'] = contentType;
    const req = http.request(`${base}${step.path}`, { method: step.method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: (res.headers['content-type'] ?? '').split(';')[0]!.trim(), body }),
      );
    });
    req.on('error', reject);
    req.end(step.body);
  });
}

const insertIncrementalJob = JSON.parse(
  fs.readFileSync(path.join(REAL_LC_DIR, 'example-insert-incrementallearningjob.json'), 'utf8'),
) as object;

describe('the LC emulator against the real LocalController', () => {
  let real: RealLC;
  let emulator: LCEmulator;
  const answers: {
    label: string;
    real: Awaited<ReturnType<typeof send>>;
    emulated: Awaited<ReturnType<typeof send>>;
  }[] = [];
  let realForwarded: GmMessage[] = [];

  beforeAll(async () => {
    real = await RealLC.start({ inserts: [insertIncrementalJob] });
    emulator = await LCEmulator.start({
      knownJobs: [{ kind: 'incrementallearningjob', namespace: 'default', name: 'helmet-il' }],
    });
    for (const step of STEPS)
      answers.push({
        label: step.label,
        real: await send(real.lcServer, step),
        emulated: await send(emulator.url, step),
      });
    // Wait until the GM stand-in has every message the emulator says the LC forwards.
    realForwarded = await real.waitFor((m) => m.length >= emulator.forwarded.length);
  });
  afterAll(async () => {
    await emulator.close();
    await real.stop();
  });

  it.each(STEPS.map((s) => s.label))('%s: same status, content type and body', (label) => {
    const answer = answers.find((a) => a.label === label)!;
    expect(answer.emulated).toEqual(answer.real);
  });

  it('forwards to the GM exactly what the real LC forwards, in order', () => {
    const real = realForwarded.map(({ header, content }) => ({ header, content }));
    expect(emulator.forwarded).toEqual(real);
    // The runs were not trivial: both kinds the LC forwards at once, and the inserted IL job.
    expect(real.map((m) => m.header.resourceKind)).toEqual(
      expect.arrayContaining(['jointinferenceservice', 'federatedlearningjob', 'IncrementalLearningJob']),
    );
  });
});

describe('LCClient against the real LocalController', () => {
  it("surfaces the LC's 400 for a name mismatch as SEDNA_ERR_LC_REJECTED", async () => {
    const real = await RealLC.start();
    const client = new LCClient({ lcServer: real.lcServer });
    try {
      const mismatched = jobReport(
        { name: 'other', namespace: 'default', ownerName: 'fl-job', ownerKind: 'federatedlearningjob' },
        'train',
        'running',
      );
      await expect(client.send('worker-a', mismatched)).rejects.toMatchObject({
        code: 'SEDNA_ERR_LC_REJECTED',
        details: {
          status: 400,
          lcMessage: 'worker name(name=worker-a) in the api is different from that(name=other) in the message body',
        },
      });
      expect(real.messages()).toEqual([]);
    } finally {
      client.close();
      await real.stop();
    }
  });
});
