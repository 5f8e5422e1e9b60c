/**
 * PeerLink in Node (bots) over node-datachannel (libdatachannel) directly. It speaks the same
 * signaling as simple-peer in the browser (`{type, sdp}` offers and answers, trickled
 * `{type: 'candidate', candidate}`), so bots and tabs link to each other.
 *
 * Why not simple-peer in Node: @thaunknown/simple-peer 10 on node-datachannel's polyfill waits
 * ~1 s per connection (it polls getStats for a selected candidate pair, which the polyfill
 * reports late: measured 1007-1047 ms per pair here, against ~2 ms per pair native); simple-peer 9
 * with @roamhq/wrtc costs ~9 threads, ~24 file descriptors and ~2 % of a core per idle
 * connection (40 connections: 354 threads, 0.4 s CPU in 5 s idle; native node-datachannel: 6
 * threads, ~1 descriptor each, 0.03 s) — too much for 200 bots on one machine; simple-peer 9 on
 * node-datachannel's polyfill fails (ERR_CREATE_OFFER).
 *
 * libdatachannel aborts the process if a callback of its throws, so every callback here only
 * schedules work (setImmediate) and every call into it is guarded.
 */
import nodeDataChannel from 'node-datachannel';
import type { IceServer, SignalData } from '../../protocol/messages.js';
import type { LinkFactory, PeerLink } from './link.js';

type PC = InstanceType<typeof nodeDataChannel.PeerConnection>;
type DC = ReturnType<PC['createDataChannel']>;

/** libdatachannel's ICE server URLs: `stun:host:port`, `turn:user:pass@host:port`. */
export function iceUrls(servers: readonly IceServer[]): string[] {
  const out: string[] = [];
  for (const s of servers) {
    for (const url of Array.isArray(s.urls) ? s.urls : [s.urls]) {
      const m = /^(stuns?|turns?):(.*)$/.exec(url);
      if (!m) continue;
      const [, scheme, rest] = m;
      const auth = s.username !== undefined ? `${encodeURIComponent(s.username)}:${encodeURIComponent(s.credential ?? '')}@` : '';
      out.push(scheme?.startsWith('turn') ? `${scheme}:${auth}${rest}` : `${scheme}:${rest}`);
    }
  }
  return out;
}

let nextName = 1;

/**
 * How long a receiver may hold its SCTP acknowledgement (SACK), ms. libdatachannel's default is
 * 20 ms (RFC 4960 and usrsctp say 200): a Site Server's frames come one at a time, tens of ms
 * apart on each link, so each got a SACK packet of its own back, and each packet wakes the ICE
 * poller, libdatachannel's worker and the SCTP timer on both sides (docs/performance.md "Fewer
 * wake-ups": 18 % fewer packets, a serving bot 14 % cheaper). Held up to 100 ms, the SACK rides on the next frame the other
 * way (Timeslot, echo, update) or covers two packets. Delivery does not wait for it, and usrsctp
 * still acks every second packet and any gap at once (loss recovery unchanged); 100 ms is half
 * libdatachannel's minimum retransmission timeout (200 ms), so a lone frame's late SACK never makes
 * its sender retransmit for nothing. Process-wide (libdatachannel applies it to new associations).
 */
export const SCTP_SACK_DELAY_MS = 100;

/** The delay last applied to this process's libdatachannel (null: its default, 20 ms). */
let appliedSackDelay: number | null = null;

/** `MMO_SCTP_SACK_MS` (bench A/B runs only): unset is SCTP_SACK_DELAY_MS; else 1..500 ms (RFC 4960's bound). */
export function sackDelayChoice(raw: string | undefined): number {
  const v = raw?.trim() ?? '';
  if (v === '') return SCTP_SACK_DELAY_MS;
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || n < 1 || n > 500) throw new Error(`MMO_SCTP_SACK_MS must be an integer 1..500 (ms), got "${raw}"`);
  return n;
}

export function dataChannelFactory(opts: { iceServers: IceServer[]; sackDelayMs?: number }): LinkFactory {
  const sack = opts.sackDelayMs ?? SCTP_SACK_DELAY_MS;
  if (appliedSackDelay !== sack) {
    nodeDataChannel.setSctpSettings({ delayedSackTime: sack });
    appliedSackDelay = sack;
  }
  return ({ initiator, onSignal }) => link(initiator, onSignal, iceUrls(opts.iceServers));
}

