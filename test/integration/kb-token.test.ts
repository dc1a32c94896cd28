/**
 * The knowledge base behind a shared token (SERVICE_TOKEN): a lifelong job with the token trains
 * and its edge downloads the task models from the KB; without the token every KB route but the
 * health check answers 401; the token goes to the KB's origin and to no other URL a job reads.
 */
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ClassicalEstimator } from '../../src/backend/classical.js';
import { loadConfig } from '../../src/common/config.js';
import { LifelongLearning } from '../../src/core/lifelong-learning/index.js';
import { FileOps } from '../../src/datasources/file-ops.js';
import { KBClient } from '../../src/service/client/kb-client.js';
import { KBServer, kbServerOptionsFromConfig } from '../../src/service/server/kb-server.js';
import { rejectionOf } from '../helpers/errors.js';
import { seasonDataset } from '../helpers/lifelong.js';

const TOKEN = 'kb-token-of-the-job';

let tmp: string;
let kb: KBServer;
beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'kb-token-'));
  const options = kbServerOptionsFromConfig(
    loadConfig({
      KnowledgeBasePath: path.join(tmp, 'kb'),
      KB_URL: `sqlite:///${path.join(tmp, 'kb.sqlite3')}`,
      KnowledgeBaseServer: 'http://127.0.0.1:9020',
      SERVICE_TOKEN: TOKEN,
    }),
  );
  expect(options.token).toBe(TOKEN);
  kb = await KBServer.create({ ...options, port: 0 }); // a free port instead of 9020
  await kb.listen();
});
afterEach(async () => {
  await kb.close();
  await fsp.rm(tmp, { recursive: true, force: true });
});

const config = (worker: string, extra: Record<string, string>) =>
  loadConfig({
    NAMESPACE: 'default',
    JOB_NAME: 'atcii',
    WORKER_NAME: worker,
    KB_SERVER: kb.url,
    OUTPUT_URL: path.join(tmp, 'output'),
    MIN_TRAIN_SAMPLE: '10',
    LOG_LEVEL: 'silent',
    ...extra,
  });

const job = (worker: string, extra: Record<string, string>) =>
  LifelongLearning.create({
    createEstimator: () => ClassicalEstimator.create({ maxDepth: 5 }),
    config: config(worker, extra),
    lcClient: false,
    taskDefinition: { method: 'TaskDefinitionByDataAttr', param: '{"attribute": ["season", "strategy"]}' },
    edgeDir: path.join(tmp, 'edge'),
    unseenSaveDir: false,
    hotUpdate: false,
  });

it('a job with the token trains into the KB and its edge loads the models from it', async () => {
  const trainer = await job('train-worker-abcde', { SERVICE_TOKEN: TOKEN });
  const trained = await trainer.train(seasonDataset(1, 60));
  await trainer.close();
  expect(kb.db.rows('ll_task_grp').length).toBeGreaterThan(0);
  // The edge reads the index from OUTPUT_URL and every task model from the KB's file/download.
  const models = trained.index.seen_task.task_groups.map((g) => g.model.model);
  expect(models.every((url) => url.startsWith(`${kb.url}/knowledgebase/file/download`))).toBe(true);
  const edge = await job('inferworker-klmno', {
    SERVICE_TOKEN: TOKEN,
    MODEL_URLS: path.join(tmp, 'output', 'index.pkl'),
  });
  try {
    const out = await edge.inference({ columns: ['season', 'strategy', 't', 'h'], rows: [['summer', 'AC', 30, 40]] });
    expect(out.result).toEqual([1]);
  } finally {
    await edge.close();
  }
});

it('without the token: the KB answers 401 to every route, and a job fails with a coded error', async () => {
  const stranger = new KBClient({ kbServer: kb.url, timeoutMs: 5_000 });
  const holder = new KBClient({ kbServer: kb.url, token: TOKEN });
  try {
    expect(await rejectionOf(stranger.query())).toMatchObject({ details: { status: 401 } });
    expect(await holder.query()).toEqual([]);
    const file = path.join(tmp, 'a.txt');
    await fsp.writeFile(file, 'x');
    expect(await rejectionOf(stranger.uploadFile(file))).toMatchObject({ details: { status: 401 } });
    const url = holder.absolute(await holder.uploadFile(file));
    // A download without the token: FileOps' coded refusal, nothing written.
    const plain = new FileOps();
    try {
      const err = await rejectionOf(plain.download(url, path.join(tmp, 'got.txt')));
      expect(err).toMatchObject({ code: expect.stringMatching(/^SEDNA_ERR_/) as unknown });
      await expect(fsp.stat(path.join(tmp, 'got.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await plain.close();
    }
    expect((await fetch(`${kb.url}/healthz`)).status).toBe(200);
  } finally {
    stranger.close();
    holder.close();
  }
  const trainer = await job('train-worker-abcde', {});
  try {
    expect(await rejectionOf(trainer.train(seasonDataset(1, 60)))).toMatchObject({
      code: expect.stringMatching(/^SEDNA_ERR_/) as unknown,
    });
  } finally {
    await trainer.close();
  }
  expect(kb.db.rows('ll_task_grp')).toEqual([]);
});

it("FileOps sends the token to the KB's origin only", async () => {
  const seen: (string | undefined)[] = [];
  const other = http.createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.end('model bytes');
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const { port } = other.address() as { port: number };
  const ops = FileOps.fromConfig(config('inferworker-klmno', { SERVICE_TOKEN: TOKEN }));
  try {
    await ops.download(`http://127.0.0.1:${port}/m.bin`, path.join(tmp, 'm.bin'));
    expect(seen).toEqual([undefined]);
    expect(await fsp.readFile(path.join(tmp, 'm.bin'), 'utf8')).toBe('model bytes');
  } finally {
    await ops.close();
    await new Promise<void>((resolve) => other.close(() => resolve()));
  }
});
