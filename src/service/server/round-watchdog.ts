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
 * owns the timers and calls `expired` with the bound that passed. What the round waited for is
 * then said by a `RoundDiagnostic`.
 */
import type { ClientTrace } from './aggregation-client-info.js';

export type RoundBound = 'stallTimeoutMs' | 'roundDeadlineMs';

/** What a stalled round was waiting for: logged at error level and the details of SEDNA_ERR_ROUND_STALLED. */
export interface RoundDiagnostic {
  readonly round: number;
  readonly bound: RoundBound;
  readonly boundMs: number;
  readonly waitedMs: number;
  readonly participantsCount: number;
  readonly minClients: number;
  readonly updatesReceived: number;
  readonly contributors: readonly string[];
  readonly clientsSeen: number;
  /** Participants that never subscribed (participantsCount minus the clients seen, at least 0). */
  readonly neverSeen: number;
  readonly clients: readonly ClientTrace[];
  /** The last frame any client sent. */
  readonly lastMessage: { readonly client: string; readonly type: string; readonly agoMs: number } | undefined;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** One line saying why the round stalled and whom it waited for (the error's message). */
export function describeStall(d: RoundDiagnostic): string {
  const missing = d.clients
    .filter((c) => !c.contributed)
    .map((c) => `${c.client} (${c.state} for ${seconds(c.forMs)}, last frame ${c.lastMessage ?? 'none'})`);
  if (d.neverSeen > 0) missing.push(`${d.neverSeen} participant(s) never seen`);
  const why =
    d.bound === 'stallTimeoutMs'
      ? 'no connected client owes it an update and it cannot close by itself'
      : 'it has been open longer than roundDeadlineMs';
  return (
    `round ${d.round} stalled after ${seconds(d.waitedMs)} (${d.bound} ${d.boundMs} ms): ${why}; ` +
    `${d.updatesReceived} of ${d.participantsCount} updates in (minClients ${d.minClients}), ` +
    `waiting for ${missing.length > 0 ? missing.join(', ') : 'nobody in particular'}`
  );
}

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
