/**
 * Section 3, bytes (paper 5.1): what a playing user sends per action and receives per round on its
 * peer links, and what a Site Server sends and receives per round, for a few site sizes n; beside
 * eqs. (4), (7), (9)-(11) with the sizes measured, once with the paper's 66 B header and once with
 * our data channel's per-message overhead (formulas.ts).
 */
import { bytesFormulas, DATACHANNEL_HEADER, PAPER_ACTION_BYTES, WEBSOCKET_HEADER } from './formulas.js';
import { mergeFigures } from './figures.js';
import { linePlotSvg } from './plot.js';
import type { ScenarioResult } from './scenario.js';
import { busyMeadow, check, finite, QUICK, type SectionContext, type SectionOutput } from './section.js';
import { fmt, ratio, table } from './stats.js';

export const BYTES_SVG = 'live-bytes.svg';

export interface BytesRow {
  name: string;
  n: number;
  nServer: number;
  T_timeslot: number;
  /** Measured payload bytes. */
  a: number;
  actionsPerRound: number;
  userSentPerAction: number;
  userReceivedPerRound: number;
  userMessagesReceivedPerRound: number;
  serverSentPerRound: number;
  serverReceivedPerRound: number;
  serverMessagesSentPerRound: number;
  /** Measured payload plus our transport's header on each message. */
  wire: { userSentPerAction: number; userReceivedPerRound: number; serverSentPerRound: number };
  paper: ReturnType<typeof bytesFormulas>;
  ours: ReturnType<typeof bytesFormulas>;
  /** Eqs. with the paper's a = 10 B per action and our header: the target the wire is held to. */
  oursA10: ReturnType<typeof bytesFormulas>;
}

export function bytesRow(r: ScenarioResult, n: number, rate: number): BytesRow {
  const players = r.groups.find((g) => g.label === 'players')?.figures;
  const servers = r.groups.find((g) => g.label === 'servers')?.figures;
  if (!players || !servers) throw new Error(`${r.name}: needs the players and servers groups`);
  const all = mergeFigures([players, servers]);
  const T = r.settings.T_timeslot;
  const rounds = (botSeconds: number): number => (botSeconds * 1000) / T;
  const pl = all.bytes.playing;
  const sv = all.bytes.serving;
  const actionsSent = players.notProcessed.p2p.sent;
  const a = ratio(pl.bytesSent, pl.messagesSent);
  const actionsPerRound = (rate * T) / 1000;
  const userRounds = rounds(all.cpu.playing.botSeconds);
  const serverRounds = rounds(all.cpu.serving.botSeconds);
  const base = { N_server: r.settings.nServer, n, a, actionsPerRound };
  return {
    name: r.name,
    n,
    nServer: r.settings.nServer,
    T_timeslot: T,
    a,
    actionsPerRound,
    userSentPerAction: ratio(pl.bytesSent, actionsSent),
    userReceivedPerRound: ratio(pl.bytesReceived, userRounds),
    userMessagesReceivedPerRound: ratio(pl.messagesReceived, userRounds),
    serverSentPerRound: ratio(sv.bytesSent, serverRounds),
    serverReceivedPerRound: ratio(sv.bytesReceived, serverRounds),
    serverMessagesSentPerRound: ratio(sv.messagesSent, serverRounds),
    wire: {
      userSentPerAction: ratio(pl.bytesSent + pl.messagesSent * DATACHANNEL_HEADER, actionsSent),
      userReceivedPerRound: ratio(pl.bytesReceived + pl.messagesReceived * DATACHANNEL_HEADER, userRounds),
      serverSentPerRound: ratio(sv.bytesSent + sv.messagesSent * DATACHANNEL_HEADER, serverRounds),
    },
    paper: bytesFormulas({ ...base, S_header: 66 }),
    ours: bytesFormulas({ ...base, S_header: DATACHANNEL_HEADER }),
    oursA10: bytesFormulas({ ...base, a: PAPER_ACTION_BYTES, S_header: DATACHANNEL_HEADER }),
  };
}

