// The backend registry: lazy once-only init, priorities, the one error listing every candidate,
// user backends, and custom estimator objects. Each Jest test file has its own global object,
// so this file starts from a registry holding only the built-ins.
import fs from 'node:fs';
import path from 'node:path';
import {
  asEstimator,
  createEstimator,
  listBackends,
  registerBackend,
  resolveBackend,
  unregisterBackend,
  type BackendFactory,
  type CustomEstimator,
} from '../../src/backend/registry.js';
import type { Dataset } from '../../src/backend/estimator.js';
import { isSednaError, type SednaError } from '../../src/common/errors.js';
import { runNode } from '../helpers/child.js';
import { ROOT, SCRATCH } from '../helpers/paths.js';
import { EDGE_ONNX, MLP_TFJS, loadDigits } from '../helpers/backend-fixtures.js';
import { rejectionOf } from '../helpers/errors.js';

const test = loadDigits('test');

function syncCodeOf(fn: () => unknown): SednaError {
  try {
    fn();
  } catch (err) {
    if (isSednaError(err)) return err;
    throw err;
  }
  throw new Error('expected a SednaError, but the call succeeded');
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A tiny user model: predicts the class with the largest feature sum over 10 buckets. */
class BucketModel {
  loaded = '';
  predict(x: readonly (readonly number[])[]): number[] {
    return x.map((row) => {
      const sums = Array.from({ length: 10 }, (_, b) => row.slice(b * 6, b * 6 + 6).reduce((s, v) => s + v, 0));
      return sums.indexOf(Math.max(...sums));
    });
  }
  evaluate(data: Dataset<readonly number[], number>): { accuracy: number } {
    const p = this.predict(data.x);
    return { accuracy: p.filter((c, i) => c === data.y?.[i]).length / p.length };
  }
  fit(): void {
    // nothing to learn
  }
  save(url: string): void {
    fs.writeFileSync(url, 'bucket-model');
  }
  load(url: string): void {
    this.loaded = url;
  }
}

describe('built-in backends', () => {
  it('are registered but not initialised until resolved', () => {
    expect(listBackends()).toEqual([
      { name: 'onnx', priority: 100, types: ['ONNX'], state: 'registered' },
      { name: 'tfjs', priority: 100, types: ['TENSORFLOW', 'KERAS', 'TFJS'], state: 'registered' },
      { name: 'classical', priority: -100, types: ['SKLEARN', 'CLASSICAL'], state: 'registered' },
    ]);
  });

  it('resolve BACKEND_TYPE values case-insensitively and build working estimators', async () => {
    const onnx = await createEstimator('onnx', { modelUrl: EDGE_ONNX });
    expect(onnx.backend).toBe('onnx');
    expect(await onnx.evaluate({ x: test.x, y: test.y })).toEqual({ accuracy: expect.any(Number) as number });
    await onnx.close();
    expect(listBackends().find((b) => b.name === 'onnx')?.state).toBe('ready');

    const keras = await createEstimator(' Keras ', { modelUrl: MLP_TFJS });
    expect(keras.backend).toBe('tfjs');
    expect(((await keras.evaluate({ x: test.x, y: test.y })).accuracy as number) > 0.97).toBe(true);
    await keras.close();
    expect((await resolveBackend('TENSORFLOW')).name).toBe('tfjs');
  });

  it('importing the registry loads neither onnxruntime-node nor TF.js', async () => {
    fs.mkdirSync(SCRATCH, { recursive: true });
    const script = path.join(SCRATCH, 'registry-laziness.mjs');
    fs.writeFileSync(
      script,
      `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const heavy = () => Object.keys(require.cache).filter((k) => /onnxruntime-node|@tensorflow/.test(k)).map((k) => k.includes('onnxruntime') ? 'onnx' : 'tfjs');
const registry = await import(${JSON.stringify(path.join(ROOT, 'src', 'backend', 'registry.ts'))});
const afterImport = [...new Set(heavy())];
await registry.resolveBackend('ONNX');
process.stdout.write(JSON.stringify({ afterImport, afterResolve: [...new Set(heavy())] }));
`,
    );
    const result = await runNode(['--import', 'tsx', script], { cwd: ROOT, env: { LOG_LEVEL: 'silent' } });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ afterImport: [], afterResolve: ['onnx'] });
  });
});

