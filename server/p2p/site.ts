/**
 * One site while its Site Servers host it (paper 4.2-4.4): the core's site coordinator (wired to the
 * admin in siteCoordinator.ts), driven like the hosts' core objects (`nextWakeAt()`/`tick()`, run by the manager's Driver; time, sending and
 * deferral injected, no timer of its own), plus the admin's two ways of reading the site without
 * trusting one server:
 * departures accepted by majority (`onLeft`) and majority-verified state fetches (periodic saves,
 * and the hand-back to client-server mode).
 *
 * Hand-back: the admin orders a marker system action through the servers; the state it then
 * fetches must contain the marker, so it is the state at or after the cut. Actions the servers
 * apply after it are not in that state and the users resend them to the admin (their numbers are
 * above the `lastActionNo` the admin reads from it); departures applied after it are ignored.
 *
 * Lost: a state fetch (a save or the hand-back's) that no majority answers for `lostAfterMs`,
 * while fewer than N_majority of the servers known to hold its state are connected, means the
 * site has lost its majority; it comes back to the admin from its last good state (fallback.ts).
 * Servers that are there but slow (a loaded machine) are waited for: undoing everyone's progress
 * is the last resort.
 *
 * Restart: what the admin needs to go on (the coordinator's record, users, holders) goes to
 * storage on every change (`persist`); a restarted admin builds the site from it (`resumed`) and
 * waits for its servers and users to reconnect (resume.ts, resumedWaiting.ts). A shutdown only `suspend`s the site:
 * its servers are not told to stop.
 */
import { SYSTEM_ACTOR, type PeerMessage } from '../../src/protocol/messages.js';
import { MINORITY, type CutWatch } from '../../src/protocol/coordinator.js';
import type { CoordinatorServer, SiteCoordinator } from '../../src/protocol/api.js';
import type { UserState } from '../../src/game/types.js';
import type { StoredP2PSite } from '../storage/types.js';
import { SiteFallback } from './fallback.js';
import { JoinOrders } from './joinOrders.js';
import { HAND_BACK_MARKER, LOST_AFTER_MS, SiteReads } from './reads.js';
import { RefusalLog } from './refusals.js';
import { ResumedWaiting } from './resumedWaiting.js';
import { UnreachableReports, type ReporterRole } from './unreachable.js';
import { SiteServing } from './serving.js';
import type { SiteDeps } from './siteDeps.js';
import { siteCoordinator } from './siteCoordinator.js';
import type { HandOver, ResumedFrom, VerifiedSite } from './types.js';
import type { SiteLifecycle, SiteState } from './lifecycle.js';

export type { HandOver, ResumedFrom, VerifiedSite } from './types.js';

export class P2PSite {
  readonly site: string;
  readonly users = new Set<string>();
  /** server -> users that reported its updates disagreed with the majority. */
  readonly flags = new Map<string, Set<string>>();
  /** Peers of this site that could not open a channel to its servers. */
  private readonly unreachable: UnreachableReports;
  closeReason = '';
  private readonly life: SiteLifecycle;
  /** The hand-over's seq: a verified state or departure past it shows the servers run the site. */
  private handOverSeq = 0;
  private readonly coordinator: SiteCoordinator & CutWatch;
  private readonly reads: SiteReads;
  /** Who serves the site, and whose player walked in (serving.ts). */
  private readonly serving: SiteServing;
  private readonly joins = new JoinOrders();
  private cutSeq: number | null = null;
  /** What the site comes back to if it loses its majority. */
  private fallback: SiteFallback | null = null;
  private readonly refusals: RefusalLog;
  /** Changed since last persisted. */
  private dirty = false;
  /** After a restart: the servers and users not back yet (resumedWaiting.ts). */
  private waiting: ResumedWaiting | null = null;

