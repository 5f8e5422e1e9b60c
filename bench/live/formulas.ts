/**
 * The paper's section 5 formulas (src/analysis/) evaluated with the parameters a run actually had:
 * its N_server, T_timeslot, users per site, the latencies each link class really got, the action
 * and update sizes it measured. Plus the per-message overhead of our real transports, stated
 * beside the paper's S_header = 66 B (TCP 20 + IP 20 + Ethernet 26).
 */
import { computeDelay } from '../../src/analysis/delay.js';
import { failureClientServer, failureProposed } from '../../src/analysis/failure.js';
import { computeLoad, PAPER_LOAD } from '../../src/analysis/load.js';

/**
 * Bytes under one data-channel message of a small payload, one message per packet: Ethernet 26
 * (the paper's count: preamble 8, header 14, FCS 4) + IPv4 20 + UDP 8 + DTLS 1.2 record header 13
 * + AES-128-GCM explicit nonce 8 and tag 16 + SCTP common header 12 + DATA chunk header 16. SCTP
 * acknowledgements (a 28 B SACK chunk per packet or two, in its own packet) come on top.
 */
export const DATACHANNEL_HEADER = 26 + 20 + 8 + 13 + 8 + 16 + 12 + 16;

/**
 * Bytes under one WebSocket frame of under 126 B, server to client: Ethernet 26 + IPv4 20 + TCP 20
 * + the timestamp option Linux sends (12) + frame header 2. A client's frames add a 4 B mask.
 */
export const WEBSOCKET_HEADER = 26 + 20 + 20 + 12 + 2;

export interface LatenciesInForce {
  /** One-way latency admin <-> user, Site Server <-> user, Site Server <-> Site Server (ms). */
  cu: number;
  su: number;
  ss: number;
}

/**
 * Eq. (12) client-server and eq. (14) proposed mean action delay (ms), and eq. (14) plus one l_ss:
 * our protocol's own, since a server uses a Timeslot only once the others echoed it (the one hop
 * docs/protocol.md "Stable Timeslots" adds to the paper; bench/live/trace.ts shows it term by term).
 */
export function delayFormulas(l: LatenciesInForce, T_timeslot: number): { eq12: number; eq14: number; eq14echo: number } {
  const d = computeDelay({ l_cu: l.cu, l_uu: l.su, l_su: l.su, l_ss: l.ss, T_timeslot, T_arrival: T_timeslot });
  return { eq12: d.clientServer, eq14: d.proposed, eq14echo: d.proposed + l.ss };
}

/** The paper's action size a (section 5.1): what a compact wire encoding is held to. */
export const PAPER_ACTION_BYTES = 10;

export interface BytesInForce {
  N_server: number;
  /** Users on the P2P site. */
  n: number;
  /** Payload bytes of one action message as measured. */
  a: number;
  /**
   * Actions a user sends per round (rate x T_timeslot). The paper counts one per user per round;
   * our bots act less often, so an update carries n x this many actions.
   */
  actionsPerRound: number;
  /** Per-message header used for the formula: the paper's 66 or our transport's. */
  S_header: number;
}

/**
 * Eqs. (4), (7), (9)-(11) in bytes: per user per action sent, per user per round received, per Site
 * Server per round. The update's actions are sized like the action messages (the paper's a for
 * both), scaled by the actions per round in force.
 */
export function bytesFormulas(b: BytesInForce): { eq4: number; eq7: number; eq9: number; eq10: number; eq11: number } {
  const base = { ...PAPER_LOAD, S_header: b.S_header, N_server: b.N_server, n: b.n };
  const perAction = computeLoad({ ...base, a: b.a });
  // n x (a x actionsPerRound) is the update's payload: the formulas' n x a with a scaled.
  const perRound = computeLoad({ ...base, a: b.a * b.actionsPerRound });
  return {
    eq4: perAction.send.proposed,
    eq7: perRound.receive.proposed,
    eq9: perRound.siteServer.sendFull,
    eq10: perRound.siteServer.sendHash,
    eq11: perAction.siteServer.receive * b.actionsPerRound,
  };
}

/** Eqs. (16) and (18): the share of actions lost when each link is down with probability p. */
export function failureFormulas(p: number, N_server: number): { eq16: number; eq18: number } {
  return { eq16: failureClientServer(p), eq18: failureProposed(N_server, p) };
}
