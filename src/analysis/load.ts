/**
 * Paper section 5.1, communication load in bytes: eqs. (1)-(7) for a user, (9)-(11) for a Site
 * Server, and the action size below which the proposed model makes a user receive less than NEO.
 */

export interface LoadParams {
  /** Message header: TCP 20 + IP 20 + Ethernet 26 = 66 in the paper. */
  S_header: number;
  /** Hash of an update message. */
  S_hash: number;
  /** NEO's decryption key against lookahead cheats. */
  S_key: number;
  /** Site Servers per site (odd). */
  N_server: number;
  /** Users on the site. */
  n: number;
  /** Action message size. */
  a: number;
}

/** Eq. (8) and a = 10: the paper's substitution. */
export const PAPER_LOAD: LoadParams = { S_header: 66, S_hash: 16, S_key: 8, N_server: 5, n: 30, a: 10 };

/** Eq. (1). */
export const nMajority = (nServer: number): number => (nServer + 1) / 2;

/** NEO's per-message vote bitmap over the n - 1 other users, in whole bytes. */
const neoBitmap = (n: number): number => Math.ceil((n - 1) / 8);

/** Eq. (3), which is also (6): every message goes to, and comes from, each of the n - 1 others. */
const neo = (p: LoadParams): number => (p.n - 1) * (p.S_header + p.a + neoBitmap(p.n) + p.S_key);

/** Eq. (7): a majority sends the full update (n actions), the rest only its hash. */
function proposedReceive(p: LoadParams): number {
  const m = nMajority(p.N_server);
  return m * (p.S_header + p.n * p.a) + (p.N_server - m) * (p.S_header + p.S_hash);
}

export interface UserLoad {
  clientServer: number;
  neo: number;
  proposed: number;
}

export interface LoadResult {
  N_majority: number;
  /** Bytes a user sends per action: eqs. (2), (3), (4). */
  send: UserLoad;
  /** Bytes a user receives per round: eqs. (5), (6), (7). */
  receive: UserLoad;
  /** Extra bytes per round for a user that is a Site Server of a site with n users. */
  siteServer: {
    /** Eq. (9): it sends the full update to each user. */
    sendFull: number;
    /** Eq. (10): it sends only the hash. */
    sendHash: number;
    /** Eq. (11): it receives every user's action. */
    receive: number;
  };
  /** Where (7) < (6) holds, all other sizes fixed; see proposedBelowNeo. */
  proposedBelowNeo: BreakEven;
}

export interface BreakEven {
  /** (7) = (6) at this a (exact ratio num/den, as a double); (7) < (6) for every a below it. */
  breakEvenA: number;
  breakEvenFraction: { num: number; den: number };
  /** Largest whole a >= 0 with (7) < (6); null when even a = 0 does not satisfy it. */
  largestA: number | null;
}

export function computeLoad(p: LoadParams): LoadResult {
  return {
    N_majority: nMajority(p.N_server),
    send: {
      clientServer: p.S_header + p.a,
      neo: neo(p),
      proposed: p.N_server * (p.S_header + p.a),
    },
    receive: { clientServer: p.S_header + p.n * p.a, neo: neo(p), proposed: proposedReceive(p) },
    siteServer: {
      sendFull: p.n * (p.S_header + p.n * p.a),
      sendHash: p.n * (p.S_header + p.S_hash),
      receive: p.n * (p.S_header + p.a),
    },
    proposedBelowNeo: breakEven(p),
  };
}

/**
 * (7) - (6) is slope * a + offset with slope = N_majority n - (n - 1) = (N_majority - 1) n + 1 > 0,
 * so (7) < (6) exactly for a < -offset / slope. With whole sizes that is a whole-number ratio, and
 * the largest whole a below it is floor((-offset - 1) / slope).
 */
export function breakEven(p: LoadParams): BreakEven {
  const m = nMajority(p.N_server);
  const slope = m * p.n - (p.n - 1);
  const offset =
    m * p.S_header +
    (p.N_server - m) * (p.S_header + p.S_hash) -
    (p.n - 1) * (p.S_header + neoBitmap(p.n) + p.S_key);
  const num = -offset;
  const g = gcd(Math.abs(num), slope);
  return {
    breakEvenA: num / slope,
    breakEvenFraction: { num: num / g, den: slope / g },
    largestA: num > 0 ? Math.floor((num - 1) / slope) : null,
  };
}

const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
