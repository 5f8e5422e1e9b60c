/**
 * After an admin restart, who a resumed P2P site (site.ts) still waits for: its servers, known by
 * the key they register again, and its users, as they reconnect or leave (a user that left is
 * waited for no more). Waiting ends once all are back or the grace (resume.ts `ResumeWait`) ends;
 * the site then moves its lifecycle and acts on who is not back.
 */
import type { Membership } from '../../src/protocol/messages.js';
import type { Logger } from '../log.js';
import { ResumeWait } from './resume.js';

type Who = { users: string[]; servers: string[] };

export interface ResumedWaitingDeps {
  site: string;
  log: Logger;
  /** The site's users (one that left is no longer waited for). */
  users: ReadonlySet<string>;
  membership(): Membership | null;
}

export class ResumedWaiting {
  /** The servers and users not back yet; null once waiting is over. */
  private wait: ResumeWait | null;

  constructor(
    private readonly d: ResumedWaitingDeps,
    users: Iterable<string>,
    servers: Iterable<string>,
    now: number,
    graceMs?: number,
  ) {
    this.wait = new ResumeWait(users, servers, now, graceMs);
  }

  /** When the grace ends; null when there is nobody to wait for, or waiting is over. */
  get endsAt(): number | null {
    return this.wait?.endsAt ?? null;
  }

  /**
   * The id of the server waited for whose key is `key`, or null. Only one still slotted: a server
   * evicted before its key came back (its player walked in, FINDINGS 91) gets a new id, and its
   * tab stops the core it ran before the restart instead of serving on with it.
   */
  serverWithKey(key: string): string | null {
    const waiting = this.wait?.endsAt != null ? this.wait.waitingFor().servers : [];
    const m = this.d.membership()?.members.find((x) => x.key === key && x.slot !== null && waiting.includes(x.id));
    return m?.id ?? null;
  }

  serverBack(id: string): void {
    this.wait?.serverBack(id);
  }

  /** A user reconnected: true when it is still a user here and was waited for. */
  userBack(user: string): boolean {
    return this.d.users.has(user) && (this.wait?.userBack(user) ?? false);
  }

  /** A user left the site: not waited for any more. */
  userGone(user: string): void {
    this.wait?.userBack(user);
  }

  /** Who is still waited for (operator page), or null. */
  waitingFor(): Who | null {
    if (this.wait?.endsAt == null) return null;
    const w = this.wait.waitingFor();
    // A user that left meanwhile (its departure came) is waited for no more, nor a server evicted.
    return { users: w.users.filter((u) => this.d.users.has(u)), servers: this.slotted(w.servers) };
  }

  /** True once, when everyone waited for is back (or gone): waiting ends now. */
  allBack(): boolean {
    const w = this.waitingFor();
    if (!w || w.users.length + w.servers.length > 0) return false;
    this.wait = null;
    this.d.log.info('p2p.all_back', { site: this.d.site });
    return true;
  }

  /** Those of `ids` that still hold a slot: one evicted meanwhile (its player walked in, FINDINGS 91) is no server here. */
  private slotted(ids: string[]): string[] {
    const members = this.d.membership()?.members ?? [];
    return ids.filter((id) => members.some((m) => m.id === id && m.slot !== null));
  }

  /** At or after `endsAt`, once: who did not come back (users still here); waiting is over. */
  end(now: number): Who | null {
    const gone = this.wait?.end(now);
    if (!gone) return null;
    this.wait = null;
    const left = { users: gone.users.filter((u) => this.d.users.has(u)), servers: this.slotted(gone.servers) };
    if (left.users.length + left.servers.length > 0) this.d.log.warn('p2p.not_back', { site: this.d.site, ...left });
    return left;
  }
}
