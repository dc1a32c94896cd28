/**
 * `WeightedClientChoose(per_round)`: `per_round` clients drawn without replacement with
 * probability proportional to their sample counts (Efraimidis and Spirakis' weighted sampling:
 * each client gets the key `u^(1/w)` and the largest keys win). A client with more data trains
 * more often; one that reported no count weighs 1; one with 0 samples is chosen only when there are
 * not enough others.
 */
import type { ClientCandidate } from './base.js';
import { SimpleClientChoose, smallestKeys } from './simple.js';

/** The same parameters as SimpleClientChoose (`per_round`, `seed`); only the draw differs. */
export class WeightedClientChoose extends SimpleClientChoose {
  static override readonly algorithmName: string = 'WeightedClientChoose';
  override get name(): string {
    return WeightedClientChoose.algorithmName;
  }

  override choose(_round: number, candidates: readonly ClientCandidate[]): string[] {
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
