/**
 * `SimpleClientChoose(per_round)`: `per_round` clients drawn uniformly at random, without
 * replacement, each round (what Plato did with Sedna's parameter); every client when fewer are
 * connected.
 */
import { intParam } from '../params.js';
import { seededRandom, type RandomSource } from '../random.js';
import type { ClientCandidate, ClientChooseParams, ClientChooser } from './base.js';

/** The chooser's random source: seeded from `seed`, or from Math.random when none is given. */
export function chooserRandom(algorithm: string, seed: ClientChooseParams['seed']): RandomSource {
  const value = intParam(algorithm, 'seed', seed, Math.floor(Math.random() * 2 ** 32), 0, 2 ** 32 - 1);
  return seededRandom(value);
}

/** The first `count` of `keys` by ascending key, as indexes in their original order. */
export function smallestKeys(keys: readonly number[], count: number): Set<number> {
  const order = keys.map((_, i) => i).sort((a, b) => (keys[a] as number) - (keys[b] as number) || a - b);
  return new Set(order.slice(0, count));
}

export class SimpleClientChoose implements ClientChooser {
  static readonly algorithmName: string = 'SimpleClientChoose';
  readonly perRound: number;
  readonly parameters: Readonly<{ per_round: number }>;
  protected readonly random: RandomSource;

  /** The registered name (a getter, so a subclass's name is known inside this constructor). */
  get name(): string {
    return SimpleClientChoose.algorithmName;
  }

  constructor(params: ClientChooseParams = {}) {
    this.perRound = intParam(this.name, 'per_round', params.per_round, 1, 1);
    this.parameters = Object.freeze({ per_round: this.perRound });
    this.random = chooserRandom(this.name, params.seed);
  }

  choose(_round: number, candidates: readonly ClientCandidate[]): string[] {
    if (candidates.length <= this.perRound) return candidates.map((c) => c.id);
    // A uniform random key per client; the smallest `perRound` keys win (a uniform sample).
    const chosen = smallestKeys(
      candidates.map(() => this.random()),
      this.perRound,
    );
    return candidates.filter((_, i) => chosen.has(i)).map((c) => c.id);
  }
}
