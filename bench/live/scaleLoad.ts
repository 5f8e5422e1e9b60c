/**
 * What loads a bot group's processes, read from its `--json` summary (src/bots/totals.ts: optional
 * parts of version 1, absent from older bots): each process's event loop over the window (its
 * utilisation, how late a probe timer ran, CPU, the sites its serving bots serve), the accepted
 * actions per site and the late ones (over 2 T_timeslot) with when and where; and the whole
 * machine's CPU from /proc/stat, to tell a saturated machine from a saturated event loop.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const num = z.number().finite();
const opt = num.nullable();

const ProcessJ = z.object({
  bots: num,
  servingSites: z.array(z.string().max(40)).max(50),
  window: z.object({
    seconds: num,
    eluMean: opt,
    eluMax: opt,
    lateP99MaxMs: opt,
    lateMaxMs: opt,
    cpuMsPerS: opt,
    mainCpuMsPerS: opt.optional(),
    runQueueWaitMsPerS: opt.optional(),
  }),
});
const LateJ = z.object({ tS: num, site: z.string().max(40), mode: z.enum(['cs', 'p2p']), ms: num, serving: z.boolean() });
const LoadJ = z.object({
  bySite: z.record(z.string().max(40), z.object({ count: num, late: num, mean: opt, max: num })).optional(),
  late: z.object({ count: num, kept: z.array(LateJ).max(20_000) }).optional(),
  window: z.object({ fromMs: num, toMs: num }),
  processes: z.object({ byProcess: z.record(z.string().max(40), ProcessJ) }).optional(),
});

export type ProcessLoad = z.infer<typeof ProcessJ> & { key: string };
export type LateAction = z.infer<typeof LateJ>;

export interface BotLoad {
  /** The bots' window, s since their start. */
  window: { fromS: number; toS: number };
  processes: ProcessLoad[];
  bySite: Record<string, { count: number; late: number }>;
  late: { count: number; kept: LateAction[] };
}

/** The load parts of a summary; null when the bots wrote none (an older version). */
export function parseBotLoad(raw: unknown): BotLoad | null {
  const r = LoadJ.safeParse(raw);
  if (!r.success || !r.data.processes || !r.data.late || !r.data.bySite) return null;
  const j = r.data;
  return {
    window: { fromS: j.window.fromMs / 1000, toS: j.window.toMs / 1000 },
    processes: Object.entries(j.processes?.byProcess ?? {}).map(([key, p]) => ({ key, ...p })),
    bySite: Object.fromEntries(Object.entries(j.bySite ?? {}).map(([s, d]) => [s, { count: d.count, late: d.late }])),
    late: j.late ?? { count: 0, kept: [] },
  };
}

/** The machine's CPU jiffies so far (all cores): busy and total, from /proc/stat; null elsewhere. */
export function machineJiffies(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    if (f.length < 5 || !f.every(Number.isFinite)) return null;
    const total = f.reduce((a, b) => a + b, 0);
    // idle and iowait are the idle ones.
    return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
  } catch {
    return null;
  }
}
