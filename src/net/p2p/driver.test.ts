import { afterEach, describe, expect, it, vi } from 'vitest';
import { Driver, timeoutWakeup, type Tickable, type Wakeup } from './driver.js';

/** A one-shot Wakeup on a virtual clock: `advance` fires it when its time comes. */
function virtualWakeup() {
  let time = 0;
  let pending: { at: number; cb: () => void } | null = null;
  const sets: number[] = [];
  const wakeup: Wakeup = {
    set(delayMs, cb) {
      sets.push(delayMs);
      pending = { at: time + delayMs, cb };
    },
    clear() {
      pending = null;
    },
  };
  return {
    wakeup,
    sets,
    now: () => time,
    get pendingAt(): number | null {
      return pending?.at ?? null;
    },
    /** Moves the clock `ms` on, firing the wake-up whenever it is due (it may be set again). */
    advance(ms: number): void {
      const end = time + ms;
      for (let fired = 0; pending && pending.at <= end; fired++) {
        if (fired > 10_000) throw new Error('the wake-up spins: set again and again without a tick');
        const p = pending;
        pending = null;
        time = Math.max(time, p.at);
        p.cb();
      }
      time = end;
    },
  };
}

/** An object that wants a tick every `period` ms of its own clock from `first` on, and logs them. */
function periodic(now: () => number, first: number, period: number) {
  const o = {
    next: first as number | null,
    ticks: [] as number[],
    fail: false,
    nextWakeAt: () => o.next,
    tick(): void {
      o.ticks.push(now());
      if (o.next !== null) o.next += period;
      if (o.fail) throw new Error('tick failed');
    },
  };
  return o satisfies Tickable;
}

describe('Driver', () => {
  it('ticks each object at its nextWakeAt on its own clock', () => {
    const v = virtualWakeup();
    const d = new Driver(v.wakeup);
    const slowClock = (): number => v.now() + 1000; // this object's clock runs 1 s ahead
    const a = periodic(v.now, 100, 100);
    const b = periodic(slowClock, 1050, 200);
    d.add(a, v.now);
    d.add(b, slowClock);
    expect(v.pendingAt).toBe(50);
    v.advance(500);
    expect(a.ticks).toEqual([100, 200, 300, 400, 500]);
    expect(b.ticks).toEqual([1050, 1250, 1450]);
    expect(v.pendingAt).toBe(600);
  });

  it('reschedules after poke: a wake-up moved earlier is kept', () => {
    const v = virtualWakeup();
    const d = new Driver(v.wakeup);
    const a = periodic(v.now, 1000, 1000);
    d.add(a, v.now);
    expect(v.pendingAt).toBe(1000);
    v.advance(100);
    a.next = 150; // e.g. a message came in that needs an answer soon
    d.poke();
    expect(v.pendingAt).toBe(150);
    v.advance(100);
    expect(a.ticks).toEqual([150]);
    // Nothing due any more: the wake-up is cleared.
    a.next = null;
    d.poke();
    expect(v.pendingAt).toBeNull();
  });

  it('never asks for a negative delay: an overdue object is ticked at once', () => {
    const v = virtualWakeup();
    const d = new Driver(v.wakeup);
    v.advance(500);
    const a = periodic(v.now, 100, 1000);
    d.add(a, v.now);
    expect(v.sets.at(-1)).toBe(0);
    v.advance(0);
    expect(a.ticks).toEqual([500]);
  });

  it('reports an exception in one tick and still ticks the others, and later ones', () => {
    const v = virtualWakeup();
    const errors: unknown[] = [];
    const d = new Driver(v.wakeup, (e) => errors.push(e));
    const bad = periodic(v.now, 100, 100);
    bad.fail = true;
    const good = periodic(v.now, 100, 100);
    d.add(bad, v.now);
    d.add(good, v.now);
    v.advance(300);
    expect(good.ticks).toEqual([100, 200, 300]);
    expect(bad.ticks).toEqual([100, 200, 300]);
    expect(errors).toHaveLength(3);
    expect(String(errors[0])).toContain('tick failed');
  });

  it('stops ticking an object once it is removed', () => {
    const v = virtualWakeup();
    const d = new Driver(v.wakeup);
    const a = periodic(v.now, 100, 100);
    const b = periodic(v.now, 100, 100);
    const removeA = d.add(a, v.now);
    const removeB = d.add(b, v.now);
    v.advance(150);
    removeA();
    v.advance(300);
    expect(a.ticks).toEqual([100]);
    expect(b.ticks).toEqual([100, 200, 300, 400]);
    removeB();
    expect(v.pendingAt).toBeNull();
    v.advance(1000);
    expect(b.ticks).toHaveLength(4);
  });
});

describe('timeoutWakeup', () => {
  afterEach(() => vi.useRealTimers());

  it('keeps the armed timer for the same deadline, with the latest callback, and re-arms for another', () => {
    vi.useFakeTimers();
    let clock = 0;
    const w = timeoutWakeup(() => clock);
    const fired: string[] = [];
    const arm = vi.spyOn(globalThis, 'setTimeout');
    w.set(100, () => fired.push('a'));
    clock = 30;
    w.set(70, () => fired.push('b')); // the same deadline, asked again 30 ms later
    expect(arm).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['b']);
    clock = 100;
    w.set(50, () => fired.push('c'));
    clock = 110;
    w.set(20, () => fired.push('d')); // earlier than the armed one: armed anew
    expect(arm).toHaveBeenCalledTimes(3);
    vi.advanceTimersByTime(20);
    expect(fired).toEqual(['b', 'd']);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['b', 'd']);
  });

  it('clear stops the armed timer', () => {
    vi.useFakeTimers();
    const w = timeoutWakeup(() => 0);
    const fired: string[] = [];
    w.set(10, () => fired.push('a'));
    w.clear();
    w.set(10, () => fired.push('b'));
    vi.advanceTimersByTime(20);
    expect(fired).toEqual(['b']);
  });
});