  constructor(
    private readonly deps: SiteDeps,
    servers: CoordinatorServer[],
    users: readonly string[],
    resumed?: ResumedFrom,
  ) {
    this.site = deps.config.site;
    this.life = deps.life;
    this.serving = new SiteServing(deps, { membership: () => this.coordinator.membership(), activeServers: () => this.servers() });
    this.refusals = new RefusalLog({ site: this.site, now: deps.now, log: deps.log });
    this.unreachable = new UnreachableReports({ nMajority: deps.config.N_majority, evictEveryMs: deps.config.T_ignore });
    for (const u of users) this.users.add(u);
    this.coordinator = siteCoordinator(deps, {
      servers,
      ...(resumed ? { resume: resumed.coordinator } : {}),
      users: () => [...this.users],
      send: (to, msg) => this.send(to, msg),
      departed: (user, via, seq) => this.departed(user, via, seq),
      membershipChanged: () => {
        this.dirty = true;
        this.serving.claimSlotted();
        this.defer(() => this.serving.sync());
        this.defer(() => this.allBack()); // a server it waited for may have been evicted
      },
      flagged: (server, by) => this.flag(server, by),
    });
    this.reads = new SiteReads(
      {
        config: deps.config,
        now: deps.now,
        log: deps.log,
        send: (to, msg) => this.send(to, msg),
        servers: () => this.servers(),
        // Walked in (it plays here now, FINDINGS 32) or ignored (it counts for nothing, 40): as if gone.
        connected: (id) => this.serving.counts(id),
        // A hand-back that can never order its marker (a hand-back admits nobody: FINDINGS 37, 40, 62),
        // or a site, running or not, whose deciders can never cut a server they froze (57, 70), or whose
        // servers wait for a cut's Timeslots that nobody gives (90).
        stalled: () =>
          (this.life.state === 'handing-back' && this.serving.orderable() < deps.config.N_majority) || this.coordinator.uncoverable() || this.coordinator.cutUnheld(),
        orderMarker: () => this.coordinator.systemAction(SYSTEM_ACTOR, HAND_BACK_MARKER),
        saveEveryMs: deps.saveEveryMs,
        lostAfterMs: deps.lostAfterMs ?? LOST_AFTER_MS,
        defer: (fn) => this.defer(fn),
        events: {
          saved: (v) => {
            if (!this.life.running) return;
            this.runsAtServers(v.seq);
            // Rebased first: the admin stores the save less the departures it applied since.
            this.fallback?.rebase(v);
            deps.onVerified(v);
          },
          cut: (v) => this.handedBack(v),
          lost: (fetching, last) => this.lose(fetching, last),
          minority: (server, what) => {
            this.flag(server, MINORITY);
            deps.onMinority(server, what);
          },
          changed: () => {
            this.dirty = true;
            this.changed();
          },
        },
      },
      resumed?.holders ?? servers.map((x) => x.id),
      // The holders stored vouched for the base at least (reads.ts `holdersSeq`, FINDINGS 83).
      resumed?.base.seq,
    );
    if (resumed) {
      this.life.go('resume');
      this.fallback = SiteFallback.resumed(resumed.base);
      this.joins.resumed(resumed.coordinator.resend ?? []);
      const waitFor = { site: this.site, log: deps.log, users: this.users, membership: () => this.membership() };
      this.waiting = new ResumedWaiting(waitFor, users, this.servers(), deps.now(), deps.resumeGraceMs);
      // No save fetch while the servers are still coming back (it would count them as lost).
      this.reads.saveAt(Math.max(deps.now() + deps.saveEveryMs, this.waiting.endsAt ?? 0));
      this.deps.log.info('p2p.resumed', { site: this.site, epoch: resumed.coordinator.membership.epoch, servers: this.servers(), users: users.length });
      // Nobody to wait for: waiting is over at once.
      if (this.waiting.endsAt === null) this.waitOver();
      this.changed();
    }
  }

  /** What a restarted admin needs to go on with this site. */
  record(): StoredP2PSite | null {
    const c = this.coordinator.record();
    if (!c || !this.fallback || !this.withServers()) return null;
    return { site: this.site, coordinator: c, users: [...this.users], holders: [...this.reads.holders], baseSeq: this.fallback.baseSeq };
  }

  /** After a restart: the id of the server this site waits for whose key is `key`, or null. */
  awaitsServerWithKey(key: string): string | null {
    return this.waiting?.serverWithKey(key) ?? null;
  }

