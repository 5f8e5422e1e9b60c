/**
 * What the bench reads from the admin's `/api/admin`: the sites' modes and players, and the
 * cumulative `admin` counters (CPU, bytes on its sockets, player-seconds) that two snapshots are
 * diffed over a measured window. The answer comes from another process: it is validated here.
 */
import { z } from 'zod';

const Counters = z.object({
  cpuUserMs: z.number().finite().nonnegative(),
  cpuSystemMs: z.number().finite().nonnegative(),
  bytesIn: z.number().finite().nonnegative(),
  bytesOut: z.number().finite().nonnegative(),
  playerSeconds: z.number().finite().nonnegative(),
  at: z.number().finite(),
});
export type AdminCounters = z.infer<typeof Counters>;

const View = z.object({
  sites: z.array(
    z.object({
      id: z.string(),
      mode: z.enum(['cs', 'p2p']),
      users: z.array(z.string()),
      servers: z.array(z.object({ state: z.string() })).optional(),
    }),
  ),
  admin: Counters.nullable().optional(),
});
export type AdminView = z.infer<typeof View>;

export function parseAdminView(raw: unknown): AdminView {
  const r = View.safeParse(raw);
  if (!r.success) throw new Error(`/api/admin answered an unexpected shape: ${r.error.message}`);
  return r.data;
}

export const playersOnline = (v: AdminView): number => v.sites.reduce((n, s) => n + s.users.length, 0);
export const p2pSites = (v: AdminView): string[] => v.sites.filter((s) => s.mode === 'p2p').map((s) => s.id);

/** The admin's cost over a window, per player-second (the paper's 5.4 offload, as measured). */
export interface AdminWindow {
  seconds: number;
  playerSeconds: number;
  cpuMs: number;
  bytesIn: number;
  bytesOut: number;
  cpuMsPerPlayerSecond: number;
  bytesInPerPlayerSecond: number;
  bytesOutPerPlayerSecond: number;
  /** CPU share of one core over the window. */
  cpuShare: number;
}

export function adminWindow(a: AdminCounters, b: AdminCounters): AdminWindow {
  const seconds = (b.at - a.at) / 1000;
  const playerSeconds = b.playerSeconds - a.playerSeconds;
  const cpuMs = b.cpuUserMs + b.cpuSystemMs - (a.cpuUserMs + a.cpuSystemMs);
  const bytesIn = b.bytesIn - a.bytesIn;
  const bytesOut = b.bytesOut - a.bytesOut;
  if (!(seconds > 0) || !(playerSeconds > 0))
    throw new Error(`empty window (${seconds} s, ${playerSeconds} player-s)`);
  return {
    seconds,
    playerSeconds,
    cpuMs,
    bytesIn,
    bytesOut,
    cpuMsPerPlayerSecond: cpuMs / playerSeconds,
    bytesInPerPlayerSecond: bytesIn / playerSeconds,
    bytesOutPerPlayerSecond: bytesOut / playerSeconds,
    cpuShare: cpuMs / 1000 / seconds,
  };
}
