/**
 * Section 1, offload (paper 5.4): the same bots all client-server, then with busy sites delegated,
 * alternated size by size in one invocation: the admin's CPU and bytes per player-second, the
 * players' CPU per role, and how each grows with the number of bots. Its rows also feed section 5.
 */
import { linePlotSvg } from './plot.js';
import type { ScenarioResult } from './scenario.js';
import { busyMeadow, check, finite, QUICK, spread, type SectionContext, type SectionOutput } from './section.js';
import { mergeFigures } from './figures.js';
import { fmt, ratio, table } from './stats.js';

export const OFFLOAD_SVG = 'live-offload.svg';
export const OFFLOAD_BYTES_SVG = 'live-offload-bytes.svg';

export interface ModeFigures {
  players: number;
  p2pSites: number;
  adminCpuMsPerPlayerS: number;
  adminBytesInPerPlayerS: number;
  adminBytesOutPerPlayerS: number;
  adminCpuShare: number;
  /** Bots' CPU ms per bot-second, playing only and serving (serving bots also play). */
  botCpuPlayingMsPerS: number;
  botCpuServingMsPerS: number;
  /** The players' machines: CPU ms of every bot process (all threads) per player-second. */
  playersCpuMsPerPlayerS: number;
  /** Action delay of the bots on sites in this run's mode (cs sites in the CS run, P2P ones in the P2P run). */
  delay: { count: number; mean: number; p50: number; p99: number };
}

export interface OffloadRow {
  bots: number;
  T_timeslot: number;
  nServer: number;
  cs: ModeFigures;
  p2p: ModeFigures;
  /** P2P / CS: below 1 is what the admin saves. */
  cpuRatio: number;
  bytesRatio: number;
  /** The players' CPU, P2P / CS (issue 16: at most PLAYERS_CPU_TARGET at 60 bots). */
  playersCpuRatio: number;
}

/** Issue 16's bound on the players' CPU, all sites P2P against all client-server. */
export const PLAYERS_CPU_TARGET = 3;

function modeFigures(r: ScenarioResult, mode: 'cs' | 'p2p'): ModeFigures {
  const f = mergeFigures(r.groups.map((g) => g.figures));
  const d = f.delay[mode];
  return {
    players: r.ready.players,
    p2pSites: r.p2pSitesAtEnd.length,
    adminCpuMsPerPlayerS: r.admin.cpuMsPerPlayerSecond,
    adminBytesInPerPlayerS: r.admin.bytesInPerPlayerSecond,
    adminBytesOutPerPlayerS: r.admin.bytesOutPerPlayerSecond,
    adminCpuShare: r.admin.cpuShare,
    botCpuPlayingMsPerS: ratio(f.cpu.playing.ms, f.cpu.playing.botSeconds),
    botCpuServingMsPerS: ratio(f.cpu.serving.ms, f.cpu.serving.botSeconds),
    playersCpuMsPerPlayerS: r.bots.cpuMsPerPlayerSecond,
    delay: { count: d.count, mean: d.mean, p50: d.p50, p99: d.p99 },
  };
}

