/**
 * The two bounds on how long the aggregation server waits for a round (issue 19: a federated job
 * must never hang silently):
 *
 * - `stallTimeoutMs`: the round is stuck when nobody connected can move it forward (every
 *   connected client has sent its update, or none is connected) and its own timeout will not close
 *   it either. A participant that is away that long is presumed gone for good.
 * - `roundDeadlineMs`: the longest a round may stay open at all, whatever the clients do (a client
 *   that answers pings but never sends its update).
 *
 * The server tells the watchdog when a round opens and closes and re-evaluates `stuck` on every
 * change (a client joins or leaves, an update is settled, the round timeout passes); the watchdog
 * owns the timers and calls `expired` with the bound that passed.
 */
export type RoundBound = 'stallTimeoutMs' | 'roundDeadlineMs';

export interface RoundWatchdogSettings {
  readonly stallTimeoutMs: number;
  readonly roundDeadlineMs: number;
}

export class RoundWatchdog {
  private round = 0;
  private openedAt = 0;
  private stuckSince = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;

  /**
   * @param expired Called once a bound passes, with the round, the bound and how long the round
   *   waited (since it opened for the deadline, since it got stuck for the stall bound). That
   *   bound's timer is spent by then; the other one keeps running.
   */
  constructor(
    private readonly settings: RoundWatchdogSettings,
    private readonly expired: (round: number, bound: RoundBound, waitedMs: number) => void,
  ) {}

  /** A round opened: its deadline starts now. */
  opened(round: number): void {
    this.stop();
    this.round = round;
    this.openedAt = Date.now();
    this.deadlineTimer = setTimeout(() => {
      this.fire('roundDeadlineMs', Date.now() - this.openedAt);
    }, this.settings.roundDeadlineMs);
    this.deadlineTimer.unref();
  }

  /** Starts the stall clock when the round becomes stuck; stops it when it moves again. */
  check(stuck: boolean): void {
    if (this.round === 0) return; // no round open
    if (!stuck) {
      this.clearStall();
      return;
    }
    if (this.stallTimer !== undefined) return;
    this.stuckSince = Date.now();
    this.stallTimer = setTimeout(() => {
      this.fire('stallTimeoutMs', Date.now() - this.stuckSince);
    }, this.settings.stallTimeoutMs);
    this.stallTimer.unref();
  }

  /** No round is waiting any more (closed, job over, server closing). */
  stop(): void {
    this.clearStall();
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.round = 0;
  }

  private clearStall(): void {
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.stuckSince = 0;
  }

  private fire(bound: RoundBound, waitedMs: number): void {
    if (bound === 'stallTimeoutMs') this.clearStall();
    else this.deadlineTimer = undefined;
    this.expired(this.round, bound, waitedMs);
  }
}
