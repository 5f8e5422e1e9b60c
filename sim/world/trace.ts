import type { WorldTrace } from './world.js';

/** A trace with nothing seen yet (the P2P-only world's and the managed world's start). */
export function emptyTrace(seed: number, players: string[], sites: string[]): WorldTrace {
  return {
    seed,
    players,
    itemsAtStart: [],
    closed: new Map(),
    sites,
    stored: new Map(),
    arrivedAtAdmin: new Map(),
    logs: new Map(),
    joins: [],
    lifecycles: new Map(),
    errors: [],
    crashed: [],
    restarts: 0,
    resentDepartures: 0,
  };
}
