/**
 * @jest-environment ./test/helpers/node-realm-environment.cjs
 *
 * Model hot update (spec §5.0) on an inference worker, against the LC emulator: every update fires
 * (Sedna issue #381: only the first did), requests in flight finish on the model they started with,
 * and each bad input (half-written file, bad timestamp, missing or corrupt model) keeps the old model
 * serving and is reported `kind: deploy, status: failed` once. Synchronisation is on reports and
 * events, never on sleeps.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TfjsEstimator, argmax } from '../../src/backend/tfjs.js';
import { loadConfig, type SednaConfig } from '../../src/common/config.js';
import { isSednaError, type SednaError } from '../../src/common/errors.js';
import {
  IncrementalLearning,
  type IncrementalLearningOptions,
} from '../../src/core/incremental-learning/incremental-learning.js';
import { LCEmulator } from '../../src/testing/lc-emulator.js';
import { loadDigits } from '../helpers/backend-fixtures.js';
import { AnswerEstimator, constantModels, goTime, writeAnswerModel, writeHotUpdateConfig } from '../helpers/il.js';

const test = loadDigits('test');
let lc: LCEmulator;
let tmp: string;
let n = 0;

beforeAll(async () => {
  lc = await LCEmulator.start({
    knownJobs: [{ kind: 'incrementallearningjob', namespace: 'default', name: 'helmet-il' }],
  });
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sedna-il-hot-'));
});

afterAll(async () => {
  await lc.close();
  await fsp.rm(tmp, { recursive: true, force: true });
});

beforeEach(() => lc.clear());

/** A fresh folder and worker name per test. */
function scene(): { dir: string; configFile: string; worker: string } {
  n++;
  const dir = path.join(tmp, `case-${n}`);
  return { dir, configFile: path.join(dir, 'model-hot-update', 'model_config.json'), worker: `inferworker-${n}` };
}

function config(worker: string, env: Record<string, string>): SednaConfig {
  return loadConfig({
    NAMESPACE: 'default',
    JOB_NAME: 'helmet-il',
    WORKER_NAME: worker,
    LC_SERVER: lc.url,
    MODEL_HOT_UPDATE: 'true',
    MODEL_POLL_PERIOD_SECONDS: '3600', // tests poll by hand unless they set pollPeriodMs
    LOG_LEVEL: 'silent',
    ...env,
  });
}

const deploys = (worker: string): { status: unknown }[] =>
  lc.accepted().filter((r) => r.name === worker && r.kind === 'deploy') as { status: unknown }[];

function waitForDeploys(worker: string, count: number): Promise<void> {
  return lc.waitFor(() => deploys(worker).length >= count, 10_000);
}

/** A job serving AnswerEstimator models: `inference()` returns the model file's number. */
async function answerJob(
  s: ReturnType<typeof scene>,
  modelFile: string,
  extra: Partial<IncrementalLearningOptions<unknown, unknown, number>> = {},
): Promise<IncrementalLearning<unknown, unknown, number>> {
  return IncrementalLearning.create<unknown, unknown, number>({
    estimator: new AnswerEstimator(),
    estimatorFactory: () => Promise.resolve(new AnswerEstimator()),
    config: config(s.worker, { MODEL_URL: modelFile, MODEL_HOT_UPDATE_CONFIG: s.configFile }),
    hotUpdateSettleMs: 0,
    ...extra,
  });
}

async function answer(il: IncrementalLearning<unknown, unknown, number>): Promise<number> {
  return (await il.inference([1])).result;
}

