/**
 * `npx tsx bench/live/dcsend.ts [frames] [bytes]`: what one data-channel frame costs a bot's process,
 * send and receive, over node-datachannel on loopback (datachannelLink.ts): two links in this
 * process, `frames` frames of `bytes` each sent in bursts of 100 (one per event-loop turn, as a
 * Site Server sends a round's frames), CPU of this process (every thread) per frame. A serving bot
 * sends ~100 frames a second per site it serves (Timeslots, echoes, an update per user).
 */
import { dataChannelFactory } from '../../src/net/p2p/datachannelLink.js';
import type { PeerLink } from '../../src/net/p2p/link.js';

const arg = (i: number, d: number, max: number): number => {
  const v = process.argv[i];
  const n = v === undefined ? d : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`argument ${i - 1}: an integer in 1..${max}`);
  return n;
};

async function main(): Promise<void> {
  const frames = arg(2, 20_000, 1_000_000);
  const size = arg(3, 200, 60_000);
  const make = dataChannelFactory({ iceServers: [] });
  // eslint-disable-next-line prefer-const -- each end signals to the other, made after it
  let b: PeerLink;
  const a = make({ initiator: true, local: 'a', remote: 'b', onSignal: (d) => b.signal(d) });
  b = make({ initiator: false, local: 'b', remote: 'a', onSignal: (d) => a.signal(d) });
  await Promise.all([a, b].map((l) => new Promise<void>((r) => l.onOpen(r))));
  let got = 0;
  const all = new Promise<void>((r) => b.onMessage(() => ++got === frames && r()));
  const payload = new Uint8Array(size).fill(7);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sendMs = 0;
  for (let sent = 0; sent < frames;) {
    const s0 = performance.now();
    for (let k = 0; k < 100 && sent < frames; k++, sent++) a.send(payload);
    sendMs += performance.now() - s0;
    // Let the receiving side run, and keep libdatachannel's buffer from growing without bound.
    await new Promise((r) => setImmediate(r));
    while (a.buffered > 1 << 20) await new Promise((r) => setTimeout(r, 1));
  }
  await all;
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  const us = (cpu.user + cpu.system) / frames;
  console.log(
    `${frames} frames of ${size} B: process CPU ${us.toFixed(1)} µs per frame (send and receive, every thread), ` +
      `send() ${((sendMs * 1000) / frames).toFixed(1)} µs per call on the main thread, wall ${(wall / 1000).toFixed(2)} s`,
  );
  a.close();
  b.close();
}

main().then(
  () => setTimeout(() => process.exit(0), 100),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
