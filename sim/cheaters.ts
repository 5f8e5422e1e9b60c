/**
 * Scripted cheaters for the simulator. The rewriting itself is src/net/p2p/cheat.ts, the one the
 * bots (`--cheat`) and the tab (`?cheat=`) run too; this file only fits it to the simulator: the
 * event queue gives its delays and its time, the run's seeded Rng its randomness.
 */
import {
  createCheater as createCoreCheater,
  type Cheater,
  type CheaterContext as CoreContext,
  type CheatKind,
} from '../src/net/p2p/cheat.js';
import type { CollusionGroup } from '../src/net/p2p/cheatGroup.js';
import type { EventQueue } from './eventQueue.js';
import type { Rng } from './rng.js';

export type { Cheater, Emit } from '../src/net/p2p/cheat.js';
export { CollusionGroup } from '../src/net/p2p/cheatGroup.js';

export interface CheaterContext extends Omit<CoreContext, 'rng' | 'after' | 'elapsed'> {
  queue: EventQueue;
  rng: Rng;
}

/** Builds the cheater for one simulated server running the given kinds. */
export function createCheater(
  kinds: readonly CheatKind[],
  ctx: CheaterContext,
  opts: { delta?: number; group?: CollusionGroup } = {},
): Cheater {
  const { queue, ...rest } = ctx;
  return createCoreCheater(
    kinds,
    { ...rest, after: (ms, fn) => void queue.after(ms, fn), elapsed: () => queue.now },
    opts,
  );
}
