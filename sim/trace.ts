/**
 * The trace of a finished run: plain data the property checkers read. It records what each party
 * did and saw, in true (virtual) time, without any protocol logic. The scenario fills it from the
 * hosts and the network; tests can also build one by hand (and break it on purpose).
 */

export interface ActionKey {
  user: string;
  actionNo: number;
}

/** One update as a server applied it or a user accepted it. */
export interface TraceUpdate {
  seq: number;
  /** Digest of the update's content; equal content gives equal digests on every party. */
  hash: string;
  /**
   * Actions applied in this update, in order, with the median the server ordered each by (a
   * computed update carries one per action; an adopted one and a user's accepted one carry none).
   */
  applied: Array<ActionKey & { median?: number }>;
  /** Adopted by state transfer rather than computed: a server's log may start or jump here. */
  adopted?: boolean;
  /** True time it was applied (server) or accepted (user). */
  at: number;
}

export interface TraceServer {
  id: string;
  /** False for scripted cheaters. */
  honest: boolean;
  /** Cheat kinds it runs (empty when honest). */
  cheats: string[];
  /** True time it began serving the site (0 for the initial servers). */
  joinedAt: number;
  /** True time it stopped serving (evicted, replaced, crashed for good), if it did. */
  leftAt?: number;
  /** Time windows [from, to) during which it was crashed. */
  crashed: Array<[number, number]>;
  /** Honest, initial, never crashed, cut off or ignored: the servers the guarantees lean on. */
  stable: boolean;
  updates: TraceUpdate[];
}

export interface TraceSent extends ActionKey {
  at: number;
  kind: string;
  /** Servers (ids) the action message was delivered to. */
  deliveredTo: string[];
  /**
   * Whether the run's conditions oblige the protocol to apply it: sent early enough before the
   * end, and delivered to at least N_majority honest servers that stayed up and mutually connected
   * until the end. (The rule is in traceBuild.ts; the checkers only read the flag.)
   */
  mustApply: boolean;
  /** True time the action had reached N_majority stable servers (if it did). */
  majorityAt?: number;
}

export interface TraceUser {
  id: string;
  /** Time windows [from, to) during which a partition cut this user off. */
  cutOff: Array<[number, number]>;
  sent: TraceSent[];
  accepted: TraceUpdate[];
}

/** An arrival time a server reported for an action in a Timeslot it sent (by its synced clock). */
export interface TraceArrival extends ActionKey {
  server: string;
  reported: number;
  /** Seq of the reporter's Timeslot that carried it (a cut names the last one that counts). */
  tsSeq: number;
}

export interface TraceEvent {
  at: number;
  kind: string;
  /** The node the event is about. */
  node?: string;
  /** The node that reported it. */
  by?: string;
  detail?: string;
  /** 'ignored': the cut (last counting Timeslot of the ignored server) and the record's epoch. */
  cutSeq?: number;
  epoch?: number;
}

export interface TraceRejection {
  at: number;
  /** The node that refused the message. */
  node: string;
  from: string;
  /** The `ERR_*` code (ERR_MALFORMED for bytes that decode to no message). */
  code: string;
  reason: string;
}

export interface TraceConfig {
  nServer: number;
  nMajority: number;
  tTimeslot: number;
  tTimeout: number;
  tReqTimeout: number;
  tIgnore: number;
}

export interface Trace {
  config: TraceConfig;
  /** True time the run stopped. */
  end: number;
  /** Seq of the hand-over: every log of updates starts at startSeq + 1 unless adopted. */
  startSeq: number;
  /**
   * Which faults the run had. Spread (link latencies, jitter, clock offsets) is no fault: a run
   * without these is fault-free. `hostileInput`: a test fed the cores malformed or hostile messages.
   */
  faults: { loss: boolean; crashes: boolean; partitions: boolean; cheaters: boolean; hostileInput: boolean };
  /** The run's network spread (ms): per-link extra latency bound, per-message jitter, machine clock offset bound. */
  spread: { linkSpread: number; jitter: number; clockOffset: number };
  servers: TraceServer[];
  users: TraceUser[];
  arrivals: TraceArrival[];
  events: TraceEvent[];
  rejections: TraceRejection[];
}

export const actionId = (a: ActionKey): string => `${a.user}#${a.actionNo}`;
