/**
 * The WebSocket to the Administration Server: JSON text frames at `/ws`. Opens, sends `hello`,
 * hands every well-formed server message to `onMessage`, and reports the close once.
 * Server messages are trusted, but a frame is still checked before use (type and field shapes),
 * so a bug on either side shows as a dropped frame, not a crash deep in the renderer.
 */
import { PROTOCOL_VERSION, type ClientMessage, type ServerMessage } from '../protocol/messages.js';

export interface CloseInfo {
  code: number;
  reason: string;
  /** True when we closed it ourselves (`close()`). */
  local: boolean;
}

export interface AdminSocketHandlers {
  onOpen?(): void;
  onMessage(msg: ServerMessage): void;
  onClose(info: CloseInfo): void;
  /** A frame that did not parse; for logs. */
  onBadFrame?(raw: unknown, why: string): void;
}

/** Minimal WebSocket surface we need, so tests can pass a fake. */
export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SocketLike;

const OPEN = 1;

/** ws:// or wss:// URL of `/ws` on the page's origin. */
export function defaultSocketUrl(loc: { protocol: string; host: string } = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`;
}

export class AdminSocket {
  private ws: SocketLike | null = null;
  private closedByUs = false;
  private closeReported = false;

  constructor(
    private readonly handlers: AdminSocketHandlers,
    private readonly factory: SocketFactory = (url) => new WebSocket(url) as unknown as SocketLike,
  ) {}

  /** Opens the socket and sends `hello` with `token` as soon as it is open. */
  connect(url: string, token: string): void {
    if (this.ws) throw new Error('AdminSocket already connected');
    const ws = this.factory(url);
    this.ws = ws;
    ws.onopen = () => {
      this.send({ type: 'hello', v: PROTOCOL_VERSION, token });
      this.handlers.onOpen?.();
    };
    ws.onmessage = (ev) => {
      const parsed = parseServerMessage(ev.data);
      if (parsed.ok) this.handlers.onMessage(parsed.value);
      else this.handlers.onBadFrame?.(ev.data, parsed.why);
    };
    ws.onclose = (ev) => this.reportClose(ev.code, ev.reason);
    // An error is always followed by a close event; nothing to do here.
    ws.onerror = () => undefined;
  }

  get open(): boolean {
    return this.ws !== null && this.ws.readyState === OPEN;
  }

  /** Sends one message; returns false when the socket is not open. */
  send(msg: ClientMessage): boolean {
    if (!this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  close(code = 1000, reason = 'client closed'): void {
    if (!this.ws) return;
    this.closedByUs = true;
    try {
      this.ws.close(code, reason);
    } catch {
      // already closing
    }
    this.reportClose(code, reason);
  }

  private reportClose(code: number, reason: string): void {
    if (this.closeReported) return;
    this.closeReported = true;
    const ws = this.ws;
    if (ws) {
      ws.onopen = null;
      ws.onmessage = null;
      ws.onclose = null;
    }
    this.handlers.onClose({ code, reason, local: this.closedByUs });
  }
}

// ---------------------------------------------------------------------------------------------
// Defensive parsing of server frames
// ---------------------------------------------------------------------------------------------

type Parsed = { ok: true; value: ServerMessage } | { ok: false; why: string };

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function isView(v: unknown): boolean {
  if (!isObj(v) || !isStr(v.site) || !Array.isArray(v.users) || !Array.isArray(v.items)) return false;
  return (
    v.users.every(
      (u) => isObj(u) && isStr(u.name) && isNum(u.x) && isNum(u.y) && Array.isArray(u.inventory),
    ) && v.items.every((i) => isObj(i) && isStr(i.id) && isStr(i.kind) && isNum(i.x) && isNum(i.y))
  );
}

function isApplied(v: unknown): boolean {
  return Array.isArray(v) && v.every((a) => isObj(a) && isStr(a.user) && isNum(a.actionNo));
}

function isEvents(v: unknown): boolean {
  return Array.isArray(v) && v.every((e) => isObj(e) && isStr(e.kind));
}

export function parseServerMessage(raw: unknown): Parsed {
  if (!isStr(raw)) return { ok: false, why: 'not a text frame' };
  let d: unknown;
  try {
    d = JSON.parse(raw);
  } catch {
    return { ok: false, why: 'not JSON' };
  }
  if (!isObj(d) || !isStr(d.type)) return { ok: false, why: 'no type' };
  const good = (): Parsed => ({ ok: true, value: d as ServerMessage });
  switch (d.type) {
    case 'welcome':
      return isStr(d.user) && isStr(d.adminKey) && isStr(d.challenge) && isObj(d.p2p) && isObj(d.p2p.config)
        ? ((d.iceServers = Array.isArray(d.iceServers) ? d.iceServers.filter(isObj) : []), good())
        : { ok: false, why: 'bad welcome' };
    case 'enter':
      return isStr(d.site) &&
        (d.mode === 'cs' || d.mode === 'p2p') &&
        isNum(d.seq) &&
        isNum(d.lastActionNo) &&
        (isView(d.view) || (d.mode === 'p2p' && d.view === null)) &&
        (d.hash === null || d.hash === undefined || isStr(d.hash)) &&
        (d.resumed === undefined || (d.mode === 'p2p' && typeof d.resumed === 'boolean'))
        ? ((d.servers = Array.isArray(d.servers) ? d.servers.filter(isStr) : []), (d.hash ??= null), good())
        : { ok: false, why: 'bad enter' };
    case 'keyOk':
      return isStr(d.serverId) ? good() : { ok: false, why: 'bad keyOk' };
    case 'signal':
      // The data goes to simple-peer, which checks it; only its envelope is ours.
      return isStr(d.from) && isStr(d.to) && isObj(d.data) ? good() : { ok: false, why: 'bad signal' };
    case 'peer':
      // Reassembled and parsed by decodePeerMessage before anything reads it.
      return (d.to === 'server' || d.to === 'user') && isStr(d.site) && isNum(d.id) && isNum(d.index) && isNum(d.count) && isStr(d.data)
        ? good()
        : { ok: false, why: 'bad peer envelope' };
    case 'serve':
      return isStr(d.site) && isStr(d.serverId) && (d.stateFrom === undefined || isStr(d.stateFrom)) ? good() : { ok: false, why: 'bad serve' };
    case 'serveEnd':
      return isStr(d.site) && (d.handOff === undefined || typeof d.handOff === 'boolean')
        ? ((d.reason = isStr(d.reason) ? d.reason : ''), good())
        : { ok: false, why: 'bad serveEnd' };
    case 'handOver':
      return isStr(d.site) && Array.isArray(d.servers) && d.servers.every(isStr) && isNum(d.seq) && isStr(d.hash) && isNum(d.lastActionNo)
        ? good()
        : { ok: false, why: 'bad handOver' };
    case 'siteStatus':
      return isStr(d.site) && (d.mode === 'cs' || d.mode === 'p2p') && typeof d.closing === 'boolean' && (d.blocked === null || isStr(d.blocked))
        ? good()
        : { ok: false, why: 'bad siteStatus' };
    case 'update':
      return isStr(d.site) && isNum(d.seq) && isApplied(d.applied) && isEvents(d.events)
        ? good()
        : { ok: false, why: 'bad update' };
    case 'pong':
      return isNum(d.id) && isNum(d.t) ? good() : { ok: false, why: 'bad pong' };
    case 'error':
      return isStr(d.code)
        ? ((d.message = isStr(d.message) ? d.message : ''), good())
        : { ok: false, why: 'bad error' };
    case 'bye':
      return isStr(d.reason) ? good() : { ok: false, why: 'bad bye' };
    default:
      return { ok: false, why: `unknown type ${d.type.slice(0, 40)}` };
  }
}
