/**
 * Drives the protocol core objects of a tab or bot (clock sync, Site Server, site user): after
 * every input the host calls `poke()`, and the driver asks its wake-up source to call back at the
 * earliest `nextWakeAt()` of any of them, then ticks those that are due. The wake-up source is
 * what keeps a hidden tab on time: in the browser a dedicated Worker's timer (a main-thread timer
 * fires once a second in a hidden tab), in Node a plain timer.
 */

/** A one-shot timer: `set` replaces any pending call. */
export interface Wakeup {
  set(delayMs: number, cb: () => void): void;
  clear(): void;
}

export interface Tickable {
  nextWakeAt(): number | null;
  tick(): void;
}

interface Driven {
  obj: Tickable;
  /** The object's own clock (nextWakeAt is on it). */
  now: () => number;
}

export class Driver {
  private readonly driven = new Set<Driven>();
  private scheduled: number | null = null;
  private running = false;
  ticks = 0;

  constructor(
    private readonly wakeup: Wakeup,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  add(obj: Tickable, now: () => number): () => void {
    const d = { obj, now };
    this.driven.add(d);
    this.poke();
    return () => {
      this.driven.delete(d);
      this.poke();
    };
  }

  /** Recomputes the next wake-up; call after anything that may have changed one. */
  poke(): void {
    if (this.running) return;
    let delay = Infinity;
    for (const d of this.driven) {
      const at = d.obj.nextWakeAt();
      if (at !== null && Number.isFinite(at)) delay = Math.min(delay, at - d.now());
    }
    if (!Number.isFinite(delay)) {
      this.wakeup.clear();
      this.scheduled = null;
      return;
    }
    const ms = Math.max(0, delay);
    this.scheduled = ms;
    this.wakeup.set(ms, () => this.run());
  }

  private run(): void {
    this.running = true;
    this.ticks++;
    try {
      for (const d of [...this.driven]) {
        const at = d.obj.nextWakeAt();
        if (at !== null && d.now() >= at) {
          try {
            d.obj.tick();
          } catch (err) {
            this.onError(err);
          }
        }
      }
    } finally {
      this.running = false;
    }
    this.poke();
  }
}

/**
 * Deadlines closer than this are the same one: `at` is worked out from two clocks read a few µs
 * apart, and Node's timers have 1 ms granularity anyway.
 */
const SAME_DEADLINE_MS = 0.05;

/**
 * A Wakeup on setTimeout (Node, or a visible page). The Driver asks again after every input, and a
 * Site Server's next wake-up is mostly the same grid point it was (about 200 inputs a second
 * against 10 grid points): a deadline equal to the armed one keeps the armed timer (only the
 * callback is replaced) instead of a clearTimeout and a new Timeout each time.
 */
export function timeoutWakeup(clock: () => number = () => performance.now()): Wakeup {
  let t: ReturnType<typeof setTimeout> | null = null;
  let due = NaN;
  let current: (() => void) | null = null;
  const fire = (): void => {
    t = null;
    const cb = current;
    current = null;
    cb?.();
  };
  return {
    set(delayMs, cb) {
      const at = clock() + delayMs;
      current = cb;
      if (t && Math.abs(at - due) < SAME_DEADLINE_MS) return;
      if (t) clearTimeout(t);
      due = at;
      t = setTimeout(fire, delayMs);
    },
    clear() {
      if (t) clearTimeout(t);
      t = null;
      current = null;
    },
  };
}
