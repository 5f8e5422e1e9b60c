/**
 * A site's hosting lifecycle at the admin, in one place: its named states and every transition
 * between them (diagram in docs/hosting.md, "A site's lifecycle at the admin"). The manager keeps
 * one `SiteLifecycle` per site; a P2P site (site.ts) moves it as things happen. A transition the
 * table does not list is a bug on our side: it is refused, logged as ERR_INTERNAL and thrown, so
 * the caller's input goes no further.
 *
 *   client-server --transfer--> transferring --running--> p2p
 *   client-server --resume--> resuming --allBack--> p2p
 *   transferring | p2p | resuming --handBack--> handing-back --cut--> client-server
 *   transferring | p2p | resuming | handing-back --lose--> lost --fellBack--> client-server
 *   transferring | p2p | resuming | handing-back --suspend--> suspended (the admin stopped)
 */
import type { Logger } from '../log.js';

export type SiteState =
  'client-server' | 'transferring' | 'p2p' | 'resuming' | 'handing-back' | 'lost' | 'suspended';

export type SiteEvent =
  /** The admin hands the site to chosen servers (siteInit sent). */
  | 'transfer'
  /** N_majority of the servers sent updates past the hand-over: the site runs at its servers. */
  | 'running'
  /** After an admin restart: the site is taken up from its stored record, waiting for its peers. */
  | 'resume'
  /** Every server and user a resumed site waited for is back, or waiting ended. */
  | 'allBack'
  /** The admin starts taking the site back (empty, well below the threshold, short of servers). */
  | 'handBack'
  /** The hand-back's majority-verified state at the marker arrived: the admin hosts the site again. */
  | 'cut'
  /** A state fetch got no majority answer while the majority is gone. */
  | 'lose'
  /** The lost site is installed from its fallback state: the admin hosts it again. */
  | 'fellBack'
  /** The admin shuts down; the servers go on and a restarted admin resumes the site. */
  | 'suspend';

/** Every legal transition: state -> event -> next state. Nothing else may happen. */
export const TRANSITIONS: Readonly<Record<SiteState, Readonly<Partial<Record<SiteEvent, SiteState>>>>> = {
  'client-server': { transfer: 'transferring', resume: 'resuming' },
  transferring: { running: 'p2p', handBack: 'handing-back', lose: 'lost', suspend: 'suspended' },
  p2p: { handBack: 'handing-back', lose: 'lost', suspend: 'suspended' },
  resuming: { allBack: 'p2p', handBack: 'handing-back', lose: 'lost', suspend: 'suspended' },
  'handing-back': { cut: 'client-server', lose: 'lost', suspend: 'suspended' },
  lost: { fellBack: 'client-server' },
  suspended: {},
};

export const SITE_STATES = Object.keys(TRANSITIONS) as SiteState[];
export const SITE_EVENTS: readonly SiteEvent[] = [
  'transfer',
  'running',
  'resume',
  'allBack',
  'handBack',
  'cut',
  'lose',
  'fellBack',
  'suspend',
];

/** The next state, or null when `event` may not happen in `from`. */
export function nextState(from: SiteState, event: SiteEvent): SiteState | null {
  return TRANSITIONS[from][event] ?? null;
}

/** An illegal transition: a bug on our side. */
export class LifecycleError extends Error {
  readonly code = 'ERR_INTERNAL';
  constructor(
    readonly site: string,
    readonly from: SiteState,
    readonly event: SiteEvent,
  ) {
    super(`site ${site}: ${event} is not allowed in state ${from}`);
  }
}

/** One site's lifecycle at the admin. */
export class SiteLifecycle {
  private current: SiteState = 'client-server';
  /** Transitions taken, oldest first (the last 32; tests and the operator page). */
  readonly history: Array<{ from: SiteState; event: SiteEvent; to: SiteState; at: number }> = [];

  constructor(
    readonly site: string,
    private readonly d: { now: () => number; log: Logger },
  ) {}

  get state(): SiteState {
    return this.current;
  }

  /** Whether servers hold the site (the admin neither applies its actions nor hosts it). */
  get atServers(): boolean {
    return (
      this.current === 'transferring' ||
      this.current === 'p2p' ||
      this.current === 'resuming' ||
      this.current === 'handing-back'
    );
  }

  /** Whether the site may still be handed back or evict servers (it is not on its way back already). */
  get running(): boolean {
    return this.current === 'transferring' || this.current === 'p2p' || this.current === 'resuming';
  }

  can(event: SiteEvent): boolean {
    return nextState(this.current, event) !== null;
  }

  /** Takes `event`; an illegal one is logged (ERR_INTERNAL) and thrown, and the state stays. */
  go(event: SiteEvent): SiteState {
    const from = this.current;
    const to = nextState(from, event);
    if (to === null) {
      const err = new LifecycleError(this.site, from, event);
      this.d.log.error('p2p.illegal_transition', {
        site: this.site,
        from,
        event,
        code: err.code,
        stack: err.stack,
      });
      throw err;
    }
    this.current = to;
    this.history.push({ from, event, to, at: this.d.now() });
    if (this.history.length > 32) this.history.shift();
    this.d.log.info('p2p.lifecycle', { site: this.site, from, event, to });
    return to;
  }
}
