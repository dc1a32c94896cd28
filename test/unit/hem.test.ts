import {
  CloudOnlyFilter,
  CrossEntropyFilter,
  EdgeOnlyFilter,
  entropyConfidence,
  IBTFilter,
  RandomFilter,
  ThresholdFilter,
} from '../../src/algorithms/hard-example-mining/index.js';
import { ClassFactory, ClassType } from '../../src/common/class-factory.js';
import { createHemFilter } from '../../src/core/hem.js';
import { errorOf } from '../helpers/errors.js';

const box = (score: number): number[] => [0, 0, 10, 10, score, 1];

describe('registry', () => {
  it("registers every built-in filter under Sedna's name", () => {
    expect(ClassFactory.names(ClassType.HEM)).toEqual(
      expect.arrayContaining(['CloudOnly', 'CrossEntropy', 'EdgeOnly', 'IBT', 'Random', 'Threshold']),
    );
    expect(ClassFactory.getCls(ClassType.HEM, 'IBT')).toBe(IBTFilter);
  });

  it('an unknown name lists the known ones', () => {
    const err = errorOf(() => createHemFilter({ method: 'Entropy', param: {} }));
    expect(err.code).toBe('SEDNA_ERR_UNKNOWN_ALGORITHM');
    expect(err.message).toContain('CloudOnly, CrossEntropy, EdgeOnly, IBT, Random, Threshold');
  });

  it('builds from a CRD spec with string values, defaulting to IBT without a method', () => {
    const filter = createHemFilter({
      method: 'IBT',
      param: { threshold_img: '0.9', threshold_box: '0.8' },
    }) as IBTFilter;
    expect(filter).toBeInstanceOf(IBTFilter);
    expect([filter.thresholdImg, filter.thresholdBox]).toEqual([0.9, 0.8]);
    expect(createHemFilter({ method: '', param: {} })).toBeInstanceOf(IBTFilter);
    expect(createHemFilter(null)).toBeUndefined();
    const own = { name: 'Mine', isHard: () => true };
    expect(createHemFilter(own)).toBe(own);
    expect(errorOf(() => createHemFilter(42 as never)).code).toBe('SEDNA_ERR_INVALID_ARGUMENT');
  });
});

describe('Threshold', () => {
  it('is hard when the mean box score is below the threshold', () => {
    const f = new ThresholdFilter();
    expect(f.threshold).toBe(0.5);
    expect(f.isHard([box(0.4), box(0.5)])).toBe(true); // mean 0.45
    expect(f.isHard([box(0.6), box(0.5)])).toBe(false); // mean 0.55
    expect(f.isHard([box(0.5)])).toBe(false); // not strictly below
    expect(new ThresholdFilter({ threshold: '0.7' }).isHard([box(0.6), box(0.7)])).toBe(true);
  });

  it('treats no detections as not hard, as Sedna', () => {
    expect(new ThresholdFilter().isHard([])).toBe(false);
    expect(new ThresholdFilter().isHard(null)).toBe(false);
  });

  it('rejects boxes it cannot read (Sedna silently said "not hard")', () => {
    expect(errorOf(() => new ThresholdFilter().isHard([[0, 0, 1, 1]])).code).toBe('SEDNA_ERR_HEM_INPUT');
    expect(errorOf(() => new ThresholdFilter().isHard('boxes')).code).toBe('SEDNA_ERR_HEM_INPUT');
    expect(errorOf(() => new ThresholdFilter().isHard([[0, 0, 1, 1, 'x']])).message).toContain(
      'score is not a finite number',
    );
  });

  it('rejects a threshold that is not a number', () => {
    const err = errorOf(() => new ThresholdFilter({ threshold: 'high' }));
    expect(err.code).toBe('SEDNA_ERR_INVALID_ALGORITHM_PARAM');
    expect(err.message).toBe('algorithm "Threshold": parameter threshold="high" is invalid: expected a number');
  });
});

