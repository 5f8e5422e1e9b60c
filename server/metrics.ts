/**
 * The Administration Server's own costs, for the operator page and the benchmark: cumulative
 * counters that a reader diffs between two snapshots (process CPU, real bytes read and written on
 * every HTTP and WebSocket socket, the integral of players online over time) and live rates over
 * the last few seconds (CPU %, bytes per player-second). WebSocket frames are also counted per
 * message type, each way (payload bytes; a bench diffs them per player-second to see what the
 * admin's bytes and CPU go to).
 */
import type { Socket } from 'node:net';

/** Rates are over at least this long (the newest sample against one this much older). */
export const RATE_WINDOW_MS = 5000;
/** Samples kept for the rates: one a second. */
const MAX_SAMPLES = 16;

export interface AdminCounters {
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Bytes read from and written to the sockets of HTTP and WebSocket clients. */
  bytesIn: number;
  bytesOut: number;
  /** Integral of the players online over time, s. */
  playerSeconds: number;
  players: number;
  /** Wall clock of the snapshot, ms. */
  at: number;
}

/** Frames and payload bytes of one message type, each way, since the start. */
export interface MessageCount {
  framesIn: number;
  bytesIn: number;
  framesOut: number;
  bytesOut: number;
}

/** Kinds counted apart; any more share OTHER_KIND (the names come from our own schema, but stay bounded). */
const MAX_KINDS = 64;
const OTHER_KIND = 'other';

export interface AdminMetrics extends AdminCounters {
  /** Cumulative WebSocket frames and payload bytes per message type (metrics.ts `countIn`/`countOut`). */
  messages: Record<string, MessageCount>;
  /** Over the last RATE_WINDOW_MS or so; null until two samples that far apart exist. */
  rates: {
    windowMs: number;
    cpuPercent: number;
    bytesInPerPlayerSecond: number | null;
    bytesOutPerPlayerSecond: number | null;
  } | null;
}

export interface MetricsOptions {
  now: () => number;
  players: () => number;
  /** process.cpuUsage (µs), injectable for tests. */
  cpu?: () => { user: number; system: number };
}

export class ServerMetrics {
  private readonly live = new Set<Socket>();
  private closedIn = 0;
  private closedOut = 0;
  private playerSeconds = 0;
  private lastAt: number;
  private lastPlayers: number;
  private readonly samples: AdminCounters[] = [];
  private readonly cpu: () => { user: number; system: number };
  private readonly kinds = new Map<string, MessageCount>();

  constructor(private readonly o: MetricsOptions) {
    this.cpu = o.cpu ?? (() => process.cpuUsage());
    this.lastAt = o.now();
    this.lastPlayers = o.players();
  }

  /** A client socket (HTTP, later maybe upgraded to WebSocket): its bytes count from now on. */
  track(socket: Socket): void {
    this.live.add(socket);
    socket.once('close', () => {
      this.live.delete(socket);
      this.closedIn += socket.bytesRead;
      this.closedOut += socket.bytesWritten;
    });
  }

  /** A WebSocket frame of `kind` (a message type) came in, `bytes` of payload. */
  countIn(kind: string, bytes: number): void {
    const c = this.kind(kind);
    c.framesIn++;
    c.bytesIn += bytes;
  }

  /** A WebSocket frame of `kind` went out, `bytes` of payload. */
  countOut(kind: string, bytes: number): void {
    const c = this.kind(kind);
    c.framesOut++;
    c.bytesOut += bytes;
  }

  private kind(kind: string): MessageCount {
    let c = this.kinds.get(kind);
    if (!c) {
      const k = this.kinds.size < MAX_KINDS ? kind : OTHER_KIND;
      c = this.kinds.get(k) ?? { framesIn: 0, bytesIn: 0, framesOut: 0, bytesOut: 0 };
      this.kinds.set(k, c);
    }
    return c;
  }

  /** Cumulative counters now. */
  counters(): AdminCounters {
    const at = this.o.now();
    // Players held since the last reading (a step function sampled at least once a second).
    this.playerSeconds += (this.lastPlayers * Math.max(0, at - this.lastAt)) / 1000;
    this.lastAt = at;
    this.lastPlayers = this.o.players();
    let bytesIn = this.closedIn;
    let bytesOut = this.closedOut;
    for (const s of this.live) {
      bytesIn += s.bytesRead;
      bytesOut += s.bytesWritten;
    }
    const c = this.cpu();
    return { cpuUserMs: c.user / 1000, cpuSystemMs: c.system / 1000, bytesIn, bytesOut, playerSeconds: this.playerSeconds, players: this.lastPlayers, at };
  }

  /** Call once a second: keeps the samples the rates are read from. */
  sample(): void {
    this.samples.push(this.counters());
    if (this.samples.length > MAX_SAMPLES) this.samples.shift();
  }

  snapshot(): AdminMetrics {
    const now = this.counters();
    const messages: Record<string, MessageCount> = {};
    for (const [k, c] of this.kinds) messages[k] = { ...c };
    const old = [...this.samples].reverse().find((s) => now.at - s.at >= RATE_WINDOW_MS) ?? null;
    if (!old) return { ...now, messages, rates: null };
    const ms = now.at - old.at;
    const ps = now.playerSeconds - old.playerSeconds;
    return {
      ...now,
      messages,
      rates: {
        windowMs: ms,
        cpuPercent: (100 * (now.cpuUserMs + now.cpuSystemMs - old.cpuUserMs - old.cpuSystemMs)) / ms,
        bytesInPerPlayerSecond: ps > 0 ? (now.bytesIn - old.bytesIn) / ps : null,
        bytesOutPerPlayerSecond: ps > 0 ? (now.bytesOut - old.bytesOut) / ps : null,
      },
    };
  }
}
