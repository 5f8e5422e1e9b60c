/**
 * `npx tsx bench/live/wakecount.ts [--bots 30] [--seconds 15] [--t 100] [--nserver 3]`: what a
 * serving bot sends and receives a second, and in how many separate wake-ups, under the offload
 * section's load (bots spread over the six sites, all volunteering, threshold 3: every site P2P).
 * The real admin (a child process); the bots in this process, each with a tap under its links
 * that unpacks bundles and decodes every frame. Per serving bot-second it prints: data-channel
 * frames sent and received (a bundle counts once) per peer kind, the messages inside them by type
 * and by the end that sent or got them (the bot's Site Server end or its user end), the event-loop
 * turns in which the bot sent at least one frame (a turn ends at the next check phase, when a
 * setImmediate runs: sends in the timers phase just after a check-phase send count with it, so
 * this may undercount a little), the Driver's wake-ups, and what went to the
 * admin's WebSocket by type. Why: each lone data-channel frame costs a bot ~300 µs of process CPU
 * (dcspread.ts), so the count of frames and of the turns that send them is the serving cost.
 */
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { nodeP2P, Bot } from '../../src/bots/bot.js';
import { siteFor } from '../../src/bots/args.js';
import type { SocketLike } from '../../src/net/adminSocket.js';
import { overLink } from '../../src/bots/instrument.js';
import type { LinkFactory } from '../../src/net/p2p/link.js';
import { isServerEnd } from '../../src/net/p2p/mesh.js';
import { decodePeerMessage } from '../../src/protocol/messages.js';
import { isBundle, unpackBundle } from '../../src/protocol/peerCodec.js';
import { sleep, startAdmin } from './proc.js';
import { intArg } from './args.js';

/** Counts of one bot over the window. */
class Tally {
  readonly counts = new Map<string, number>();
  /** Peers this bot's ends talked to, per end kind. */
  readonly peers = { server: new Set<string>(), user: new Set<string>() };
  private inTurn = false;
  on = false;

