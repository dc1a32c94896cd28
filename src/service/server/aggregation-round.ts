/**
 * The round state machine of the aggregation server, apart from sockets and frames.
 *
 * A round opens with `algorithm.configure(round, globalWeights)` and `algorithm.aggregate(round,
 * updates)`. Updates are processed one at a time through a chain (so at most one is being folded
 * in at once), and the round closes when `participantsCount` updates are in, or, once
 * `roundTimeoutMs` has passed since its first update, as soon as `minClients` are in (a dead or
 * slow client no longer stalls the job, Sedna issue #459). Round `exitRound` answers
 * `exit_flag: "ok"` and ends the job.
 *
 * With client selection (`selective`), the server names the round's clients with `choose()`:
 * the round then closes when all of them are in (`minClients` of them after the timeout), and an
 * update from any other client, or one sent before the choice, is refused (SEDNA_ERR_NOT_CHOSEN).
 */
import { SednaError, isSednaError, messageOf } from '../../common/errors.js';
import type { WeightDtype, WeightLayout, WeightRecord } from '../../backend/weights.js';
import {
  RoundLayout,
  UpdateQueue,
  type AggregateResult,
  type AggregationAlgorithm,
  type ClientUpdate,
  type RoundConfig,
} from '../../algorithms/aggregation/base.js';
import type { ExitFlag } from '../aggregation-protocol.js';

export interface RoundSettings {
  readonly participantsCount: number;
  readonly minClients: number;
  /** 0: no timeout (Sedna's behaviour: wait for every participant). */
  readonly roundTimeoutMs: number;
  readonly exitRound: number;
  /**
   * The model's layout, when known: every update is held to it from round 1 on. Without it,
   * round 1's first update sets round 1's layout; each later round is held to the layout of the
   * last completed round's aggregate. An update that does not fit is refused alone.
   */
  readonly layout?: WeightLayout | undefined;
}

/** A closed round, as the server broadcasts it. */
export interface ClosedRound {
  readonly round: number;
  readonly result: AggregateResult;
  readonly exitFlag: ExitFlag;
  /** Sender of the update that completed the round (Sedna's `client` of recv_weight); the last one on a timeout. */
  readonly sender: string;
  /** job_name of that update. */
  readonly jobName: string;
  /** From the round's first update to its aggregate. */
  readonly durationMs: number;
  readonly closedBy: 'all' | 'timeout';
}

/**
 * Asked after each round's aggregate (before it is broadcast), the exit round's included: true
 * makes it the last round (`exit_flag: "ok"`), e.g. AggregationServerV2 once the global model
 * reaches its target accuracy (it also adopts every aggregate into its global model).
 */
export type ExitCheck = (aggregate: {
  readonly round: number;
  readonly weights: readonly WeightRecord[];
  readonly totalSamples: number;
}) => boolean | Promise<boolean>;

export type SubmitOutcome = 'accepted' | 'duplicate' | 'stale' | 'rejected' | 'refused' | 'finished';

export interface RoundCallbacks {
  /** A round opened; `config` is what `configure()` returned. */
  opened(round: number, config: RoundConfig | undefined): void;
  /** What became of an update (for 'accepted', before the round can close). */
  settled(update: ClientUpdate, round: number, outcome: SubmitOutcome): void;
  /** An update was refused (layout, values): the server drops its client. */
  rejected(update: ClientUpdate, error: SednaError): void;
  /** An update from a client the round did not choose was refused; the client stays. */
  refused(update: ClientUpdate, error: SednaError): void;
  /** The algorithm failed the round; its contributors are told, and the round starts over. */
  failed(round: number, contributors: readonly string[], error: SednaError): void;
  /** The round timeout passed; the round closes now if it has `minClients` updates, else at the next one that makes it so. */
  timedOut(round: number, updatesReceived: number): void;
  /** The exit check threw; the round goes on as if it had said no. */
  exitCheckFailed?(round: number, error: unknown): void;
  /** A round closed: broadcast its aggregate. Awaited before the next round opens. */
  closed(round: ClosedRound): Promise<void>;
  /** Optional: whether a client takes the aggregate in float64 now (UpdateStream.wantsFloat64). */
  wantsFloat64?(): boolean;
}

export class RoundCoordinator {
  private roundNumber = 0;
  private finishedFlag = false;
  private queue = new UpdateQueue();
  private result: Promise<AggregateResult> = Promise.resolve({ weights: [], totalSamples: 0, clients: [] });
  private layout = new RoundLayout();
  /** What the next round's updates are held to (see RoundSettings.layout). */
  private reference: { shapes: (readonly number[])[]; dtypes: readonly WeightDtype[] | undefined } | undefined;
  private readonly contributors = new Set<string>();
  private firstUpdateAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private lastSender = '';
  private lastJobName = '';
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private closingFlag = false;
  /** The clients chosen for the round in progress (client selection), undefined before the choice. */
  private chosen: ReadonlySet<string> | undefined;