describe('CrossEntropy', () => {
  it('computes 1 − normalised entropy', () => {
    expect(entropyConfidence([0.5, 0.5])).toBeCloseTo(0, 12);
    expect(entropyConfidence([1, 0, 0])).toBe(1);
    // Hand-computed: 0.7 ln 0.7 + 0.2 ln 0.2 + 0.1 ln 0.1 = −0.801819; / ln 3 = −0.729847.
    expect(entropyConfidence([0.7, 0.2, 0.1])).toBeCloseTo(0.270153, 5);
  });

  it('is hard when the confidence is below the threshold', () => {
    expect(new CrossEntropyFilter().isHard([0.7, 0.2, 0.1])).toBe(true); // 0.27 < 0.5
    expect(new CrossEntropyFilter({ threshold_cross_entropy: '0.2' }).isHard([0.7, 0.2, 0.1])).toBe(false);
    expect(new CrossEntropyFilter().isHard([0.98, 0.01, 0.01])).toBe(false);
  });

  it('defines the cases where Sedna raised: one class and zero probabilities', () => {
    expect(new CrossEntropyFilter().isHard([1])).toBe(false); // ln 1 = 0: no uncertainty
    expect(new CrossEntropyFilter({ threshold_cross_entropy: 1 }).isHard([1])).toBe(false);
    expect(new CrossEntropyFilter().isHard([0, 1])).toBe(false); // 0·ln 0 = 0
    expect(new CrossEntropyFilter({ threshold_cross_entropy: 1 }).isHard([0, 1])).toBe(false);
  });

  it('reads a batch of one row and typed arrays; an empty list is not hard', () => {
    expect(new CrossEntropyFilter().isHard([[0.5, 0.5]])).toBe(true);
    expect(new CrossEntropyFilter().isHard(new Float32Array([0.5, 0.5]))).toBe(true);
    expect(new CrossEntropyFilter().isHard([new Float32Array([0.99, 0.01])])).toBe(false);
    expect(new CrossEntropyFilter().isHard([])).toBe(false);
  });

  it('rejects probabilities outside [0, 1] and non-lists', () => {
    expect(errorOf(() => new CrossEntropyFilter().isHard([2.5, -1])).message).toContain('apply softmax first');
    expect(
      errorOf(() =>
        new CrossEntropyFilter().isHard([
          [0.5, 0.5],
          [0.5, 0.5],
        ]),
      ).code,
    ).toBe('SEDNA_ERR_HEM_INPUT');
    expect(errorOf(() => new CrossEntropyFilter().isHard({ p: 1 })).code).toBe('SEDNA_ERR_HEM_INPUT');
    expect(errorOf(() => new CrossEntropyFilter().isHard([NaN, 1])).code).toBe('SEDNA_ERR_HEM_INPUT');
  });

  it('rejects a threshold outside [0, 1]', () => {
    expect(errorOf(() => new CrossEntropyFilter({ threshold_cross_entropy: '1.5' })).message).toContain(
      'a number from 0 to 1',
    );
  });

  it('decides exactly as 1 − normalised entropy < threshold, over many distributions (it stops taking logs early)', () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 1664525 + 1013904223) % 2 ** 32) / 2 ** 32;
    let hard = 0;
    for (let trial = 0; trial < 2_000; trial++) {
      const n = 2 + Math.floor(random() * 99);
      const peak = random() * 40; // from flat to very peaked
      const raw = Array.from({ length: n }, (_, i) => (i === 0 ? peak : 0) + random());
      const total = raw.reduce((a, b) => a + b, 0);
      const p = raw.map((v) => v / total);
      const threshold = random();
      const expected = entropyConfidence(p) < threshold;
      if (expected) hard++;
      expect([trial, new CrossEntropyFilter({ threshold_cross_entropy: threshold }).isHard(p)]).toEqual([
        trial,
        expected,
      ]);
    }
    expect(hard).toBeGreaterThan(200); // both answers were exercised
    expect(hard).toBeLessThan(1_800);
  });

  it('still checks every value after the answer is known', () => {
    expect(errorOf(() => new CrossEntropyFilter({ threshold_cross_entropy: 1 }).isHard([0.5, 0.5, 1.5])).code).toBe(
      'SEDNA_ERR_HEM_INPUT',
    );
  });
});

