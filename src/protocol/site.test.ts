import { describe, expect, it } from 'vitest';
import type { SiteServer } from './api.js';
import { setupSite, type SiteSetup } from './testing.js';

function logs(s: SiteSetup, ids?: string[]): Array<{ id: string; seqs: string[] }> {
  return [...s.servers]
    .filter(([id]) => !ids || ids.includes(id))
    .map(([id, srv]) => ({ id, seqs: srv.appliedLog().map((u) => `${u.seq}:${u.hash}`) }));
}

function expectPrefixes(lists: string[][]): void {
  for (const a of lists) for (const b of lists) {
    const n = Math.min(a.length, b.length);
    expect(a.slice(0, n)).toEqual(b.slice(0, n));
  }
}

function appliedOnce(srv: SiteServer): void {
  const seen = new Set<string>();
  for (const u of srv.appliedLog()) for (const a of u.applied) {
    const k = `${a.user}#${a.actionNo}`;
    expect(seen.has(k)).toBe(false);
    seen.add(k);
  }
}

describe('P2P site, all honest', () => {
  it('servers agree, users accept the same updates, every action applied exactly once', () => {
    const s = setupSite({ wire: true, latency: (f, t) => 3 + ((f.charCodeAt(f.length - 1) + t.charCodeAt(t.length - 1)) % 7) });
    const dirs = ['up', 'down', 'left', 'right'] as const;
    let k = 0;
    for (let round = 0; round < 20; round++) {
      for (const [name, u] of s.users) {
        s.net.poke(name, () => u.act({ kind: 'move', dir: dirs[k++ % 4] ?? 'up' }));
      }
      s.net.run(37);
    }
    s.net.run(2000);
    const main = ['s0', 's1', 's2', 's3', 's4'];
    const l = logs(s, main);
    expect(l[0]?.seqs.length).toBeGreaterThan(5);
    expectPrefixes(l.map((x) => x.seqs));
    for (const id of main) appliedOnce(s.servers.get(id) as SiteServer);
    const total = [...(s.servers.get('s0')?.appliedLog() ?? [])].reduce((n, u) => n + u.applied.length, 0);
    expect(total).toBe(60);
    for (const u of s.users.values()) {
      expect(u.pendingActions()).toEqual([]);
      expect(u.acceptedLog().map((a) => `${a.seq}:${a.hash}`)).toEqual(l[0]?.seqs);
      expect(u.flaggedServers()).toEqual([]);
    }
    const rejected = s.events.filter((e) => e.e.kind === 'rejected');
    expect(rejected).toEqual([]);
  });
});
