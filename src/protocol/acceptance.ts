/**
 * Majority acceptance of updates (paper 4.3, last paragraphs): a user accepts update `seq` once
 * N_majority distinct servers of the site sent the same update, as the full content or as its
 * hash, and it holds one full copy whose content hashes to that value. Pure bookkeeping for one
 * seq; the user side (user.ts) applies accepted updates strictly in order.
 */
import type { UpdateMessage } from './messages.js';

export interface Votes {
  /** server -> hash it vouched for (its first word for this seq). */
  byServer: Map<string, string>;
  /** hash -> a full update with that hash (content checked by the caller). */
  full: Map<string, UpdateMessage>;
}

export function emptyVotes(): Votes {
  return { byServer: new Map(), full: new Map() };
}

/**
 * Records one server's vote. A server's first vote for a seq stands; a different second vote is
 * returned as 'changed' (the caller flags the server). Votes from outside `servers` are ignored.
 */
export function addVote(
  votes: Votes,
  server: string,
  hash: string,
  full: UpdateMessage | null,
  servers: ReadonlySet<string>,
): 'counted' | 'duplicate' | 'changed' | 'outsider' {
  if (!servers.has(server)) return 'outsider';
  const had = votes.byServer.get(server);
  // Only a server's own (first) vote brings a full copy: one server cannot fill the map with
  // copies of different updates for one seq (at most one copy per server and seq is kept).
  if (full && (had === undefined || had === hash) && !votes.full.has(hash)) votes.full.set(hash, full);
  if (had === undefined) {
    votes.byServer.set(server, hash);
    return 'counted';
  }
  return had === hash ? 'duplicate' : 'changed';
}

/**
 * The update to accept, if any: the hash vouched for by at least `nMajority` distinct servers of
 * the current set and present in full. With N_server = 2 N_majority - 1 at most one hash can reach
 * N_majority, so there is never a tie to break; a split (e.g. 2-2-1 of 5) accepts nothing and waits.
 */
export function decide(votes: Votes, nMajority: number, servers: ReadonlySet<string>): UpdateMessage | null {
  const tally = new Map<string, number>();
  for (const [server, hash] of votes.byServer) {
    if (!servers.has(server)) continue;
    tally.set(hash, (tally.get(hash) ?? 0) + 1);
  }
  for (const [hash, n] of tally) {
    if (n >= nMajority) return votes.full.get(hash) ?? null;
  }
  return null;
}

/** Servers whose vote differs from the accepted hash. */
export function dissenters(votes: Votes, accepted: string): string[] {
  return [...votes.byServer].filter(([, h]) => h !== accepted).map(([s]) => s);
}