export async function bytes(ctx: SectionContext, reuse: ScenarioResult[]): Promise<SectionOutput> {
  const rate = 2;
  const rows: BytesRow[] = [];
  // The delay section's loopback (or, quick, its only) run at N_server 3, T 100 is one more point.
  const prior = reuse.find((r) => r.name === 'delay-n3-t100-loopback') ?? reuse.find((r) => r.name === 'delay-n3-t100-real-world');
  if (prior) rows.push(bytesRow(prior, 8, rate));
  const sizes = ctx.quick ? (prior ? [] : [6]) : [5, 10, 20];
  for (const n of sizes) {
    const r = await ctx.run(
      busyMeadow({ name: `bytes-n${n}`, admin: { nServer: 3, T_timeslot: 100 }, players: n, rate, ...(ctx.quick ? QUICK : { warmupS: 6, measureS: 15 }) }),
    );
    rows.push(bytesRow(r, n, rate));
  }
  rows.sort((x, y) => x.n - y.n);
  const text = [
    `Peer-link bytes (payload; "wire" adds our ${DATACHANNEL_HEADER} B data-channel header per message: Ethernet 26 + IPv4 20 + UDP 8 + DTLS 13 + AES-GCM 24 + SCTP 12 + DATA chunk 16, vs the paper's 66 B; a WebSocket frame to the admin carries ${WEBSOCKET_HEADER} B). N_server 3, T_timeslot 100 ms, ${rate} actions/s per bot (${fmt((rate * 100) / 1000, 1)} per round):`,
    table(
      ['n', 'a (B)', 'user sent/action', 'wire', 'eq.4 (66)', `eq.4 (${DATACHANNEL_HEADER})`, 'user recv/round', 'wire', 'eq.7 (66)', `eq.7 (${DATACHANNEL_HEADER})`, `eq.7 a=${PAPER_ACTION_BYTES} (${DATACHANNEL_HEADER})`, 'wire/that'],
      rows.map((r) => [
        String(r.n),
        fmt(r.a),
        fmt(r.userSentPerAction, 0),
        fmt(r.wire.userSentPerAction, 0),
        fmt(r.paper.eq4, 0),
        fmt(r.ours.eq4, 0),
        fmt(r.userReceivedPerRound, 0),
        fmt(r.wire.userReceivedPerRound, 0),
        fmt(r.paper.eq7, 0),
        fmt(r.ours.eq7, 0),
        fmt(r.oursA10.eq7, 0),
        fmt(r.wire.userReceivedPerRound / r.oursA10.eq7, 2),
      ]),
    ),
    '',
    'Per Site Server per round (payload / wire): sent vs eq. (9) full update to every user and eq. (10) hash only; received vs eq. (11), with 66 B headers:',
    table(
      ['n', 'server sent', 'wire', 'msgs', 'eq.9', 'eq.10', 'server recv', 'eq.11'],
      rows.map((r) => [
        String(r.n),
        fmt(r.serverSentPerRound, 0),
        fmt(r.wire.serverSentPerRound, 0),
        fmt(r.serverMessagesSentPerRound, 1),
        fmt(r.paper.eq9, 0),
        fmt(r.paper.eq10, 0),
        fmt(r.serverReceivedPerRound, 0),
        fmt(r.paper.eq11, 0),
      ]),
    ),
  ].join('\n');
  const checks = rows.flatMap((r) => [
    check(`bytes n=${r.n}: user figures finite and > 0`, [r.a, r.userSentPerAction, r.userReceivedPerRound].every((x) => finite(x) && x > 0), `a ${fmt(r.a)} sent/action ${fmt(r.userSentPerAction, 0)} recv/round ${fmt(r.userReceivedPerRound, 0)}`),
    check(`bytes n=${r.n}: server figures finite and > 0`, [r.serverSentPerRound, r.serverReceivedPerRound].every((x) => finite(x) && x > 0), `sent ${fmt(r.serverSentPerRound, 0)} recv ${fmt(r.serverReceivedPerRound, 0)} per round`),
  ]);
  const svgs: Record<string, string> =
    rows.length > 1
      ? {
          [BYTES_SVG]: linePlotSvg({
            title: 'Bytes a P2P user receives per round vs n (N_server 3, T 100 ms)',
            xLabel: 'n (users on the site)',
            yLabel: 'bytes per round',
            series: [
              { name: 'measured, wire', points: rows.map((r) => [r.n, r.wire.userReceivedPerRound] as const) },
              { name: 'measured, payload', points: rows.map((r) => [r.n, r.userReceivedPerRound] as const) },
              { name: `eq. (7), ${DATACHANNEL_HEADER} B header`, points: rows.map((r) => [r.n, r.ours.eq7] as const) },
              { name: 'eq. (7), 66 B header', points: rows.map((r) => [r.n, r.paper.eq7] as const) },
            ],
            note: ctx.stamp,
          }),
        }
      : {};
  return { name: 'bytes', title: '3. Bytes (paper 5.1)', text, figures: { rows }, svgs, checks };
}
