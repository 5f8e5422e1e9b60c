/**
 * What cheaters share: seeded randomness that colluders derive alike, the colluding group's state
 * (forged hashes, favoured user) and the invented actions a group reports identically. Tests only
 * (src/net/p2p/cheat.ts).
 */
import { hashOf } from '../../protocol/crypto.js';
import type { TimeslotEntry } from '../../protocol/messages.js';

/** The randomness a cheater draws (the simulator's Rng has all of it). */
export interface CheatRng {
  int(n: number): number;
  chance(p: number): boolean;
  range(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  shuffle<T>(items: readonly T[]): T[];
  fork(label: string): CheatRng;
}

/** A seeded generator for hosts (mulberry32 over an FNV-1a hash of `label`): colluders that derive it from the site agree. */
export function seededRng(label: string): CheatRng {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  let s = h;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  };
  const rng: CheatRng = {
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    range: (lo, hi) => lo + next() * (hi - lo),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from nothing');
      return items[Math.floor(next() * items.length)] as (typeof items)[number];
    },
    shuffle: (items) => {
      const a = [...items];
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [a[i], a[j]] = [a[j] as (typeof a)[number], a[i] as (typeof a)[number]];
      }
      return a;
    },
    fork: (l) => seededRng(`${label}/${l}`),
  };
  return rng;
}

/** Shared state of a colluding group. */
export class CollusionGroup {
  readonly members: string[] = [];
  /** seq → forged update hash every member sends. */
  readonly forged = new Map<number, string>();
  private readonly waiters = new Map<number, Array<() => void>>();
  private chosen: string | undefined;
  readonly plan: InventionPlan;

  /** `users`: the site's users, or how to read them once the first member needs them (a host knows them only once it serves). */
  constructor(
    readonly rng: CheatRng,
    private readonly users: readonly string[] | (() => readonly string[]),
  ) {
    this.plan = new InventionPlan(rng.fork('plan'));
  }

  /** The user the group favours (and tampers on), picked once there are users. */
  get favoured(): string {
    if (this.chosen !== undefined) return this.chosen;
    const users = typeof this.users === 'function' ? [...this.users()].sort() : this.users;
    if (users.length === 0) return 'nobody';
    return (this.chosen = this.rng.pick(users));
  }

  setForged(seq: number, hash: string): string {
    const have = this.forged.get(seq);
    if (have !== undefined) return have;
    this.forged.set(seq, hash);
    const ws = this.waiters.get(seq) ?? [];
    this.waiters.delete(seq);
    for (const w of ws) w();
    return hash;
  }

  wait(seq: number, fn: () => void): void {
    const ws = this.waiters.get(seq) ?? [];
    ws.push(fn);
    this.waiters.set(seq, ws);
  }
}

/** Colluders in one process (bots of one `npm run bots`, one test) find each other here, by site. */
const groups = new Map<string, CollusionGroup>();
export function collusionGroupFor(site: string, users: () => readonly string[]): CollusionGroup {
  let g = groups.get(site);
  if (!g) groups.set(site, (g = new CollusionGroup(seededRng(`collude:${site}`), users)));
  return g;
}

/** Fake actions a cheater (or a colluding group, identically) reports. */
export class InventionPlan {
  private readonly made = new Map<string, TimeslotEntry[]>();
  private n = 0;
  constructor(private readonly rng: CheatRng) {}

  /**
   * Fake entries to add to a Timeslot covering (from, to] of synced time: about one per 150 ms.
   * The same window gives the same entries to every member of a group (windows are grid-aligned
   * by the caller so members agree).
   */
  entriesFor(window: number, from: number, to: number, users: readonly string[], nextNo: (user: string) => number): TimeslotEntry[] {
    const key = String(window);
    const have = this.made.get(key);
    if (have) return have;
    const out: TimeslotEntry[] = [];
    if (users.length > 0 && this.rng.chance(0.7)) {
      const user = this.rng.pick(users);
      const ahead = this.rng.chance(0.5);
      const actionNo = ahead ? 1_000_000 + ++this.n : nextNo(user);
      const arrival = Math.max(from + 1e-3, to - this.rng.range(0, Math.max(0, to - from)));
      out.push([user, actionNo, Math.min(arrival, to), hashOf(['invented', user, actionNo, this.n])]);
    }
    this.made.set(key, out);
    return out;
  }
}
