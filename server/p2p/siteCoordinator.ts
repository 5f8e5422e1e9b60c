/**
 * The core's site coordinator as a P2P site at the admin runs it (site.ts): its sends deferred past
 * the current input, the portals of an accepted update made known to the game's transit before its
 * departures, and its events turned into the admin's flags, verdicts and logs.
 */
import { createSiteCoordinator, MINORITY, type CutWatch } from '../../src/protocol/coordinator.js';
import type { CoordinatorRecord, CoordinatorServer, SiteCoordinator } from '../../src/protocol/api.js';
import type { PeerMessage } from '../../src/protocol/messages.js';
import type { UserState } from '../../src/game/types.js';
import type { SiteDeps } from './siteDeps.js';

/** What the site does with the coordinator's output. */
export interface SiteCoordinatorHooks {
  /** The hand-over's servers (none for a resumed site). */
  servers: CoordinatorServer[];
  /** After a restart: the stored record to go on from. */
  resume?: CoordinatorRecord;
  users(): string[];
  /** Sends a message (called once the current input is handled). */
  send(to: string, msg: PeerMessage): void;
  /** A user left the site as the majority applied it. */
  departed(user: UserState, via: 'portal' | 'logout', seq: number): void;
  /** A new membership record was published. */
  membershipChanged(): void;
  /** `server` was flagged `by` a user or the coordinator's own tally (MINORITY). */
  flagged(server: string, by: string): void;
}

export function siteCoordinator(deps: SiteDeps, h: SiteCoordinatorHooks): SiteCoordinator & CutWatch {
  const site = deps.config.site;
  return createSiteCoordinator({
    ...(h.resume ? { resume: h.resume } : {}),
    config: deps.config,
    secretKey: deps.secretKey,
    crypto: deps.crypto,
    now: deps.now,
    random: deps.random,
    send: (to, msg) => deps.defer(() => h.send(to, msg)),
    servers: h.servers,
    candidates: () => deps.candidates(),
    users: () => h.users(),
    // The update's portals are known before its departures move players one by one (transit.ts).
    onUpdate: (u) => deps.transit.expect(u.events, deps.defer),
    onLeft: (user, via, seq) => h.departed(user, via, seq),
    observe: (e) => {
      if (e.kind === 'membership') h.membershipChanged();
      if (e.kind === 'flagged') {
        h.flagged(e.server, e.by);
        deps.onFlag?.(e);
        if (e.by === MINORITY) deps.onMinority(e.server, `update ${e.seq}`);
      }
      // The coordinator evicts an equivocator itself (the proof is two signed Timeslots).
      if (e.kind === 'equivocation') deps.onEquivocation?.(e.server, e.seq);
      if (e.kind === 'rejected' || e.kind === 'equivocation' || e.kind === 'flagged' || e.kind === 'membership')
        deps.log.info('p2p.coordinator', { site, ...e });
    },
  });
}
