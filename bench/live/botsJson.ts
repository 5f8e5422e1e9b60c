/**
 * Reads a bot group's `--json` summary (src/bots/totals.ts writes it, `version: 1`) into the
 * bench's BotFigures. The file comes from another process: it is validated, and a summary the
 * bench cannot read stops the run with what was wrong.
 */
import { z } from 'zod';
import type { BotFigures, Dist, Traffic } from './figures.js';

const num = z.number().finite();
const opt = num.nullable();
const DistJ = z.object({ count: z.number().int().nonnegative(), mean: opt, p50: opt, p99: opt, max: opt });
const BytesJ = z.object({ sent: num, received: num, framesSent: num, framesReceived: num });
const modes = <T extends z.ZodTypeAny>(t: T) => z.object({ cs: t, p2p: t });
const roles = <T extends z.ZodTypeAny>(t: T) => z.object({ serving: t, playing: t });
const classes = <T extends z.ZodTypeAny>(t: T) => z.object({ cu: t, su: t, ss: t });

const Summary = z.object({
  version: z.literal(1),
  counts: z.object({
    requested: num,
    online: num,
    failed: num,
    p2pPlaying: num,
    serving: num,
    enterPending: num.optional(),
  }),
  timeToEnterMs: DistJ.extend({ pending: num.optional() }),
  actionDelayMs: z.object({ all: DistJ, cs: DistJ, p2p: DistJ }),
  actions: z.object({ sent: modes(num), unprocessed: modes(num) }),
  cpu: z.object({
    userMs: num,
    systemMs: num,
    wallMs: num,
    perRole: z.object({ method: z.string(), handlerMs: roles(num), botSeconds: roles(num) }),
  }),
  bytes: z.object({ peer: roles(BytesJ), admin: BytesJ }),
  injected: z.object({ measuredMs: classes(DistJ) }),
  portalSwitches: DistJ,
  samples: modes(z.array(num).max(100_000)),
});

const n = (x: number | null): number => x ?? NaN;

function dist(d: z.infer<typeof DistJ>, samples: number[]): Dist {
  return { count: d.count, mean: n(d.mean), p50: n(d.p50), p99: n(d.p99), max: n(d.max), samples };
}

const traffic = (b: z.infer<typeof BytesJ>): Traffic => ({
  bytesSent: b.sent,
  bytesReceived: b.received,
  messagesSent: b.framesSent,
  messagesReceived: b.framesReceived,
});

/** Bytes per round of a role: its peer bytes over its bot-seconds, in rounds of `roundMs`. */
const perRound = (bytes: number, botSeconds: number, roundMs: number): number =>
  botSeconds > 0 ? bytes / ((botSeconds * 1000) / roundMs) : NaN;

export function parseBotSummary(raw: unknown, roundMs: number): BotFigures {
  const r = Summary.safeParse(raw);
  if (!r.success) throw new Error(`a bots --json summary the bench cannot read: ${r.error.message.slice(0, 2000)}`);
  const j = r.data;
  const lat = (k: 'cu' | 'su' | 'ss'): BotFigures['latency']['cu'] => {
    const d = j.injected.measuredMs[k];
    return d.count > 0 ? { count: d.count, mean: n(d.mean), p50: n(d.p50), p99: n(d.p99) } : null;
  };
  const secs = j.cpu.perRole.botSeconds;
  const peer = j.bytes.peer;
  return {
    requested: j.counts.requested,
    online: j.counts.online,
    failed: j.counts.failed,
    p2pPlaying: j.counts.p2pPlaying,
    serving: j.counts.serving,
    enterMs: {
      count: j.timeToEnterMs.count,
      p50: n(j.timeToEnterMs.p50),
      p99: n(j.timeToEnterMs.p99),
      max: n(j.timeToEnterMs.max),
      pending: j.timeToEnterMs.pending ?? j.counts.enterPending ?? 0,
    },
    delay: {
      all: dist(j.actionDelayMs.all, [...j.samples.cs, ...j.samples.p2p]),
      cs: dist(j.actionDelayMs.cs, j.samples.cs),
      p2p: dist(j.actionDelayMs.p2p, j.samples.p2p),
    },
    notProcessed: {
      cs: { sent: j.actions.sent.cs, lost: j.actions.unprocessed.cs },
      p2p: { sent: j.actions.sent.p2p, lost: j.actions.unprocessed.p2p },
    },
    cpu: {
      totalMs: j.cpu.userMs + j.cpu.systemMs,
      wallMs: j.cpu.wallMs,
      method: j.cpu.perRole.method,
      serving: { ms: j.cpu.perRole.handlerMs.serving, botSeconds: secs.serving },
      playing: { ms: j.cpu.perRole.handlerMs.playing, botSeconds: secs.playing },
    },
    bytes: {
      serving: traffic(peer.serving),
      playing: traffic(peer.playing),
      admin: traffic(j.bytes.admin),
      userPerRound: {
        sent: perRound(peer.playing.sent, secs.playing, roundMs),
        received: perRound(peer.playing.received, secs.playing, roundMs),
      },
      serverPerRound: {
        sent: perRound(peer.serving.sent, secs.serving, roundMs),
        received: perRound(peer.serving.received, secs.serving, roundMs),
      },
    },
    latency: { cu: lat('cu'), su: lat('su'), ss: lat('ss') },
    roam: { switches: j.portalSwitches.count, p50: n(j.portalSwitches.p50), p99: n(j.portalSwitches.p99) },
  };
}
