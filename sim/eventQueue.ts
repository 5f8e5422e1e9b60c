/**
 * Discrete-event queue: a binary min-heap on (time, insertion counter). Two events at the same
 * virtual time run in the order they were scheduled, so a run depends only on its seed.
 */

export interface ScheduledEvent {
  readonly at: number;
  readonly order: number;
  readonly run: () => void;
  cancelled: boolean;
}

export class EventQueue {
  private heap: ScheduledEvent[] = [];
  private counter = 0;
  private current = 0;
  private processed = 0;

  /** Virtual time of the event being run (or of the last one run). */
  get now(): number {
    return this.current;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Events run so far. */
  get count(): number {
    return this.processed;
  }

  /** Schedules `run` at virtual time `at` (never earlier than now). Returns a handle for `cancel`. */
  schedule(at: number, run: () => void): ScheduledEvent {
    if (Number.isNaN(at)) throw new Error('event time is NaN');
    const ev: ScheduledEvent = {
      at: Math.max(at, this.current),
      order: this.counter++,
      run,
      cancelled: false,
    };
    this.push(ev);
    return ev;
  }

  /** Schedules `run` `delay` ms from now. */
  after(delay: number, run: () => void): ScheduledEvent {
    return this.schedule(this.current + Math.max(0, delay), run);
  }

  cancel(ev: ScheduledEvent | undefined): void {
    if (ev) ev.cancelled = true;
  }

  /** Time of the next live event, or Infinity. */
  peekTime(): number {
    this.dropCancelled();
    return this.heap[0]?.at ?? Infinity;
  }

  /** Runs events up to and including virtual time `until`; leaves `now` at `until`. Returns events run. */
  runUntil(until: number, maxEvents = Infinity): number {
    let ran = 0;
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (!top || top.at > until) break;
      if (ran >= maxEvents) throw new Error(`event budget of ${maxEvents} exhausted at t=${top.at}`);
      this.pop();
      this.current = top.at;
      ran++;
      this.processed++;
      top.run();
    }
    if (until !== Infinity && until > this.current) this.current = until;
    return ran;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && (this.heap[0] as ScheduledEvent).cancelled) this.pop();
  }

  private less(a: ScheduledEvent, b: ScheduledEvent): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  private push(ev: ScheduledEvent): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p] as ScheduledEvent;
      if (!this.less(ev, parent)) break;
      h[i] = parent;
      i = p;
    }
    h[i] = ev;
  }

  private pop(): ScheduledEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || !last) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.less(h[r] as ScheduledEvent, h[l] as ScheduledEvent)) c = r;
      if (!this.less(h[c] as ScheduledEvent, last)) break;
      h[i] = h[c] as ScheduledEvent;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
