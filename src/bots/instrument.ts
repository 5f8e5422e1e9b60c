/**
 * Measuring a bot where its work comes in: data-channel frames, admin socket frames and timer
 * callbacks are counted (bytes, frames) and timed (wall ms inside the callback, booked to the
 * bot's role then; the Recorder splits the process's CPU by it), and, with latency options,
 * delayed (src/net/p2p/delayLink.ts; test only).
 * Counting costs a few additions per frame; without latency options no delay line exists.
 */
import type { SocketLike } from '../net/adminSocket.js';
import { DelayLine, delayLinks, realDelayEnv, type DelayEnv, type DelaySpec } from '../net/p2p/delayLink.js';
import type { Wakeup } from '../net/p2p/driver.js';
import type { LinkFactory, PeerLink } from '../net/p2p/link.js';
import { isServerEnd } from '../net/p2p/mesh.js';
import type { Recorder, Role } from './tally.js';

/** Delays per link class; null: none installed. */
export interface LinkSpecs {
  cu: DelaySpec;
  su: DelaySpec;
  ss: DelaySpec;
  /**
   * `actions`: link-down drops only what carries a user's actions (a user end's frames, the
   * admin socket's action frames): paper 5.3's model, eqs. 16-18. `all`: every frame of a down
   * direction (Timeslots, updates, ...), a harsher network than the paper's.
   */
  downScope: 'actions' | 'all';
}

/** Callbacks nest only across bots of one process on in-memory links: the outermost one counts. */
let depth = 0;

export type Timed = <A extends unknown[]>(fn: (...a: A) => void) => (...a: A) => void;

/**
 * Wraps callbacks so the wall time spent inside them is booked to `role()` at call time. Not
 * process.cpuUsage() per callback: with libdatachannel's threads that call cost 13 % of a serving
 * bot process's CPU (a profile of 30 bots, 18 serving); the Recorder reads the CPU once a flush.
 */
export function handlerTimer(rec: Recorder, role: () => Role, now: () => number = () => performance.now()): Timed {
  return (fn) =>
    (...a) => {
      if (depth > 0) return fn(...a);
      depth++;
      const t0 = now();
      try {
        fn(...a);
      } finally {
        depth--;
        rec.handler(role(), now() - t0);
      }
    };
}

export function timedWakeup(inner: Wakeup, timed: Timed): Wakeup {
  return { set: (ms, cb) => inner.set(ms, timed(cb)), clear: () => inner.clear() };
}

/** `link` with some of its methods replaced (a tap, a counter); everything else goes to `link`. */
export function overLink(link: PeerLink, over: Partial<Pick<PeerLink, 'send' | 'onOpen' | 'onMessage'>>): PeerLink {
  return {
    get open() {
      return link.open;
    },
    get buffered() {
      return link.buffered;
    },
    send: over.send ?? ((bytes) => link.send(bytes)),
    onOpen: over.onOpen ?? ((cb) => link.onOpen(cb)),
    onMessage: over.onMessage ?? ((cb) => link.onMessage(cb)),
    onClose: (cb) => link.onClose(cb),
    close: () => link.close(),
    signal: (data) => link.signal(data),
  };
}

/** Peer links counted (by the role of the local end) and timed; delayed per class when `specs` is given. */
export function instrumentLinks(factory: LinkFactory, rec: Recorder, timed: Timed, specs: LinkSpecs | null, env: DelayEnv = realDelayEnv): LinkFactory {
  const base = specs
    ? delayLinks(factory, {
        spec: (cls, local) => {
          const sp = specs[cls];
          return specs.downScope === 'actions' && isServerEnd(local) ? { ...sp, down: 0 } : sp;
        },
        env,
        waited: (cls, ms) => rec.linkWaited(cls, ms),
        dropped: (cls, why) => rec.linkDropped(cls, why),
      })
    : factory;
  return (args) => {
    const link = base(args);
    const role: Role = isServerEnd(args.local) ? 'serving' : 'playing';
    return overLink(link, {
      send(bytes) {
        const ok = link.send(bytes);
        if (ok) rec.peerBytes(role, 'sent', bytes.byteLength);
        return ok;
      },
      onOpen: (cb) => link.onOpen(timed(cb)),
      onMessage: (cb) =>
        link.onMessage(
          timed((bytes: Uint8Array) => {
            rec.peerBytes(role, 'received', bytes.byteLength);
            cb(bytes);
          }),
        ),
    });
  };
}

const OPEN = 1;
const byteLength = (d: unknown): number =>
  typeof d === 'string' ? Buffer.byteLength(d, 'utf8') : d instanceof ArrayBuffer ? d.byteLength : ArrayBuffer.isView(d) ? d.byteLength : 0;

type Incoming = { kind: 'message'; ev: { data: unknown } } | { kind: 'close'; ev: { code: number; reason: string } };

/**
 * The admin WebSocket counted and timed; with `spec`, both directions delayed at the bot (the
 * admin's end is not ours). Loss does not apply (TCP); `down` drops only the bot's `action`
 * frames (paper 5.3, eq. 16: an action sent while the user's link to the server is down is lost),
 * anything else would break the session rather than lose an action.
 */
export function instrumentSocket(inner: SocketLike, rec: Recorder, timed: Timed, spec: DelaySpec | null, env: DelayEnv = realDelayEnv): SocketLike {
  const lineSpec = spec ? { ...spec, loss: 0, down: 0 } : null;
  const out = lineSpec
    ? new DelayLine<string>(lineSpec, env, {
        deliver: (data) => void (inner.readyState === OPEN && inner.send(data)),
        waited: (ms) => rec.linkWaited('cu', ms),
      })
    : null;
  const gate = spec && spec.down > 0 ? new DelayLine<never>(spec, env, { deliver: () => undefined }) : null;
  const w: SocketLike = {
    get readyState() {
      return inner.readyState;
    },
    send(data) {
      if (gate && data.startsWith('{"type":"action"') && gate.isDown()) {
        rec.linkDropped('cu', 'down');
        return;
      }
      rec.adminBytes('sent', byteLength(data));
      if (out) out.push(data);
      else inner.send(data);
    },
    close(code, reason) {
      out?.close();
      inn?.close();
      inner.close(code, reason);
    },
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  const handle = timed((m: Incoming) => {
    if (m.kind === 'message') w.onmessage?.(m.ev);
    else w.onclose?.(m.ev);
  });
  const inn = lineSpec
    ? new DelayLine<Incoming>(lineSpec, env, { deliver: handle, waited: (ms) => rec.linkWaited('cu', ms) })
    : null;
  inner.onopen = (ev) => w.onopen?.(ev);
  inner.onerror = (ev) => w.onerror?.(ev);
  inner.onmessage = (ev) => {
    rec.adminBytes('received', byteLength(ev.data));
    if (inn) inn.push({ kind: 'message', ev });
    else handle({ kind: 'message', ev });
  };
  // The close comes after the frames that came before it.
  inner.onclose = (ev) => (inn ? inn.push({ kind: 'close', ev }, true) : handle({ kind: 'close', ev }));
  return w;
}
