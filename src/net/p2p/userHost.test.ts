/**
 * SiteUserHost drives its core's wakes through the mesh's batch: what one wake sends a server
 * leaves as one data-channel frame. Here the wake is the core's resend of its unapplied actions
 * (T_resend) to three servers that never answer.
 */
import { describe, expect, it } from 'vitest';
import { makeSiteConfig } from '../../protocol/config.js';
import { insecureFastScheme as crypto, ZERO_HASH } from '../../protocol/crypto.js';
import { decodePeerMessage } from '../../protocol/messages.js';
import { isBundle, unpackBundle } from '../../protocol/peerCodec.js';
import { Driver } from './driver.js';
import { MemoryHub } from './memoryLink.js';
import { Mesh } from './mesh.js';
import { SiteUserHost } from './userHost.js';

const SERVERS = ['s1~0001', 's2~0002', 's3~0003'];

function site() {
  const hub = new MemoryHub({ manual: true });
  let now = 0;
  let wake: (() => void) | null = null;
  const driver = new Driver({ set: (_ms, cb) => (wake = cb), clear: () => (wake = null) });
  const meshes = new Map<string, Mesh>();
  /** Link frames the user's end sent, per server. */
  const frames = new Map<string, Uint8Array[]>(SERVERS.map((s) => [s, []]));
  const base = hub.factory();
  const mesh = (ends: string[], record: boolean): Mesh => {
    const m = new Mesh({
      factory: (o) => {
        const link = base(o);
        if (record) {
          const send = link.send.bind(link);
          link.send = (b) => (send(b) ? (frames.get(o.remote)?.push(b), true) : false);
        }
        return link;
      },
      sendSignal: (from, to, data) => hub.later(() => meshes.get(to)?.signal(from, to, data)),
      reportFailure: () => undefined,
      now: () => now,
    });
    for (const e of ends) meshes.set(e, m);
    return m;
  };
  const serverMesh = mesh(SERVERS, false);
  /** Actions each server received, as `actionNo`s in arrival order. */
  const got = new Map<string, number[]>(SERVERS.map((s) => [s, []]));
  for (const s of SERVERS)
    serverMesh.listen(s, (_remote, bytes) => {
      const m = decodePeerMessage(bytes);
      if (m.ok && m.value.type === 'action') got.get(s)?.push(m.value.actionNo);
    });
  const host = new SiteUserHost({
    config: makeSiteConfig({ site: 'meadow', N_server: 3 }),
    user: 'amy',
    adminKey: crypto.publicKeyOf('ad'.repeat(32)),
    crypto,
    now: () => now,
    mesh: mesh(['amy'], true),
    driver,
    servers: SERVERS,
    seq: 0,
    hash: ZERO_HASH,
    nextActionNo: 1,
    toAdmin: () => undefined,
    onAccept: () => undefined,
    onEnter: () => undefined,
    log: () => undefined,
  });
  const run = (ms: number): void => {
    for (const end = now + ms; now < end; now += 10) {
      const w = wake as (() => void) | null;
      wake = null;
      w?.();
      hub.flush();
    }
  };
  hub.flush();
  return { host, frames, got, run, clearFrames: () => SERVERS.forEach((s) => frames.set(s, [])) };
}

const framesIn = (b: Uint8Array): number => {
  if (!isBundle(b)) return 1;
  const u = unpackBundle(b);
  return u.ok ? u.frames.length : 0;
};

describe('SiteUserHost batching', () => {
  it("a resend of three unapplied actions leaves as one frame per server, in order", () => {
    const s = site();
    // Three acts at one moment: three wakes, three frames to each server.
    for (const dir of ['up', 'left', 'down'] as const) s.host.act({ kind: 'move', dir });
    s.run(10);
    for (const id of SERVERS) {
      expect(s.got.get(id)).toEqual([1, 2, 3]);
      expect(s.frames.get(id)?.map(framesIn)).toEqual([1, 1, 1]);
    }
    s.clearFrames();
    // No server answers: the core resends all three at its next T_resend, in one wake.
    s.run(2_000);
    for (const id of SERVERS) {
      const sent = s.frames.get(id) ?? [];
      expect(sent.length, `frames to ${id}`).toBeGreaterThan(0);
      // Every wake's resend of the three went as one frame.
      expect(sent.every((f) => framesIn(f) === 3)).toBe(true);
      expect(s.got.get(id)?.slice(3, 6)).toEqual([1, 2, 3]);
    }
  });
});
