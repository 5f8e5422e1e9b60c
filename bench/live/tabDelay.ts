/**
 * TEST AND BENCHMARK ONLY: latency and jitter injected in a Chromium tab where it sends, the
 * tab's side of what src/net/p2p/delayLink.ts does for the bots (no netem on this machine). The
 * bench adds `tabDelayScript()` with CDP's Page.addScriptToEvaluateOnNewDocument, so it runs
 * before the page's own scripts; the built client is not changed.
 *
 * In the page: every RTCDataChannel frame leaves after its one-way latency ± jitter, in order per
 * channel; the admin WebSocket's frames leave after l_cu and its incoming messages (and its close,
 * after them) reach the page after l_cu, as the bots do at their end. A channel's class is known
 * from the admin's `signal` messages (their `from`/`to` ids and the SDP's ICE ufrag, matched when
 * the page sets that remote description): s-s between two Site Server ids, else s-u; a frame whose
 * channel could not be matched goes at l_su and is counted as unclassified. What each frame
 * really waited (timer lateness included) is kept per class on `window.__benchTabDelay`.
 * No loss and no link outages here (the browser section does not ask for them).
 *
 * The functions below are stringified into the page: they use nothing from outside themselves.
 */

export type TabLinkClass = 'cu' | 'su' | 'ss';

export interface TabDelayConfig {
  /** One-way latency, ms: admin socket, Site Server <-> user channel, Site Server <-> Site Server channel. */
  cu: number;
  su: number;
  ss: number;
  /** Uniform ± jitter, ms, on every frame (a frame never waits less than 0). */
  jitter: number;
}

/** Time, randomness and a one-shot timer: the page's own, or fakes in tests. */
export interface TabDelayEnv {
  now(): number;
  random(): number;
  setTimer(ms: number, cb: () => void): void;
}

export interface TabLine<T> {
  /** Queues a frame for `latencyMs` ± jitter, never before the frame queued before it; `cls` books its wait. */
  push(item: T, latencyMs: number, cls: TabLinkClass): void;
  /** Drops what waits (the channel or socket is gone). */
  close(): void;
  pending(): number;
}

export interface TabDelayCore {
  line<T>(deliver: (item: T) => void): TabLine<T>;
  /** What each delivered frame waited, ms, per class. */
  waited: Record<TabLinkClass, number[]>;
}

/** The delay lines and their measurement; pure but for `env`. */
export function tabDelayCore(env: TabDelayEnv, jitterMs: number): TabDelayCore {
  const waited: Record<TabLinkClass, number[]> = { cu: [], su: [], ss: [] };
  function line<T>(deliver: (item: T) => void): TabLine<T> {
    const queue: Array<{ item: T; at: number; due: number; cls: TabLinkClass }> = [];
    let lastDue = -Infinity;
    let armed = false;
    let closed = false;
    const arm = (): void => {
      const head = queue[0];
      if (!head || armed) return;
      armed = true;
      env.setTimer(Math.max(0, head.due - env.now()), fire);
    };
    function fire(): void {
      armed = false;
      const now = env.now();
      while (!closed) {
        const head = queue[0];
        if (!head || head.due > now) break;
        queue.shift();
        // Measured at delivery, so a late timer (a busy or hidden tab) shows in the figure.
        waited[head.cls].push(now - head.at);
        try {
          deliver(head.item);
        } catch {
          // a frame the channel refused is lost; the frames behind it still go
        }
      }
      if (!closed) arm();
    }
    return {
      push(item, latencyMs, cls) {
        if (closed) return;
        const now = env.now();
        const j = jitterMs > 0 ? (env.random() * 2 - 1) * jitterMs : 0;
        // FIFO: a channel and a WebSocket are ordered, so a frame never overtakes the one before.
        const due = Math.max(lastDue, now + Math.max(0, latencyMs + j));
        lastDue = due;
        queue.push({ item, at: now, due, cls });
        arm();
      },
      close() {
        closed = true;
        queue.length = 0;
      },
      pending: () => queue.length,
    };
  }
  return { line, waited };
}

/** What the bench reads back from a tab (`window.__benchTabDelay.read()`). */
export interface TabDelayReadout {
  waited: Record<TabLinkClass, number[]>;
  /** Data-channel frames whose class was not known (sent at l_su, booked as s-u). */
  unclassified: number;
}

