/**
 * P2PSite (the admin's side of one P2P site) against real Site Servers on a MemNet, for tests: the
 * site's deps are fakes that record what it does, its `deliver` puts the coordinator's messages on
 * the net as the admin's, and what the servers send the admin goes to `receive`. The net drives the
 * site as a node (its `nextWakeAt`/`tick`, as the admin's Driver does); its deferred sends are
 * microtasks, flushed with vitest's fake timers (the test turns them on) kept in step with the net.
 */
import { vi } from 'vitest';
import { createSite, newUser } from '../../src/game/rules.js';
import type { PlayerAction, UserState } from '../../src/game/types.js';
import { makeSiteConfig } from '../../src/protocol/config.js';
import { insecureFastScheme, ZERO_HASH } from '../../src/protocol/crypto.js';
import { ADMIN_ID, type PeerMessage } from '../../src/protocol/messages.js';
import { createSiteServer } from '../../src/protocol/server.js';
import type { SiteServer } from '../../src/protocol/api.js';
import { MemNet } from '../../src/protocol/testing.js';
import type { StoredP2PSite } from '../storage/types.js';
import { P2PSite, type ResumedFrom, type VerifiedSite } from './site.js';
import type { SiteDeps } from './siteDeps.js';
import { SiteLifecycle } from './lifecycle.js';
import { Transit } from './transit.js';

const crypto = insecureFastScheme;
const ADMIN_SECRET = 'ad'.repeat(32);
export const SERVERS = ['s0', 's1', 's2'];
export const USERS = ['alice', 'bob', 'carol'];

/** The site as the harness hands it over (seq 0, nothing applied): what a restarted admin resumes from. */
export function handOverState(users: readonly string[] = USERS): VerifiedSite {
  return { seq: 0, snapshot: { ...createSite('meadow'), users: users.map((u) => newUser(u, 'meadow')) }, lastActionNo: new Map() };
}

export interface Sent {
  at: number;
  from: string;
  to: string;
  msg: PeerMessage;
}

