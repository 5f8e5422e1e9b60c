/**
 * The client's accepted state and its pure transitions: the site view as of update `acceptedSeq`,
 * plus session, how the site is hosted, link measurements and chat bubbles. The session layer
 * (connection.ts) is its only writer; the browser keeps it in a zustand store (src/client/store.ts)
 * that the HUD and Phaser read, and a bot keeps it in a plain box. No UI code here.
 *
 * Update acceptance: an update for the current site with `seq === acceptedSeq + 1` is applied with
 * `applyEvents`; older ones (duplicates) are dropped; newer ones wait in `buffered` until the gap
 * closes. In client-server mode TCP already orders them; in P2P mode the majority acceptance of
 * the Site Servers' updates hands them over in order.
 */
import { applyEvents, type SiteView } from '../game/view.js';
import type { GameEvent } from '../game/types.js';
import type { ServerView } from '../protocol/api.js';
import type { ErrorCode } from '../protocol/errors.js';
import type { Mode, SiteUpdate } from '../protocol/messages.js';

/** How long a chat bubble stays over its speaker, in ms. */
export const BUBBLE_MS = 4000;
/** Chat lines kept for the HUD log. */
export const CHAT_LOG_LINES = 6;
/** Updates buffered ahead of a gap at most; beyond that the oldest are dropped (a resync is due). */
export const MAX_BUFFERED = 256;

export type ConnectionStatus = 'idle' | 'connecting' | 'authenticating' | 'online' | 'closed';

export interface Session {
  user: string;
  guest: boolean;
}

export interface ChatBubble {
  speaker: string;
  text: string;
  /** performance-clock ms at which the bubble disappears. */
  expiresAt: number;
  /** Increasing id, so renderers can tell two equal lines apart. */
  id: number;
}

export interface Notice {
  text: string;
  expiresAt: number;
  id: number;
}

export interface ClientError {
  code: ErrorCode | 'ERR_NETWORK' | 'ERR_CLOSED';
  message: string;
}

export interface GameState {
  session: Session | null;
  status: ConnectionStatus;
  /** Site the user is on; null until the first `enter`. */
  site: string | null;
  mode: Mode | null;
  /** Site Servers of the current site and how each looks from here (empty in client-server mode). */
  servers: Array<{ id: string; state: ServerView }>;
  /** Site this tab serves as a Site Server, if any. */
  serving: string | null;
  /** Why the site is not P2P although it is busy (e.g. "needs 3 eligible peers, 1 free"). */
  blocked: string | null;
  /** The site is going back from its Site Servers to the admin: actions wait a moment. */
  closing: boolean;
  /** The player lets this tab serve sites. */
  serveSetting: boolean;
  /** Actions sent over the admin WebSocket and over data channels to Site Servers (counted once per action). */
  traffic: { adminActions: number; peerActions: number };
  view: SiteView | null;
  acceptedSeq: number;
  /** Updates received ahead of a gap, ascending by seq. */
  buffered: SiteUpdate[];
  /** Next action number to send. */
  nextActionNo: number;
  /** Sent, not yet applied actions: actionNo -> performance-clock send time. */
  inflight: Record<number, number>;
  /** Round trip to the admin, ms; null before the first pong. */
  rtt: number | null;
  /** Estimated admin clock minus local wall clock, ms. */
  clockOffset: number | null;
  /** Send-to-accept time of the user's last applied action, ms. */
  lastActionDelay: number | null;
  bubbles: ChatBubble[];
  chatLog: Array<{ speaker: string; text: string; id: number }>;
  /** Short-lived message for the player (e.g. why an action was rejected). */
  notice: Notice | null;
  error: ClientError | null;
  /** Counter for bubble/notice ids. */
  nextId: number;
}


/** What holds the state: a zustand store in the browser, a plain box in a bot. */
export interface StateBox {
  getState(): GameState;
  setState(patch: Partial<GameState> | ((s: GameState) => Partial<GameState>)): void;
}

export function initialState(): GameState {
  return {
    session: null,
    status: 'idle',
    site: null,
    mode: null,
    servers: [],
    serving: null,
    blocked: null,
    closing: false,
    serveSetting: true,
    traffic: { adminActions: 0, peerActions: 0 },
    view: null,
    acceptedSeq: 0,
    buffered: [],
    nextActionNo: 1,
    inflight: {},
    rtt: null,
    clockOffset: null,
    lastActionDelay: null,
    bubbles: [],
    chatLog: [],
    notice: null,
    error: null,
    nextId: 1,
  };
}

// ---------------------------------------------------------------------------------------------
// Pure transitions: (state, input, now) -> partial state. The net layer calls these via `set`.
// ---------------------------------------------------------------------------------------------

export interface EnterInput {
  site: string;
  mode: Mode;
  seq: number;
  /** Null while a user entering a running P2P site waits for the servers' state. */
  view: SiteView | null;
  lastActionNo: number;
  servers: string[];
}

