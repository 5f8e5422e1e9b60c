import { describe, expect, it } from 'vitest';
import { EventQueue } from '../eventQueue.js';
import { StepActs, type CrashActs } from './stepActs.js';

/** A queue, a process and its acts; `done` lists the acts that went ahead, `died` the crash. */
function setup() {
  const queue = new EventQueue();
  const alive = { up: true };
  const acts = new StepActs(queue, alive);
  const done: string[] = [];
  const crash: { at: CrashActs | null } = { at: null };
  const act = (kind: 'write' | 'send', name: string): void => {
    if (acts.act(kind, () => name)) done.push(name);
  };
  const defer = (fn: () => void): void => {
    const step = acts.current();
    queue.schedule(queue.now, () => alive.up && acts.within(step, fn));
  };
  return { queue, alive, acts, done, crash, act, defer, died: (a: CrashActs) => void (crash.at = a) };
}

describe('StepActs: a crash between two acts of one step', () => {
  it('falls at a write that follows a send of the same step, not at one of another step', () => {
    const s = setup();
    s.acts.arm({ first: 'send', then: 'write' }, s.died);
    s.queue.schedule(1, () => s.act('write', 'world'));
    s.queue.schedule(2, () => s.act('send', 'enter to p1'));
    // A new step: the send above was another step's.
    s.queue.schedule(3, () => {
      s.act('write', 'world');
      s.act('send', 'update to p2');
      s.act('write', 'record of meadow');
      s.act('send', 'enter to p2');
    });
    s.queue.runUntil(10);
    expect(s.crash.at).toEqual(['update to p2', 'record of meadow']);
    expect(s.alive.up).toBe(false);
    expect(s.done).toEqual(['world', 'enter to p1', 'world', 'update to p2']);
  });

  it('falls at a send that follows a write, in a call the step deferred (the admin defers its peer sends)', () => {
    const s = setup();
    s.acts.arm({ first: 'write', then: 'send' }, s.died);
    s.queue.schedule(1, () => {
      s.act('send', 'keyOk to p1');
      s.act('write', 'record of meadow');
      s.defer(() => s.act('send', 'peer membership to p2'));
    });
    // Another input at the same ms, scheduled before the deferred call runs: its own step.
    s.queue.schedule(1, () => s.act('send', 'pong to p3'));
    s.queue.runUntil(10);
    expect(s.done).toEqual(['keyOk to p1', 'record of meadow', 'pong to p3']);
    expect(s.crash.at).toEqual(['record of meadow', 'peer membership to p2']);
  });

  it('with `only`, passes acts whose name lacks it; once dead, nothing goes ahead', () => {
    const s = setup();
    s.acts.arm({ first: 'write', then: 'write', only: 'deleted' }, s.died);
    s.queue.schedule(1, () => {
      s.act('write', 'world');
      s.act('write', 'record of town');
      s.act('write', 'record of town deleted');
      s.act('send', 'serveEnd town to p4');
    });
    s.queue.runUntil(10);
    expect(s.crash.at).toEqual(['record of town', 'record of town deleted']);
    expect(s.done).toEqual(['world', 'record of town']);
  });

  it('disarmed, or never armed, every act goes ahead', () => {
    const s = setup();
    s.acts.arm({ first: 'send', then: 'write' }, s.died);
    s.acts.disarm();
    s.queue.schedule(1, () => {
      s.act('send', 'enter to p1');
      s.act('write', 'world');
    });
    s.queue.runUntil(10);
    expect(s.crash.at).toBeNull();
    expect(s.done).toEqual(['enter to p1', 'world']);
  });
});