  add(key: string, n = 1): void {
    if (!this.on) return;
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  /** A frame leaves: the first one of this event-loop turn counts a sending wake-up. */
  sentInTurn(): void {
    if (this.inTurn || !this.on) return;
    this.inTurn = true;
    this.add('turns that send');
    setImmediate(() => (this.inTurn = false));
  }
}

const kind = (end: string): 'server' | 'user' => (isServerEnd(end) ? 'server' : 'user');

function types(bytes: Uint8Array): string[] {
  const frames = isBundle(bytes) ? (unpackBundle(bytes) as { ok: true; frames: Uint8Array[] } | { ok: false }) : { ok: true as const, frames: [bytes] };
  if (!frames.ok) return ['(bad bundle)'];
  return frames.frames.map((f) => {
    const d = decodePeerMessage(f);
    return d.ok ? d.value.type : '(undecodable)';
  });
}

function tap(factory: LinkFactory, t: Tally): LinkFactory {
  return (args) => {
    const link = factory(args);
    const local = kind(args.local);
    const remote = kind(args.remote);
    return overLink(link, {
      send(bytes) {
        const ok = link.send(bytes);
        if (ok && t.on) {
          t.sentInTurn();
          t.peers[local].add(args.remote);
          t.add(`frames sent, ${local} end -> ${remote}`);
          if (isBundle(bytes)) t.add(`  bundles sent, ${local} end`);
          for (const ty of types(bytes)) t.add(`msgs sent, ${local} end -> ${remote}: ${ty}`);
        }
        return ok;
      },
      onMessage: (cb) =>
        link.onMessage((bytes) => {
          if (t.on) {
            t.add(`frames received, ${local} end <- ${remote}`);
            for (const ty of types(bytes)) t.add(`msgs received, ${local} end <- ${remote}: ${ty}`);
          }
          cb(bytes);
        }),
    });
  };
}

function socketTap(t: Tally): (url: string) => SocketLike {
  return (url) => {
    const ws = new WebSocket(url) as unknown as SocketLike;
    const send = ws.send.bind(ws);
    ws.send = (data: string) => {
      if (t.on) {
        let ty = '?';
        try {
          const m = JSON.parse(data) as { type?: string; msg?: { type?: string } };
          ty = m.msg?.type ? `${m.type} ${m.msg.type}` : String(m.type);
        } catch {
          // not JSON: counted as '?'
        }
        t.add(`to admin (WebSocket): ${ty}`);
      }
      send(data);
    };
    return ws;
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bots: { type: 'string', default: '30' },
      seconds: { type: 'string', default: '15' },
      t: { type: 'string', default: '100' },
      nserver: { type: 'string', default: '3' },
    },
  });
  const count = intArg(values.bots, 4, 200);
  const seconds = intArg(values.seconds, 1, 600);
  const T = intArg(values.t, 10, 10_000);
  const nServer = intArg(values.nserver, 1, 9);
  const admin = await startAdmin({ nServer, threshold: 3, T_timeslot: T });
  const bots: Array<{ bot: Bot; tally: Tally }> = [];
  let ticks0 = new Map<Bot, number>();
  try {
    for (let k = 0; k < count; k++) {
      const tally = new Tally();
      const env = nodeP2P();
      const bot = new Bot({
        url: admin.url,
        site: siteFor('all', k, count),
        serve: true,
        rate: 2,
        p2p: { ...env, links: (ice) => tap(env.links(ice), tally) },
        socketFactory: socketTap(tally),
      });
      bots.push({ bot, tally });
    }
    // Ten starts in flight, as the bots' CLI does.
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < bots.length) await bots[next++]?.bot.start();
      }),
    );
    const until = performance.now() + 90_000;
    while (performance.now() < until && !bots.every((b) => b.bot.state.mode === 'p2p')) await sleep(250);
    await sleep(3000);
    ticks0 = new Map(bots.map((b) => [b.bot, b.bot.conn?.node?.driver.ticks ?? 0]));
    for (const b of bots) b.tally.on = true;
    const t0 = performance.now();
    await sleep(seconds * 1000);
    for (const b of bots) b.tally.on = false;
    const s = (performance.now() - t0) / 1000;
    const serving = bots.filter((b) => b.bot.state.serving !== null);
    const playing = bots.filter((b) => b.bot.state.serving === null);
    console.log(
      `${count} bots (${bots.filter((b) => b.bot.state.mode === 'p2p').length} on P2P sites), ${serving.length} serving, ` +
        `N_server ${nServer}, T_timeslot ${T} ms, ${s.toFixed(1)} s; per bot-second:`,
    );
    for (const [label, group] of [
      ['serving bots', serving],
      ['playing-only bots', playing],
    ] as const) {
      if (group.length === 0) continue;
      const sum = new Map<string, number>();
      for (const b of group) for (const [k, v] of b.tally.counts) sum.set(k, (sum.get(k) ?? 0) + v);
      const ticks = group.reduce((n, b) => n + (b.bot.conn?.node?.driver.ticks ?? 0) - (ticks0.get(b.bot) ?? 0), 0);
      sum.set('Driver wake-ups', ticks);
      const peers = (k: 'server' | 'user'): number => group.reduce((n, b) => n + b.tally.peers[k].size, 0) / group.length;
      console.log(`--- ${label} (${group.length}; peers sent to: server end ${peers('server').toFixed(1)}, user end ${peers('user').toFixed(1)}):`);
      for (const [k, v] of [...sum].sort(([a], [b]) => a.localeCompare(b))) console.log(`  ${k}: ${(v / group.length / s).toFixed(1)}`);
    }
  } finally {
    for (const b of bots) b.bot.close();
    await admin.stop();
  }
}

main().then(
  () => setTimeout(() => process.exit(0), 100),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
