// The pure parts of incremental learning: the hot-update file and its times, the poller's state
// machine (with injected I/O), eval metrics as the LC reads them, and the model path rule.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SednaError } from '../../src/common/errors.js';
import { checkComparable, metricDeltas, toMetricLists } from '../../src/core/metric-lists.js';
import {
  HotUpdatePoller,
  isUpdateTime,
  parseHotUpdateConfig,
  type HotUpdateConfig,
  type PollOutcome,
} from '../../src/core/hot-update.js';
import { inferenceModelLocation, trainOutputLocation } from '../../src/core/incremental-learning/model-files.js';

describe('hot-update times', () => {
  it.each([
    '2024-06-01 12:00:00.123456789 +0800 CST m=+12.345678901', // time.Now().String() on a node
    '2024-06-01 04:00:00.5 +0000 UTC',
    '2024-06-01 04:00:00 +0000 UTC',
    '2024-06-01 04:00:00.000000001 -0700 -07 m=+0.001',
    '2024-06-01T12:00:00Z',
    '2024-06-01T12:00:00.123+08:00',
  ])('accepts %s', (t) => expect(isUpdateTime(t)).toBe(true));

  it.each([
    '',
    'latest',
    'yesterday',
    '1717243200',
    '2024-13-01 00:00:00 +0000 UTC',
    '2024-02-31 00:00:00 +0000 UTC',
    '2024-06-01 12:00:00',
    '2024-06-01T12:00:00',
  ])('rejects %j', (t) => expect(isUpdateTime(t)).toBe(false));
});

describe('parseHotUpdateConfig', () => {
  const time = '2024-06-01 12:00:00.1 +0000 UTC m=+1.0';
  it('reads the LC file (MarshalIndent, one space)', () => {
    const text = JSON.stringify(
      { model_config: { model_path: '/model-hot-update/model.onnx', model_update_time: time } },
      null,
      1,
    );
    expect(parseHotUpdateConfig(text, 'cfg')).toEqual({
      modelPath: '/model-hot-update/model.onnx',
      modelUpdateTime: time,
    });
  });

  it.each([
    ['{"model_config": {"model_pa', 'config-json'],
    ['', 'config-json'],
    ['null', 'config-schema'],
    ['{"model_config": "x"}', 'config-schema'],
    [`{"model_config": {"model_path": "", "model_update_time": "${time}"}}`, 'config-schema'],
    [`{"model_config": {"model_path": 3, "model_update_time": "${time}"}}`, 'config-schema'],
    ['{"model_config": {"model_path": "/m"}}', 'update-time'],
    ['{"model_config": {"model_path": "/m", "model_update_time": 1717243200}}', 'update-time'],
    ['{"model_config": {"model_path": "/m", "model_update_time": "latest"}}', 'update-time'],
  ])('%j → %s', (text, reason) => {
    try {
      parseHotUpdateConfig(text, 'cfg');
      throw new Error('expected a failure');
    } catch (err) {
      expect(err).toBeInstanceOf(SednaError);
      expect((err as SednaError).code).toBe('SEDNA_ERR_HOT_UPDATE');
      expect((err as SednaError).details.reason).toBe(reason);
    }
  });
});

describe('HotUpdatePoller', () => {
  const good = (t: string, p = '/m'): Uint8Array =>
    Buffer.from(JSON.stringify({ model_config: { model_path: p, model_update_time: t } }));
  const T1 = '2024-06-01 12:00:01 +0000 UTC';
  const T2 = '2024-06-01 12:00:02 +0000 UTC';

  function poller(
    files: (Uint8Array | undefined)[],
    apply: (c: HotUpdateConfig) => Promise<void> = () => Promise.resolve(),
  ) {
    const outcomes: PollOutcome[] = [];
    let reads = 0;
    const p = new HotUpdatePoller({
      configPath: 'cfg',
      periodMs: 10,
      settleMs: 1,
      read: () => Promise.resolve(files[Math.min(reads++, files.length - 1)]),
      fingerprint: () => Promise.resolve('1:1'),
      apply,
      onOutcome: (o) => {
        outcomes.push(o);
      },
    });
    return { p, outcomes, reads: () => reads };
  }

  it('a file caught mid-write is read again before it counts as a failure', async () => {
    const { p, outcomes } = poller([Buffer.from('{"model_config": {"mo'), good(T1)]);
    expect((await p.pollNow()).kind).toBe('updated');
    expect(outcomes.map((o) => o.kind)).toEqual(['updated']);
    expect(p.version).toBe(T1);
  });

  it('a file that stays broken is reported once; a new version after it fires', async () => {
    const half = Buffer.from('{"model_config": {"mo');
    const files: (Uint8Array | undefined)[] = [half, half, half, half, half, good(T2)];
    const { p, outcomes } = poller(files);
    expect(await p.pollNow()).toMatchObject({ kind: 'failed', repeated: false });
    expect(await p.pollNow()).toMatchObject({ kind: 'failed', repeated: true });
    expect((await p.pollNow()).kind).toBe('updated');
    expect(outcomes.map((o) => o.kind)).toEqual(['failed', 'updated']);
  });

  it('no file: nothing to do, nothing reported', async () => {
    const { p, outcomes } = poller([undefined]);
    expect(await p.pollNow()).toEqual({ kind: 'absent' });
    expect(outcomes).toEqual([]);
  });

  it('the timer keeps firing after the first update (Sedna #381), and polls never overlap', async () => {
    let active = 0;
    let maxActive = 0;
    const versions = [T1, T2, '2024-06-01 12:00:03 +0000 UTC'];
    let i = 0;
    const applied: string[] = [];
    let allApplied!: () => void;
    const done = new Promise<void>((resolve) => (allApplied = resolve));
    const p = new HotUpdatePoller({
      configPath: 'cfg',
      periodMs: 1,
      read: () => Promise.resolve(good(versions[Math.min(i, versions.length - 1)]!)),
      fingerprint: () => Promise.resolve('x'),
      apply: async (c) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise(setImmediate);
        active--;
        applied.push(c.modelUpdateTime);
        i++;
        if (applied.length === versions.length) allApplied();
      },
      onOutcome: () => undefined,
    });
    p.start();
    await done;
    await p.close();
    expect(applied).toEqual(versions);
    expect(maxActive).toBe(1);
  });
});

