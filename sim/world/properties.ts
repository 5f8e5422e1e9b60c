/**
 * The properties every world run must keep (issue 18), judged on its trace alone so that each can
 * be shown to fail on a broken trace (properties.test.ts):
 * - back: every site came back to the admin, by a legal lifecycle, with no error logged;
 * - users: each player is in exactly one place at the end (on one site, stored after a logout, or
 *   arrived at a site already back at the admin): none lost, none doubled, no ghost;
 * - items: no item exists twice (maps, inventories of present, stored and arrived users), and
 *   none of the start's is gone (items are only ever moved: picked, carried, stored);
 * - logs: the servers of a site accepted the same update for every seq they share;
 * - joins: every join showed on the majority's copy of its site within JOIN_BOUND_MS.
 * The managed world's (managed.ts) too:
 * - views: every update a user's own core accepted is the one the site's servers applied for
 *   that seq (what the user saw agrees with the majority's log);
 * - entries: every login and portal landing had the site's state within ENTRY_BOUND_MS once the
 *   last fault (partition) that began before it was done had healed;
 * - stored: at each hand-back, what the admin stored of the site is the majority's state at the cut;
 * - choice: the manager never picks a player to serve the site it plays on;
 * - resumed: a site at its servers when the admin went down (stopped, or crashed: kill -9) goes
 *   on from them under the next admin process, not from what the admin had stored.
 * After a crash the others hold as they are (docs/hosting.md "After a crash"): what the crash
 * undoes is client-server play since the last save, which no property sees.
 */
import { ENTRY_BOUND_MS } from './managed.js';
import { JOIN_BOUND_MS, type WorldTrace } from './world.js';

export function checkWorld(t: WorldTrace): string[] {
  const out: string[] = [];
  for (const site of t.sites) {
    const path = t.lifecycles.get(site) ?? [];
    if (!t.closed.has(site))
      out.push(`back: ${site} never came back to the admin (lifecycle ${path.join(' > ')})`);
    // An empty path: the site never left the admin (the managed world's quiet sites).
    else if (path.length > 0 && path.at(-1) !== 'cut' && path.at(-1) !== 'fellBack')
      out.push(`back: ${site} came back but its lifecycle ends ${path.join(' > ')}`);
  }
  for (const e of t.errors) out.push(`back: the admin logged an error: ${e}`);

  const places = new Map<string, string[]>();
  const put = (name: string, place: string): void =>
    void places.set(name, [...(places.get(name) ?? []), place]);
  for (const [site, v] of t.closed) for (const u of v.snapshot.users) put(u.name, `on ${site}`);
  for (const name of t.stored.keys()) put(name, 'stored');
  for (const name of t.arrivedAtAdmin.keys()) put(name, 'arrived');
  for (const name of t.players) {
    const p = places.get(name) ?? [];
    if (p.length !== 1) out.push(`users: ${name} is in ${p.length === 0 ? 'no place' : p.join(' and ')}`);
  }
  for (const name of places.keys())
    if (!t.players.includes(name)) out.push(`users: ${name} appeared from nowhere (a ghost)`);

  const items = new Map<string, number>();
  const count = (id: string): void => void items.set(id, (items.get(id) ?? 0) + 1);
  for (const v of t.closed.values()) {
    for (const i of v.snapshot.site.items) count(i.id);
    for (const u of v.snapshot.users) for (const i of u.inventory) count(i.id);
  }
  for (const u of [...t.stored.values(), ...t.arrivedAtAdmin.values()])
    for (const i of u.inventory) count(i.id);
  for (const [id, n] of items) if (n > 1) out.push(`items: ${id} exists ${n} times`);
  for (const id of t.itemsAtStart) if (!items.has(id)) out.push(`items: ${id}, there at the start, is lost`);

  for (const [site, logs] of t.logs) {
    const bySeq = new Map<number, string>();
    for (const [server, log] of logs) {
      for (const [seq, hash] of log) {
        const h = bySeq.get(seq);
        if (h === undefined) bySeq.set(seq, hash);
        else if (h !== hash) out.push(`logs: on ${site}, ${server} accepted another update ${seq}`);
      }
    }
  }

  for (const j of t.joins) {
    if (j.seenAt === null) out.push(`joins: ${j.user} joined ${j.site} at ${j.at} and never showed there`);
    else if (j.seenAt - j.at > JOIN_BOUND_MS)
      out.push(`joins: ${j.user} took ${j.seenAt - j.at} ms to show on ${j.site} (bound ${JOIN_BOUND_MS})`);
  }
  for (const v of t.views ?? []) {
    const logs = t.logs.get(v.key);
    // The hash most servers applied: a minority's other update is the `logs:` property's (sim/FINDINGS.md 105).
    const votes = new Map<number, Map<string, number>>();
    for (const log of logs?.values() ?? [])
      for (const [seq, hash] of log) {
        const vs = votes.get(seq) ?? new Map<string, number>();
        vs.set(hash, (vs.get(hash) ?? 0) + 1);
        votes.set(seq, vs);
      }
    const bySeq = new Map<number, string>();
    for (const [seq, vs] of votes) bySeq.set(seq, [...vs].sort((a, b) => b[1] - a[1])[0]![0]);
    for (const [seq, hash] of v.accepted) {
      const h = bySeq.get(seq);
      if (h === undefined)
        out.push(`views: ${v.user} accepted update ${seq} on ${v.key} that no server applied`);
      else if (h !== hash)
        out.push(`views: ${v.user} accepted another update ${seq} on ${v.key} than its servers`);
    }
  }

  for (const e of t.entries ?? []) {
    const done = e.readyAt ?? e.abandoned ?? Infinity;
    // Counted from when the last fault that began before the entry was done had healed.
    const faults = (t.faults ?? []).filter(
      (f) => f.start < done && (f.site === undefined || f.site === e.site),
    );
    const healed = Math.max(e.at, ...faults.map((f) => f.end));
    // A tab that closed before it had the state is a failure only if it had waited past the bound.
    if (e.readyAt === null && e.abandoned !== undefined) {
      if (e.abandoned - healed > ENTRY_BOUND_MS)
        out.push(
          `entries: ${e.user}'s ${e.via} (${e.site ?? 'no site'}) at ${e.at} had no state after ${Math.round(e.abandoned - healed)} ms when its tab closed (bound ${ENTRY_BOUND_MS})`,
        );
    } else if (e.readyAt === null)
      out.push(
        `entries: ${e.user}'s ${e.via} (${e.site ?? 'no site'}) at ${e.at} never had the site's state`,
      );
    else if (e.readyAt - healed > ENTRY_BOUND_MS)
      out.push(
        `entries: ${e.user}'s ${e.via} (${e.site ?? 'no site'}) took ${Math.round(e.readyAt - healed)} ms after the faults healed (bound ${ENTRY_BOUND_MS})`,
      );
  }

  for (const c of t.storedChecks ?? []) {
    // A site that lost its majority comes back from its fallback: there is no majority state to compare.
    if (c.majority === null) continue;
    if (c.stored !== c.majority)
      out.push(`stored: ${c.site} as the admin stored it at the cut ${c.seq} is not the majority's state`);
  }
  for (const d of t.downs ?? [])
    for (const site of d.atServers)
      if (!d.resumed.includes(site))
        out.push(`resumed: ${site} was at its servers when the admin ${d.crash ? 'crashed' : 'stopped'} at ${d.at}; the next one did not go on with it`);
  for (const c of t.serves ?? [])
    if (c.playingOn === c.site)
      out.push(`choice: ${c.user} was picked to serve ${c.site} at ${c.at} while playing on it`);
  return out;
}