  constructor(
    private readonly algorithm: AggregationAlgorithm,
    private readonly settings: RoundSettings,
    private readonly callbacks: RoundCallbacks,
    /** Whether rounds take only the clients named by `choose()` (client selection). */
    readonly selective = false,
    /** Asked after each aggregate (the exit round's too): true ends the job at that round. */
    private readonly exitWhen?: ExitCheck,
  ) {
    const model = settings.layout;
    if (model !== undefined && algorithm.variableLayout !== true) {
      this.reference = { shapes: model.map((t) => [...t.shape]), dtypes: model.map((t) => t.dtype) };
    }
  }

  /** Names the clients that train in the round in progress (once per round, selective only). */
  choose(clients: readonly string[]): void {
    if (!this.selective || this.chosen !== undefined || clients.length === 0) return;
    this.chosen = new Set(clients);
  }

  /** The clients chosen for the round in progress; undefined before the choice or without selection. */
  get chosenIds(): string[] | undefined {
    return this.chosen === undefined ? undefined : [...this.chosen];
  }

  /** Whether the round in progress waits for an update from `client`. */
  expects(client: string): boolean {
    return !this.selective || (this.chosen?.has(client) ?? false);
  }

  /** Updates that complete the round: every chosen client, else `participantsCount`. */
  private get target(): number {
    return this.chosen?.size ?? this.settings.participantsCount;
  }

  /** Updates the round needs once its timeout has passed. */
  private get minimum(): number {
    return Math.min(this.settings.minClients, this.target);
  }

  /** The round in progress (1-based); after the exit round, that round. */
  get round(): number {
    return this.roundNumber;
  }

  get finished(): boolean {
    return this.finishedFlag;
  }

  /** Updates accepted in the round in progress. */
  get updatesReceived(): number {
    return this.contributors.size;
  }

  hasContributed(client: string): boolean {
    return this.contributors.has(client);
  }

  /** Ids of the clients whose update the round in progress holds. */
  get contributorIds(): string[] {
    return [...this.contributors];
  }

  /**
   * Whether the round will close without any further update: its timeout is armed and
   * `minClients` updates are in, or it is closing now.
   */
  get closesByItself(): boolean {
    return this.closingFlag || (this.timer !== undefined && this.contributors.size >= this.minimum);
  }

  /** Opens round 1. */
  start(): void {
    this.open(1, undefined);
  }

  /** Stops timers; pending work is abandoned (the server is closing). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.end();
  }

  /** Waits for the updates queued so far to be processed (tests, shutdown). */
  idle(): Promise<void> {
    return this.chain;
  }

  /**
   * Queues an update of the round in progress. `updateRound` is the round the client says it
   * trained for (binary clients say; Sedna's JSON clients do not). Resolves with what happened.
   */
  submit(update: ClientUpdate, jobName: string, updateRound?: number): Promise<SubmitOutcome> {
    // The update is handed over through a box that is emptied when its turn comes, so nothing
    // here keeps its weights (one message) alive while the round's aggregate is computed.
    const box: { update: ClientUpdate | undefined } = { update };
    const step = this.chain.then(async () => {
      const round = this.roundNumber;
      const { outcome, close } = await this.process(box, jobName, updateRound, round);
      if (close !== undefined) await this.close(close);
      return outcome;
    });
    this.chain = step.then(
      () => undefined,
      () => undefined,
    );
    return step;
  }

  private open(round: number, globalWeights: readonly WeightRecord[] | undefined): void {
    this.roundNumber = round;
    this.chosen = undefined;
    this.contributors.clear();
    const reference = this.reference;
    this.layout = reference === undefined ? new RoundLayout() : RoundLayout.known(reference.shapes, reference.dtypes);
    this.firstUpdateAt = 0;
    this.timedOut = false;
    const queue = new UpdateQueue(
      (update, error) => {
        this.contributors.delete(update.client);
        this.callbacks.rejected(update, error);
      },
      () => this.callbacks.wantsFloat64?.() === true,
    );
    this.queue = queue;
    const config = this.algorithm.configure(round, globalWeights);
    this.result = this.algorithm.aggregate(round, queue);
    // Observed later by close(); this keeps an early failure from being an unhandled rejection.
    this.result.catch(() => undefined);
    this.callbacks.opened(round, config);
  }

