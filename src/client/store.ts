/**
 * The browser's one store (zustand vanilla) of the accepted state (src/net/state.ts: the state and
 * its pure transitions). The session layer is its only writer; Phaser scenes and the HUD subscribe
 * and read.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { CarriedItem } from '../game/types.js';
import type { ServerView } from '../protocol/api.js';
import type { Mode } from '../protocol/messages.js';
import { initialState, type ClientError, type ConnectionStatus, type GameState } from '../net/state.js';

export * from '../net/state.js';

export type GameStore = StoreApi<GameState>;

export function createGameStore(): GameStore {
  return createStore<GameState>()(() => initialState());
}

// ---------------------------------------------------------------------------------------------
// Read side
// ---------------------------------------------------------------------------------------------

export interface Snapshot {
  user: string | null;
  guest: boolean;
  site: string | null;
  mode: Mode | null;
  status: ConnectionStatus;
  me: { x: number; y: number; inventory: CarriedItem[] } | null;
  /** Everyone on the site, the user included, with what each carries (so tabs can agree on owners). */
  players: Array<{ name: string; x: number; y: number; inventory: CarriedItem[] }>;
  items: Array<{ id: string; kind: string; x: number; y: number }>;
  /** P2P: the site's servers and how each looks from this tab. */
  servers: Array<{ id: string; state: ServerView }>;
  /** Site this tab serves as a Site Server, or null. */
  serving: string | null;
  /** Why the busy site is not P2P, or null. */
  blocked: string | null;
  acceptedSeq: number;
  /** Actions this tab sent over the admin WebSocket and over data channels. */
  traffic: { adminActions: number; peerActions: number };
  rtt: number | null;
  lastActionDelay: number | null;
  bubbles: Array<{ speaker: string; text: string }>;
  error: ClientError | null;
}

/** A deep copy of the accepted view, for tests (`window.__mmo.snapshot()`) and debugging. */
export function snapshotOf(state: GameState, now: number): Snapshot {
  const user = state.session?.user ?? null;
  const view = state.view;
  const meState = view && user !== null ? view.users.find((u) => u.name === user) : undefined;
  return {
    user,
    guest: state.session?.guest ?? false,
    site: state.site,
    mode: state.mode,
    status: state.status,
    me: meState ? { x: meState.x, y: meState.y, inventory: copyItems(meState.inventory) } : null,
    players: (view?.users ?? []).map((u) => ({
      name: u.name,
      x: u.x,
      y: u.y,
      inventory: copyItems(u.inventory),
    })),
    items: (view?.items ?? []).map((i) => ({ id: i.id, kind: i.kind, x: i.x, y: i.y })),
    servers: state.servers.map((x) => ({ id: x.id, state: x.state })),
    serving: state.serving,
    blocked: state.blocked,
    acceptedSeq: state.acceptedSeq,
    traffic: { ...state.traffic },
    rtt: state.rtt,
    lastActionDelay: state.lastActionDelay,
    bubbles: state.bubbles
      .filter((b) => b.expiresAt > now)
      .map((b) => ({ speaker: b.speaker, text: b.text })),
    error: state.error ? { ...state.error } : null,
  };
}

const copyItems = (items: readonly CarriedItem[]): CarriedItem[] =>
  items.map((i) => ({ id: i.id, kind: i.kind }));
