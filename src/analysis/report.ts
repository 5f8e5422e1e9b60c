/**
 * Everything `npm run analysis` prints: section 5 computed for one set of options, as a
 * JSON-ready object and as text tables.
 */
import { collusionExact } from './collusion.js';
import { ratioToNumber } from './exact.js';
import { computeDelay, type DelayParams, type DelayResult } from './delay.js';
import { failurePoint, probabilityGrid, type FailurePoint } from './failure.js';
import { computeLoad, PAPER_LOAD, type LoadParams, type LoadResult } from './load.js';
import type { AnalysisOptions, CollusionParams } from './options.js';

export interface CollusionPoint {
  c: number;
  N_server: number;
  /** C_i(N, c): the nearest double to the exact value of eq. (20). */
  probability: number;
}

export interface AnalysisReport {
  load: LoadParams & LoadResult;
  delay: DelayParams & DelayResult;
  failure: { n: number; N_server: number; points: FailurePoint[] };
  collusion: CollusionPoint[];
  /** N and i of the collusion points. */
  collusionParameters: { users: number; sites: number };
}

export function computeCollusion(p: CollusionParams): CollusionPoint[] {
  const maxC = Math.max(...p.colluders);
  const out: CollusionPoint[] = [];
  for (const servers of p.servers) {
    // One exact recursion yields every c up to the largest.
    const all = collusionExact({ users: p.users, sites: p.sites, servers }, maxC);
    for (const c of p.colluders) {
      const r = all[c];
      if (r === undefined) throw new RangeError('unreachable: c above the largest c');
      out.push({ c, N_server: servers, probability: ratioToNumber(r.num, r.den) });
    }
  }
  return out;
}

export function computeReport(o: AnalysisOptions): AnalysisReport {
  const grid = probabilityGrid(o.failure.pFrom, o.failure.pTo, o.failure.pStep);
  return {
    load: { ...o.load, ...computeLoad(o.load) },
    delay: { ...o.delay, ...computeDelay(o.delay) },
    failure: {
      n: o.load.n,
      N_server: o.load.N_server,
      points: grid.map((p) => failurePoint(o.load.n, o.load.N_server, p)),
    },
    collusion: computeCollusion(o.collusion),
    collusionParameters: { users: o.collusion.users, sites: o.collusion.sites },
  };
}

const isPaperLoad = (l: LoadParams): boolean =>
  (Object.keys(PAPER_LOAD) as (keyof LoadParams)[]).every((k) => l[k] === PAPER_LOAD[k]);

const pad = (s: string | number, w: number): string => String(s).padStart(w);
const sci = (x: number): string => (x === 0 ? '0' : x.toExponential(3));

export function formatReport(r: AnalysisReport): string {
  const l = r.load;
  const d = r.delay;
  const be = l.proposedBelowNeo;
  const lines = [
    'Section 5 of Endo, Kawahara, Takahashi, computed (docs/analysis.md)',
    '',
    `5.1 Communication load in bytes: S_header ${l.S_header}, S_hash ${l.S_hash}, S_key ${l.S_key}, ` +
      `N_server ${l.N_server} (N_majority ${l.N_majority}, eq. 1), n ${l.n}, a ${l.a}`,
    `                          client-server        NEO   proposed`,
    `  a user sends per action   ${pad(l.send.clientServer, 8)} (2) ${pad(l.send.neo, 6)} (3) ${pad(l.send.proposed, 6)} (4)`,
    `  a user receives per round ${pad(l.receive.clientServer, 8)} (5) ${pad(l.receive.neo, 6)} (6) ${pad(l.receive.proposed, 6)} (7)`,
    `  a Site Server also sends ${l.siteServer.sendFull} (9, full updates) or ${l.siteServer.sendHash} ` +
      `(10, hashes) and receives ${l.siteServer.receive} (11)`,
    `  (7) < (6) while a < ${be.breakEvenFraction.num}/${be.breakEvenFraction.den} = ${be.breakEvenA.toFixed(2)}: ` +
      (be.largestA === null ? 'for no a >= 0' : `largest whole a = ${be.largestA}`) +
      (isPaperLoad(l) ? ' (paper: a < 31)' : ''),
    '',
    `5.2 Action delay in ms: l_cu ${d.l_cu}, l_uu ${d.l_uu}, l_su ${d.l_su}, l_ss ${d.l_ss}, ` +
      `T_timeslot ${d.T_timeslot}, T_arrival ${d.T_arrival} (ours; the paper gives none)`,
    `  client-server 2 l_cu = ${d.clientServer} (12)`,
    `  NEO           2 l_uu + T_arrival / 2 = ${d.neo} (13)`,
    `  proposed      2 l_su + l_ss + T_timeslot / 2 = ${d.proposed} (14)`,
    '',
    `5.3 Probability an action is lost, each link down with probability p (n ${r.failure.n}, N_server ${r.failure.N_server})`,
    `       p  client-server (16)   NEO (17)  proposed (18)`,
    ...r.failure.points.map(
      (pt) =>
        `  ${pad(pt.p, 6)}  ${pad(sci(pt.clientServer), 18)} ${pad(sci(pt.neo), 10)} ${pad(sci(pt.proposed), 14)}`,
    ),
    '',
    ...formatCollusion(r),
  ];
  return lines.join('\n') + '\n';
}

function formatCollusion(r: AnalysisReport): string[] {
  const { users, sites } = r.collusionParameters;
  const cs = [...new Set(r.collusion.map((p) => p.c))];
  const ns = [...new Set(r.collusion.map((p) => p.N_server))];
  const at = (n: number, c: number): number | undefined =>
    r.collusion.find((p) => p.N_server === n && p.c === c)?.probability;
  return [
    `5.5 Colluders hold a majority of some site's servers: C_${sites}(${users}, c), eq. (20), exact`,
    `  N_server ${cs.map((c) => pad(`c = ${c}`, 11)).join('')}`,
    ...ns.map((n) => `  ${pad(n, 8)} ${cs.map((c) => pad(sci(at(n, c) ?? NaN), 11)).join('')}`),
    '  (0 is exact: fewer colluders than N_majority can hold no majority)',
  ];
}