  /** Takes the update out of `box`, processes it, and says whether the round must close now. */
  private async process(
    box: { update: ClientUpdate | undefined },
    jobName: string,
    updateRound: number | undefined,
    round: number,
  ): Promise<{ outcome: SubmitOutcome; close?: 'all' | 'timeout' }> {
    const update = box.update as ClientUpdate;
    box.update = undefined;
    const settle = (outcome: SubmitOutcome): { outcome: SubmitOutcome } => {
      this.callbacks.settled(update, round, outcome);
      return { outcome };
    };
    if (this.finishedFlag || this.stopped) return settle('finished');
    if (updateRound !== undefined && updateRound < this.roundNumber) return settle('stale');
    if (updateRound !== undefined && updateRound > this.roundNumber) {
      this.callbacks.rejected(
        update,
        new SednaError(
          'SEDNA_ERR_PROTOCOL',
          `update for round ${updateRound}, but round ${this.roundNumber} is in progress`,
        ),
      );
      return settle('rejected');
    }
    if (this.contributors.has(update.client)) return settle('duplicate');
    if (!this.expects(update.client)) {
      const why =
        this.chosen === undefined
          ? 'no client is chosen for it yet'
          : `the chosen clients are ${[...this.chosen].join(', ')}`;
      this.callbacks.refused(
        update,
        new SednaError('SEDNA_ERR_NOT_CHOSEN', `${update.client} was not chosen to train in round ${round}: ${why}`, {
          details: { round, client: update.client },
        }),
      );
      return settle('refused');
    }
    // An algorithm whose updates differ in shape between clients (MistNet) checks them itself.
    if (this.algorithm.variableLayout !== true) {
      try {
        this.layout.check(update);
      } catch (err) {
        this.callbacks.rejected(update, err as SednaError);
        return settle('rejected');
      }
      this.layout.record(update);
    }
    this.contributors.add(update.client);
    // Resolves once the algorithm asks for the next update, i.e. has finished with this one; it
    // may have rejected it by then (the reject callback removed it from `contributors`).
    const taken = await Promise.race([
      this.queue.push(update).then(() => true),
      this.result.then(
        () => false,
        () => false,
      ),
    ]);
    // The algorithm stopped early (it returned or failed): close the round to learn which.
    if (!taken) return { ...settle('rejected'), close: 'all' };
    if (!this.contributors.has(update.client)) return settle('rejected');
    this.lastSender = update.client;
    this.lastJobName = jobName;
    if (this.firstUpdateAt === 0) {
      this.firstUpdateAt = Date.now();
      this.armTimer();
    }
    settle('accepted');
    const count = this.contributors.size;
    if (count >= this.target) return { outcome: 'accepted', close: 'all' };
    if (this.timedOut && count >= this.minimum) return { outcome: 'accepted', close: 'timeout' };
    return { outcome: 'accepted' };
  }

  /** The exit check's answer; a check that fails is logged by the server and the job goes on. */
  private async exitEarly(round: number, result: AggregateResult): Promise<boolean> {
    if (this.exitWhen === undefined) return false;
    try {
      return await this.exitWhen({ round, weights: result.weights, totalSamples: result.totalSamples });
    } catch (err) {
      this.callbacks.exitCheckFailed?.(round, err);
      return false;
    }
  }

  private armTimer(): void {
    if (this.settings.roundTimeoutMs <= 0) return;
    const round = this.roundNumber;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.chain = this.chain.then(async () => {
        if (this.stopped || this.finishedFlag || this.roundNumber !== round) return;
        this.timedOut = true;
        this.callbacks.timedOut(round, this.contributors.size);
        if (this.contributors.size >= this.minimum) await this.close('timeout');
      });
    }, this.settings.roundTimeoutMs);
    this.timer.unref();
  }

  private async close(closedBy: 'all' | 'timeout'): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const round = this.roundNumber;
    const contributors = [...this.contributors];
    this.queue.end();
    let result: AggregateResult;
    this.closingFlag = true;
    try {
      result = await this.result;
    } catch (err) {
      this.closingFlag = false;
      const error = isSednaError(err)
        ? err
        : new SednaError('SEDNA_ERR_ROUND_FAILED', `round ${round}: the aggregation failed: ${messageOf(err)}`, {
            cause: err,
          });
      this.callbacks.failed(round, contributors, error);
      if (!this.stopped) this.open(round, undefined);
      return;
    }
    const exitFlag: ExitFlag =
      // Asked at the exit round too: the check also takes each aggregate (V2's global model).
      (await this.exitEarly(round, result)) || round >= this.settings.exitRound ? 'ok' : 'continue';
    this.closingFlag = false;
    if (this.algorithm.variableLayout !== true && result.weights.length > 0) {
      // The next round is held to this aggregate's layout, not to whichever update comes first.
      this.reference = {
        shapes: result.weights.map((w) => [...w.shape]),
        dtypes: this.layout.binaryDtypes ?? this.reference?.dtypes,
      };
    }
    if (exitFlag === 'ok') this.finishedFlag = true;
    await this.callbacks.closed({
      round,
      result,
      exitFlag,
      sender: this.lastSender,
      jobName: this.lastJobName,
      durationMs: Date.now() - this.firstUpdateAt,
      closedBy,
    });
    if (exitFlag === 'continue' && !this.stopped) this.open(round + 1, result.weights);
  }
}