export async function offload(ctx: SectionContext): Promise<{ out: SectionOutput; rows: OffloadRow[] }> {
  const T = 100;
  const nServer = 3;
  const sizes = ctx.sizes ?? (ctx.quick ? [10] : [25, 50, 60, 100, 200]);
  const rows: OffloadRow[] = [];
  for (const bots of sizes) {
    const res: Partial<Record<'cs' | 'p2p', ScenarioResult>> = {};
    for (const mode of ['cs', 'p2p'] as const) {
      const name = `offload-${bots}-${mode}`;
      // Quick: one busy site (6 players) and 4 volunteers; full: bots spread over all six sites.
      const s = ctx.quick && !ctx.sizes
        ? busyMeadow({ name, admin: { nServer, T_timeslot: T }, players: 6, ...QUICK, p2p: mode === 'p2p' })
        : spread({ name, count: bots, p2p: mode === 'p2p', nServer, T_timeslot: T, warmupS: 8, measureS: 15 });
      res[mode] = await ctx.run(s);
    }
    const cs = modeFigures(res.cs!, 'cs');
    const p2p = modeFigures(res.p2p!, 'p2p');
    rows.push({
      bots,
      T_timeslot: T,
      nServer,
      cs,
      p2p,
      cpuRatio: ratio(p2p.adminCpuMsPerPlayerS, cs.adminCpuMsPerPlayerS),
      bytesRatio: ratio(
        p2p.adminBytesInPerPlayerS + p2p.adminBytesOutPerPlayerS,
        cs.adminBytesInPerPlayerS + cs.adminBytesOutPerPlayerS,
      ),
      playersCpuRatio: ratio(p2p.playersCpuMsPerPlayerS, cs.playersCpuMsPerPlayerS),
    });
  }
  const text = [
    'Admin per player-second (CPU ms; bytes in / out on its sockets), all client-server vs busy sites P2P:',
    table(
      ['bots', 'P2P sites', 'CPU CS', 'CPU P2P', 'P2P/CS', 'B in CS', 'B out CS', 'B in P2P', 'B out P2P', 'bytes P2P/CS'],
      rows.map((r) => [
        String(r.bots),
        String(r.p2p.p2pSites),
        fmt(r.cs.adminCpuMsPerPlayerS, 2),
        fmt(r.p2p.adminCpuMsPerPlayerS, 2),
        fmt(r.cpuRatio, 2),
        fmt(r.cs.adminBytesInPerPlayerS, 0),
        fmt(r.cs.adminBytesOutPerPlayerS, 0),
        fmt(r.p2p.adminBytesInPerPlayerS, 0),
        fmt(r.p2p.adminBytesOutPerPlayerS, 0),
        fmt(r.bytesRatio, 2),
      ]),
    ),
    '',
    "Players' CPU, ms per bot-second (serving bots also play a site of their own):",
    table(
      ['bots', 'CS playing', 'P2P playing only', 'P2P serving', 'serving/playing'],
      rows.map((r) => [
        String(r.bots),
        fmt(r.cs.botCpuPlayingMsPerS, 1),
        fmt(r.p2p.botCpuPlayingMsPerS, 1),
        fmt(r.p2p.botCpuServingMsPerS, 1),
        fmt(ratio(r.p2p.botCpuServingMsPerS, r.p2p.botCpuPlayingMsPerS), 2),
      ]),
    ),
    '',
    `The players' machines, CPU ms per player-second of every bot process (all threads, libdatachannel's included), the same bots all client-server and all sites P2P (issue 16: P2P/CS at most ${PLAYERS_CPU_TARGET} at 60 bots):`,
    table(
      ['bots', 'CS', 'P2P', 'P2P/CS', `<= ${PLAYERS_CPU_TARGET}`],
      rows.map((r) => [
        String(r.bots),
        fmt(r.cs.playersCpuMsPerPlayerS, 1),
        fmt(r.p2p.playersCpuMsPerPlayerS, 1),
        fmt(r.playersCpuRatio, 2),
        r.playersCpuRatio <= PLAYERS_CPU_TARGET ? 'yes' : 'no',
      ]),
    ),
    'The paper (5.4) gives no figure for the offload: it argues the admin only relays sign-ins and site changes once sites are P2P.',
  ].join('\n');
  const checks = rows.flatMap((r) => [
    check(`offload ${r.bots}: admin figures finite`, [r.cs.adminCpuMsPerPlayerS, r.p2p.adminCpuMsPerPlayerS].every(finite) && r.cs.adminCpuMsPerPlayerS > 0, `CPU CS ${fmt(r.cs.adminCpuMsPerPlayerS, 2)} P2P ${fmt(r.p2p.adminCpuMsPerPlayerS, 2)} ms/player-s`),
    check(`offload ${r.bots}: P2P run has P2P sites`, r.p2p.p2pSites > 0, `${r.p2p.p2pSites} P2P sites`),
    check(`offload ${r.bots}: CS run has none`, r.cs.p2pSites === 0, `${r.cs.p2pSites} P2P sites`),
    check(`offload ${r.bots}: ratios computed`, finite(r.cpuRatio) && finite(r.bytesRatio), `CPU ${fmt(r.cpuRatio, 2)} bytes ${fmt(r.bytesRatio, 2)}`),
    check(`offload ${r.bots}: players' CPU measured`, r.cs.playersCpuMsPerPlayerS > 0 && r.p2p.playersCpuMsPerPlayerS > 0 && finite(r.playersCpuRatio), `CS ${fmt(r.cs.playersCpuMsPerPlayerS, 1)} P2P ${fmt(r.p2p.playersCpuMsPerPlayerS, 1)} ms/player-s`),
    check(`offload ${r.bots}: delays > 0`, r.cs.delay.p50 > 0 && r.p2p.delay.p50 > 0, `p50 CS ${fmt(r.cs.delay.p50)} P2P ${fmt(r.p2p.delay.p50)} ms`),
  ]);
  const svgs: Record<string, string> =
    rows.length > 1
      ? {
          [OFFLOAD_SVG]: linePlotSvg({
            title: 'Admin CPU per player-second: all client-server vs busy sites P2P',
            xLabel: 'bots',
            yLabel: 'admin CPU (ms per player-second)',
            series: [
              { name: 'client-server', points: rows.map((r) => [r.bots, r.cs.adminCpuMsPerPlayerS] as const) },
              { name: 'P2P', points: rows.map((r) => [r.bots, r.p2p.adminCpuMsPerPlayerS] as const) },
            ],
            note: ctx.stamp,
          }),
          [OFFLOAD_BYTES_SVG]: linePlotSvg({
            title: "Admin bytes per player-second on its sockets (in + out)",
            xLabel: 'bots',
            yLabel: 'bytes per player-second',
            series: [
              { name: 'client-server', points: rows.map((r) => [r.bots, r.cs.adminBytesInPerPlayerS + r.cs.adminBytesOutPerPlayerS] as const) },
              { name: 'P2P', points: rows.map((r) => [r.bots, r.p2p.adminBytesInPerPlayerS + r.p2p.adminBytesOutPerPlayerS] as const) },
            ],
            note: ctx.stamp,
          }),
        }
      : {};
  return { out: { name: 'offload', title: '1. Offload (paper 5.4)', text, figures: { rows }, svgs, checks }, rows };
}
