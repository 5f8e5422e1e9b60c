/**
 * Seed → a small randomized scenario for the property sweep. Faults vary per seed but stay within
 * what the protocol promises to survive: at most N_server − N_majority servers crashed or cut off
 * at once, at most N_majority − 1 cheaters, and never both beyond the tolerance together.
 *
 * No run has a perfect network: every link has its own fixed extra latency, and runs without
 * network faults still get jitter and clock offsets (which clock sync then corrects up to half
 * the up/down asymmetry). Without that spread every server would report the same arrival time
 * for an action, and the median-order check could not tell the median from the minimum.
 */
import { createRng } from './rng.js';
import { CHEAT_KINDS, nMajorityOf, type CheatKind, type ScenarioOptions } from './options.js';

/** Cheats the sweep draws from ('stale' has its own targeted test). */
export const FUZZ_CHEATS: readonly CheatKind[] = CHEAT_KINDS.filter((k) => k !== 'stale');

export interface FuzzCase {
  options: ScenarioOptions;
  /** Short human label of the faults, for failure messages. */
  label: string;
  /** No loss, crash, partition or cheater (spread is no fault): exact median order applies. */
  faultFree: boolean;
}

export function fuzzCase(seed: number): FuzzCase {
  const r = createRng(seed).fork('fuzz');
  const servers = r.chance(0.5) ? 5 : 3;
  const nMaj = nMajorityOf(servers);
  const tolerance = servers - nMaj;
  const users = 2 + r.int(4);
  const duration = 600 + r.int(3) * 300;
  const o: ScenarioOptions = {
    servers,
    users,
    duration,
    seed,
    latencySU: 1 + r.int(10),
    latencySS: 1 + r.int(10),
    linkSpread: 0,
    jitter: 0,
    loss: 0,
    rate: 4 + r.int(8),
    clockOffset: 0,
    cheats: [],
    crashes: [],
    partitions: [],
    spares: 2,
    tTimeslot: r.pick([50, 100, 100]),
  };
  // Short protocol timeouts keep runs short; T_ignore sometimes short enough to see replacements.
  o.tTimeout = 2.5 * o.tTimeslot;
  o.tReqTimeout = 1.5 * o.tTimeslot;
  o.tContent = o.tTimeslot;
  o.tResend = 400;
  o.tIgnore = r.pick([300, 3000]);
  const labels: string[] = [];
  const mode = r.int(6); // 0 clean, 1 network, 2 crash, 3 partition, 4 cheat, 5 mixed
  if (mode === 1 || mode === 5) {
    o.jitter = r.int(20);
    o.loss = r.pick([0, 0.01, 0.03]);
    o.clockOffset = r.int(5);
    if (o.loss > 0) labels.push(`loss ${o.loss}`);
  }
  let budget = tolerance; // servers that may be faulty (crashed, cut off or cheating) at once
  if ((mode === 4 || mode === 5) && budget > 0) {
    const n = 1 + r.int(budget);
    const kinds = FUZZ_CHEATS.filter((k) => k !== 'collude' || n >= 2);
    const kind: CheatKind = r.pick(kinds);
    if (kind === 'collude') o.cheats.push({ kind, count: n });
    else if (kind === 'shift') o.cheats.push({ kind, count: n, delta: r.pick([-1, 1]) * (5 + r.int(60)) });
    else o.cheats.push({ kind, count: n });
    budget -= n;
    labels.push(`cheat ${kind}×${n}`);
  }
  if ((mode === 2 || mode === 5) && budget > 0) {
    const n = 1 + r.int(budget);
    const at = r.int(duration);
    const restart = r.chance(0.5) ? at + 200 + r.int(1000) : undefined;
    o.crashes.push(restart === undefined ? { count: n, at } : { count: n, at, until: restart });
    budget -= n;
    labels.push(`crash ${n}@${at}${restart === undefined ? '' : `-${restart}`}`);
  }
  if (mode === 3 && budget > 0) {
    const s = `s${r.int(servers)}`;
    const start = r.int(duration);
    const end = start + 100 + r.int(800);
    o.partitions.push({ side: [s], start, end });
    labels.push(`partition ${s}@${start}-${end}`);
  }
  if (mode === 3 && r.chance(0.5) && users > 0) {
    const u = `u${r.int(users)}`;
    const start = r.int(duration);
    const end = start + 100 + r.int(500);
    o.partitions.push({ side: [u], start, end });
    labels.push(`partition ${u}@${start}-${end}`);
  }
  // Drawn from their own fork so that the faults above stay what they were for every seed.
  const spread = createRng(seed).fork('spread');
  o.linkSpread = 1 + spread.int(10);
  if (mode !== 1 && mode !== 5) {
    o.jitter = 1 + spread.int(8);
    o.clockOffset = 1 + spread.int(5);
  }
  const faultFree =
    o.loss === 0 && o.cheats.length === 0 && o.crashes.length === 0 && o.partitions.length === 0;
  const faults = labels.length === 0 ? 'no faults' : labels.join(', ');
  const conditions = `link spread ${o.linkSpread} jitter ${o.jitter} clock ±${o.clockOffset}`;
  return { options: o, label: `${faults} (${conditions})`, faultFree };
}
