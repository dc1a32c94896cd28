/**
 * `WeightedClientChoose(per_round)`: `per_round` clients drawn without replacement with
 * probability proportional to their sample counts (Efraimidis and Spirakis' weighted sampling:
 * each client gets the key `u^(1/w)` and the largest keys win). A client with more data trains
 * more often; one that reported no count weighs 1; one with 0 samples is chosen only when there are
 * not enough others.
 */
import { intParam } from '../params.js';
import type { RandomSource } from '../random.js';
import type { ClientCandidate, ClientChooseParams, ClientChooser } from './base.js';
import { chooserRandom, smallestKeys } from './simple.js';

export class WeightedClientChoose implements ClientChooser {
  static readonly algorithmName: string = 'WeightedClientChoose';
  readonly name: string = WeightedClientChoose.algorithmName;
  readonly perRound: number;
  readonly parameters: Readonly<{ per_round: number }>;
  private readonly random: RandomSource;

  constructor(params: ClientChooseParams = {}) {
    this.perRound = intParam(this.name, 'per_round', params.per_round, 1, 1);
    this.parameters = Object.freeze({ per_round: this.perRound });
    this.random = chooserRandom(this.name, params.seed);
  }

  choose(_round: number, candidates: readonly ClientCandidate[]): string[] {
    if (candidates.length <= this.perRound) return candidates.map((c) => c.id);
    // −ln(u)/w orders clients as u^(1/w) does (reversed), without underflow for large weights.
    const keys = candidates.map((c) => {
      const weight = c.numSamples === undefined || !(c.numSamples >= 0) ? 1 : c.numSamples;
      const u = 1 - this.random(); // (0, 1]
      return weight === 0 ? Infinity : -Math.log(u) / weight;
    });
    const chosen = smallestKeys(keys, this.perRound);
    return candidates.filter((_, i) => chosen.has(i)).map((c) => c.id);
  }
}
