/**
 * The time bounds a run's liveness checks use, from its options and site configuration: how long
 * an action may take to be accepted, and how long the site may go without an update.
 */
import type { SiteConfig } from '../src/protocol/index.js';
import type { ScenarioOptions } from './options.js';

/** Default settle time: long enough for an action that reached a majority just before it to be accepted. */
export function defaultSettle(o: ScenarioOptions, c: SiteConfig): number {
  return livenessBound(o, c);
}

/** Liveness bound for a run (ms from reaching a majority of stable servers to the sender's acceptance). */
export function livenessBound(o: ScenarioOptions, c: SiteConfig): number {
  const base = 2 * (o.latencySU + o.linkSpread) + 2 * (o.latencySS + o.linkSpread) + 2 * c.T_timeslot;
  const slack = 4 * o.jitter + 4 * o.clockOffset + 100;
  const lossRecovery = o.loss > 0 ? c.T_resend + c.T_content : 0;
  return base + c.T_timeout + c.T_req_timeout + c.T_content + lossRecovery + slack;
}

/**
 * Stall bound (ms; see longestStall in livenessChecks.ts): a server that falls silent is asked for
 * after T_timeout and ignored after T_req_timeout more, so the site may go that long without an
 * update, plus slack for what comes on top:
 * - 2 T_timeslot: each timeout is noticed at a tick, and ticks come once per Timeslot;
 * - T_content: the first window after the cut may wait for a content fetch (a replacement, a
 *   server back from a crash);
 * - 2 (l_su + l_ss) + 4 (link spread + jitter + clock offset): the ignore request to the admin and
 *   the record back, the echo round that closes the next window, each hop late by up to spread +
 *   jitter, and the servers' ticks apart by their clock offsets;
 * - with loss, T_req_timeout + T_content: a lost request is repeated after T_req_timeout, a lost
 *   content asked for again.
 * The 1000-seed sweep's worst stall is T_timeout + T_req_timeout + 304 ms (seed 816, where this
 * slack is 678 ms); a stall the slack does not cover is one more round the protocol should not
 * need (e.g. FINDINGS 5: 3 (T_req_timeout + T_timeout) until the admin declined).
 */
export function stallBound(o: ScenarioOptions, c: SiteConfig): number {
  const hops = 2 * (o.latencySU + o.latencySS) + 4 * (o.linkSpread + o.jitter + o.clockOffset);
  const lossRecovery = o.loss > 0 ? c.T_req_timeout + c.T_content : 0;
  return c.T_timeout + c.T_req_timeout + 2 * c.T_timeslot + c.T_content + hops + lossRecovery;
}