describe('hot update with TF.js models', () => {
  it('fires for three updates in a row, polled by the timer, each reported as Sedna does', async () => {
    const s = scene();
    const [m0, m1, m2, m3] = await constantModels(path.join(s.dir, 'models'), [0, 1, 2, 3]);
    const row = [test.x[0]!];
    const il = await IncrementalLearning.create({
      estimator: await TfjsEstimator.create(),
      estimatorFactory: () => TfjsEstimator.create(),
      config: config(s.worker, { MODEL_URL: m0!, MODEL_HOT_UPDATE_CONFIG: s.configFile }),
      pollPeriodMs: 25,
    });
    const updates: string[] = [];
    il.on('modelUpdate', (u) => updates.push(u.version));
    try {
      const predicted = async (): Promise<number> => argmax((await il.inference(row)).result[0]!);
      expect(await predicted()).toBe(0);
      const times = [1, 2, 3].map((i) => goTime(new Date(Date.UTC(2025, 0, 1, 12, 0, i)), i));
      for (const [i, model] of [m1!, m2!, m3!].entries()) {
        await writeHotUpdateConfig(s.configFile, model, times[i]!);
        await waitForDeploys(s.worker, i + 1);
        expect(await predicted()).toBe(i + 1);
        expect(il.model).toEqual({ version: times[i], url: model });
      }
      expect(updates).toEqual(times);
      expect(il.stats).toMatchObject({ modelUpdates: 3, modelUpdateFailures: 0 });
      // Exactly Sedna's deploy report: no results, no ownerInfo.
      const raws = lc.reports.filter((r) => r.worker === s.worker).map((r) => r.raw);
      expect(raws).toEqual(
        Array(3).fill(
          JSON.stringify({
            name: s.worker,
            namespace: 'default',
            ownerName: 'helmet-il',
            ownerKind: 'incrementallearningjob',
            kind: 'deploy',
            status: 'completed',
          }),
        ),
      );
      expect(lc.forwarded.at(-1)).toEqual({
        header: {
          namespace: 'default',
          resourceKind: 'IncrementalLearningJob',
          resourceName: 'helmet-il',
          operation: 'status',
        },
        content: { phase: 'deploy', status: 'completed', output: { models: null, ownerInfo: null } },
      });
    } finally {
      await il.close();
    }
  });

  it('a corrupt model (truncated weights) keeps the old TF.js model serving, predictions unchanged', async () => {
    const s = scene();
    const [m0, m1] = await constantModels(path.join(s.dir, 'models'), [0, 1]);
    const corrupt = path.join(s.dir, 'models', 'corrupt');
    await fsp.cp(m1!, corrupt, { recursive: true });
    // Cut the weights short, both the embedded copy in model.json and weights.bin.
    const json = JSON.parse(await fsp.readFile(path.join(corrupt, 'model.json'), 'utf8')) as {
      weightDataBase64: string;
    };
    await fsp.writeFile(
      path.join(corrupt, 'model.json'),
      JSON.stringify({ ...json, weightDataBase64: json.weightDataBase64.slice(0, 100) }),
    );
    await fsp.truncate(path.join(corrupt, 'weights.bin'), 100);
    const il = await IncrementalLearning.create({
      estimator: await TfjsEstimator.create(),
      estimatorFactory: () => TfjsEstimator.create(),
      config: config(s.worker, { MODEL_URL: m0!, MODEL_HOT_UPDATE_CONFIG: s.configFile }),
      hotUpdateSettleMs: 0,
    });
    try {
      const before = (await il.inference(test.x.slice(0, 20))).result;
      await writeHotUpdateConfig(s.configFile, corrupt, goTime(new Date()));
      const outcome = await il.pollHotUpdate();
      expect(outcome.kind).toBe('failed');
      const err = (outcome as { error: SednaError }).error;
      expect(err.code).toBe('SEDNA_ERR_HOT_UPDATE');
      expect(err.details.reason).toBe('model-invalid');
      expect(isSednaError(err.cause, 'SEDNA_ERR_MODEL_INVALID')).toBe(true);
      expect((await il.inference(test.x.slice(0, 20))).result).toEqual(before);
      expect(deploys(s.worker).map((r) => r.status)).toEqual(['failed']);
    } finally {
      await il.close();
    }
  });
});

