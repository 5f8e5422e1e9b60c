/**
 * How busy one bot process's event loop is: each `sample()` gives, since the previous one, the
 * event-loop utilisation (share of wall time the loop was not idle, perf_hooks) and how late a
 * probe timer ran (every PROBE_MS), with the process's CPU. A bench packs many bots into one
 * process; these tell a loop that is saturated from a machine that is: on Linux also the main
 * thread's own time on a core and its time waiting in the run queue for one (schedstat). (Node 20's
 * monitorEventLoopDelay did not see a 300 ms block here, so the probe is a plain timer.)
 */
import { readFileSync } from 'node:fs';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { quantile } from './stats.js';
import { processCpuMs } from './tally.js';

export interface LoopSample {
  /** Wall seconds the sample covers. */
  seconds: number;
  /** Event-loop utilisation, 0..1. */
  elu: number;
  /** How late the probe timer ran, ms (p50, p99, max over the sample; a turn still running counts when it ends). */
  delayP50Ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
  /** This process's CPU (every thread) over the sample, ms. */
  cpuMs: number;
  /** The main thread (the event loop) on a core, and runnable but waiting for one, ms (NaN off Linux). */
  mainCpuMs: number;
  runQueueWaitMs: number;
}

/** The main thread's time on a core and waiting for one so far, ms; null without /proc. */
export function mainThreadSched(pid = process.pid): { runMs: number; waitMs: number } | null {
  try {
    const [run, wait] = readFileSync(`/proc/self/task/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return run !== undefined && wait !== undefined && Number.isFinite(run) && Number.isFinite(wait) ? { runMs: run / 1e6, waitMs: wait / 1e6 } : null;
  } catch {
    return null;
  }
}

/** The probe's period: 20 wake-ups a second, about 3 ms of CPU a second here (20 ms cost about 6). */
export const PROBE_MS = 50;

export class LoopMonitor {
  private readonly probe: ReturnType<typeof setInterval>;
  private lates: number[] = [];
  private due: number;
  private lastElu: EventLoopUtilization;
  private lastAt: number;
  private lastCpu: number;
  private lastSched: { runMs: number; waitMs: number } | null;

  constructor() {
    this.due = performance.now() + PROBE_MS;
    this.probe = setInterval(() => {
      const now = performance.now();
      this.lates.push(Math.max(0, now - this.due));
      this.due = now + PROBE_MS;
    }, PROBE_MS);
    this.probe.unref();
    this.lastElu = performance.eventLoopUtilization();
    this.lastAt = performance.now();
    this.lastCpu = processCpuMs();
    this.lastSched = mainThreadSched();
  }

  sample(): LoopSample {
    const elu = performance.eventLoopUtilization(this.lastElu);
    this.lastElu = performance.eventLoopUtilization();
    const now = performance.now();
    const cpu = processCpuMs();
    const sched = mainThreadSched();
    const was = this.lastSched;
    const lates = this.lates.sort((a, b) => a - b);
    this.lates = [];
    const s: LoopSample = {
      seconds: (now - this.lastAt) / 1000,
      elu: elu.utilization,
      delayP50Ms: quantile(lates, 0.5) ?? 0,
      delayP99Ms: quantile(lates, 0.99) ?? 0,
      delayMaxMs: lates[lates.length - 1] ?? 0,
      cpuMs: Math.max(0, cpu - this.lastCpu),
      mainCpuMs: sched && was ? sched.runMs - was.runMs : NaN,
      runQueueWaitMs: sched && was ? sched.waitMs - was.waitMs : NaN,
    };
    this.lastSched = sched;
    this.lastAt = now;
    this.lastCpu = cpu;
    return s;
  }

  stop(): void {
    clearInterval(this.probe);
  }
}
