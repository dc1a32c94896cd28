/**
 * Client choice: which connected clients train in a round. SimpleClientChoose draws per_round of
 * them uniformly (what Plato did with Sedna's parameter), WeightedClientChoose in proportion to
 * their sample counts; both registered under kind client_choose with CRD string parameters.
 */
import {
  SimpleClientChoose,
  WeightedClientChoose,
  type ClientCandidate,
  type ClientChooser,
} from '../../src/algorithms/client-choose/index.js';
import { ClassFactory, ClassType } from '../../src/common/class-factory.js';
import { errorOf } from '../helpers/errors.js';

const candidates = (count: number, samples?: (i: number) => number): ClientCandidate[] =>
  Array.from({ length: count }, (_, i) => ({ id: `c${i}`, ...(samples ? { numSamples: samples(i) } : {}) }));

/** How often each id is chosen over `rounds` rounds. */
function frequencies(chooser: ClientChooser, pool: readonly ClientCandidate[], rounds: number): Map<string, number> {
  const counts = new Map(pool.map((c) => [c.id, 0]));
  for (let r = 1; r <= rounds; r++) for (const id of chooser.choose(r, pool)) counts.set(id, (counts.get(id) ?? 0) + 1);
  return new Map([...counts].map(([id, n]) => [id, n / rounds]));
}

describe('SimpleClientChoose', () => {
  it('is Sedna’s name under kind client_choose, with per_round from a CRD string', () => {
    expect(ClassType.CLIENT_CHOOSE).toBe('client_choose');
    expect(ClassFactory.names(ClassType.CLIENT_CHOOSE)).toEqual(['SimpleClientChoose', 'WeightedClientChoose']);
    const chooser = ClassFactory.create<'client_choose', 'SimpleClientChoose', SimpleClientChoose>(
      ClassType.CLIENT_CHOOSE,
      'SimpleClientChoose',
      { per_round: '2', seed: '5' },
    );
    expect(chooser.parameters).toEqual({ per_round: 2 });
    expect(new SimpleClientChoose().perRound).toBe(1);
  });

  it('chooses per_round distinct clients, in the candidates’ order; all of them when fewer are connected', () => {
    const chooser = new SimpleClientChoose({ per_round: 3, seed: 1 });
    const pool = candidates(10);
    for (let round = 1; round <= 50; round++) {
      const chosen = chooser.choose(round, pool);
      expect(new Set(chosen).size).toBe(3);
      const positions = chosen.map((id) => pool.findIndex((c) => c.id === id));
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }
    expect(chooser.choose(51, candidates(2))).toEqual(['c0', 'c1']);
    expect(chooser.choose(52, [])).toEqual([]);
  });

  it('repeats its choices for the same seed, and spreads them uniformly', () => {
    const a = new SimpleClientChoose({ per_round: 2, seed: 42 });
    const b = new SimpleClientChoose({ per_round: 2, seed: 42 });
    const pool = candidates(5);
    const rounds = Array.from({ length: 20 }, (_, r) => a.choose(r, pool));
    expect(Array.from({ length: 20 }, (_, r) => b.choose(r, pool))).toEqual(rounds);
    // 2 of 5: each client in 40 % of 20,000 rounds; the standard error is 0.35 %.
    for (const share of frequencies(new SimpleClientChoose({ per_round: 2, seed: 3 }), pool, 20_000).values()) {
      expect(Math.abs(share - 0.4)).toBeLessThan(0.015);
    }
  });
});

describe('WeightedClientChoose', () => {
  it('chooses in proportion to the sample counts', () => {
    // One of three with 1, 2 and 7 samples: 10 %, 20 %, 70 %.
    const shares = frequencies(
      new WeightedClientChoose({ per_round: '1', seed: 9 }),
      candidates(3, (i) => [1, 2, 7][i]!),
      20_000,
    );
    expect(shares.get('c0')).toBeCloseTo(0.1, 1);
    expect(shares.get('c1')).toBeCloseTo(0.2, 1);
    expect(shares.get('c2')).toBeCloseTo(0.7, 1);
  });

  it('takes a client with no samples only when there are not enough others; no count weighs 1', () => {
    const chooser = new WeightedClientChoose({ per_round: 2, seed: 4 });
    const pool: ClientCandidate[] = [{ id: 'empty', numSamples: 0 }, { id: 'a', numSamples: 5 }, { id: 'unknown' }];
    for (let r = 0; r < 200; r++) expect(chooser.choose(r, pool)).toEqual(['a', 'unknown']);
    expect(new WeightedClientChoose({ per_round: 3 }).choose(1, pool)).toEqual(['empty', 'a', 'unknown']);
  });
});

it.each([
  ['SimpleClientChoose', { per_round: '0' }],
  ['SimpleClientChoose', { per_round: '1.5' }],
  ['WeightedClientChoose', { per_round: 'two' }],
  ['WeightedClientChoose', { seed: '-1' }],
])('%s refuses %j with a coded error', (name, params) => {
  const error = errorOf(() => ClassFactory.create(ClassType.CLIENT_CHOOSE, name, params as never));
  expect(error.code).toBe('SEDNA_ERR_INVALID_ALGORITHM_PARAM');
});
