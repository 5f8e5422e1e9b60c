/**
 * The operator page's figures on a live P2P site: six bots on two sites (each site served by the
 * other's bots), then every active server shows how far its clock is from the admin's, within the
 * estimate's uncertainty, and its action delay; each site shows its lifecycle state, since when,
 * and its transitions; the admin shows its own CPU and bytes per player.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { Bot } from '../src/bots/bot.js';
import { clockError, type OperatorServer, type OperatorView } from './operator.js';
import { startServer } from './testkit.js';
import { until } from './p2pKit.js';

describe('operator figures', () => {
  it('puts the clock figure midway in the window the stats were sent in', () => {
    // Received at admin time 1000 after a 40 ms round trip: sent between 960 and 1000.
    expect(clockError({ clock: 985, at: 1000 }, 40)).toEqual({ clockError: 5, clockErrorPlusMinus: 20 });
    expect(clockError({ clock: 985, at: 1000 }, null)).toEqual({ clockError: -15, clockErrorPlusMinus: null });
    expect(clockError({ at: 1000 }, 40)).toEqual({ clockError: null, clockErrorPlusMinus: null });
    expect(clockError(null, 40)).toEqual({ clockError: null, clockErrorPlusMinus: null });
  });

  it('shows each server of a live P2P site with its clock against the admin, its action delay, and the admin costs', async () => {
    const startedAt = Date.now();
    // Saves every second: a site is `p2p` (not `transferring`) once the admin saw its majority's state.
    const s = await startServer({ p2p: { transferThreshold: 3, p2pSaveMs: 1000 }, adminToken: 'operator-token' });
    const bots = ['meadow', 'town', 'meadow', 'town', 'meadow', 'town'].map((site) => new Bot({ url: s.url, site, rate: 4 }));
    onTestFinished(() => bots.forEach((b) => b.close()));
    await Promise.all(bots.map((b) => b.start()));
    let measured: OperatorServer[] = [];
    // Polls the operator view (an HTTP read, no event to await) until three servers have figures.
    const view = await until(
      'three measured servers, their sites running at them, and the admin rates',
      async () => {
        const v = (await (await fetch(`${s.base}/api/admin`, { headers: { authorization: 'Bearer operator-token' } })).json()) as OperatorView;
        measured = v.sites.flatMap((x) => x.servers).filter((x) => x.state === 'active' && x.clockError !== null && x.actionDelay !== null);
        const served = new Set(measured.map((x) => v.sites.find((y) => y.servers.includes(x))?.id));
        const running = v.sites.filter((x) => served.has(x.id)).every((x) => x.state === 'p2p');
        return measured.length >= 3 && v.admin?.rates && running ? v : null;
      },
      30_000,
    );
    expect(measured.length).toBeGreaterThanOrEqual(3);
    for (const x of measured) {
      // Same machine, synced clocks: within the estimate's uncertainty (plus a busy machine's slack),
      // not the ~1.8e12 of a monotonic clock against a wall clock.
      expect(x.clockErrorPlusMinus).not.toBeNull();
      expect(Math.abs(x.clockError ?? Infinity)).toBeLessThan((x.clockErrorPlusMinus ?? 0) + 250);
      expect(x.actionDelay).toBeGreaterThan(0);
      expect(x.actionDelay).toBeLessThan(5000);
      expect(x.actionDelayMax).toBeGreaterThanOrEqual(x.actionDelay ?? 0);
    }
    const p2pSites = view?.sites.filter((x) => x.mode === 'p2p' && x.servers.some((v) => v.actionDelay !== null)) ?? [];
    expect(p2pSites.length).toBeGreaterThan(0);
    for (const site of p2pSites) expect(site.actionDelay).toBeGreaterThan(0);
    // Each site's lifecycle: the served ones were handed over and run at their servers since the
    // hand-over's `running`; the others never left the admin.
    for (const site of view?.sites ?? []) {
      if (p2pSites.includes(site)) {
        expect(site.state).toBe('p2p');
        expect(site.transitions.map((t) => `${t.from} -${t.event}-> ${t.to}`)).toEqual([
          'client-server -transfer-> transferring',
          'transferring -running-> p2p',
        ]);
        expect(site.since).toBe(site.transitions[1]?.at);
        expect(site.since).toBeGreaterThanOrEqual(site.transitions[0]?.at ?? Infinity);
        expect(site.since).toBeGreaterThanOrEqual(startedAt);
        expect(site.since).toBeLessThanOrEqual(view?.now ?? 0);
      } else if (site.mode === 'cs') {
        expect(site).toMatchObject({ state: 'client-server', since: null, transitions: [] });
      }
    }
    const a = view?.admin;
    expect(a?.players).toBe(6);
    expect(a?.rates?.cpuPercent).toBeGreaterThan(0);
    expect(a?.rates?.bytesOutPerPlayerSecond).toBeGreaterThan(0);
    const page = await (await fetch(`${s.base}/admin`, { headers: { authorization: 'Bearer operator-token' } })).text();
    expect(page).toContain('clock vs admin ms');
    expect(page).toContain('per player-second');
    expect(page).toContain('data-testid="lifecycle"');
  }, 60_000);
});
