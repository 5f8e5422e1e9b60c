import { describe, expect, it } from 'vitest';
import { createRng } from './rng.js';
import { EventQueue } from './eventQueue.js';
import { Network, type Codec } from './network.js';
import { LinkHub, linkPair } from './links.js';
import { machineClock, monotonic } from './clock.js';
import { percentile } from './stats.js';

const jsonCodec: Codec<{ kind: string; n?: number }> = {
  encode: (m) => new TextEncoder().encode(JSON.stringify(m)),
  decode: (b) => {
    try {
      const v = JSON.parse(new TextDecoder().decode(b)) as unknown;
      if (typeof v !== 'object' || v === null || typeof (v as { kind?: unknown }).kind !== 'string')
        return { error: 'not a message' };
      return v as { kind: string };
    } catch {
      return { error: 'not JSON' };
    }
  },
  kindOf: (m) => m.kind,
};

describe('rng', () => {
  it('is a pure function of its seed', () => {
    const a = createRng(42);
    const b = createRng(42);
    const xs = Array.from({ length: 100 }, () => a.u32());
    expect(Array.from({ length: 100 }, () => b.u32())).toEqual(xs);
    expect(Array.from({ length: 100 }, () => createRng(43).u32())).not.toEqual(xs);
  });

  it('forks independent streams without advancing the parent', () => {
    const a = createRng(1);
    const f1 = a.fork('user-1').u32();
    const first = a.u32();
    expect(createRng(1).u32()).toBe(first);
    expect(createRng(1).fork('user-1').u32()).toBe(f1);
    expect(createRng(1).fork('user-2').u32()).not.toBe(f1);
  });

  it('draws roughly uniformly and within range', () => {
    const r = createRng(9);
    const counts = [0, 0, 0, 0];
    let outside = 0;
    for (let i = 0; i < 40_000; i++) {
      const x = r.int(4);
      counts[x] = (counts[x] ?? 0) + 1;
      const f = r.next();
      if (!(f >= 0 && f < 1)) outside++;
    }
    expect(outside).toBe(0);
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    expect(r.chance(0)).toBe(false);
    expect(r.chance(1)).toBe(true);
    expect(r.shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('event queue', () => {
  it('runs by time, then by insertion order on ties', () => {
    const q = new EventQueue();
    const seen: string[] = [];
    q.schedule(5, () => seen.push('a5'));
    q.schedule(1, () => seen.push('b1'));
    q.schedule(5, () => seen.push('c5'));
    q.schedule(3, () => {
      seen.push('d3');
      q.schedule(5, () => seen.push('e5'));
      q.after(0, () => seen.push('f3'));
    });
    const cancelled = q.schedule(4, () => seen.push('x'));
    q.cancel(cancelled);
    q.runUntil(10);
    expect(seen).toEqual(['b1', 'd3', 'f3', 'a5', 'c5', 'e5']);
    expect(q.now).toBe(10);
  });

  it('orders many random events like a stable sort', () => {
    const r = createRng(3);
    const q = new EventQueue();
    const planned: Array<{ at: number; i: number }> = [];
    const seen: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const at = r.int(50);
      planned.push({ at, i });
      q.schedule(at, () => seen.push(i));
    }
    q.runUntil(Infinity);
    expect(seen).toEqual(planned.sort((a, b) => a.at - b.at || a.i - b.i).map((p) => p.i));
  });

  it('never goes back in time and stops at the horizon', () => {
    const q = new EventQueue();
    let ran = 0;
    q.schedule(20, () => ran++);
    q.runUntil(10);
    expect(ran).toBe(0);
    q.schedule(5, () => {
      expect(q.now).toBe(10);
      ran++;
    });
    q.runUntil(30);
    expect(ran).toBe(2);
  });
});

describe('network', () => {
  const setup = (loss = 0, jitter = 0) => {
    const queue = new EventQueue();
    const got: Array<{ at: number; from: string; n: number | undefined }> = [];
    const bad: string[] = [];
    const net = new Network({
      queue,
      rng: createRng(5),
      codec: jsonCodec,
      defaults: { latency: 10, jitter, loss },
    });
    net.attach(
      'b',
      (from, msg) => got.push({ at: queue.now, from, n: msg.n }),
      (_f, _b, reason) => bad.push(reason),
    );
    net.attach('a', () => {});
    return { queue, net, got, bad };
  };

  it('delivers after the latency, encoded and decoded, and counts bytes per kind', () => {
    const { queue, net, got } = setup();
    net.send('a', 'b', { kind: 'ping', n: 1 });
    net.send('a', 'b', { kind: 'ping', n: 2 });
    net.send('a', 'b', { kind: 'pong' });
    queue.runUntil(9);
    expect(got).toEqual([]);
    queue.runUntil(100);
    expect(got.map((g) => g.n)).toEqual([1, 2, undefined]);
    expect(got[0]?.at).toBe(10);
    expect(net.statsByKind()).toEqual({
      ping: { messages: 2, bytes: 2 * JSON.stringify({ kind: 'ping', n: 1 }).length, dropped: 0 },
      pong: { messages: 1, bytes: JSON.stringify({ kind: 'pong' }).length, dropped: 0 },
    });
  });

  it('keeps per-link FIFO order under jitter', () => {
    const { queue, net, got } = setup(0, 50);
    for (let i = 0; i < 200; i++) net.send('a', 'b', { kind: 'm', n: i });
    queue.runUntil(1000);
    expect(got.map((g) => g.n)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('drops about the loss fraction', () => {
    const { queue, net, got } = setup(0.3);
    for (let i = 0; i < 5000; i++) net.send('a', 'b', { kind: 'm', n: i });
    queue.runUntil(1000);
    expect(Math.abs(got.length - 3500)).toBeLessThan(150);
    expect(net.statsByKind()['m']?.dropped).toBe(5000 - got.length);
  });

  it('drops everything across a partition during its window only', () => {
    const { queue, net, got } = setup();
    net.addPartition({ start: 100, end: 200, side: ['a'] });
    queue.schedule(50, () => net.send('a', 'b', { kind: 'm', n: 1 }));
    queue.schedule(150, () => net.send('a', 'b', { kind: 'm', n: 2 }));
    queue.schedule(250, () => net.send('a', 'b', { kind: 'm', n: 3 }));
    queue.runUntil(1000);
    expect(got.map((g) => g.n)).toEqual([1, 3]);
    expect(net.connectedThroughout('a', 'b', 0, 99)).toBe(true);
    expect(net.connectedThroughout('a', 'b', 0, 150)).toBe(false);
  });

  it('hands undecodable bytes to the bad-message handler', () => {
    const { queue, net, got, bad } = setup();
    net.sendBytes('a', 'b', new Uint8Array([1, 2, 3]), 'garbage');
    queue.runUntil(100);
    expect(got).toEqual([]);
    expect(bad).toEqual(['not JSON']);
  });
});

describe('peer links', () => {
  it('carry messages both ways and stop after close', () => {
    const queue = new EventQueue();
    const net = new Network({
      queue,
      rng: createRng(1),
      codec: jsonCodec,
      defaults: { latency: 1, jitter: 0, loss: 0 },
    });
    const [ab, ba] = linkPair(net, 'a', 'b');
    const atB: number[] = [];
    const atA: number[] = [];
    ba.onMessage((m) => atB.push(m.n ?? -1));
    ab.onMessage((m) => atA.push(m.n ?? -1));
    ab.send({ kind: 'x', n: 1 });
    ba.send({ kind: 'x', n: 2 });
    queue.runUntil(5);
    expect(atB).toEqual([1]);
    expect(atA).toEqual([2]);
    ba.close();
    ab.send({ kind: 'x', n: 3 });
    queue.runUntil(10);
    expect(atB).toEqual([1]);
    expect(() => ba.send({ kind: 'x' })).toThrow(/closed/);
  });

  it('routes strays from peers without a link', () => {
    const queue = new EventQueue();
    const net = new Network({
      queue,
      rng: createRng(1),
      codec: jsonCodec,
      defaults: { latency: 1, jitter: 0, loss: 0 },
    });
    const hub = new LinkHub(net, 'hub');
    const strays: string[] = [];
    hub.onStray = (from) => strays.push(from);
    net.attach('z', () => {});
    net.send('z', 'hub', { kind: 'hi' });
    queue.runUntil(5);
    expect(strays).toEqual(['z']);
  });
});

describe('clocks and stats', () => {
  it('offsets and drift, and monotonic reads', () => {
    const q = new EventQueue();
    const c = machineClock(q, 25, 1000);
    q.runUntil(1000);
    expect(c.read()).toBeCloseTo(1000 + 25 + 1);
    let t = 10;
    const m = monotonic(() => t);
    expect(m()).toBe(10);
    t = 5;
    expect(m()).toBe(10);
  });

  it('percentile is nearest-rank', () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        99,
      ),
    ).toBe(99);
  });
});
