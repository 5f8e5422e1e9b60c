/**
 * Batching on the mesh: what one wake sends a peer leaves as one data-channel frame, in order;
 * bundles stay within their bounds; a malformed bundle is refused whole, logged, and the link
 * carries on.
 */
import { describe, expect, it } from 'vitest';
import { MAX_BUNDLE_BYTES, MAX_BUNDLE_FRAMES, unpackBundle } from '../../protocol/peerCodec.js';
import { TAG_BUNDLE } from '../../protocol/codec.js';
import type { PeerLink } from './link.js';
import { MemoryHub } from './memoryLink.js';
import { Mesh } from './mesh.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Tabs on a manual in-memory hub; the test relays signaling and records every link frame sent. */
function world() {
  const hub = new MemoryHub({ manual: true });
  const owner = new Map<string, Mesh>();
  const got = new Map<string, string[]>();
  /** Link frames as sent, per `local>remote`. */
  const wire = new Map<string, Uint8Array[]>();
  const logs: Array<{ event: string; fields: Record<string, unknown> }> = [];
  const links = new Map<string, PeerLink>();
  const tab = (...ends: string[]): Mesh => {
    const base = hub.factory();
    const mesh = new Mesh({
      factory: (o) => {
        const link = base(o);
        const k = `${o.local}>${o.remote}`;
        links.set(k, link);
        const send = link.send.bind(link);
        link.send = (b) => {
          const ok = send(b);
          if (ok) wire.set(k, [...(wire.get(k) ?? []), Uint8Array.from(b)]);
          return ok;
        };
        return link;
      },
      sendSignal: (from, to, data) => hub.later(() => owner.get(to)?.signal(from, to, data)),
      reportFailure: () => undefined,
      now: () => 0,
      log: (event, fields) => logs.push({ event, fields }),
    });
    for (const end of ends) {
      owner.set(end, mesh);
      got.set(end, []);
      mesh.listen(end, (remote, bytes) => got.get(end)?.push(`${remote}:${dec.decode(bytes)}`));
    }
    return mesh;
  };
  return { hub, tab, got: (end: string) => got.get(end) ?? [], wire: (from: string, to: string) => wire.get(`${from}>${to}`) ?? [], logs, links };
}

/** Two tabs with open links alice -> bob~b1 and alice -> cat~c1 (and nothing sent yet). */
function opened() {
  const w = world();
  const alice = w.tab('alice');
  const bob = w.tab('bob~b1');
  const cat = w.tab('cat~c1');
  alice.ensure('alice', 'bob~b1');
  alice.ensure('alice', 'cat~c1');
  w.hub.flush();
  expect(alice.isOpen('alice', 'bob~b1') && alice.isOpen('alice', 'cat~c1')).toBe(true);
  return { w, alice, bob, cat };
}

const text = (s: string): Uint8Array => enc.encode(s);