function link(initiator: boolean, onSignal: (d: SignalData) => void, iceServers: string[]): PeerLink {
  let closed = false;
  let dc: DC | null = null;
  /**
   * Set when the channel's open event is handled: `open` and `send` read it instead of asking
   * libdatachannel (a native call on every frame sent: 1 % of a serving bot's CPU). A channel
   * that closes natively before its close event is handled makes sendMessageBinary throw: caught.
   */
  let isOpen = false;
  let haveRemote = false;
  let haveLocal = false;
  const early: Array<{ candidate: string; mid: string }> = [];
  const opened: Array<() => void> = [];
  const messages: Array<(b: Uint8Array) => void> = [];
  const closes: Array<(why: string) => void> = [];
  const later = (f: () => void): void => {
    setImmediate(() => {
      if (closed) return;
      try {
        f();
      } catch (e) {
        finish((e as Error).message);
      }
    });
  };
  const finish = (why: string): void => {
    if (closed) return;
    closed = true;
    try {
      dc?.close();
      pc.close();
    } catch {
      // already closed
    }
    for (const cb of closes) cb(why);
  };
  const pc: PC = new nodeDataChannel.PeerConnection(`mmo-${nextName++}`, { iceServers });
  /**
   * Remote candidates wait for both descriptions: libdatachannel refuses one before its ICE
   * transport exists ("Got a remote candidate without ICE transport"), which closed new links
   * and lost the frames queued on them. One it still refuses is dropped, not the link.
   */
  const addCandidates = (): void => {
    if (!haveRemote || !haveLocal) return;
    for (const c of early.splice(0)) {
      try {
        pc.addRemoteCandidate(c.candidate, c.mid);
      } catch {
        // a candidate we cannot use; others may do
      }
    }
  };
  pc.onLocalDescription((sdp, type) =>
    later(() => {
      haveLocal = true;
      if (type === 'offer' || type === 'answer') onSignal({ type, sdp });
      addCandidates();
    }),
  );
  pc.onLocalCandidate((candidate, mid) => later(() => onSignal({ type: 'candidate', candidate: { candidate, sdpMid: mid, sdpMLineIndex: 0 } })));
  pc.onStateChange((state) => later(() => (state === 'failed' || state === 'closed' ? finish(state) : undefined)));
  const attach = (channel: DC): void => {
    dc = channel;
    const markOpen = (): void => {
      if (isOpen) return;
      isOpen = true;
      opened.forEach((cb) => cb());
    };
    channel.onOpen(() => later(markOpen));
    // A channel the remote end opened may be open already when it reaches us.
    if (channel.isOpen()) later(markOpen);
    channel.onMessage((m) =>
      later(() => {
        // Binary frames only: a text frame is no peer message (the receiver refuses what it cannot parse).
        const bytes = typeof m === 'string' ? new TextEncoder().encode(m) : new Uint8Array(m as ArrayBuffer);
        for (const cb of messages) cb(bytes);
      }),
    );
    channel.onClosed(() => later(() => finish('channel closed')));
    channel.onError((err) => later(() => finish(err)));
  };
  if (initiator) attach(pc.createDataChannel('mmo'));
  else pc.onDataChannel((channel) => later(() => attach(channel)));

  return {
    get open() {
      return !closed && isOpen;
    },
    get buffered() {
      return dc?.bufferedAmount() ?? 0;
    },
    send(bytes) {
      if (closed || !dc || !isOpen) return false;
      try {
        return dc.sendMessageBinary(bytes);
      } catch {
        return false;
      }
    },
    onOpen: (cb) => void opened.push(cb),
    onMessage: (cb) => void messages.push(cb),
    onClose: (cb) => void closes.push(cb),
    close: () => finish('closed here'),
    signal(data) {
      if (closed) return;
      try {
        if (data.type === 'candidate') {
          const c = { candidate: data.candidate.candidate, mid: data.candidate.sdpMid ?? '0' };
          if (c.candidate === '') return; // end of candidates
          if (early.length < 64) early.push(c);
          addCandidates();
          return;
        }
        pc.setRemoteDescription(data.sdp, data.type);
        haveRemote = true;
        addCandidates();
      } catch (e) {
        finish((e as Error).message);
      }
    },
  };
}
