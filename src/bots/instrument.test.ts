import { describe, expect, it } from 'vitest';
import { FakeSocket } from '../net/fakeSocket.js';
import { NO_DELAY } from '../net/p2p/delayLink.js';
import { fakeDelayEnv } from '../net/p2p/fakeDelayEnv.js';
import { MemoryHub } from '../net/p2p/memoryLink.js';
import { handlerTimer, instrumentLinks, instrumentSocket, type Timed } from './instrument.js';
import { Recorder, type Role } from './tally.js';

const untimed: Timed = (fn) => fn;

describe('bot instruments', () => {
  it('counts the admin socket both ways, frames and bytes, without delaying it when given no spec', () => {
    const rec = new Recorder();
    const inner = new FakeSocket('ws://x/ws');
    const got: unknown[] = [];
    const s = instrumentSocket(inner, rec, untimed, null);
    s.onmessage = (ev) => got.push(ev.data);
    inner.open();
    s.send('{"type":"ping","id":1,"t":0}');
    inner.deliver('{"type":"pong","id":1,"t":0,"serverTime":5}');
    expect(inner.sent).toHaveLength(1);
    expect(got).toHaveLength(1);
    expect(rec.tally.admin).toEqual({ sent: 28, received: 43, framesSent: 1, framesReceived: 1 });
  });

  it('delays the admin socket both ways, keeps the close behind earlier frames, and measures what each frame waited', () => {
    const rec = new Recorder();
    const env = fakeDelayEnv();
    const inner = new FakeSocket('ws://x/ws');
    const got: string[] = [];
    const s = instrumentSocket(inner, rec, untimed, { ...NO_DELAY, latencyMs: 30 }, env);
    s.onmessage = (ev) => got.push(String(ev.data));
    s.onclose = () => got.push('closed');
    inner.open();
    s.send('{"type":"ping","id":1,"t":0}');
    inner.deliver('"a"');
    inner.onclose?.({ code: 1006, reason: '' });
    env.advance(29);
    expect(inner.sent).toHaveLength(0);
    expect(got).toEqual([]);
    env.advance(1);
    expect(inner.sent).toHaveLength(1);
    expect(got).toEqual(['"a"', 'closed']);
    expect(rec.tally.linkDelay.cu.sample).toEqual([30, 30, 30]);
  });

  it('drops only action frames on a down admin link (eq. 16), never the session frames', () => {
    const rec = new Recorder();
    const env = fakeDelayEnv([0.1]); // the first period is drawn down
    const inner = new FakeSocket('ws://x/ws');
    const s = instrumentSocket(inner, rec, untimed, { ...NO_DELAY, down: 0.5 }, env);
    inner.open();
    s.send('{"type":"action","actionNo":1,"action":{"kind":"pickup"}}');
    s.send('{"type":"ping","id":1,"t":0}');
    env.advance(0);
    expect(inner.sent.map((m) => m.type)).toEqual(['ping']);
    expect(rec.tally.linkDrops.cu.down).toBe(1);
  });

  it('counts peer frames by the role of the local end', async () => {
    const rec = new Recorder();
    const hub = new MemoryHub();
    const f = instrumentLinks(hub.factory(), rec, untimed, null);
    const user = f({ initiator: true, local: 'ann', remote: 'bob~0001', onSignal: (d) => server.signal(d) });
    const server = f({ initiator: false, local: 'bob~0001', remote: 'ann', onSignal: (d) => user.signal(d) });
    const opened = new Promise<void>((r) => user.onOpen(r));
    const received = new Promise<void>((r) => server.onMessage(() => r()));
    await opened;
    expect(user.send(new Uint8Array(10))).toBe(true);
    await received;
    expect(rec.tally.peer.playing).toMatchObject({ sent: 10, framesSent: 1, received: 0 });
    expect(rec.tally.peer.serving).toMatchObject({ sent: 0, received: 10, framesReceived: 1 });
  });

  it('books the time inside callbacks to the role at call time, once for nested calls', () => {
    let cpu = 0;
    const rec = new Recorder(() => cpu);
    let t = 0;
    let role: Role = 'playing';
    const timed = handlerTimer(rec, () => role, () => t);
    const inner = timed(() => (t += 5));
    const outer = timed(() => {
      t += 2;
      inner();
    });
    outer();
    role = 'serving';
    outer();
    role = 'playing';
    outer();
    expect(rec.tally.handlerWallMs).toEqual({ playing: 14, serving: 7 });
    // The process's CPU over the flush (here 42 ms) is split in proportion: 2/3 playing, 1/3 serving.
    cpu = 42;
    expect(rec.flush().handlerMs).toEqual({ playing: 28, serving: 14 });
    // Nothing ran since: the CPU of an idle process is nobody's.
    cpu = 50;
    expect(rec.flush().handlerMs).toEqual({ playing: 0, serving: 0 });
  });

  it("with link-down on actions only, drops a user end's frames and never a server end's", async () => {
    const rec = new Recorder();
    const env = fakeDelayEnv([0, 0, 0, 0]); // every draw: down
    const hub = new MemoryHub();
    const down = { ...NO_DELAY, down: 1 };
    const f = instrumentLinks(hub.factory(), rec, untimed, { cu: down, su: down, ss: down, downScope: 'actions' }, env);
    const user = f({ initiator: true, local: 'ann', remote: 'bob~0001', onSignal: (d) => server.signal(d) });
    const server = f({ initiator: false, local: 'bob~0001', remote: 'ann', onSignal: (d) => user.signal(d) });
    const toUser: number[] = [];
    const toServer: number[] = [];
    user.onMessage((b) => toUser.push(b.byteLength));
    server.onMessage((b) => toServer.push(b.byteLength));
    await new Promise<void>((r) => server.onOpen(r));
    user.send(new Uint8Array(3));
    server.send(new Uint8Array(5));
    env.advance(0);
    await new Promise((r) => setTimeout(r, 0));
    expect(toServer).toEqual([]);
    expect(toUser).toEqual([5]);
    expect(rec.tally.linkDrops.su.down).toBe(1);
  });
});
