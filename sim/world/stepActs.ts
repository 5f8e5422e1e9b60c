/**
 * What one step of the managed world's admin does that a kill -9 can fall between
 * (adminProcess.ts; docs/hosting.md "After a crash"): its acts, each a write to its database or a
 * message sent to a tab. A step is the admin's synchronous handling of one input together with
 * the calls it deferred (the real admin defers with queueMicrotask: they run before any other
 * input, and a kill -9 can still land between the handling and them).
 *
 * A crash armed `between` two kinds of act kills the process at the first act of kind `then`
 * that follows an act of kind `first` in the same step: everything before it happened (written,
 * or sent and delivered), that act and everything after it never does.
 */
import type { EventQueue } from '../eventQueue.js';

export type Act = 'write' | 'send';

/** Where an armed crash falls; `only`: at an act whose name has it (e.g. 'deleted', 'serveEnd'). */
export interface Between {
  first: Act;
  then: Act;
  only?: string;
}

/** The names of the two acts a crash fell between (of the kinds `first` and `then`: 'world', 'serve to p3'). */
export type CrashActs = [string, string];

/** Steps remembered at once: a deferred call runs a few events after its step at most. */
const STEPS_KEPT = 64;

export class StepActs {
  /** The step of a deferred call running now (null: the queue's event is its own step). */
  private inherited: number | null = null;
  /** Per recent step, the last act of each kind (named lazily: only a crash reads the names). */
  private readonly last = new Map<number, Record<Act, (() => string) | null>>();
  private armed: { between: Between; died: (acts: CrashActs) => void } | null = null;

  constructor(
    private readonly queue: EventQueue,
    private readonly alive: { up: boolean },
  ) {}

  /** The step running now: the queue's event, or the one that deferred the call running now. */
  current(): number {
    return this.inherited ?? this.queue.count;
  }

  /** Runs a call deferred by step `origin` as part of that step. */
  within(origin: number, fn: () => void): void {
    const outer = this.inherited;
    this.inherited = origin;
    try {
      fn();
    } finally {
      this.inherited = outer;
    }
  }

  /** Kills the process at the next act that falls `between` (once); `died` then takes it down. */
  arm(between: Between, died: (acts: CrashActs) => void): void {
    this.armed = { between, died };
  }

  disarm(): void {
    this.armed = null;
  }

  /** The process is about to do `kind`: true when it does, false when it is dead (or dies here). */
  act(kind: Act, name: () => string): boolean {
    if (!this.alive.up) return false;
    const step = this.current();
    let last = this.last.get(step);
    if (!last) {
      last = { write: null, send: null };
      this.last.set(step, last);
      if (this.last.size > STEPS_KEPT) this.last.delete(this.last.keys().next().value!);
    }
    const a = this.armed;
    const before = a && kind === a.between.then ? last[a.between.first] : null;
    if (a && before) {
      const here = name();
      if (here.includes(a.between.only ?? '')) {
        this.armed = null;
        this.alive.up = false;
        a.died([before(), here]);
        return false;
      }
    }
    last[kind] = name;
    return true;
  }
}
