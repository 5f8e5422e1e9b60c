/** State and action types of the game. All plain data, so replicas can hash and ship them. */

export type Dir = 'up' | 'down' | 'left' | 'right';

/** An item lying on a site's map. */
export interface Item {
  id: string;
  kind: string;
  x: number;
  y: number;
}

/** An item a user carries. */
export interface CarriedItem {
  id: string;
  kind: string;
}

/** State of one user (paper: "state data of a user"). Travels with the user between sites. */
export interface UserState {
  name: string;
  site: string;
  x: number;
  y: number;
  inventory: CarriedItem[];
}

/** State of one site (paper: "state data of a site"), including its seeded generator. */
export interface SiteState {
  site: string;
  /** Actions applied on this site so far; respawns are scheduled in steps, not wall time. */
  step: number;
  /** uint32 state of the site's PRNG. */
  rng: number;
  nextItemNo: number;
  items: Item[];
  /** Steps at which a picked item grows back, ascending. */
  respawnAt: number[];
}

/** Everything a replica of a site holds: the site state and the states of the users on it, sorted by name. */
export interface SiteSnapshot {
  site: SiteState;
  users: UserState[];
}

/** What a player may ask for. */
export type PlayerAction =
  | { kind: 'move'; dir: Dir }
  | { kind: 'pickup' }
  | { kind: 'say'; text: string }
  | { kind: 'portal' };

/** What a site applies: player actions plus the arrivals and departures the admin orders. */
export type SiteAction = PlayerAction | { kind: 'join'; user: UserState } | { kind: 'leave' };

export type RejectReason = 'wall' | 'no-item' | 'no-portal' | 'not-here' | 'already-here' | 'empty-text';

/** What an applied action changed; the Update users receive is a list of these. */
export type GameEvent =
  | { kind: 'moved'; user: string; x: number; y: number }
  | { kind: 'rejected'; user: string; action: SiteAction['kind']; reason: RejectReason }
  | { kind: 'picked'; user: string; item: Item }
  | { kind: 'spawned'; item: Item }
  | { kind: 'said'; user: string; text: string }
  | { kind: 'joined'; user: UserState }
  /** `user` is the state as it leaves; after a portal its site/x/y are already the destination's. */
  | { kind: 'left'; user: UserState; via: 'portal' | 'logout' };

export interface ApplyResult {
  snapshot: SiteSnapshot;
  events: GameEvent[];
}
