/**
 * Wires the page together: login form -> session -> admin connection -> store -> HUD and Phaser.
 * Keeps the session token in sessionStorage so a reload reconnects; logging out clears it.
 */
import type { Renderer } from './game.js';
import { Api } from '../net/api.js';
import type { P2PEnvironment, SessionEnd } from '../net/connection.js';
import { ReconnectingSession } from '../net/reconnect.js';
import { simplePeerFactory, type SimplePeerConstructor } from '../net/p2p/simplePeerLink.js';
import { CHEAT_MODES, parseCheatMode, type CheatMode } from '../net/p2p/cheat.js';
import SimplePeer from '@thaunknown/simple-peer/lite.js';
import { workerWakeup } from './wakeup.js';
import { tabCrypto } from '../net/crypto/sodium.js';
import type { PlayerAction } from '../game/types.js';
import type { SessionReply } from '../protocol/messages.js';
import { mountHud } from './hud.js';
import { KeyboardControls } from './input.js';
import { createLoginForm } from './login.js';
import {
  createGameStore,
  initialState,
  loggedOut,
  snapshotOf,
  type GameStore,
  type Snapshot,
} from './store.js';

const STORAGE_KEY = 'mmo.session';
/** The player's "let this tab serve busy sites" setting (on unless turned off). */
const SERVE_KEY = 'mmo.serve';

export interface P2PDebug {
  serverId: string | null;
  /** The site this tab serves: its server's status and applied updates (seq:hash), oldest first. */
  serving: {
    site: string;
    status: string;
    timeslotSeq: number;
    /** Why the next window cannot close ('' when it can), and how far the last closed one trails the clock. */
    blocked: string;
    frontierLag: number;
    applied: string[];
    ignored: string[];
  } | null;
  /** The P2P site this tab plays on: the updates it accepted by majority (seq:hash). */
  playing: { site: string; accepted: string[]; flagged: string[] } | null;
  clockOffset: number | null;
  /** Driver wake-ups so far (the metronome's ticks). */
  ticks: number;
}

export interface MmoDebug {
  /** A deep copy of the accepted state; `site` is null until the first `enter`, `me` null before login. */
  snapshot(): Snapshot;
  /** What this tab's P2P layer did (for tests and curious players). */
  p2p(): P2PDebug;
  /** Frames the game has drawn (it draws only while something on the map moves: renderPacer.ts). */
  frames(): number;
}

declare global {
  interface Window {
    __mmo?: MmoDebug;
  }
}

const EXPIRED: SessionEnd = {
  error: { code: 'ERR_TOKEN_EXPIRED', message: 'session expired; log in again' },
  dropToken: true,
};

/** The saved session; 'expired' once its lifetime is over, so the page can say why it asks to log in. */
function loadSession(): SessionReply | 'expired' | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<SessionReply>;
    if (typeof s.token !== 'string' || typeof s.user !== 'string') return null;
    if (typeof s.expiresAt === 'number' && s.expiresAt > 0 && s.expiresAt <= Date.now()) return 'expired';
    return { token: s.token, user: s.user, guest: s.guest === true, expiresAt: s.expiresAt ?? 0 };
  } catch {
    return null;
  }
}

function loadServe(): boolean {
  try {
    return localStorage.getItem(SERVE_KEY) !== 'no';
  } catch {
    return true;
  }
}

function saveServe(on: boolean): void {
  try {
    localStorage.setItem(SERVE_KEY, on ? 'yes' : 'no');
  } catch {
    // storage disabled: the setting lasts for this page only
  }
}

function saveSession(s: SessionReply | null): void {
  try {
    if (s) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(s));
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // storage disabled: the session just won't survive a reload
  }
}

function need<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`missing #${id}`);
  return e as T;
}