/** Installs the wrappers in the page; `core` is tabDelayCore (passed in: this runs stringified). */
export function installTabDelay(core: typeof tabDelayCore, cfg: TabDelayConfig, w: typeof globalThis): void {
  // A Worker's timer: a hidden tab runs main-thread timers only once a second (src/client/wakeup.ts),
  // which would add up to a second to every frame; a Worker's keep their time.
  let worker: Worker | null = null;
  let nextId = 0;
  const timers = new Map<number, () => void>();
  const setTimer = (ms: number, cb: () => void): void => {
    if (!worker) {
      const src = 'onmessage = (e) => setTimeout(() => postMessage(e.data[0]), e.data[1]);';
      worker = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
      worker.onmessage = (e: MessageEvent<number>) => {
        const f = timers.get(e.data);
        timers.delete(e.data);
        f?.();
      };
    }
    const id = ++nextId;
    timers.set(id, cb);
    worker.postMessage([id, ms]);
  };
  const d = core({ now: () => w.performance.now(), random: Math.random, setTimer }, cfg.jitter);
  let unclassified = 0;

  // Classes of links from the admin's signal messages: remote ICE ufrag -> class.
  const ufragClass = new Map<string, 'su' | 'ss'>();
  const ufragOf = (sdp: unknown): string | null => {
    const m = typeof sdp === 'string' ? /a=ice-ufrag:(\S+)/.exec(sdp) : null;
    return m ? (m[1] ?? null) : null;
  };
  const noteSignal = (data: unknown): void => {
    if (typeof data !== 'string' || !data.includes('"signal"')) return;
    try {
      const m = JSON.parse(data) as { type?: string; from?: string; to?: string; data?: { sdp?: string } };
      const u = m.type === 'signal' ? ufragOf(m.data?.sdp) : null;
      // Site Server ids carry a `~`, user names cannot (src/net/p2p/mesh.ts isServerEnd).
      if (u && m.from && m.to) ufragClass.set(u, m.from.includes('~') && m.to.includes('~') ? 'ss' : 'su');
    } catch {
      // not ours to judge: the page's own parser reports a bad frame
    }
  };
  const pcClass = new WeakMap<RTCPeerConnection, 'su' | 'ss'>();
  const channelPc = new WeakMap<RTCDataChannel, RTCPeerConnection>();
  const PC = w.RTCPeerConnection;
  const setRemote = PC.prototype.setRemoteDescription;
  PC.prototype.setRemoteDescription = function (this: RTCPeerConnection, ...a: Parameters<RTCPeerConnection['setRemoteDescription']>) {
    const u = ufragOf(a[0]?.sdp);
    const c = u ? ufragClass.get(u) : undefined;
    if (c) pcClass.set(this, c);
    return setRemote.apply(this, a);
  } as RTCPeerConnection['setRemoteDescription'];
  const createDc = PC.prototype.createDataChannel;
  PC.prototype.createDataChannel = function (this: RTCPeerConnection, ...a: Parameters<RTCPeerConnection['createDataChannel']>) {
    const ch = createDc.apply(this, a);
    channelPc.set(ch, this);
    return ch;
  };
  // Channels the remote opened: a listener added at construction runs before the page's handler.
  w.RTCPeerConnection = class extends PC {
    constructor(...a: ConstructorParameters<typeof RTCPeerConnection>) {
      super(...a);
      this.addEventListener('datachannel', (e) => channelPc.set(e.channel, this));
    }
  };

  const lines = new WeakMap<RTCDataChannel, TabLine<unknown>>();
  const dcSend = w.RTCDataChannel.prototype.send as (this: RTCDataChannel, data: unknown) => void;
  w.RTCDataChannel.prototype.send = function (this: RTCDataChannel, data: unknown) {
    // Not open: the real send throws, as the page expects.
    if (this.readyState !== 'open') return dcSend.call(this, data);
    let l = lines.get(this);
    if (!l) {
      // A frame due after the channel closed is lost with it.
      l = d.line((x: unknown) => void (this.readyState === 'open' && dcSend.call(this, x)));
      lines.set(this, l);
    }
    const pc = channelPc.get(this);
    const c = pc ? pcClass.get(pc) : undefined;
    if (!c) unclassified++;
    l.push(data, c === 'ss' ? cfg.ss : cfg.su, c ?? 'su');
  } as RTCDataChannel['send'];

  // The admin socket (the page's only WebSocket): both directions after l_cu.
  const WS = w.WebSocket;
  const ours = new WeakSet<Event>();
  w.WebSocket = class extends WS {
    constructor(...a: ConstructorParameters<typeof WebSocket>) {
      super(...a);
      const out = d.line<string | ArrayBufferLike | Blob | ArrayBufferView>((x) => void (this.readyState === WS.OPEN && WS.prototype.send.call(this, x)));
      this.send = (x) => out.push(x, cfg.cu, 'cu');
      const inc = d.line<Event>((ev) => {
        ours.add(ev);
        this.dispatchEvent(ev);
      });
      // Registered before the page's handlers, so stopping here holds the event back from them;
      // a copy is dispatched when due (the close after the messages before it).
      this.addEventListener('message', (e) => {
        if (ours.has(e)) return;
        e.stopImmediatePropagation();
        noteSignal(e.data);
        inc.push(new MessageEvent('message', { data: e.data, origin: e.origin }), cfg.cu, 'cu');
      });
      this.addEventListener('close', (e) => {
        if (ours.has(e)) return;
        e.stopImmediatePropagation();
        out.close();
        inc.push(new CloseEvent('close', { code: e.code, reason: e.reason, wasClean: e.wasClean }), cfg.cu, 'cu');
      });
    }
  };

  const read = (): TabDelayReadout => ({ waited: d.waited, unclassified });
  (w as unknown as { __benchTabDelay: { read(): TabDelayReadout } }).__benchTabDelay = { read };
}

/**
 * The script for Page.addScriptToEvaluateOnNewDocument. `__name` is defined because tsx keeps
 * function names by wrapping them in `__name(...)` calls, which then appear in the source text.
 */
export function tabDelayScript(cfg: TabDelayConfig): string {
  return `(() => { const __name = (f) => f; (${installTabDelay.toString()})(${tabDelayCore.toString()}, ${JSON.stringify(cfg)}, window); })();`;
}