  /**
   * After a restart, a server of this site registered its key again: it serves on (true), its
   * messages count again. False when it holds no slot any more.
   */
  serverBack(id: string): boolean {
    if (!this.life.atServers || !this.servers().includes(id)) return false;
    this.waiting?.serverBack(id);
    this.serving.back(id);
    this.allBack();
    return true;
  }

  /** After a restart, a user of this site reconnected: true when it is still a user here (no join). */
  userBack(user: string): boolean {
    const back = this.waiting?.userBack(user) ?? false;
    this.allBack();
    return back;
  }

  /** Everyone the resumed site waited for is back (or gone): waiting ends now. */
  private allBack(): void {
    if (!this.waiting?.allBack()) return;
    this.reads.saveAt(this.deps.now() + this.deps.saveEveryMs);
    this.waitOver();
    this.changed();
  }

  /** A resumed site waits no more (all back, or the grace ended): it runs as any P2P site. */
  private waitOver(): void {
    // A hand-back (or a loss) may have come while it waited: then that is where it is.
    if (this.life.state === 'resuming') this.life.go('allBack');
  }

  /** The servers hold the site: at its servers, or suspended (the admin stopped, they go on). */
  private withServers(): boolean {
    return this.life.atServers || this.life.state === 'suspended';
  }

  /** Runs `fn` after the current input, unless the site is no longer at its servers by then (callbacks still due are dropped). */
  private defer(fn: () => void): void {
    this.deps.defer(() => {
      if (this.life.atServers) fn();
    });
  }

  /** Where the site is in its lifecycle at the admin (lifecycle.ts). */
  get state(): SiteState {
    return this.life.state;
  }

  /** The lifecycle's transitions so far (tests, the operator page). */
  get history(): SiteLifecycle['history'] {
    return this.life.history;
  }

  /** Running at its servers (not on its way back). */
  get running(): boolean {
    return this.life.running;
  }

  /** Who a resumed site still waits for (operator page), or null. */
  waitingFor(): { users: string[]; servers: string[] } | null {
    return this.waiting?.waitingFor() ?? null;
  }

  /** Sends the hand-over to the chosen servers (via their tabs). */
  start(h: HandOver): void {
    this.life.go('transfer');
    this.handOverSeq = h.seq;
    this.fallback = new SiteFallback({ seq: h.seq, snapshot: h.snapshot, lastActionNo: new Map(h.lastActionNo) });
    this.coordinator.handOver({ ...h, start: this.deps.now() });
    // The record waits for the hand-over's deferred sends: a crash between them must not leave a
    // record naming servers never told to serve (sim/FINDINGS.md 54); without the record the next
    // process has the site client-server from the snapshot the transfer stored.
    this.dirty = true;
    this.deps.wake();
    this.defer(() => this.changed());
  }

  /**
   * The site as the admin may store it at any moment without doubling an item: its last good
   * state less what left it since (fallback.ts). Stored with every save of the world, so that a
   * crash or restart finds sites and users that agree (the P2P site is then as at that state).
   */
  fallbackState(): VerifiedSite | null {
    return !this.withServers() ? null : (this.fallback?.state(this.users) ?? null);
  }

  /** Server ids holding a slot, in slot order. */
  servers(): string[] {
    return this.coordinator.activeServers();
  }

  membership(): ReturnType<SiteCoordinator['membership']> {
    return this.coordinator.membership();
  }

  isServer(id: string): boolean {
    return this.serving.has(id);
  }

  join(user: string, state: UserState): void {
    this.users.add(user);
    this.fallback?.joined(state);
    this.joins.ordered(this.coordinator.systemAction(user, { kind: 'join', user: state }), state);
    this.dirty = true;
    this.changed();
  }

  /** The user left the admin (disconnect, logout): its state comes back through onLeft. */
  leave(user: string): void {
    if (!this.users.has(user)) return;
    this.coordinator.systemAction(user, { kind: 'leave' });
    this.dirty = true;
    this.changed();
  }

  /** A peer message from a server id or a user name (already authenticated by the transport). */
  receive(from: string, msg: PeerMessage): void {
    if (!this.life.atServers) return;
    const r = this.reads.receive(from, msg);
    // State is taken only from the server asked, for the exchange under way.
    if (r.refused) this.refusals.refuse(from, msg.type, 'ERR_STALE', r.refused);
    if (!r.consumed) this.coordinator.receive(from, msg);
    this.changed();
  }