describe('IBT', () => {
  it('is hard when the share of low-score boxes reaches 1 − threshold_img', () => {
    const f = new IBTFilter();
    expect(f.isHard([box(0.3), box(0.9), box(0.4)])).toBe(true); // 2/3 ≥ 0.5
    expect(f.isHard([box(0.6), box(0.9), box(0.4)])).toBe(false); // 1/3 < 0.5
    expect(f.isHard([box(0.5), box(0.9)])).toBe(true); // ≤ threshold_box counts; 1/2 ≥ 0.5
  });

  it("follows the helmet example's thresholds (0.9, 0.9)", () => {
    const f = new IBTFilter({ threshold_img: '0.9', threshold_box: '0.9' });
    expect(f.isHard([box(0.95), box(0.85)])).toBe(true); // 1/2 ≥ 0.1
    expect(f.isHard([box(0.95), box(0.99)])).toBe(false); // 0 ≥ 0.1 is false
  });

  it('treats no boxes as not hard and rejects scores outside [0, 1]', () => {
    expect(new IBTFilter().isHard([])).toBe(false);
    expect(errorOf(() => new IBTFilter().isHard([box(1.2)])).message).toContain('box scores must be in [0, 1]');
  });

  it.each([
    [{ threshold_img: 'x' }, 'threshold_img'],
    [{ threshold_box: '-0.1' }, 'threshold_box'],
  ])('rejects bad parameter %j', (params, name) => {
    const err = errorOf(() => new IBTFilter(params));
    expect(err.code).toBe('SEDNA_ERR_INVALID_ALGORITHM_PARAM');
    expect(err.details).toMatchObject({ algorithm: 'IBT', param: name });
  });
});

describe('Random', () => {
  it('casts the CRD string Sedna left uncast and compares with the random draw', () => {
    const draws = [0.2, 0.4, 0.29999];
    const f = new RandomFilter({ random_ratio: '0.3' }, () => draws.shift() as number);
    expect(f.ratio).toBe(0.3);
    expect([f.isHard(), f.isHard(), f.isHard()]).toEqual([true, false, true]);
  });

  it('is hard about random_ratio of the time', () => {
    let seed = 42;
    const lcg = (): number => (seed = (seed * 1664525 + 1013904223) % 2 ** 32) / 2 ** 32;
    const f = new RandomFilter({ random_ratio: 0.25 }, lcg);
    let hard = 0;
    for (let i = 0; i < 10_000; i++) if (f.isHard()) hard++;
    expect(hard / 10_000).toBeGreaterThan(0.23);
    expect(hard / 10_000).toBeLessThan(0.27);
  });

  it('rejects a ratio outside [0, 1] or not a number', () => {
    expect(errorOf(() => new RandomFilter({ random_ratio: 'often' })).code).toBe('SEDNA_ERR_INVALID_ALGORITHM_PARAM');
    expect(errorOf(() => new RandomFilter({ random_ratio: 1.5 })).code).toBe('SEDNA_ERR_INVALID_ALGORITHM_PARAM');
  });
});

describe('CloudOnly and EdgeOnly', () => {
  it('send everything to the cloud, or nothing', () => {
    expect(new CloudOnlyFilter().isHard()).toBe(true);
    expect(new EdgeOnlyFilter().isHard([0.1])).toBe(false);
    expect(ClassFactory.create(ClassType.HEM, 'CloudOnly')).toBeInstanceOf(CloudOnlyFilter);
  });
});