export function startApp(): { store: GameStore } {
  const store = createGameStore();
  const api = new Api();
  const loginView = need('login-view');
  const gameView = need('game-view');
  const gameParent = need('game');
  const chat = need<HTMLInputElement>('chat-input');
  const logoutButton = gameView.querySelector<HTMLButtonElement>('[data-testid="logout"]');
  const serveSetting = gameView.querySelector<HTMLInputElement>('[data-testid="serve-setting"]');

  /** The logged-in session; it reconnects by itself when the socket drops (net/reconnect.ts). */
  let conn: ReconnectingSession | null = null;
  let game: Promise<Renderer> | null = null;
  let renderer: Renderer | null = null;

  const send = (a: PlayerAction): boolean => conn?.sendAction(a) ?? false;

  const login = createLoginForm(loginView, api, (s) => {
    saveSession(s);
    enterGame(s);
  });
  mountHud(gameView, store);

  const controls = new KeyboardControls(
    {
      move: (dir) => send({ kind: 'move', dir }),
      pickup: () => void send({ kind: 'pickup' }),
      portal: () => void send({ kind: 'portal' }),
      openChat: () => chat.focus(),
    },
    { isActive: () => !gameView.hidden && conn !== null && document.activeElement !== chat },
  );
  controls.attach(window);

  chat.addEventListener('focus', () => controls.releaseAll());
  chat.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      const text = chat.value.trim();
      if (text !== '') send({ kind: 'say', text });
      chat.value = '';
      chat.blur();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      chat.value = '';
      chat.blur();
    }
  });
  // Clicking the map gives the keys back to the game.
  gameParent.addEventListener('pointerdown', () => chat.blur());

  logoutButton?.addEventListener('click', () => {
    logoutButton.blur();
    if (conn) conn.logout();
    else endSession({ error: null, dropToken: true });
  });

  function showLogin(error: SessionEnd['error']): void {
    gameView.hidden = true;
    // The game stops drawing by itself: the emptied map has nothing that moves (renderPacer.ts).
    login.show(error);
  }

  function ensureGame(): void {
    // Once started, the game wakes by itself when the store gives it a site to draw.
    if (game) return;
    game = import('./game.js').then((m) => (renderer = m.startGame(gameParent, store)));
    game.catch((e: unknown) => console.error('cannot start the renderer', e));
  }

  const wakeup = workerWakeup();
  // Ed25519 in WASM, loading from now on; the P2P node registers its key once it is in (or failed).
  const signatures = tabCrypto((event, fields) =>
    event === 'crypto.ready' ? console.debug(event, fields) : console.warn(event, fields),
  );
  const cheat = cheatFromUrl(location.search);
  const p2p: P2PEnvironment = {
    links: (iceServers) => simplePeerFactory(SimplePeer as unknown as SimplePeerConstructor, { iceServers }),
    wakeup,
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    crypto: signatures,
    // Tests only: the node serves as this cheater if the admin allows it, and says so if not.
    ...(cheat ? { cheat } : {}),
  };

  function connect(token: string): void {
    conn = new ReconnectingSession({
      store,
      p2p,
      // Another tab of this browser may have logged out meanwhile, or the session expired.
      retryToken: () => {
        const s = loadSession();
        return s && s !== 'expired' ? s.token : null;
      },
      onEnd: (end) => onEnd(end),
      log: (...a) => {
        // Protocol chatter goes to the debug console; real trouble to warnings.
        const event = typeof a[0] === 'string' ? a[0] : '';
        if (/reject|failed|cannot|bad_/.test(event)) console.warn(...a);
        else console.debug(...a);
      },
    });
    conn.connect(token);
  }

  function enterGame(s: SessionReply): void {
    login.hide();
    gameView.hidden = false;
    (document.activeElement as HTMLElement | null)?.blur?.();
    store.setState({ ...initialState(), session: { user: s.user, guest: s.guest }, serveSetting: loadServe() }, true);
    ensureGame();
    connect(s.token);
  }

  /** The session is over for good (the reconnects gave up, or it was not a dropped socket). */
  function onEnd(end: SessionEnd): void {
    conn = null;
    const saved = end.dropToken ? null : loadSession();
    endSession(saved === 'expired' ? EXPIRED : end);
  }

  function endSession(end: SessionEnd): void {
    controls.releaseAll();
    // A dropped connection that could not be re-established: the token may still be good, but
    // the login page is where the player decides what to do next.
    saveSession(null);
    store.setState(loggedOut(end.error, loadServe()), true);
    showLogin(end.error);
  }

  setInterval(() => conn?.tick(), 250);

  serveSetting?.addEventListener('change', () => {
    // Give the keys back to the game: a focused checkbox takes arrows, and Space would toggle it.
    serveSetting.blur();
    saveServe(serveSetting.checked);
    if (conn) conn.setServe(serveSetting.checked);
    else store.setState({ serveSetting: serveSetting.checked });
  });

  window.__mmo = Object.freeze({
    snapshot: () => snapshotOf(store.getState(), performance.now()),
    p2p: (): P2PDebug => {
      const node = conn?.node ?? null;
      const server = node?.server ?? null;
      const user = node?.userHost ?? null;
      return {
        serverId: node?.serverId ?? null,
        serving: server
          ? {
              site: server.site,
              status: server.core.status(),
              timeslotSeq: server.core.timeslotSeq(),
              blocked: server.core.blockedReason(),
              frontierLag: Math.round((node?.now() ?? 0) - server.core.frontier()),
              applied: server.core.appliedLog().map((u) => `${u.seq}:${u.hash}`),
              ignored: server.core.ignored().map((x) => x.server),
            }
          : null,
        playing: user
          ? { site: user.site, accepted: user.core.acceptedLog().map((u) => `${u.seq}:${u.hash}`), flagged: user.core.flaggedServers().map((f) => f.server) }
          : null,
        clockOffset: node?.clockOffset() ?? null,
        ticks: node?.driver.ticks ?? 0,
      };
    },
    frames: () => renderer?.frames() ?? 0,
  });

  const saved = loadSession();
  if (saved === 'expired') endSession(EXPIRED);
  else if (saved) enterGame(saved);
  else showLogin(null);
  return { store };
}

/** `?cheat=MODE` (tests only): the mode, or null (an unknown one is refused with a console line). */
function cheatFromUrl(search: string): CheatMode | null {
  const raw = new URLSearchParams(search).get('cheat');
  if (raw === null) return null;
  const mode = parseCheatMode(raw);
  if (!mode) console.warn('p2p.cannot_cheat', { mode: raw.slice(0, 40), why: `unknown cheat mode; one of ${CHEAT_MODES.join(', ')}` });
  return mode;
}
