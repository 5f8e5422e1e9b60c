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
import type { PeerMessage } from '../../protocol/messages.js';
import { Driver } from './driver.js';
import { MemoryHub } from './memoryLink.js';
import { Mesh } from './mesh.js';
import { ADMIN_OUTBOX, SiteServerHost } from './serverHost.js';

const SID = 'tab~0001';

function oneServerSite(users: string[]) {
  const config = makeSiteConfig({ site: 'meadow', N_server: 1 });
  let now = 0;
  let wake: (() => void) | null = null;
  const driver = new Driver({ set: (_ms, cb) => (wake = cb), clear: () => (wake = null) });
  const mesh = new Mesh({ factory: new MemoryHub({ manual: true }).factory(), sendSignal: () => undefined, reportFailure: () => undefined, now: () => now });
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
  });
  // An admin that is down does nothing.
  driver.add({ nextWakeAt: () => (admin.up ? coordinator.nextWakeAt() : null), tick: () => coordinator.tick() }, () => now);
  const run = (ms: number): void => {
    for (const end = now + ms; now < end; now += 5) {
      const w = wake as (() => void) | null;
      wake = null;
      w?.();
    }
  };
  const snapshot = { ...createSite('meadow'), users: users.map((u) => newUser(u, 'meadow')).sort((a, b) => (a.name < b.name ? -1 : 1)) };
  coordinator.handOver({ snapshot, seq: 0, prev: ZERO_HASH, start: 0, lastActionNo: users.map((u) => [u, 0]) });
  run(500);
  expect(host.core.status()).toBe('running');
  const updates = (): number[] => sent.flatMap((m) => (m.type === 'update' || m.type === 'updateHash' ? [m.seq] : []));
  return { host, coordinator, admin, sent, left, run, updates };
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