describe('registering backends', () => {
  const names: string[] = [];
  const register = (...args: Parameters<typeof registerBackend>): void => {
    names.push(args[0]);
    registerBackend(...args);
  };
  afterEach(() => {
    for (const name of names.splice(0)) unregisterBackend(name);
  });

  const factory: BackendFactory = { create: () => Promise.resolve(asEstimator(new BucketModel())) };

  it('initialises a backend lazily and only once, even for concurrent callers', async () => {
    let calls = 0;
    register(
      'counting',
      async () => {
        calls++;
        await delay(20);
        return factory;
      },
      5,
      { types: ['COUNT'] },
    );
    expect(calls).toBe(0);
    const pending = Promise.all(Array.from({ length: 5 }, () => resolveBackend('count')));
    expect(listBackends().find((b) => b.name === 'counting')?.state).toBe('initialising');
    const resolved = await pending;
    expect(calls).toBe(1);
    expect(new Set(resolved.map((r) => r.factory))).toEqual(new Set([factory]));
    await resolveBackend('COUNT');
    expect(calls).toBe(1);
  });

  it('tries candidates by priority and throws ONE error listing each failure, remembered', async () => {
    let calls = 0;
    register(
      'gpu',
      () => {
        calls++;
        throw new Error('libcuda.so.1: cannot open shared object file');
      },
      10,
      { types: ['BROKEN'] },
    );
    register(
      'remote',
      async () => {
        calls++;
        await delay(1);
        throw new Error('no accelerator service at 10.0.0.9');
      },
      5,
      { types: ['BROKEN'] },
    );
    const first = await rejectionOf(resolveBackend('broken'));
    expect(first.code).toBe('SEDNA_ERR_NO_BACKEND');
    expect(first.message).toBe(
      'no estimator backend could be initialised for BACKEND_TYPE=BROKEN: [gpu] libcuda.so.1: cannot open shared object file; [remote] no accelerator service at 10.0.0.9',
    );
    expect(first.details).toEqual({
      type: 'BROKEN',
      failures: [
        { name: 'gpu', reason: 'libcuda.so.1: cannot open shared object file' },
        { name: 'remote', reason: 'no accelerator service at 10.0.0.9' },
      ],
    });
    const second = await rejectionOf(createEstimator('BROKEN'));
    expect(second.message).toBe(first.message);
    expect(calls).toBe(2); // failures are remembered, not retried
    expect(
      listBackends()
        .filter((b) => b.state === 'failed')
        .map((b) => [b.name, b.error]),
    ).toEqual([
      ['gpu', 'libcuda.so.1: cannot open shared object file'],
      ['remote', 'no accelerator service at 10.0.0.9'],
    ]);
  });

  it('falls back to a lower priority candidate when a higher one fails', async () => {
    register('fast', () => Promise.reject(new Error('not here')), 50, { types: ['PICK'] });
    register('slow', () => factory, 1, { types: ['PICK'] });
    register('fastest-but-other-type', () => factory, 99, { types: ['OTHER'] });
    expect((await resolveBackend('PICK')).name).toBe('slow');
  });

  it('an init that returns no factory is a failure with a reason', async () => {
    register('hollow', () => ({}) as BackendFactory, 0, { types: ['HOLLOW'] });
    expect((await rejectionOf(resolveBackend('HOLLOW'))).message).toContain(
      '[hollow] init() did not return an object with a create(options) method',
    );
  });

  it('an unknown BACKEND_TYPE is SEDNA_ERR_NO_BACKEND listing what is registered', async () => {
    const err = await rejectionOf(createEstimator('PADDLE'));
    expect(err.code).toBe('SEDNA_ERR_NO_BACKEND');
    expect(err.message).toContain('no estimator backend is registered for BACKEND_TYPE=PADDLE');
    expect(err.message).toContain('onnx (ONNX); tfjs (TENSORFLOW, KERAS, TFJS)');
  });

  it("a user's backend serves its own BACKEND_TYPE (SKLEARN)", async () => {
    const userModel = Object.assign(new BucketModel(), { backend: 'sklearn-like' });
    register('sklearn-like', () => ({ create: () => Promise.resolve(asEstimator(userModel)) }), 0, {
      types: ['SKLEARN'],
    });
    const e = await createEstimator('SKLEARN');
    expect(e.backend).toBe('sklearn-like');
    expect(await e.predict([[...Array<number>(54).fill(0), 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]])).toEqual([9]);
  });

  it('same name: lower priority is ignored, equal priority with another init is an error, higher replaces', async () => {
    const a = (): BackendFactory => factory;
    const b = (): BackendFactory => factory;
    register('dup', a, 5, { types: ['DUP'] });
    await resolveBackend('DUP');
    register('dup', b, 1);
    register('dup', a, 5); // the same registration again is fine
    expect(listBackends().find((x) => x.name === 'dup')).toMatchObject({ priority: 5, state: 'ready', types: ['DUP'] });
    const err = syncCodeOf(() => registerBackend('dup', b, 5));
    expect(err.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    register('dup', b, 6, { types: ['DUP2'] });
    expect(listBackends().find((x) => x.name === 'dup')).toMatchObject({
      priority: 6,
      state: 'registered',
      types: ['DUP2'],
    });
  });

  it('rejects malformed registrations', () => {
    expect(syncCodeOf(() => registerBackend('', () => factory)).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect(syncCodeOf(() => registerBackend('x', 'nope' as unknown as () => BackendFactory)).code).toBe(
      'SEDNA_ERR_INVALID_ARGUMENT',
    );
    expect(syncCodeOf(() => registerBackend('x', () => factory, Number.NaN)).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect(syncCodeOf(() => registerBackend('x', () => factory, 0, { types: [' '] })).code).toBe(
      'SEDNA_ERR_INVALID_ARGUMENT',
    );
  });
});

describe('asEstimator (custom estimators)', () => {
  it('names every missing required method', () => {
    const err = syncCodeOf(() => asEstimator({ predict: () => 1 } as unknown as CustomEstimator));
    expect(err.code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
    expect(err.message).toBe('estimator object is missing required methods: evaluate, save, load, train (or fit)');
    expect(err.details).toEqual({ argument: 'estimator', missing: ['evaluate', 'save', 'load', 'train (or fit)'] });
    expect(syncCodeOf(() => asEstimator(null as unknown as CustomEstimator)).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });

  it('adapts a class instance with sync methods and sklearn-style fit, with defaults for the rest', async () => {
    const model = new BucketModel();
    const e = asEstimator(model);
    expect(asEstimator(e as CustomEstimator)).toBe(e); // already adapted
    expect(e.backend).toBe('custom');
    expect(await e.train({ x: [] })).toEqual({});
    expect(await e.predict([[...Array<number>(60).fill(0), 1, 1, 1, 1]])).toEqual([0]);
    expect((await e.evaluate({ x: test.x, y: test.y })).accuracy).toEqual(expect.any(Number));
    await e.load('/models/bucket.bin');
    expect(model.loaded).toBe('/models/bucket.bin');
    const file = path.join(SCRATCH, 'bucket-model.bin');
    fs.mkdirSync(SCRATCH, { recursive: true });
    expect(await e.save(file)).toBe(file);
    expect(e.modelInfo('/home/data/m/bucket.PKL', { dataPathPrefix: '/home/data' })).toEqual([
      { format: 'pkl', url: '/m/bucket.PKL', metrics: null },
    ]);
    expect((await rejectionOf(e.getWeights())).code).toBe('SEDNA_ERR_NOT_SUPPORTED');
    expect((await rejectionOf(e.setWeights([]))).code).toBe('SEDNA_ERR_NOT_SUPPORTED');
    await e.close();
  });

  it("wraps errors from the user's predict as SEDNA_ERR_INFERENCE with the cause", async () => {
    const boom = new Error('model exploded');
    const e = asEstimator({
      train: () => ({ loss: 1 }),
      predict: () => {
        throw boom;
      },
      evaluate: () => ({}),
      save: () => '/elsewhere/model.bin',
      load: () => undefined,
      getWeights: () => [],
      close: () => undefined,
    });
    const err = await rejectionOf(e.predict(1));
    expect(err.code).toBe('SEDNA_ERR_INFERENCE');
    expect(err.cause).toBe(boom);
    expect(await e.train({ x: [] })).toEqual({ loss: 1 });
    expect(await e.save('/models/model.bin')).toBe('/elsewhere/model.bin');
    expect(await e.getWeights()).toEqual([]);
  });
});
