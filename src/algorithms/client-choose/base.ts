/**
 * Client choice (ClassFactory kind `client_choose`): which of the connected clients train in a
 * round. Pure computation: the server asks `choose()` when a round opens, tells only the chosen
 * clients to train, and aggregates only their updates; the others wait for the round's result.
 *
 * Sedna's `SimpleClientChoose(per_round)` (sedna.algorithms.client_choose) only held
 * `parameters = {"per_round": n}` for Plato, whose server then sampled `per_round` clients at
 * random each round; here the choosers do the choosing.
 */

/** A client the server could ask to train. */
export interface ClientCandidate {
  readonly id: string;
  /** The sample count it reported last (weights the choice of `WeightedClientChoose`). */
  readonly numSamples?: number;
}

export interface ClientChooser {
  /** The registered name. */
  readonly name: string;
  /** How many clients train per round (fewer when fewer are connected). */
  readonly perRound: number;
  /** Sedna's `parameters` (`{"per_round": n}`). */
  readonly parameters: Readonly<{ per_round: number }>;
  /** The ids of the clients that train in `round`, in the order of `candidates`. */
  choose(round: number, candidates: readonly ClientCandidate[]): string[];
}

/** Parameters every chooser takes (CRD strings accepted). */
export interface ClientChooseParams {
  /** Clients per round, an integer ≥ 1 (default 1, as Sedna). */
  per_round?: number | string;
  /** Seed of the choice, for a reproducible sequence (default: a random seed). */
  seed?: number | string;
}