/** The user is now on `site` with a fresh view as of `seq`. Buffered updates beyond `seq` for this site are kept and drained. */
export function enterSite(state: GameState, msg: EnterInput, now: number): Partial<GameState> {
  const base: GameState = {
    ...state,
    site: msg.site,
    mode: msg.mode,
    servers: msg.servers.map((id) => ({ id, state: 'in-step' as const })),
    closing: false,
    view: msg.view,
    acceptedSeq: msg.seq,
    buffered: state.buffered.filter((u) => u.site === msg.site && u.seq > msg.seq),
    // Action numbers only grow: continue after what the admin has seen, never below what we used.
    nextActionNo: Math.max(state.nextActionNo, msg.lastActionNo + 1),
    // Actions sent before the site change that were not applied are gone.
    inflight: {},
    bubbles: [],
  };
  return drain(base, now);
}

/** An update arrived (from the admin, or accepted by majority in P2P mode). */
export function receiveUpdate(state: GameState, update: SiteUpdate, now: number): Partial<GameState> {
  if (state.site === null || update.site !== state.site) return {};
  if (update.seq <= state.acceptedSeq) return {};
  if (state.buffered.some((u) => u.seq === update.seq)) return {};
  let buffered = [...state.buffered, update].sort((a, b) => a.seq - b.seq);
  if (buffered.length > MAX_BUFFERED) buffered = buffered.slice(buffered.length - MAX_BUFFERED);
  return drain({ ...state, buffered }, now);
}

/** Applies buffered updates while the next one in sequence is there. */
function drain(state: GameState, now: number): GameState {
  let s = state;
  while (s.buffered.length > 0) {
    const next = s.buffered[0]!;
    if (next.seq <= s.acceptedSeq) {
      s = { ...s, buffered: s.buffered.slice(1) };
      continue;
    }
    if (next.seq !== s.acceptedSeq + 1) break;
    s = accept({ ...s, buffered: s.buffered.slice(1) }, next, now);
  }
  return s;
}

function accept(state: GameState, update: SiteUpdate, now: number): GameState {
  const view = state.view ? applyEvents(state.view, update.events) : null;
  let { inflight, lastActionDelay, bubbles, chatLog, notice, nextId } = state;
  const me = state.session?.user;

  if (me !== undefined) {
    for (const a of update.applied) {
      if (a.user !== me) continue;
      const sentAt = inflight[a.actionNo];
      if (sentAt !== undefined) lastActionDelay = Math.max(0, now - sentAt);
      // Actions are applied in the order sent, so anything at or below this number is settled.
      const rest: Record<number, number> = {};
      for (const [no, t] of Object.entries(inflight)) if (Number(no) > a.actionNo) rest[Number(no)] = t;
      inflight = rest;
    }
  }

  let chatChanged = false;
  for (const e of update.events) {
    if (e.kind === 'said') {
      if (!chatChanged) {
        bubbles = bubbles.filter((b) => b.expiresAt > now);
        chatLog = [...chatLog];
        chatChanged = true;
      }
      bubbles = [
        ...bubbles.filter((b) => b.speaker !== e.user),
        { speaker: e.user, text: e.text, expiresAt: now + BUBBLE_MS, id: nextId },
      ];
      chatLog.push({ speaker: e.user, text: e.text, id: nextId });
      nextId++;
    } else if (e.kind === 'rejected' && e.user === me) {
      notice = { text: rejectText(e), expiresAt: now + 2000, id: nextId++ };
    }
  }
  if (chatChanged && chatLog.length > CHAT_LOG_LINES)
    chatLog = chatLog.slice(chatLog.length - CHAT_LOG_LINES);

  return {
    ...state,
    view,
    acceptedSeq: update.seq,
    inflight,
    lastActionDelay,
    bubbles,
    chatLog,
    notice,
    nextId,
  };
}

function rejectText(e: Extract<GameEvent, { kind: 'rejected' }>): string {
  switch (e.reason) {
    case 'wall':
      return 'Blocked.';
    case 'no-item':
      return 'Nothing to pick up here.';
    case 'no-portal':
      return 'No portal here.';
    case 'empty-text':
      return 'Nothing to say.';
    default:
      return `Action ${e.action} rejected (${e.reason}).`;
  }
}

/** Records an action about to be sent; returns its number and the state change. */
export function takeActionNo(state: GameState, now: number): { actionNo: number; patch: Partial<GameState> } {
  return sentAction(state, state.nextActionNo, now);
}

/** Records an action sent under `actionNo` (a P2P user numbers its own; a resend keeps its number). */
export function sentAction(state: GameState, actionNo: number, now: number): { actionNo: number; patch: Partial<GameState> } {
  return {
    actionNo,
    patch: { nextActionNo: Math.max(state.nextActionNo, actionNo + 1), inflight: { ...state.inflight, [actionNo]: now } },
  };
}

/** Drops chat bubbles and the notice once expired; returns {} when nothing changed. */
export function expire(state: GameState, now: number): Partial<GameState> {
  const patch: Partial<GameState> = {};
  if (state.bubbles.some((b) => b.expiresAt <= now))
    patch.bubbles = state.bubbles.filter((b) => b.expiresAt > now);
  if (state.notice && state.notice.expiresAt <= now) patch.notice = null;
  return patch;
}

/** Back to the logged-out state, keeping an error to show on the login page. */
export function loggedOut(error: ClientError | null, serveSetting = true): GameState {
  return { ...initialState(), status: 'closed', error, serveSetting };
}
