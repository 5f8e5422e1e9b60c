/**
 * SiteServerHost's outbox to the admin: a one-server site (N_server 1) driven by a real coordinator
 * on a hand-driven clock. Departures the server applies while the admin is down are lost on the
 * way; `resendToAdmin` passes them on once it is back.
 */
import { describe, expect, it } from 'vitest';
import { createSite, newUser } from '../../game/index.js';
import { createSiteCoordinator } from '../../protocol/coordinator.js';
import { makeSiteConfig } from '../../protocol/config.js';
import { insecureFastScheme as crypto, ZERO_HASH } from '../../protocol/crypto.js';
import { decodePeerMessage, type PeerMessage } from '../../protocol/messages.js';
import { Driver } from './driver.js';
import { MemoryHub } from './memoryLink.js';
import { Mesh } from './mesh.js';
import { isBundle, unpackBundle } from '../../protocol/peerCodec.js';
import { ADMIN_OUTBOX, SiteServerHost, type ServerHostOptions } from './serverHost.js';

const SID = 'tab~0001';

function oneServerSite(users: string[], cheater?: ServerHostOptions['cheater']) {
  const config = makeSiteConfig({ site: 'meadow', N_server: 1 });
  let now = 0;
  let wake: (() => void) | null = null;
  const driver = new Driver({ set: (_ms, cb) => (wake = cb), clear: () => (wake = null) });
  const hub = new MemoryHub({ manual: true });
  /** Meshes by end, for the signaling relay (a test admin). */
  const meshes = new Map<string, Mesh>();
  const newMesh = (ends: string[], factory = hub.factory()): Mesh => {
    const m = new Mesh({ factory, sendSignal: (from, to, data) => hub.later(() => meshes.get(to)?.signal(from, to, data)), reportFailure: () => undefined, now: () => now });
    for (const e of ends) meshes.set(e, m);
    return m;
  };
  /** Link frames the server's end sent, per remote. */
  const frames = new Map<string, Uint8Array[]>();
  const base = hub.factory();
  const mesh = newMesh([SID], (o) => {
    const link = base(o);
    const send = link.send.bind(link);
    link.send = (b) => (send(b) ? (frames.set(o.remote, [...(frames.get(o.remote) ?? []), b]), true) : false);
    return link;
  });
  const adminSecret = 'ad'.repeat(32);
  const secret = '5a'.repeat(32);
  const admin = { up: true };
  const sent: PeerMessage[] = [];
  const left: string[] = [];
  let host: SiteServerHost | null = null;
  const coordinator = createSiteCoordinator({
    config,
    secretKey: adminSecret,
    crypto,
    now: () => now,
    random: () => 0.5,
    send: (to, msg) => (to === SID ? host?.fromAdmin(msg) : undefined),
    servers: [{ id: SID, key: crypto.publicKeyOf(secret) }],
    candidates: () => [],
    users: () => users,
    onLeft: (u) => left.push(u.name),
  });
  host = new SiteServerHost({
    config,
    serverId: SID,
    secretKey: secret,
    adminKey: crypto.publicKeyOf(adminSecret),
    crypto,
    now: () => now,
    mesh,
    driver,
    toAdmin: (m) => {
      sent.push(m);
      if (admin.up) coordinator.receive(SID, m);
    },
    log: () => undefined,
    ...(cheater ? { cheater } : {}),
  });
  // An admin that is down does nothing.
  driver.add({ nextWakeAt: () => (admin.up ? coordinator.nextWakeAt() : null), tick: () => coordinator.tick() }, () => now);
  const run = (ms: number): void => {
    for (const end = now + ms; now < end; now += 5) {
      const w = wake as (() => void) | null;
      wake = null;
      w?.();
      hub.flush();
    }
  };
  const snapshot = { ...createSite('meadow'), users: users.map((u) => newUser(u, 'meadow')).sort((a, b) => (a.name < b.name ? -1 : 1)) };
  coordinator.handOver({ snapshot, seq: 0, prev: ZERO_HASH, start: 0, lastActionNo: users.map((u) => [u, 0]) });
  run(500);
  expect(host.core.status()).toBe('running');
  const updates = (): number[] => sent.flatMap((m) => (m.type === 'update' || m.type === 'updateHash' ? [m.seq] : []));
  return { host, coordinator, admin, sent, left, run, updates, hub, newMesh, frames };
}

describe('SiteServerHost outbox to the admin', () => {
  it('resends a departure applied while the admin was down, and only updates with departures', () => {
    const s = oneServerSite(['alice', 'bob', 'carol']);
    s.coordinator.systemAction('bob', { kind: 'leave' });
    s.admin.up = false;
    s.run(500);
    expect(s.updates()).toHaveLength(1);
    expect(s.left).toEqual([]);
    s.admin.up = true;
    const before = s.sent.length;
    s.host.resendToAdmin();
    expect(s.left).toEqual(['bob']);
    expect(s.sent.slice(before).map((m) => m.type)).toEqual(['update']);
    // The admin drops what it passed on already.
    s.host.resendToAdmin();
    expect(s.left).toEqual(['bob']);
  });

  it(`keeps the last ${ADMIN_OUTBOX} of them, oldest first`, () => {
    const names = Array.from({ length: 2 * ADMIN_OUTBOX }, (_, i) => `u${String(i).padStart(3, '0')}`);
    const s = oneServerSite(names);
    s.admin.up = false;
    for (const n of names) {
      s.coordinator.systemAction(n, { kind: 'leave' });
      s.run(60);
    }
    const all = s.updates();
    expect(all.length).toBeGreaterThan(ADMIN_OUTBOX);
    s.admin.up = true;
    const before = s.sent.length;
    s.host.resendToAdmin();
    const resent = s.sent.slice(before).flatMap((m) => (m.type === 'update' ? [m] : []));
    expect(resent.map((m) => m.seq)).toEqual(all.slice(-ADMIN_OUTBOX));
    const departed = resent.flatMap((m) => m.events.flatMap((e) => (e.kind === 'left' ? [e.user.name] : [])));
    expect(departed.length).toBeGreaterThanOrEqual(ADMIN_OUTBOX);
    expect(s.left).toEqual(departed);
  });
});

describe('SiteServerHost batching', () => {
  it('what one wake of its core sends a peer leaves as one frame, in order', () => {
    // Every message the core sends goes out twice (the test-only hook that cheat modes use), so
    // each wake that sends alice anything sends her at least two frames.
    const s = oneServerSite(['alice', 'bob'], {
      outgoing: (to, msg, send) => {
        send(to, msg);
        send(to, msg);
      },
      incoming: () => undefined,
    });
    const got: string[] = [];
    const alice = s.newMesh(['alice']);
    alice.listen('alice', (_r, bytes) => {
      const m = decodePeerMessage(bytes);
      if (m.ok) got.push(`${m.value.type}:${'seq' in m.value ? m.value.seq : ''}`);
    });
    alice.ensure('alice', SID);
    s.hub.flush();
    s.frames.clear();
    got.length = 0;
    s.coordinator.systemAction('bob', { kind: 'leave' });
    s.run(500);
    const toAlice = s.frames.get('alice') ?? [];
    expect(toAlice.length).toBeGreaterThan(0);
    // Each frame is a bundle of the wake's frames: the update, twice.
    for (const f of toAlice) {
      expect(isBundle(f)).toBe(true);
      const u = unpackBundle(f);
      expect(u.ok && u.frames.length).toBe(2);
    }
    expect(got.length).toBe(2 * toAlice.length);
    for (let i = 0; i < got.length; i += 2) expect(got[i]).toBe(got[i + 1]);
  });
});
