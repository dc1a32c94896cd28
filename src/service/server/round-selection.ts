/**
 * Client selection in the aggregation server's rounds (issue 15): which connected clients train
 * in a round, asked of a `client_choose` algorithm (`SimpleClientChoose`, `WeightedClientChoose`
 * or the user's own) once `participantsCount` clients are connected. The server tells each client
 * whether it was chosen in the round's `round_config` frame; only the chosen clients' updates go
 * into the round's aggregate.
 */
import { ClassFactory, ClassType } from '../../common/class-factory.js';
import { invalidArgument, messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import '../../algorithms/client-choose/index.js'; // registers the built-in choosers
import type { ClientCandidate, ClientChooser, ClientChooseParams } from '../../algorithms/client-choose/base.js';

/** A chooser, a registered chooser's name, or its name with Sedna's parameters. */
export type ClientChooseOption = ClientChooser | string | ({ readonly name: string } & ClientChooseParams);

/** Sample counts remembered for the weighted choice (ids come from peers: bounded). */
const MAX_REMEMBERED = 4096;

/** The chooser an option names (undefined: every client trains every round). */
export function resolveChooser(option: ClientChooseOption | undefined): ClientChooser | undefined {
  if (option === undefined) return undefined;
  if (typeof option === 'object' && 'choose' in option) return option;
  const { name, ...params } = typeof option === 'string' ? { name: option } : option;
  if (typeof name !== 'string') throw invalidArgument('clientChoose', option, 'a chooser or a registered name');
  const chooser = ClassFactory.create<string, string, ClientChooser>(ClassType.CLIENT_CHOOSE, name, params);
  if (typeof chooser.choose !== 'function') throw invalidArgument('clientChoose', name, 'a chooser with choose()');
  return chooser;
}

export class RoundSelection {
  private readonly samples = new Map<string, number>();

  constructor(
    readonly chooser: ClientChooser,
    /** Clients that must be connected before a round's choice is made. */
    private readonly participantsCount: number,
    private readonly log: () => Logger,
  ) {}

  /** Remembers a client's last sample count (the weighted choice uses it). */
  noteSamples(client: string, numSamples: number): void {
    this.samples.delete(client);
    this.samples.set(client, numSamples);
    if (this.samples.size > MAX_REMEMBERED) this.samples.delete(this.samples.keys().next().value as string);
  }

  forget(client: string): void {
    this.samples.delete(client);
  }

  /**
   * The clients that train in `round`, among `connected`; undefined while fewer than
   * `participantsCount` are connected. A chooser that fails or names no connected client is
   * logged, and every connected client trains (the job goes on).
   */
  pick(round: number, connected: readonly string[]): string[] | undefined {
    if (connected.length < this.participantsCount) return undefined;
    const candidates: ClientCandidate[] = connected.map((id) => {
      const numSamples = this.samples.get(id);
      return numSamples === undefined ? { id } : { id, numSamples };
    });
    let picked: readonly string[];
    try {
      picked = this.chooser.choose(round, candidates);
    } catch (err) {
      this.log().error({ round, err: messageOf(err) }, `${this.chooser.name}.choose failed; every client trains`);
      return [...connected];
    }
    const known = new Set(connected);
    const named: readonly unknown[] = Array.isArray(picked) ? picked : [];
    const chosen = [...new Set(named)].filter((id): id is string => typeof id === 'string' && known.has(id));
    if (chosen.length > 0) return chosen;
    this.log().error({ round, picked }, `${this.chooser.name}.choose named no connected client; every client trains`);
    return [...connected];
  }
}
