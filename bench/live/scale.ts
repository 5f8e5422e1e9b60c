/**
 * Section 5, scale: the most bots this machine carries with a p99 action delay under 2 T_timeslot,
 * client-server and P2P, read off the offload runs (the same bots, both modes, growing sizes).
 */
import type { OffloadRow } from './offload.js';
import { check, finite, type SectionOutput } from './section.js';
import { fmt, table } from './stats.js';

export interface ScaleFigures {
  T_timeslot: number;
  bound: number;
  /** Largest size tried whose p99 stayed under the bound (null: none did). */
  cs: number | null;
  p2p: number | null;
  tried: Array<{ bots: number; csP99: number; p2pP99: number }>;
}

export function scaleFigures(rows: readonly OffloadRow[]): ScaleFigures {
  const T = rows[0]?.T_timeslot ?? 100;
  const bound = 2 * T;
  const largest = (p99: (r: OffloadRow) => number): number | null => {
    const ok = rows.filter((r) => finite(p99(r)) && p99(r) < bound).map((r) => r.bots);
    return ok.length > 0 ? Math.max(...ok) : null;
  };
  return {
    T_timeslot: T,
    bound,
    cs: largest((r) => r.cs.delay.p99),
    p2p: largest((r) => r.p2p.delay.p99),
    tried: rows.map((r) => ({ bots: r.bots, csP99: r.cs.delay.p99, p2pP99: r.p2p.delay.p99 })),
  };
}

export function scale(rows: readonly OffloadRow[]): SectionOutput {
  const s = scaleFigures(rows);
  const text = [
    `p99 action delay (ms) by bots on this machine; bound 2 T_timeslot = ${s.bound} ms:`,
    table(
      ['bots', 'CS p99', 'P2P p99'],
      s.tried.map((t) => [String(t.bots), fmt(t.csP99), fmt(t.p2pP99)]),
    ),
    `Most bots under the bound: client-server ${s.cs ?? 'none of these'}, P2P ${s.p2p ?? 'none of these'} (sizes tried: ${s.tried.map((t) => t.bots).join(', ')}).`,
  ].join('\n');
  const checks = [
    check('scale: p99 measured at every size', s.tried.every((t) => finite(t.csP99) && finite(t.p2pP99)), s.tried.map((t) => `${t.bots}: ${fmt(t.csP99)}/${fmt(t.p2pP99)}`).join(', ')),
  ];
  return { name: 'scale', title: '5. Scale', text, figures: s, svgs: {}, checks };
}
