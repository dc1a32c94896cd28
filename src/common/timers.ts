/**
 * Node's timers hold at most 2^31 - 1 ms (about 24.8 days) and fire a longer delay after 1 ms
 * (with a TimeoutOverflowWarning): a bound meant as "very long" (a CONNECT_TIMEOUT of a year)
 * would end a wait at once. Every configurable delay goes through `timerDelay`.
 */

/** The longest delay `setTimeout` / `setInterval` keep. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` as a timer can hold it: a longer bound waits as long as a timer can (24.8 days). */
export function timerDelay(ms: number): number {
  return Math.min(ms, MAX_TIMER_MS);
}
