import { describe, expect, it } from 'vitest';
import { EventQueue } from './eventQueue.js';
import { Host, type Tickable } from './host.js';

/** A periodic timer core: ticks every `period` by its own clock, which runs `offset` ahead. */
function timer(period: number, clock: () => number): Tickable<string> & { ticks: number[]; got: string[] } {
  let next = clock() + period;
  const ticks: number[] = [];
  const got: string[] = [];
  return {
    ticks,
    got,
    receive: (_from, msg) => void got.push(msg),
    tick() {
      if (clock() >= next) {
        ticks.push(clock());
        next += period;
      }
    },
    nextWakeAt: () => next,
  };
}

describe('host', () => {
  it('ticks the core at its nextWakeAt, converted from its clock', () => {
    const q = new EventQueue();
    const offset = 1000;
    const coreNow = () => q.now + offset;
    const h = new Host<string>({ queue: q, id: 'x', coreNow });
    const core = timer(100, coreNow);
    h.install(core);
    q.runUntil(450);
    expect(core.ticks.map(Math.round)).toEqual([1100, 1200, 1300, 1400]);
  });

  it('stops while crashed and resumes with a new core', () => {
    const q = new EventQueue();
    const coreNow = () => q.now;
    const h = new Host<string>({ queue: q, id: 'x', coreNow });
    const first = timer(100, coreNow);
    h.install(first);
    q.schedule(250, () => h.crash());
    q.schedule(260, () => h.deliver('y', 'lost'));
    q.runUntil(600);
    expect(first.ticks.map(Math.round)).toEqual([100, 200]);
    expect(first.got).toEqual([]);
    const second = timer(100, coreNow);
    h.install(second);
    h.deliver('y', 'hi');
    q.runUntil(801);
    expect(second.ticks.map(Math.round)).toEqual([700, 800]);
    expect(second.got).toEqual(['hi']);
  });

  it('fails loudly on a core that wants to be woken now forever', () => {
    const q = new EventQueue();
    const h = new Host<string>({ queue: q, id: 'spin', coreNow: () => q.now, maxTicksPerInstant: 10 });
    h.install({ receive: () => {}, tick: () => {}, nextWakeAt: () => q.now });
    expect(() => q.runUntil(10)).toThrow(/more than 10 times/);
  });
});