/** The code of the SednaError `fn` throws. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof SednaError) return err.code;
    throw err;
  }
  throw new Error('expected a SednaError');
}

describe('HotUpdatePoller resilience', () => {
  it('a throwing outcome handler does not stop the timer', async () => {
    const versions = ['2024-06-01 12:00:01 +0000 UTC', '2024-06-01 12:00:02 +0000 UTC'];
    let i = 0;
    let second!: () => void;
    const done = new Promise<void>((resolve) => (second = resolve));
    const p = new HotUpdatePoller({
      configPath: 'cfg',
      periodMs: 1,
      read: () =>
        Promise.resolve(
          Buffer.from(
            JSON.stringify({ model_config: { model_path: '/m', model_update_time: versions[Math.min(i, 1)] } }),
          ),
        ),
      fingerprint: () => Promise.resolve('x'),
      apply: () => {
        i++;
        return Promise.resolve();
      },
      onOutcome: (o) => {
        if (o.kind !== 'updated') return;
        if (o.config.modelUpdateTime === versions[0]) throw new Error('a listener failed');
        second();
      },
    });
    p.start();
    await done;
    await p.close();
    expect(p.version).toBe(versions[1]);
  });
});

describe('eval metrics for the LC', () => {
  it('scalars become lists; lists stay', () => {
    expect(toMetricLists({ accuracy: 0.9, recall: [0.5, 0.7] }, 'm')).toEqual({ accuracy: [0.9], recall: [0.5, 0.7] });
  });

  it.each([[{ a: 'x' }], [{ a: Number.NaN }], [{ a: [] }], [{ a: [1, null] }], [{}], [null], [[1]]])(
    '%j is SEDNA_ERR_METRIC',
    (m) => expect(codeOf(() => toMetricLists(m, 'm'))).toBe('SEDNA_ERR_METRIC'),
  );

  it('deltas as the LC computes them: new − deployed, element by element, metrics kept', () => {
    expect(metricDeltas({ precision: [0.9, 0.8] }, { precision: [0.7, 0.85] })).toEqual({
      precision: [0.9, 0.8],
      precision_delta: [0.9 - 0.7, 0.8 - 0.85],
    });
  });

  it('a deployed result the LC would index past is refused', () => {
    expect(codeOf(() => checkComparable({ a: [1, 2] }, { a: [1] }))).toBe('SEDNA_ERR_METRIC');
    expect(codeOf(() => checkComparable({ a: [1] }, { b: [1] }))).toBe('SEDNA_ERR_METRIC');
  });
});

describe('model path rule (Sedna JobBase.model_path)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sedna-il-path-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('train: MODEL_URL when it is a file, else model_path, else MODEL_URL/<name>', async () => {
    const file = path.join(dir, 'model.onnx');
    fs.writeFileSync(file, 'x');
    expect(await trainOutputLocation(file, '/elsewhere', 'model')).toBe(file);
    expect(await trainOutputLocation(path.join(dir, 'out'), '/elsewhere', 'model')).toBe('/elsewhere');
    expect(await trainOutputLocation(path.join(dir, 'out'), undefined, 'model')).toBe(path.join(dir, 'out', 'model'));
    expect(await trainOutputLocation('s3://b/out/1', undefined, 'model')).toBe('s3://b/out/1/model');
    await expect(trainOutputLocation(undefined, undefined, 'model')).rejects.toMatchObject({
      code: 'SEDNA_ERR_INVALID_CONFIG',
    });
  });

  it('inference: model_path, else MODEL_URL/<name> when MODEL_URL is an output folder, else MODEL_URL', async () => {
    const out = path.join(dir, 'round');
    fs.mkdirSync(path.join(out, 'model'), { recursive: true });
    expect(await inferenceModelLocation(out, undefined, 'model')).toBe(path.join(out, 'model'));
    expect(await inferenceModelLocation(path.join(out, 'model'), undefined, 'model')).toBe(path.join(out, 'model'));
    expect(await inferenceModelLocation(out, '/p', 'model')).toBe('/p');
    expect(await inferenceModelLocation(undefined, undefined, 'model')).toBeUndefined();
  });
});
