import { describe, expect, it } from 'vitest';
import type { SignalData } from '../../protocol/messages.js';
import { DelayLine, delayLinks, peerLinkClass, type DelaySpec } from './delayLink.js';
import { fakeDelayEnv as fakeEnv } from './fakeDelayEnv.js';
import type { PeerLink } from './link.js';

const spec = (s: Partial<DelaySpec>): DelaySpec => ({ latencyMs: 0, jitterMs: 0, loss: 0, down: 0, downPeriodMs: 100, ...s });

describe('DelayLine', () => {
  it('holds each frame for the latency and keeps their order under jitter', () => {
    // random 0.5 -> no jitter; 1.0 -> +10; 0.0 -> -10: the second frame may not overtake the first.
    const env = fakeEnv([1, 0, 0.5]);
    const got: Array<[number, number]> = [];
    const waited: number[] = [];
    const line = new DelayLine<number>(spec({ latencyMs: 30, jitterMs: 10 }), env, { deliver: (n) => got.push([n, env.t]), waited: (ms) => waited.push(ms) });
    line.push(1); // due 40
    env.advance(1);
    line.push(2); // 1 + 20 = 21, but not before 40
    line.push(3); // 1 + 30 = 31 -> 40
    env.advance(38);
    expect(got).toEqual([]);
    env.advance(1);
    expect(got).toEqual([
      [1, 40],
      [2, 40],
      [3, 40],
    ]);
    expect(waited).toEqual([40, 39, 39]);
  });

  it('reports what a frame really waited, timer lateness included', () => {
    const env = fakeEnv([], 7);
    const waited: number[] = [];
    const line = new DelayLine<number>(spec({ latencyMs: 20 }), env, { deliver: () => undefined, waited: (ms) => waited.push(ms) });
    line.push(1);
    env.advance(100);
    expect(waited).toEqual([27]);
  });

  it('loses frames with probability loss, and drops every frame while down for a whole period', () => {
    const env = fakeEnv([0.05, 0.5, 0.5]);
    const got: number[] = [];
    const drops: string[] = [];
    const lossy = new DelayLine<number>(spec({ loss: 0.1 }), env, { deliver: (n) => got.push(n), dropped: (w) => drops.push(w) });
    lossy.push(1); // 0.05 < 0.1: lost
    lossy.push(2);
    env.advance(1);
    expect(got).toEqual([2]);
    expect(drops).toEqual(['loss']);

    // Period 0..100 drawn down (0.2 < 0.3), 100..200 up (0.9), 200..300 down (0.1).
    const env2 = fakeEnv([0.2, 0.9, 0.1]);
    const got2: number[] = [];
    const drops2: string[] = [];
    const flaky = new DelayLine<number>(spec({ down: 0.3, downPeriodMs: 100 }), env2, { deliver: (n) => got2.push(n), dropped: (w) => drops2.push(w) });
    flaky.push(1);
    env2.advance(50);
    flaky.push(2); // same period: still down, no new draw
    env2.advance(60);
    flaky.push(3); // t=110: up
    env2.advance(100);
    flaky.push(4); // t=210: down
    flaky.push(5, true); // a reliable frame goes through anyway
    env2.advance(10);
    expect(got2).toEqual([3, 5]);
    expect(drops2).toEqual(['down', 'down', 'down']);
  });

  it('drops what waits when closed', () => {
    const env = fakeEnv();
    const got: number[] = [];
    const line = new DelayLine<number>(spec({ latencyMs: 10 }), env, { deliver: (n) => got.push(n) });
    line.push(1);
    line.close();
    env.advance(50);
    expect(got).toEqual([]);
  });
});

describe('delayLinks', () => {
  it('classifies links by their ends: two Site Servers s-s, else s-u', () => {
    expect(peerLinkClass('ann~00ab', 'bob~00cd')).toBe('ss');
    expect(peerLinkClass('ann', 'bob~00cd')).toBe('su');
    expect(peerLinkClass('bob~00cd', 'ann')).toBe('su');
  });

  it('delays the outgoing frames of each link by its class and reports them per class', () => {
    const env = fakeEnv();
    const sent: Array<{ remote: string; at: number }> = [];
    const fakeLink = (remote: string): PeerLink => ({
      open: true,
      buffered: 0,
      send: () => (sent.push({ remote, at: env.t }), true),
      onOpen: () => undefined,
      onMessage: () => undefined,
      onClose: () => undefined,
      close: () => undefined,
      signal: (_d: SignalData) => undefined,
    });
    const waited: Record<string, number[]> = { su: [], ss: [] };
    const factory = delayLinks(({ remote }) => fakeLink(remote), {
      spec: (cls) => (cls === 'su' ? spec({ latencyMs: 20 }) : spec({ latencyMs: 10 })),
      env,
      waited: (cls, ms) => waited[cls]!.push(ms),
    });
    const toServer = factory({ initiator: false, local: 'a~0001', remote: 'b~0002', onSignal: () => undefined });
    const toUser = factory({ initiator: false, local: 'a~0001', remote: 'carol', onSignal: () => undefined });
    expect(toServer.send(new Uint8Array([1]))).toBe(true);
    expect(toUser.send(new Uint8Array([2]))).toBe(true);
    env.advance(9);
    expect(sent).toEqual([]);
    env.advance(20);
    expect(sent).toEqual([
      { remote: 'b~0002', at: 10 },
      { remote: 'carol', at: 20 },
    ]);
    expect(waited).toEqual({ su: [20], ss: [10] });
  });
});