  /**
   * Transferring ends once the admin knows the majority runs the site: a majority-verified state
   * or a majority-accepted departure past the hand-over (servers tell the admin nothing else).
   */
  private runsAtServers(seq: number): void {
    if (this.life.state === 'transferring' && seq > this.handOverSeq) this.life.go('running');
  }

  /** A peer of this site could not reach server `id` (unreachable.ts decides what that costs it). */
  unreachableBy(id: string, reporter: string, enough: number, role: ReporterRole = 'user'): void {
    if (!this.serving.has(id) || !this.life.running) return;
    this.unreachable.add(id, reporter, enough, this.deps.now(), role);
    this.changed();
  }

  private weighReports(): void {
    this.deps.log.info('p2p.unreachable_weighed', { site: this.site, reports: this.unreachable.summary() });
    const out = this.unreachable.weigh(this.deps.now(), (id) => this.serving.has(id), (id) => this.deps.answers?.(id) ?? false);
    if (out) this.evict(out.id, `unreachable by ${out.by.join(', ')}`);
  }

  /**
   * Server `id`'s player walks into this site: it leaves the server set, and its replacement takes
   * the state from its copy first (checked against the others' hashes; the core's `stateFrom`).
   */
  walkIn(id: string): boolean {
    // Picked but not told to serve yet (its `serve` waits for this input's end): it has no copy.
    const copy = this.serving.has(id);
    const done = this.evict(id, 'its player walked in');
    if (done) this.serving.walkedInto(id, copy);
    return done;
  }

  /** Servers `a` and `b` are a walked-in server and its replacement, during the hand-off (signaling). */
  handingOff(a: string, b: string): boolean {
    return this.serving.handingOff(a, b);
  }

  /** Takes server `id` out now and gives its slot to a fresh peer (coordinator.evict). */
  evict(id: string, why: string): boolean {
    if (!this.life.running) return false;
    const done = this.coordinator.evict(id);
    if (done) this.deps.log.warn('p2p.evict', { site: this.site, server: id, why });
    this.changed();
    return done;
  }

  /** A slot left empty (its replacement found no candidate) goes to a candidate free now; its id, or null. */
  refill(): string | null {
    if (!this.life.running) return null;
    const id = this.coordinator.refill();
    if (id === null) return null;
    this.deps.log.info('p2p.refilled', { site: this.site, server: id });
    this.changed();
    return id;
  }

  /** Starts the hand-back to client-server mode. */
  close(reason: string): void {
    if (!this.life.can('handBack')) return;
    this.life.go('handBack');
    this.closeReason = reason;
    this.reads.close();
    this.deps.log.info('p2p.closing', { site: this.site, reason });
    this.changed();
  }

  /** The site is the admin's again (its lifecycle moved on first): its servers stop, its record goes. */
  private dispose(): void {
    // Slotted ones not told yet let their claim go too (a peer that is not this site's is left alone).
    this.serving.stopAll(this.closeReason || 'site closed');
    this.deps.persist?.(null);
  }

  /** The admin shuts down: stop here, saving the record, but leave the servers serving (see header). */
  suspend(): void {
    if (!this.life.can('suspend')) return;
    this.flush();
    this.life.go('suspend');
  }

  private flush(): void {
    if (!this.dirty || !this.deps.persist) return;
    const r = this.record();
    if (!r) return;
    this.dirty = false;
    this.deps.persist(r);
  }

  // -------------------------------------------------------------------------------------------

  private send(to: string, msg: PeerMessage): void {
    // Back at the admin: sends still deferred are dropped (a stopping admin's still go out, as before its sockets close).
    if (!this.withServers()) return;
    // A server learns it serves this site before its first peer message (serving.ts).
    if (!this.serving.enlist(to, msg)) return;
    this.deps.deliver(to, msg);
  }

