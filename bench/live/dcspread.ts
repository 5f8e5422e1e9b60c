/**
 * `npx tsx bench/live/dcspread.ts [pairs] [rate] [sack] [idle]`: what data-channel frames cost a bot's process when
 * they come one at a time, as a Site Server's do (a Timeslot here, an echo there, an update per user
 * after each window), where dcsend.ts sends them in bursts of 100 per event-loop turn. `pairs`
 * linked pairs of node-datachannel links in this process (datachannelLink.ts, loopback), each
 * sending `rate` 200 B frames a second at its own phase (0: idle links), 10 s after a 2 s settle;
 * prints the process CPU (every thread) per second and per frame, and each thread group's share
 * from /proc/self/task (Linux): Node's main thread, libdatachannel's workers, SCTP timer, ICE poll.
 * `sack`: how long a receiver holds its SCTP ack, ms (default SCTP_SACK_DELAY_MS, as bots do;
 * 20 is libdatachannel's own default). `idle`: that many more linked pairs that send nothing, as a
 * bench bot process holds ~200 links (libjuice's poll thread scans every socket on each wake).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dataChannelFactory, SCTP_SACK_DELAY_MS } from '../../src/net/p2p/datachannelLink.js';
import type { PeerLink } from '../../src/net/p2p/link.js';

const arg = (i: number, d: number, max: number): number => {
  const v = process.argv[i];
  const n = v === undefined ? d : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`argument ${i - 1}: an integer in 0..${max}`);
  return n;
};

/** CPU ticks (1/100 s) per thread name, digits at the end folded (one entry per kind of thread). */
function threadTicks(): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, '#');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    m.set(name, (m.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
  }
  return m;
}

async function main(): Promise<void> {
  const pairs = arg(2, 10, 200);
  const rate = arg(3, 20, 1000);
  const sackDelayMs = arg(4, SCTP_SACK_DELAY_MS, 500);
  const idle = arg(5, 0, 400);
  const make = dataChannelFactory({ iceServers: [], sackDelayMs });
  const senders: PeerLink[] = [];
  const all: PeerLink[] = [];
  for (let i = 0; i < pairs + idle; i++) {
    // eslint-disable-next-line prefer-const -- each end signals to the other, made after it
    let b: PeerLink;
    const a = make({ initiator: true, local: `a${i}`, remote: `b${i}`, onSignal: (d) => b.signal(d) });
    b = make({ initiator: false, local: `b${i}`, remote: `a${i}`, onSignal: (d) => a.signal(d) });
    await Promise.all([a, b].map((l) => new Promise<void>((r) => l.onOpen(r))));
    b.onMessage(() => undefined);
    if (i < pairs) senders.push(a);
    all.push(a, b);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const payload = new Uint8Array(200).fill(7);
  const timers: Array<ReturnType<typeof setInterval>> = [];
  const phases: Array<ReturnType<typeof setTimeout>> = [];
  if (rate > 0) {
    senders.forEach((a, i) => {
      const start = ((i + 0.5) / pairs) * (1000 / rate); // phases spread evenly: no two links in step
      phases.push(setTimeout(() => timers.push(setInterval(() => a.send(payload), 1000 / rate)), start));
    });
  }
  const th0 = threadTicks();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 10_000));
  const cpu = process.cpuUsage(cpu0);
  const s = (performance.now() - t0) / 1000;
  const th1 = threadTicks();
  const msPerS = (cpu.user + cpu.system) / 1000 / s;
  const frames = pairs * rate;
  console.log(
    `${pairs} pairs, ${rate} frames/s each, ${idle} idle pairs, SCTP acks held up to ${sackDelayMs} ms (${frames} frames/s in all, sent and received here): process CPU ` +
      `${msPerS.toFixed(1)} ms/s` + (frames > 0 ? `, ${((msPerS * 1000) / frames).toFixed(0)} µs per frame, idle links' cost included` : ''),
  );
  for (const [name, v] of th1) {
    const d = v - (th0.get(name) ?? 0);
    if (d > 0) console.log(`  ${name}: ${((d * 10) / s).toFixed(1)} ms/s`);
  }
  phases.forEach(clearTimeout);
  timers.forEach(clearInterval);
  all.forEach((l) => l.close());
}

main().then(
  () => setTimeout(() => process.exit(0), 100),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
