/**
 * A simulated machine hosting one protocol core object (Site Server, user, coordinator). It feeds
 * the core its clock, delivers messages to `receive`, and keeps exactly one pending wake-up at the
 * core's `nextWakeAt()` (converted from the core's clock to true time). A crashed host neither
 * receives, sends, nor ticks; a restart is a new core object (what a rebooted machine would have).
 */
import type { EventQueue, ScheduledEvent } from './eventQueue.js';

/** What the simulator drives; every core object of src/protocol has this shape. */
export interface Tickable<M> {
  receive(from: string, msg: M): void;
  tick(): void;
  /** Next time (by the core's own `now`) it wants `tick`, or null (or Infinity) for never. */
  nextWakeAt(): number | null;
}

export interface HostOptions {
  queue: EventQueue;
  id: string;
  /** The core's clock at this instant; wake times are converted with (core now − true now). */
  coreNow: () => number;
  /** Upper bound on ticks at one instant (catches a core that asks to be woken "now" forever). */
  maxTicksPerInstant?: number;
}

export class Host<M, C extends Tickable<M> = Tickable<M>> {
  readonly id: string;
  core: C | undefined;
  crashed = false;
  private wake: ScheduledEvent | undefined;
  private wakeAt = Infinity;
  private ticksNow = 0;
  private lastTickInstant = -1;
  private readonly queue: EventQueue;
  private readonly coreNow: () => number;
  private readonly maxTicks: number;

  constructor(opts: HostOptions) {
    this.id = opts.id;
    this.queue = opts.queue;
    this.coreNow = opts.coreNow;
    this.maxTicks = opts.maxTicksPerInstant ?? 1000;
  }

  /** Installs a (new) core object and schedules its first wake-up. */
  install(core: C): void {
    this.core = core;
    this.crashed = false;
    this.reschedule();
  }

  /** Delivers a message; dropped while crashed. */
  deliver(from: string, msg: M): void {
    if (this.crashed || !this.core) return;
    this.core.receive(from, msg);
    this.reschedule();
  }

  /** Runs `fn` against the core (e.g. a user's action) and reschedules. No-op while crashed. */
  poke(fn: (core: C) => void): void {
    if (this.crashed || !this.core) return;
    fn(this.core);
    this.reschedule();
  }

  /** Stops receiving and ticking (the core object is kept, frozen, for `resume`). */
  crash(): void {
    this.crashed = true;
    this.queue.cancel(this.wake);
    this.wake = undefined;
    this.wakeAt = Infinity;
  }

  /** Ends a crash: the same core carries on from its frozen state (messages meanwhile were lost). */
  resume(): void {
    if (!this.crashed) return;
    this.crashed = false;
    this.reschedule();
  }

  /** Call after anything that may have changed the core's next wake time. */
  reschedule(): void {
    if (this.crashed || !this.core) return;
    const w = this.core.nextWakeAt();
    if (w === null || !Number.isFinite(w)) {
      this.queue.cancel(this.wake);
      this.wake = undefined;
      this.wakeAt = Infinity;
      return;
    }
    // 1 ns late on purpose: converting between clocks loses an ulp now and then, and a tick that
    // lands a hair before the requested time would find nothing due and ask again (late is fine).
    const delta = w - this.coreNow();
    const trueAt = this.queue.now + (delta > 0 ? delta + 1e-6 : 0);
    if (this.wake && !this.wake.cancelled && trueAt === this.wakeAt) return;
    this.queue.cancel(this.wake);
    this.wakeAt = trueAt;
    this.wake = this.queue.schedule(trueAt, () => this.fire());
  }

  private fire(): void {
    this.wake = undefined;
    this.wakeAt = Infinity;
    if (this.crashed || !this.core) return;
    if (this.queue.now !== this.lastTickInstant) {
      this.lastTickInstant = this.queue.now;
      this.ticksNow = 0;
    }
    if (++this.ticksNow > this.maxTicks) {
      throw new Error(
        `${this.id}: core asked to be woken more than ${this.maxTicks} times at t=${this.queue.now}`,
      );
    }
    this.core.tick();
    this.reschedule();
  }
}
