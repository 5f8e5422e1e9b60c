/**
 * The sections' sanity checks on made-up scenario results: they pass on sane figures and fail,
 * as `npm run test:bench` must, when a P2P run did not go P2P or a figure is missing.
 */
import { describe, expect, it } from 'vitest';
import type { AdminWindow } from './admin.js';
import type { BotFigures, Dist } from './figures.js';
import { delay } from './delay.js';
import { offload } from './offload.js';
import { robust } from './robust.js';
import type { Scenario, ScenarioResult } from './scenario.js';
import type { SectionContext } from './section.js';

const dist = (samples: number[]): Dist => ({
  count: samples.length,
  mean: samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : NaN,
  p50: samples[Math.floor(samples.length / 2)] ?? NaN,
  p99: samples[samples.length - 1] ?? NaN,
  max: samples[samples.length - 1] ?? NaN,
  samples,
});
const traffic = { bytesSent: 1000, bytesReceived: 2000, messagesSent: 10, messagesReceived: 20 };

function figures(p2pDelays: number[], csDelays: number[]): BotFigures {
  return {
    requested: 6,
    online: 6,
    failed: 0,
    p2pPlaying: 6,
    serving: 0,
    enterMs: { count: 6, p50: 100, p99: 200, max: 200, pending: 0 },
    delay: { all: dist([...csDelays, ...p2pDelays]), cs: dist(csDelays), p2p: dist(p2pDelays) },
    notProcessed: { cs: { sent: csDelays.length, lost: 0 }, p2p: { sent: p2pDelays.length, lost: 1 } },
    cpu: { totalMs: 100, wallMs: 1000, method: 'test', serving: { ms: 50, botSeconds: 10 }, playing: { ms: 5, botSeconds: 10 } },
    bytes: { serving: traffic, playing: traffic, admin: traffic, userPerRound: { sent: 1, received: 2 }, serverPerRound: { sent: 3, received: 4 } },
    latency: { cu: { count: 5, mean: 30, p50: 30, p99: 35 }, su: { count: 5, mean: 20, p50: 20, p99: 25 }, ss: { count: 5, mean: 10, p50: 10, p99: 12 } },
    roam: { switches: 0, p50: NaN, p99: NaN },
  };
}

const window: AdminWindow = {
  seconds: 10,
  playerSeconds: 100,
  cpuMs: 100,
  bytesIn: 1000,
  bytesOut: 5000,
  cpuMsPerPlayerSecond: 1,
  bytesInPerPlayerSecond: 10,
  bytesOutPerPlayerSecond: 50,
  cpuShare: 0.01,
};

/** A context whose runs "happen" as told: P2P sites as the scenario expects unless `noP2P`. */
function ctx(o: { noP2P?: boolean; noP2PDelays?: boolean; noBotsCpu?: boolean } = {}): SectionContext {
  return {
    quick: true,
    log: () => undefined,
    stamp: 'test',
    run: async (s: Scenario): Promise<ScenarioResult> => {
      const p2p = s.expectP2P > 0 && !o.noP2P ? ['meadow'] : [];
      const p2pDelays = s.expectP2P > 0 && !o.noP2PDelays ? [80, 90, 100] : [];
      return {
        name: s.name,
        settings: s.admin,
        injection: s.injection ?? {},
        groups: s.groups.map((g) => ({ label: g.label, args: [], figures: figures(p2pDelays, [20, 30, 40]), load: null })),
        ready: { players: 6, requested: 6, p2pSites: p2p, afterS: 5, reached: true, warm: true },
        p2pSitesAtEnd: p2p,
        admin: window,
        bots: o.noBotsCpu ? { cpuMs: NaN, cpuMsPerPlayerSecond: NaN } : { cpuMs: 1000, cpuMsPerPlayerSecond: s.expectP2P > 0 ? 5 : 2 },
        machine: { cores: 2, busyCores: 1.5, benchCores: 1, loadAverage: 2 },
        adminSource: 'api',
        wallS: 20,
      };
    },
  };
}

const failed = (checks: Array<{ ok: boolean; what: string }>): string[] => checks.filter((c) => !c.ok).map((c) => c.what);

describe('sanity checks of the sections', () => {
  it('pass on sane figures', async () => {
    expect(failed((await offload(ctx())).out.checks)).toEqual([]);
    expect(failed((await delay(ctx())).out.checks)).toEqual([]);
    expect(failed((await robust(ctx())).checks)).toEqual([]);
  });
  it('fail when the site that should be P2P stayed client-server', async () => {
    expect(failed((await offload(ctx({ noP2P: true }))).out.checks)).toContain('offload 10: P2P run has P2P sites');
    expect(failed((await delay(ctx({ noP2P: true }))).out.checks)).toContain('delay-n3-t100-real-world: meadow went P2P');
    expect(failed((await robust(ctx({ noP2P: true }))).checks)).toContain('robust p=0.1: meadow went P2P');
  });
  it("fail when the players' CPU was not measured (no /proc)", async () => {
    expect(failed((await offload(ctx({ noBotsCpu: true }))).out.checks)).toEqual(["offload 10: players' CPU measured"]);
  });
  it('fail when no P2P delay was measured', async () => {
    expect(failed((await delay(ctx({ noP2PDelays: true }))).out.checks)).toContain('delay-n3-t100-real-world: delays > 0 both modes');
    expect(failed((await offload(ctx({ noP2PDelays: true }))).out.checks)).toContain('offload 10: delays > 0');
    expect(failed((await robust(ctx({ noP2PDelays: true }))).checks)).toContain('robust p=0.1: actions sent in both modes');
  });
});