  private departed(user: UserState, via: 'portal' | 'logout', seq: number): void {
    this.runsAtServers(seq);
    if (this.life.running) this.fallback?.left(user, seq);
    this.dirty = true;
    if (!this.life.running) {
      // Seen during the hand-back: processed once the cut's seq is known (seq <= cut).
      if (this.cutSeq === null) this.deps.transit.hold(this.site, { user, via, seq });
      else if (seq <= this.cutSeq) this.deps.onLeft(user, via, seq);
      return;
    }
    this.users.delete(user.name);
    // Gone, so no longer waited for after a restart (if it joins again, it is back: found by the managed world).
    this.waiting?.userGone(user.name);
    this.deps.onLeft(user, via, seq);
    this.allBack();
  }

  private flag(server: string, by: string): void {
    let set = this.flags.get(server);
    if (!set) this.flags.set(server, (set = new Set()));
    if (set.size < 50) set.add(by);
  }

  /** Waiting after the restart is over: users still away leave (their state comes back), servers are replaced. */
  private notBack(gone: { users: string[]; servers: string[] }): void {
    // Too few came back to go on: the site comes back from its stored state now rather than
    // after a state fetch that cannot get a majority answer.
    if (this.reads.majorityGone()) return void this.lose(null, null);
    this.waitOver();
    for (const u of gone.users) this.leave(u);
    for (const id of gone.servers) this.evict(id, 'did not come back after the admin restarted');
  }

  /** The hand-back's state at the cut: departures up to it count, the site is the admin's again. */
  private handedBack(v: VerifiedSite): void {
    this.cutSeq = v.seq;
    const left = this.deps.transit.takeHeld(this.site).filter((d) => d.seq <= v.seq);
    for (const d of left) this.deps.onLeft(d.user, d.via, d.seq);
    // Client-server before the game installs it: its users join the admin's copy.
    this.life.go('cut');
    this.deps.onClosed({ ...v, joinsNotApplied: this.joins.notApplied(v, this.users, left.map((d) => d.user.name)) });
    this.dispose();
  }

  /** No majority answers, or it cannot order: the site comes back from its fallback (`last`: a stalled site's last read, the new base). */
  private lose(fetching: 'save' | 'close' | null, last: VerifiedSite | null): boolean {
    const fb = this.fallback;
    // Not on a last read that would drop a user still here (fallback.ts `rebaseKeeping`); held departures are added after it.
    if (!fb || !this.life.can('lose') || (last && !fb.rebaseKeeping(last, this.users))) return false;
    this.life.go('lose');
    // Departures the majority applied during the hand-back are real: their users are gone.
    for (const d of this.deps.transit.takeHeld(this.site)) {
      fb.left(d.user, d.seq);
      this.users.delete(d.user.name);
      this.deps.onLeft(d.user, d.via, d.seq);
    }
    const state = fb.state(this.users);
    this.deps.log.warn('p2p.lost', { site: this.site, fetching, lastRead: last?.seq ?? null, base: fb.baseSeq, users: state.snapshot.users.length, ...fb.counts() });
    this.closeReason ||= 'lost its majority';
    this.life.go('fellBack');
    this.deps.onClosed(state);
    this.dispose();
    return true;
  }

  /** Something changed: the record is persisted if it must be, and the driver looks at the wake-up again. */
  private changed(): void {
    if (!this.life.atServers) return;
    this.flush();
    this.deps.wake();
  }

  /** When this site has something to do next (the Driver's Tickable); null: nothing, or it is over. */
  nextWakeAt(): number | null {
    if (!this.life.atServers) return null;
    const wakes = [this.coordinator.nextWakeAt(), this.reads.wakeAt(), this.unreachable.weighAt, this.waiting?.endsAt ?? null];
    let at: number | null = null;
    for (const w of wakes) if (w !== null && (at === null || w < at)) at = w;
    return at;
  }

  /** Runs what is due (called by the Driver at or after `nextWakeAt`). */
  tick(): void {
    if (!this.life.atServers) return;
    const now = this.deps.now();
    try {
      this.coordinator.tick();
      // Lost: the site is the admin's again, nothing more to do here.
      if (!this.reads.tick()) return;
      const weighAt = this.unreachable.weighAt;
      if (weighAt !== null && now >= weighAt) this.weighReports();
      const gone = this.waiting?.end(now);
      if (gone) this.notBack(gone);
    } catch (err) {
      this.deps.log.error('p2p.tick_failed', { site: this.site, err, stack: (err as Error)?.stack });
    }
    this.changed();
  }
}
