/**
 * Clocks of simulated machines. Virtual time (the event queue's `now`) is the true time; each
 * machine reads it through its own offset (and optional drift), like an unsynchronized wall clock.
 * What the protocol core sees as "synced now" is built on top of this by the node hosts.
 */
import type { EventQueue } from './eventQueue.js';

export interface MachineClock {
  /** The machine's local (unsynchronized) clock reading, in ms. */
  read(): number;
  /** Offset from true time at this instant, ms (local − true). */
  offset(): number;
}

/** A local clock: `true + offsetMs + driftPpm·true/1e6`. */
export function machineClock(queue: EventQueue, offsetMs = 0, driftPpm = 0): MachineClock {
  const off = (t: number): number => offsetMs + (driftPpm * t) / 1e6;
  return {
    read: () => queue.now + off(queue.now),
    offset: () => off(queue.now),
  };
}

/** Wraps a clock so it never runs backward (what the protocol requires of synced clocks). */
export function monotonic(read: () => number): () => number {
  let last = -Infinity;
  return () => {
    const t = read();
    if (t > last) last = t;
    return last;
  };
}