describe('Mesh batching', () => {
  it('what one wake sends each peer leaves as one frame per peer, in order', () => {
    const { w, alice } = opened();
    alice.batch(() => {
      for (const t of ['b1', 'b2', 'b3']) alice.send('alice', 'bob~b1', text(t));
      alice.send('alice', 'cat~c1', text('c1'));
      alice.send('alice', 'bob~b1', text('b4'));
      alice.send('alice', 'cat~c1', text('c2'));
      // Nothing leaves before the wake ends.
      expect(w.wire('alice', 'bob~b1')).toEqual([]);
    });
    expect(w.wire('alice', 'bob~b1')).toHaveLength(1);
    expect(w.wire('alice', 'cat~c1')).toHaveLength(1);
    expect(alice.framesOut).toBe(2);
    w.hub.flush();
    expect(w.got('bob~b1')).toEqual(['alice:b1', 'alice:b2', 'alice:b3', 'alice:b4']);
    expect(w.got('cat~c1')).toEqual(['alice:c1', 'alice:c2']);
  });

  it('a nested wake joins the outer one; a send outside any wake leaves at once, alone', () => {
    const { w, alice } = opened();
    alice.batch(() => {
      alice.send('alice', 'bob~b1', text('1'));
      alice.batch(() => alice.send('alice', 'bob~b1', text('2')));
      expect(w.wire('alice', 'bob~b1')).toEqual([]);
    });
    alice.send('alice', 'bob~b1', text('3'));
    alice.send('alice', 'bob~b1', text('4'));
    // One bundle, then two bare frames (a lone frame is never wrapped).
    expect(w.wire('alice', 'bob~b1').map((f) => f[0] === TAG_BUNDLE)).toEqual([true, false, false]);
    w.hub.flush();
    expect(w.got('bob~b1')).toEqual(['alice:1', 'alice:2', 'alice:3', 'alice:4']);
  });

  it('frames still leave when the wake throws', () => {
    const { w, alice } = opened();
    expect(() =>
      alice.batch(() => {
        alice.send('alice', 'bob~b1', text('before'));
        throw new Error('core bug');
      }),
    ).toThrow('core bug');
    w.hub.flush();
    expect(w.got('bob~b1')).toEqual(['alice:before']);
  });

  it('splits beyond the bounds, in order: at most MAX_BUNDLE_FRAMES frames and MAX_BUNDLE_BYTES bytes, a larger frame alone', () => {
    const { w, alice } = opened();
    const sent: string[] = [];
    alice.batch(() => {
      for (let i = 0; i < 300; i++) {
        // Mostly small frames, some of 1 KiB, one larger than any bundle.
        const t = i === 150 ? `${i}:${'L'.repeat(MAX_BUNDLE_BYTES + 10)}` : i % 10 === 0 ? `${i}:${'m'.repeat(1024)}` : `${i}`;
        sent.push(t);
        alice.send('alice', 'bob~b1', text(t));
      }
    });
    const frames = w.wire('alice', 'bob~b1');
    expect(frames.length).toBeGreaterThan(3);
    expect(frames.length).toBeLessThan(20);
    for (const f of frames) {
      if (f[0] !== TAG_BUNDLE) {
        expect(f.byteLength).toBeGreaterThan(MAX_BUNDLE_BYTES);
        continue;
      }
      expect(f.byteLength).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
      const b = unpackBundle(f);
      expect(b.ok && b.frames.length <= MAX_BUNDLE_FRAMES).toBe(true);
    }
    w.hub.flush();
    expect(w.got('bob~b1')).toEqual(sent.map((t) => `alice:${t}`));
  });

  it('frames queued while a link opens leave bundled once it opens, in order', () => {
    const w = world();
    const alice = w.tab('alice');
    w.tab('bob~b1');
    for (let i = 0; i < 40; i++) alice.send('alice', 'bob~b1', text(String(i)));
    w.hub.flush();
    expect(w.wire('alice', 'bob~b1')).toHaveLength(1);
    expect(w.got('bob~b1')).toEqual(Array.from({ length: 40 }, (_, i) => `alice:${i}`));
  });

  it('the answers to a bundle leave as one bundle', () => {
    const { w, alice, bob } = opened();
    bob.listen('bob~b1', (remote, bytes) => bob.send('bob~b1', remote, text(`re ${dec.decode(bytes)}`)));
    alice.batch(() => {
      for (const t of ['x', 'y', 'z']) alice.send('alice', 'bob~b1', text(t));
    });
    w.hub.flush();
    expect(w.wire('bob~b1', 'alice')).toHaveLength(1);
    expect(w.got('alice')).toEqual(['bob~b1:re x', 'bob~b1:re y', 'bob~b1:re z']);
  });

  it('a malformed bundle is refused whole (ERR_MALFORMED, logged), and the link carries on', () => {
    const { w, alice, bob } = opened();
    const frame = (t: string): number[] => [t.length, ...enc.encode(t)];
    const bad = [
      [TAG_BUNDLE], // no count
      [TAG_BUNDLE, 0], // empty
      [TAG_BUNDLE, 1, ...frame('one')], // a bundle of one is no bundle
      [TAG_BUNDLE, 2, ...frame('ok')], // one frame missing
      [TAG_BUNDLE, 2, ...frame('ok'), 9, ...enc.encode('short')], // truncated frame
      [TAG_BUNDLE, 2, ...frame('ok'), ...frame('ok'), 7], // trailing byte
      [TAG_BUNDLE, 2, ...frame('ok'), 0], // an empty frame
      [TAG_BUNDLE, 2, ...frame('ok'), 3, TAG_BUNDLE, 1, 0], // a bundle inside
      [TAG_BUNDLE, 0x81, 0x01, ...frame('ok')], // 129 frames claimed
      [TAG_BUNDLE, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // a length past any bound
    ].map((b) => Uint8Array.from(b));
    // Sent outside a wake: each leaves as it is.
    for (const b of bad) alice.send('alice', 'bob~b1', b);
    alice.send('alice', 'bob~b1', text('after'));
    w.hub.flush();
    expect(w.got('bob~b1')).toEqual(['alice:after']);
    expect(bob.badBundles).toBe(bad.length);
    const logged = w.logs.filter((l) => l.event === 'mesh.bad_bundle');
    // Logged, at most once a second (the clock stands still here).
    expect(logged).toHaveLength(1);
    expect(logged[0]?.fields).toMatchObject({ code: 'ERR_MALFORMED', local: 'bob~b1', remote: 'alice' });
    // Too large for a bundle, well-formed otherwise.
    const big = new Uint8Array(MAX_BUNDLE_BYTES + 1);
    big.set([TAG_BUNDLE, 2, 1, 0x61]);
    alice.send('alice', 'bob~b1', big);
    w.hub.flush();
    expect(bob.badBundles).toBe(bad.length + 1);
    expect(w.got('bob~b1')).toEqual(['alice:after']);
  });
});
