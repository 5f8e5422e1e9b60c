/**
 * Section 4, robustness (paper 5.3): the share of actions never processed when each link (the
 * admin socket and every peer link, each direction) is down with probability p (the bots' `--link-down`:
 * what carries a user's actions is dropped while down), client-server (town) and P2P
 * (meadow) in the same run, beside eqs. (16) and (18).
 */
import { failureFormulas } from './formulas.js';
import { lostShare, mergeFigures } from './figures.js';
import { busyMeadow, check, finite, QUICK, type SectionContext, type SectionOutput } from './section.js';
import { fmt, table } from './stats.js';

export interface RobustRow {
  p: number;
  nServer: number;
  cs: { sent: number; lost: number; share: number };
  p2p: { sent: number; lost: number; share: number };
  eq16: number;
  eq18: number;
  p2pSites: number;
}

export async function robust(ctx: SectionContext): Promise<SectionOutput> {
  const ps = ctx.quick ? [0.1] : [0.05, 0.1, 0.2];
  const nServer = 3;
  const rows: RobustRow[] = [];
  for (const p of ps) {
    const r = await ctx.run(
      busyMeadow({
        name: `robust-p${p}`,
        admin: { nServer, T_timeslot: 100 },
        players: 8,
        injection: { linkDown: p },
        ...(ctx.quick ? QUICK : { warmupS: 6, measureS: 15 }),
      }),
    );
    const f = mergeFigures(r.groups.map((g) => g.figures));
    const eq = failureFormulas(p, nServer);
    rows.push({
      p,
      nServer,
      cs: { ...f.notProcessed.cs, share: lostShare(f.notProcessed.cs) },
      p2p: { ...f.notProcessed.p2p, share: lostShare(f.notProcessed.p2p) },
      eq16: eq.eq16,
      eq18: eq.eq18,
      p2pSites: r.p2pSitesAtEnd.length,
    });
  }
  const pct = (x: number): string => (finite(x) ? `${fmt(100 * x, 2)} %` : '-');
  const text = [
    `Actions not processed when each direction of each link is down with probability p (drawn anew each period; the bots' --link-down, dropping what carries a user's actions); N_server ${nServer}, 8 players on the P2P meadow:`,
    table(
      ['p', 'CS lost/sent', 'CS share', 'eq.16', 'P2P lost/sent', 'P2P share', 'eq.18'],
      rows.map((r) => [
        String(r.p),
        `${r.cs.lost}/${r.cs.sent}`,
        pct(r.cs.share),
        pct(r.eq16),
        `${r.p2p.lost}/${r.p2p.sent}`,
        pct(r.p2p.share),
        pct(r.eq18),
      ]),
    ),
  ].join('\n');
  const checks = rows.flatMap((r) => [
    check(`robust p=${r.p}: actions sent in both modes`, r.cs.sent > 0 && r.p2p.sent > 0, `CS ${r.cs.sent}, P2P ${r.p2p.sent}`),
    check(`robust p=${r.p}: shares in 0..1`, [r.cs.share, r.p2p.share].every((x) => finite(x) && x >= 0 && x <= 1), `CS ${pct(r.cs.share)}, P2P ${pct(r.p2p.share)}`),
    check(`robust p=${r.p}: meadow went P2P`, r.p2pSites >= 1, `${r.p2pSites} P2P sites`),
  ]);
  return { name: 'robust', title: '4. Robustness (paper 5.3)', text, figures: { rows }, svgs: {}, checks };
}