describe('hot update mechanics', () => {
  it('a request in flight finishes on the model it started with; the old model closes after it', async () => {
    const s = scene();
    const il = await answerJob(s, writeAnswerModel(path.join(s.dir, 'm0.json'), 10));
    try {
      const first = il.estimator as unknown as AnswerEstimator;
      let open!: () => void;
      first.gate = new Promise((resolve) => (open = resolve));
      const inFlight = il.inference([1]);
      await writeHotUpdateConfig(s.configFile, writeAnswerModel(path.join(s.dir, 'm1.json'), 11), goTime(new Date()));
      expect((await il.pollHotUpdate()).kind).toBe('updated');
      // The swap happened while the request waits: new requests get the new model...
      expect(await answer(il)).toBe(11);
      expect(first.closed).toBe(false); // ...and the old one stays open for the request in flight,
      open();
      expect((await inFlight).result).toBe(10); // which finishes on the model it started with,
      expect((await inFlight).model.version).toBeUndefined();
      await first.whenClosed; // after which the old model is released.
    } finally {
      await il.close();
    }
  });

  it('no "latest" reload: the version in the file at start is current, and its model serves', async () => {
    const s = scene();
    const time = goTime(new Date(Date.UTC(2025, 5, 1)));
    await writeHotUpdateConfig(s.configFile, writeAnswerModel(path.join(s.dir, 'deployed.json'), 7), time);
    const il = await answerJob(s, writeAnswerModel(path.join(s.dir, 'original.json'), 1));
    try {
      expect(await answer(il)).toBe(7);
      expect(il.model.version).toBe(time);
      expect(await il.pollHotUpdate()).toEqual({ kind: 'unchanged', version: time });
      expect(deploys(s.worker)).toEqual([]);
    } finally {
      await il.close();
    }
  });

  it('without a factory the estimator loads in place, and every update still fires', async () => {
    const s = scene();
    const estimator = new AnswerEstimator();
    const il = await IncrementalLearning.create<unknown, unknown, number>({
      estimator,
      config: config(s.worker, {
        MODEL_URL: writeAnswerModel(path.join(s.dir, 'm0.json'), 0),
        MODEL_HOT_UPDATE_CONFIG: s.configFile,
      }),
      hotUpdateSettleMs: 0,
    });
    try {
      for (let i = 1; i <= 3; i++) {
        await writeHotUpdateConfig(
          s.configFile,
          writeAnswerModel(path.join(s.dir, `m${i}.json`), i),
          goTime(new Date(Date.UTC(2025, 0, 1, 0, 0, i))),
        );
        expect((await il.pollHotUpdate()).kind).toBe('updated');
        expect(await answer(il)).toBe(i);
      }
      expect(il.estimator).toBe(estimator);
      expect(estimator.loads).toBe(4);
      expect(deploys(s.worker).map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    } finally {
      await il.close();
    }
  });

  describe.each([
    [
      'a half-written file',
      'config-json',
      (modelPath: string) => `{"model_config": {"model_path": "${modelPath}", "model_upd`,
    ],
    [
      'a bad timestamp',
      'update-time',
      (modelPath: string) =>
        JSON.stringify({ model_config: { model_path: modelPath, model_update_time: 'yesterday' } }),
    ],
    [
      'an empty timestamp',
      'update-time',
      (modelPath: string) => JSON.stringify({ model_config: { model_path: modelPath, model_update_time: '' } }),
    ],
    [
      'a file without model_config',
      'config-schema',
      (modelPath: string) => JSON.stringify({ model_path: modelPath, model_update_time: goTime(new Date()) }),
    ],
    [
      'a missing model file',
      'model-missing',
      (_modelPath: string, dir: string) =>
        JSON.stringify({
          model_config: { model_path: path.join(dir, 'gone.json'), model_update_time: goTime(new Date()) },
        }),
    ],
    [
      'a corrupt model file',
      'model-invalid',
      (_modelPath: string, dir: string) =>
        JSON.stringify({
          model_config: { model_path: path.join(dir, 'corrupt.json'), model_update_time: goTime(new Date()) },
        }),
    ],
  ])('%s', (_label, reason, content) => {
    it('keeps the old model serving, reports deploy failed once, and a later good update fires', async () => {
      const s = scene();
      const il = await answerJob(s, writeAnswerModel(path.join(s.dir, 'm0.json'), 5));
      try {
        await fsp.writeFile(path.join(s.dir, 'corrupt.json'), '{"answer": ');
        const good = writeAnswerModel(path.join(s.dir, 'm1.json'), 6);
        await fsp.mkdir(path.dirname(s.configFile), { recursive: true });
        await fsp.writeFile(s.configFile, content(good, s.dir));

        const failed: SednaError[] = [];
        il.on('modelUpdateFailed', (e) => failed.push(e));
        const outcome = await il.pollHotUpdate();
        expect(outcome).toMatchObject({ kind: 'failed', repeated: false });
        expect(failed.map((e) => [e.code, e.details.reason])).toEqual([['SEDNA_ERR_HOT_UPDATE', reason]]);
        expect(await answer(il)).toBe(5);
        expect(il.stats.lastModelUpdateError?.details.reason).toBe(reason);
        expect(lc.reports.filter((r) => r.worker === s.worker).map((r) => r.raw)).toEqual([
          JSON.stringify({
            name: s.worker,
            namespace: 'default',
            ownerName: 'helmet-il',
            ownerKind: 'incrementallearningjob',
            kind: 'deploy',
            status: 'failed',
          }),
        ]);
        // The same bad state is not reported again, however often it is polled.
        for (let i = 0; i < 3; i++) expect((await il.pollHotUpdate()).kind).toMatch(/^(failed|unchanged)$/);
        expect(deploys(s.worker)).toHaveLength(1);
        expect(failed).toHaveLength(1);
        expect(await answer(il)).toBe(5);

        await writeHotUpdateConfig(s.configFile, good, goTime(new Date(Date.now() + 1000)));
        expect((await il.pollHotUpdate()).kind).toBe('updated');
        expect(await answer(il)).toBe(6);
        expect(deploys(s.worker).map((r) => r.status)).toEqual(['failed', 'completed']);
      } finally {
        await il.close();
      }
    });
  });

  it('a model that appears later is retried with the same update time', async () => {
    const s = scene();
    const il = await answerJob(s, writeAnswerModel(path.join(s.dir, 'm0.json'), 1));
    try {
      const later = path.join(s.dir, 'later.json');
      await writeHotUpdateConfig(s.configFile, later, goTime(new Date()));
      expect((await il.pollHotUpdate()).kind).toBe('failed');
      writeAnswerModel(later, 2);
      expect((await il.pollHotUpdate()).kind).toBe('updated');
      expect(await answer(il)).toBe(2);
      expect(deploys(s.worker).map((r) => r.status)).toEqual(['failed', 'completed']);
    } finally {
      await il.close();
    }
  });

  it('a warm-up that throws rejects the model; the old one serves', async () => {
    const s = scene();
    const il = await answerJob(s, writeAnswerModel(path.join(s.dir, 'm0.json'), 1), {
      warmup: async (e) => {
        if ((await e.predict([0])) > 100) throw new Error('out of range');
      },
    });
    try {
      await writeHotUpdateConfig(s.configFile, writeAnswerModel(path.join(s.dir, 'big.json'), 500), goTime(new Date()));
      const outcome = await il.pollHotUpdate();
      expect(outcome.kind).toBe('failed');
      expect(await answer(il)).toBe(1);
    } finally {
      await il.close();
    }
  });

  it('MODEL_HOT_UPDATE without MODEL_HOT_UPDATE_CONFIG fails at create with a coded error', async () => {
    await expect(
      IncrementalLearning.create({
        estimator: new AnswerEstimator(),
        config: loadConfig({ MODEL_HOT_UPDATE: 'true', LOG_LEVEL: 'silent' }),
        lcClient: false,
      }),
    ).rejects.toMatchObject({ code: 'SEDNA_ERR_INVALID_CONFIG' });
  });

  it('close() stops polling and closes the serving model', async () => {
    const s = scene();
    const il = await answerJob(s, writeAnswerModel(path.join(s.dir, 'm0.json'), 1), { pollPeriodMs: 5 });
    const estimator = il.estimator as unknown as AnswerEstimator;
    await il.close();
    expect(estimator.closed).toBe(true);
    await expect(il.inference([1])).rejects.toMatchObject({ code: 'SEDNA_ERR_CLOSED' });
  });
});
