/**
 * Paper section 5.2, mean action delay: eqs. (12)-(14). The paper gives no latencies; the defaults
 * here (50 ms each way on every kind of link, T_timeslot = T_arrival = 100 ms) are ours.
 */

export interface DelayParams {
  /** One-way latency central server <-> user (ms). */
  l_cu: number;
  /** One-way latency user <-> user (ms). */
  l_uu: number;
  /** One-way latency Site Server <-> user (ms). */
  l_su: number;
  /** One-way latency Site Server <-> Site Server (ms). */
  l_ss: number;
  /** Period of Timeslot Messages (ms). */
  T_timeslot: number;
  /** NEO's arrival delay, its counterpart of T_timeslot (ms). */
  T_arrival: number;
}

export const DEFAULT_DELAY: DelayParams = {
  l_cu: 50,
  l_uu: 50,
  l_su: 50,
  l_ss: 50,
  T_timeslot: 100,
  T_arrival: 100,
};

export interface DelayResult {
  /** Eq. (12): to the central server and back. */
  clientServer: number;
  /** Eq. (13): to the other users and back, plus on average half an arrival window. */
  neo: number;
  /** Eq. (14): user -> Site Servers, one Timeslot hop between servers, servers -> user, plus half a Timeslot. */
  proposed: number;
}

export function computeDelay(p: DelayParams): DelayResult {
  return {
    clientServer: 2 * p.l_cu,
    neo: 2 * p.l_uu + p.T_arrival / 2,
    proposed: 2 * p.l_su + p.l_ss + p.T_timeslot / 2,
  };
}
