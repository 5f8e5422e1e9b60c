/**
 * `npx tsx bench/live/trace.ts [--su 20 --ss 10 --cu 30 --jitter 5 --t 100 --seconds 15 --players 8 --in-step 4]`:
 * where one P2P action's delay goes, term by term against eq. (14). The real admin (a child
 * process, as in bench:live) and the delay section's layout (8 players on the meadow, N_server + 1
 * volunteers on the town), all bots in this process so that every frame is stamped on one clock.
 * A tap under each bot's delaying wrapper sees every peer frame when it leaves (the time the host
 * sent it is that minus what the delay line says it waited) and when it arrives, and decodes it.
 * Per action accepted by its user it prints the mean of: user send -> median arrival (l_su), median
 * arrival -> window end (the T/2 term), window end -> last Timeslot of that grid point sent, -> last
 * of them received, -> last echo received, -> first update sent, -> the user's acceptance (l_su),
 * and the phase of the actions' send times on the grid (uniform: mean T/2). `--in-step` players act
 * as the bots did before (a plain interval from their entry: bots that enter together act in step);
 * the others at a random point of each period (bot.ts now): one run, both ways, same servers.
 */
import { parseArgs } from 'node:util';
import { nodeP2P, Bot } from '../../src/bots/bot.js';
import { overLink } from '../../src/bots/instrument.js';
import { Recorder, type LinkClass } from '../../src/bots/tally.js';
import { NO_DELAY, type DelaySpec } from '../../src/net/p2p/delayLink.js';
import type { LinkFactory } from '../../src/net/p2p/link.js';
import { decodePeerMessage, type PeerMessage } from '../../src/protocol/messages.js';
import { sleep, startAdmin } from './proc.js';

/** The Recorder remembers what the frame being delivered waited (the delay line reports it just before). */
class TapRecorder extends Recorder {
  lastWaited = 0;
  override linkWaited(cls: LinkClass, ms: number): void {
    this.lastWaited = ms;
    super.linkWaited(cls, ms);
  }
}

interface Frame {
  from: string;
  to: string;
  sentAt: number;
  msg: PeerMessage;
}

const sent: Frame[] = [];
const received: Frame[] = [];

function tap(factory: LinkFactory, rec: TapRecorder): LinkFactory {
  return (args) => {
    const link = factory(args);
    return overLink(link, {
      send(bytes) {
        const d = decodePeerMessage(bytes);
        if (d.ok)
          sent.push({
            from: args.local,
            to: args.remote,
            sentAt: performance.now() - rec.lastWaited,
            msg: d.value,
          });
        rec.lastWaited = 0;
        return link.send(bytes);
      },
      onMessage: (cb) =>
        link.onMessage((bytes) => {
          const d = decodePeerMessage(bytes);
          if (d.ok)
            received.push({ from: args.remote, to: args.local, sentAt: performance.now(), msg: d.value });
          cb(bytes);
        }),
    });
  };
}