export function harness(
  o: { latency?: (from: string, to: string, msg: PeerMessage) => number; lostAfterMs?: number; users?: string[]; candidates?: () => Array<{ id: string; key: string }>; saveEveryMs?: number } = {},
) {
  const config = makeSiteConfig({ site: 'meadow', N_server: 3 });
  const users = o.users ?? USERS;
  const net = new MemNet(o.latency ? { latency: o.latency } : {});
  const sent: Sent[] = [];
  /** The admin is down (restart): what the servers send it is lost, as over a closed socket. */
  let adminDown = false;
  const lost: Sent[] = [];
  net.rewrite = (from, to, msg) => {
    const m = { at: net.time, from, to, msg };
    if (adminDown && to === ADMIN_ID) {
      lost.push(m);
      return null;
    }
    sent.push(m);
    return msg;
  };
  const secret = (id: string): string => (id.charCodeAt(1).toString(16).padStart(2, '0') + '5b').repeat(16);
  const servers = new Map<string, SiteServer>();
  for (const id of SERVERS) {
    const s = createSiteServer({ config, id, secretKey: secret(id), adminKey: crypto.publicKeyOf(ADMIN_SECRET), crypto, now: net.clock(id), send: net.sender(id) });
    servers.set(id, s);
    net.add(id, s);
  }
  const left: Array<{ user: string; state: UserState; via: string; seq: number; at: number }> = [];
  const closed: VerifiedSite[] = [];
  let closedAt: number | null = null;
  const verified: VerifiedSite[] = [];
  const minority: string[] = [];
  const serving = new Set<string>();
  const logs: Array<{ event: string; fields: Record<string, unknown> }> = [];
  /** Servers whose tabs are gone (not connected to the admin). */
  const down = new Set<string>();
  const toNet = net.sender(ADMIN_ID);
  /** What the site persisted, in order (null: deleted). */
  const records: Array<StoredP2PSite | null> = [];
  const log: SiteDeps['log'] = {
    info: (event, fields) => void logs.push({ event, fields: fields ?? {} }),
    warn: (event, fields) => void logs.push({ event, fields: fields ?? {} }),
    error: (e, f) => {
      throw new Error(`${e} ${JSON.stringify(f)}`);
    },
  };
  const deps: SiteDeps = {
      config,
      secretKey: ADMIN_SECRET,
      crypto,
      now: net.clock(ADMIN_ID),
      random: () => 0.5,
      log,
      life: new SiteLifecycle('meadow', { now: net.clock(ADMIN_ID), log }),
      transit: new Transit(),
      deliver: (to, msg) => toNet(to, msg),
      startServing: (id) => (serving.add(id), true),
      stopServing: (id) => void serving.delete(id),
      connected: (id) => !down.has(id),
      candidates: o.candidates ?? (() => []),
      onLeft: (user: UserState, via, seq) => left.push({ user: user.name, state: user, via, seq, at: net.time }),
      onVerified: (v) => verified.push(v),
      onClosed: (v) => {
        closed.push(v);
        closedAt = net.time;
      },
      onMinority: (id) => void minority.push(id),
      saveEveryMs: o.saveEveryMs ?? 1e9,
      ...(o.lostAfterMs !== undefined ? { lostAfterMs: o.lostAfterMs } : {}),
      persist: (r) => void records.push(r === null ? null : (JSON.parse(JSON.stringify(r)) as StoredP2PSite)),
      wake: () => net.rewake(ADMIN_ID),
      defer: (fn) => queueMicrotask(fn),
  };
  const asNode = (s: P2PSite) => ({ receive: (from: string, msg: PeerMessage) => s.receive(from, msg), tick: () => s.tick(), nextWakeAt: () => s.nextWakeAt() });
  const site = new P2PSite(deps, SERVERS.map((id) => ({ id, key: crypto.publicKeyOf(secret(id)) })), users);
  net.add(ADMIN_ID, asNode(site));
  const { snapshot } = handOverState(users);
  const nextNo = new Map<string, number>();
  return {
    net,
    logs,
    down,
    /** Codes of the inputs the site or its coordinator refused. */
    refusals: (): string[] =>
      logs.flatMap((l) => (l.event === 'p2p.refused' || (l.event === 'p2p.coordinator' && l.fields.kind === 'rejected') ? [String(l.fields.code)] : [])),
    site,
    servers,
    sent,
    records,
    /** Messages to the admin lost while it was down. */
    lost,
    /** The admin stops (suspend: its servers go on); until `restart`, what they send it is lost. */
    stop(): void {
      site.suspend();
      adminDown = true;
    },
    /**
     * A new admin process from the last persisted record: a resumed P2PSite that waits
     * `graceMs` for servers and users. Its servers count as not connected until `down` says so.
     */
    restart(base: VerifiedSite, graceMs: number): P2PSite {
      const r = records.at(-1);
      if (!r) throw new Error('nothing persisted');
      const from: ResumedFrom = { coordinator: r.coordinator as ResumedFrom['coordinator'], holders: r.holders, base };
      // A new admin process: its own lifecycle, client-server until it resumes the site.
      const again = new P2PSite({ ...deps, resumeGraceMs: graceMs, life: new SiteLifecycle('meadow', { now: net.clock(ADMIN_ID), log }), transit: new Transit() }, [], r.users, from);
      adminDown = false;
      net.add(ADMIN_ID, asNode(again));
      return again;
    },
    /** A server's host resends what it told the admin about departures (as SiteServerHost does when the admin is back). */
    resend(from: string, to: P2PSite): void {
      for (const m of lost) if (m.from === from && (m.msg.type === 'update' || m.msg.type === 'updateHash')) to.receive(from, m.msg);
    },
    left,
    closed,
    closedAt: (): number | null => closedAt,
    verified,
    minority,
    serving,
    start(): Promise<void> {
      site.start({ snapshot, seq: 0, prev: ZERO_HASH, lastActionNo: users.map((u) => [u, 0]) });
      return this.run(400);
    },
    /** A user's action, numbered on (or `no`), to every server (as its tab would send it). */
    act(user: string, action: PlayerAction, no = (nextNo.get(user) ?? 0) + 1): void {
      nextNo.set(user, no);
      const send = net.sender(user);
      for (const s of SERVERS) send(s, { type: 'action', site: 'meadow', user, actionNo: no, action });
    },
    /** Runs the net and the site's timer together, `ms` of virtual time, 1 ms at a time. */
    async run(ms: number): Promise<void> {
      for (let i = 0; i < ms; i++) {
        net.run(1);
        await vi.advanceTimersByTimeAsync(1);
      }
    },
    /** Admin messages of one type, as they left. */
    fromAdmin(type: PeerMessage['type']): Sent[] {
      return sent.filter((m) => m.from === ADMIN_ID && m.msg.type === type);
    },
    /** The number of the system action the admin issued for `actor` (a user's leave, or the marker). */
    sysNo(actor: string): number {
      const m = sent.find((x) => x.from === ADMIN_ID && x.msg.type === 'sysAction' && x.msg.actor === actor);
      if (m?.msg.type !== 'sysAction') throw new Error(`no system action for ${actor}`);
      return m.msg.sysNo;
    },
    /** The seq of the update in which s0 applied (actor, no). */
    appliedIn(actor: string, no: number): number | undefined {
      return servers.get('s0')?.appliedLog().find((u) => u.applied.some((a) => a.user === actor && a.actionNo === no))?.seq;
    },
  };
}
