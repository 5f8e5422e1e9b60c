/**
 * Reconnecting to the admin, for the browser tab and the bots alike. The session token outlives a
 * server restart (sessions are stored), so after a dropped socket the client keeps trying for a
 * while instead of giving the session up after a few seconds: a guest who gave up would come back
 * as a new guest. Meanwhile a P2P site goes on over its data channels: each attempt takes the
 * running P2P node over from the one before (connection.ts `handOff`), and only giving up, or an
 * end of another kind (logout, fatal error), closes it.
 */
import type { PlayerAction } from '../game/types.js';
import { GameConnection, type ConnectionOptions, type SessionEnd } from './connection.js';
import type { P2PNode } from './p2p/node.js';

export const RECONNECT_FOR_MS = 60_000;
const FIRST_DELAY_MS = 800;
const MAX_DELAY_MS = 5_000;

/** Delay before attempt `attempt` (1, 2, ...) after a drop `sinceDropMs` ago, or null to give up. */
export function reconnectDelay(attempt: number, sinceDropMs: number): number | null {
  if (attempt < 1 || sinceDropMs >= RECONNECT_FOR_MS) return null;
  const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * attempt);
  return Math.min(delay, RECONNECT_FOR_MS - sinceDropMs);
}

export interface ReconnectingOptions extends Omit<ConnectionOptions, 'onEnd' | 'carried'> {
  /** The session is over for good: logout, fatal error, closed, or no way back within RECONNECT_FOR_MS. */
  onEnd(end: SessionEnd): void;
  /** The token for the next attempt, asked before each; null gives up (default: the first one). */
  retryToken?: () => string | null;
  /** Attempt `attempt` is due in `delayMs` (logs). */
  onRetry?: (attempt: number, delayMs: number) => void;
}

/** One logged-in session across reconnects: a GameConnection per attempt, one P2P node throughout. */
export class ReconnectingSession {
  /** The current attempt's connection (the last one once over). */
  conn: GameConnection | null = null;
  private token = '';
  private attempts = 0;
  private droppedAt: number | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private over = false;
  private readonly now: () => number;

  constructor(private readonly o: ReconnectingOptions) {
    this.now = o.now ?? (() => performance.now());
  }

  connect(token: string): void {
    this.token = token;
    this.open(null);
  }

  /** The P2P node, the same object across reconnects (null without P2P). */
  get node(): P2PNode | null {
    return this.conn?.node ?? null;
  }

  /** Between attempts (the admin unreachable): a P2P site still plays. */
  get reconnecting(): boolean {
    return this.timer !== null;
  }

  sendAction(action: PlayerAction): boolean {
    return this.conn?.sendAction(action) ?? false;
  }

  setServe(serve: boolean): void {
    if (this.conn) this.conn.setServe(serve);
    else this.o.store.setState({ serveSetting: serve });
  }

  tick(): void {
    this.conn?.tick();
  }

  logout(): void {
    if (this.timer) this.giveUp({ error: null, dropToken: true });
    else this.conn?.logout();
  }

  /** Ends without logging out (page teardown, a bot closing). */
  close(): void {
    if (this.timer) this.giveUp({ error: null, dropToken: false });
    else this.conn?.close();
  }

  private open(carried: ReturnType<GameConnection['handOff']>): void {
    const conn: GameConnection = new GameConnection({ ...this.o, carried, onEnd: (end) => this.ended(conn, end) });
    this.conn = conn;
    conn.connect(this.token);
  }

  private ended(conn: GameConnection, end: SessionEnd): void {
    if (conn !== this.conn || this.over) return;
    if (end.error?.code === 'ERR_CLOSED') {
      // A session that was up starts a new outage; a failed attempt continues the current one.
      if (conn.wasWelcomed) {
        this.attempts = 0;
        this.droppedAt = null;
      }
      this.droppedAt ??= this.now();
      const token = this.o.retryToken ? this.o.retryToken() : this.token;
      const delay = reconnectDelay(this.attempts + 1, this.now() - this.droppedAt);
      if (token !== null && delay !== null) {
        this.attempts++;
        this.o.store.setState({ status: 'connecting' });
        this.o.onRetry?.(this.attempts, delay);
        this.timer = setTimeout(() => {
          this.timer = null;
          this.token = token;
          this.open(conn.handOff());
        }, delay);
        return;
      }
    }
    this.giveUp(end);
  }

  private giveUp(end: SessionEnd): void {
    if (this.over) return;
    this.over = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.conn?.closeNode();
    this.o.onEnd(end);
  }
}