const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const f1 = (x: number): string => x.toFixed(1);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cu: { type: 'string', default: '30' },
      su: { type: 'string', default: '20' },
      ss: { type: 'string', default: '10' },
      jitter: { type: 'string', default: '5' },
      t: { type: 'string', default: '100' },
      seconds: { type: 'string', default: '15' },
      players: { type: 'string', default: '8' },
      'in-step': { type: 'string', default: '4' },
      nserver: { type: 'string', default: '3' },
    },
  });
  const num = (s: string | undefined, d: number): number => {
    const x = Number(s);
    if (!Number.isFinite(x) || x < 0 || x > 10_000) throw new Error(`not a number in 0..10000: ${s}`);
    return s === undefined ? d : x;
  };
  const T = num(values.t, 100);
  const nServer = num(values.nserver, 3);
  const players = num(values.players, 8);
  const inStep = Math.min(players, num(values['in-step'], 4));
  const spec = (ms: number): DelaySpec => ({ ...NO_DELAY, latencyMs: ms, jitterMs: num(values.jitter, 5) });
  const specs = {
    cu: spec(num(values.cu, 30)),
    su: spec(num(values.su, 20)),
    ss: spec(num(values.ss, 10)),
    downScope: 'actions' as const,
  };
  const admin = await startAdmin({ nServer, threshold: players, T_timeslot: T });
  const bots: Bot[] = [];
  const accepted = new Map<string, number>();
  const inStepUsers = new Set<string>();
  const timers: Array<ReturnType<typeof setInterval>> = [];
  const clockErrors: number[] = [];
  try {
    const make = (site: string, serve: boolean, rate = 2): Bot => {
      const rec = new TapRecorder();
      const env = nodeP2P();
      const b: Bot = new Bot({
        url: admin.url,
        site,
        serve,
        rate,
        recorder: rec,
        linkSpecs: specs,
        p2p: { ...env, links: (ice) => tap(env.links(ice), rec) },
        onUpdate: (u) => {
          const now = performance.now();
          for (const a of u.applied)
            if (a.user === b.name && b.state.mode === 'p2p') accepted.set(`${a.user} ${a.actionNo}`, now);
        },
      });
      return b;
    };
    const started: Array<Promise<void>> = [];
    for (let i = 0; i < nServer + 1; i++) {
      const b = make('town', true);
      bots.push(b);
      started.push(b.start());
    }
    for (let i = 0; i < players; i++) {
      const old = i < inStep;
      const b = make('meadow', false, old ? 0 : 2);
      bots.push(b);
      if (!old) started.push(b.start());
      else
        started.push(
          b.start().then(() => {
            // The old way: a plain interval from the bot's entry.
            inStepUsers.add(b.name);
            timers.push(setInterval(() => b.play(), 500));
          }),
        );
    }
    await Promise.all(started);
    // Until the meadow is P2P and its users act there.
    const until = performance.now() + 60_000;
    while (performance.now() < until && !bots.slice(nServer + 1).every((b) => b.state.mode === 'p2p'))
      await sleep(200);
    await sleep(3000);
    sent.length = 0;
    received.length = 0;
    accepted.clear();
    await sleep(num(values.seconds, 15) * 1000);
    // The admin's clock is Date.now() on this machine, the bots' local one performance.now():
    // the true offset is their difference, the same for every bot of this process.
    const truth = Date.now() - performance.now();
    for (const b of bots.slice(0, nServer + 1)) {
      const node = b.conn?.node;
      const off = node?.clockOffset();
      if (node?.server && off !== null && off !== undefined) clockErrors.push(off - truth);
    }
  } finally {
    for (const t of timers) clearInterval(t);
    for (const b of bots) b.close();
    await admin.stop();
  }
  const pick = (old: boolean): Map<string, number> =>
    new Map([...accepted].filter(([k]) => inStepUsers.has(k.split(' ')[0] ?? '') === old));
  console.log(
    `serving clocks' offset estimate - truth, ms: ${clockErrors.map(f1).join(', ')} (spread ${f1(Math.max(...clockErrors) - Math.min(...clockErrors))})`,
  );
  console.log(`--- ${inStep} players acting in step (a plain interval from entry, as before):`);
  analyse(T, nServer, pick(true));
  console.log(`--- ${players - inStep} players acting at a random point of each period (bot.ts now):`);
  analyse(T, nServer, pick(false));
}

function analyse(T: number, nServer: number, accepted: Map<string, number>): void {
  const M = Math.floor(nServer / 2) + 1;
  // Synced clock -> this process's clock, per server: a Timeslot leaves at its stamp (plus the
  // Driver's lateness), so the smallest (sentAt - stamp) is the offset.
  const offset = new Map<string, number>();
  for (const f of sent)
    if (f.msg.type === 'timeslot')
      offset.set(f.from, Math.min(offset.get(f.from) ?? Infinity, f.sentAt - f.msg.stamp));
  const lateness: number[] = [];
  for (const f of sent)
    if (f.msg.type === 'timeslot') lateness.push(f.sentAt - f.msg.stamp - (offset.get(f.from) ?? 0));
  // How long after its grid point a Timeslot is stamped (its server's timer lateness; the stamp
  // is the synced clock when it is built), and the last server's per grid point.
  const stampLate: number[] = [];
  const lastStampLate = new Map<number, number>();
  for (const f of sent)
    if (f.msg.type === 'timeslot') {
      const g = Math.round(f.msg.stamp / T) * T;
      stampLate.push(f.msg.stamp - g);
      lastStampLate.set(g, Math.max(lastStampLate.get(g) ?? -Infinity, f.msg.stamp - g));
    }
  const off = mean([...offset.values()]);
  const actSent = new Map<string, number>();
  const arrivals = new Map<string, number[]>();
  for (const f of sent)
    if (f.msg.type === 'action') {
      const k = `${f.msg.user} ${f.msg.actionNo}`;
      actSent.set(k, Math.min(actSent.get(k) ?? Infinity, f.sentAt));
    }
  for (const f of received)
    if (f.msg.type === 'action') {
      const k = `${f.msg.user} ${f.msg.actionNo}`;
      const a = arrivals.get(k) ?? [];
      a.push(f.sentAt);
      arrivals.set(k, a);
    }
  // Per grid point (local clock): when the last Timeslot at or past it was sent, received, echoed.
  const slotSent = new Map<number, number>();
  const slotRecv = new Map<number, number>();
  const echoRecv: Array<{ at: number }> = [];
  for (const f of sent)
    if (f.msg.type === 'timeslot') {
      const g = Math.round(f.msg.stamp / T) * T;
      slotSent.set(g, Math.max(slotSent.get(g) ?? 0, f.sentAt));
    }
  for (const f of received)
    if (f.msg.type === 'timeslot') {
      const g = Math.round(f.msg.stamp / T) * T;
      slotRecv.set(g, Math.max(slotRecv.get(g) ?? 0, f.sentAt));
    }
  for (const f of received) if (f.msg.type === 'echo') echoRecv.push({ at: f.sentAt });
  const updSent = new Map<number, { at: number; window: number; applied: string[] }>();
  for (const f of sent)
    if (f.msg.type === 'update' || f.msg.type === 'updateHash') {
      const prev = updSent.get(f.msg.seq);
      if (!prev || f.sentAt < prev.at)
        updSent.set(f.msg.seq, {
          at: f.sentAt,
          window: f.msg.type === 'update' ? f.msg.window : (prev?.window ?? NaN),
          applied:
            f.msg.type === 'update' ? f.msg.applied.map(([u, n]) => `${u} ${n}`) : (prev?.applied ?? []),
        });
      else if (f.msg.type === 'update')
        Object.assign(prev, { window: f.msg.window, applied: f.msg.applied.map(([u, n]) => `${u} ${n}`) });
    }
  const byAction = new Map<string, { at: number; window: number }>();
  for (const u of updSent.values()) for (const k of u.applied) byAction.set(k, u);
  const terms = {
    su1: [] as number[],
    wait: [] as number[],
    tsSend: [] as number[],
    tsRecv: [] as number[],
    echo: [] as number[],
    upd: [] as number[],
    su2: [] as number[],
    total: [] as number[],
    phase: [] as number[],
  };
  for (const [k, acc] of accepted) {
    const s = actSent.get(k);
    const arr = (arrivals.get(k) ?? []).sort((a, b) => a - b);
    const u = byAction.get(k);
    const med = arr[M - 1];
    if (s === undefined || med === undefined || !u || !Number.isFinite(u.window)) continue;
    const wEnd = u.window + off;
    const g = u.window;
    const ts = slotSent.get(g);
    const tr = slotRecv.get(g);
    if (ts === undefined || tr === undefined) continue;
    const lastEcho = echoRecv
      .filter((e) => e.at >= tr && e.at <= u.at)
      .reduce((m, e) => Math.max(m, e.at), tr);
    terms.su1.push(med - s);
    terms.wait.push(wEnd - med);
    terms.tsSend.push(ts - wEnd);
    terms.tsRecv.push(tr - ts);
    terms.echo.push(lastEcho - tr);
    terms.upd.push(u.at - lastEcho);
    terms.su2.push(acc - u.at);
    terms.total.push(acc - s);
    terms.phase.push((((s - off) % T) + T) % T);
  }
  const offs = [...offset.values()];
  console.log(
    `actions traced: ${terms.total.length}; a Timeslot leaves after its stamp: mean ${f1(mean(lateness))} ms; servers' synced clocks spread over ${f1(Math.max(...offs) - Math.min(...offs))} ms`,
  );
  console.log(
    `Timeslot stamped after its grid point: mean ${f1(mean(stampLate))} ms, the last server's per grid point ${f1(mean([...lastStampLate.values()]))} ms`,
  );
  console.log(`user send -> median arrival (l_su):                  ${f1(mean(terms.su1))}`);
  console.log(`median arrival -> window end (T/2 term):             ${f1(mean(terms.wait))}`);
  console.log(`window end -> last Timeslot of that grid sent:       ${f1(mean(terms.tsSend))}`);
  console.log(`   -> last of them received (l_ss):                  ${f1(mean(terms.tsRecv))}`);
  console.log(`   -> last echo received before the update (l_ss):   ${f1(mean(terms.echo))}`);
  console.log(`   -> first update (or hash) sent:                   ${f1(mean(terms.upd))}`);
  console.log(`   -> accepted by the user (l_su):                   ${f1(mean(terms.su2))}`);
  console.log(`total (user send -> accepted):                       ${f1(mean(terms.total))}`);
  console.log(
    `phase of the sends on the grid, mean (uniform: T/2): ${f1(mean(terms.phase))}; min ${f1(Math.min(...terms.phase))} max ${f1(Math.max(...terms.phase))}`,
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
