import { describe, expect, it } from 'vitest';
import { kindRates, marginalCpu, parseMessages, parseOptions, type MessageCount } from './adminload.js';

const c = (framesIn: number, bytesIn: number, framesOut = 0, bytesOut = 0): MessageCount => ({ framesIn, bytesIn, framesOut, bytesOut });

describe('adminload: per-type rates', () => {
  it('diffs each type between the snapshots per player-second, most bytes first, silent types left out', () => {
    const a = { action: c(10, 700), pong: c(0, 0, 4, 300), serverStats: c(1, 300) };
    const b = { action: c(30, 2100), pong: c(0, 0, 24, 1800), serverStats: c(1, 300), 'ping.clock': c(20, 960) };
    expect(kindRates(a, b, 10)).toEqual([
      { kind: 'pong', framesIn: 0, bytesIn: 0, framesOut: 2, bytesOut: 150 },
      { kind: 'action', framesIn: 2, bytesIn: 140, framesOut: 0, bytesOut: 0 },
      { kind: 'ping.clock', framesIn: 2, bytesIn: 96, framesOut: 0, bytesOut: 0 },
    ]);
    expect(() => kindRates(a, b, 0)).toThrow(/player-seconds/);
  });

  it("reads admin.messages from /api/admin's answer (none from an older admin) and refuses anything else", () => {
    expect(parseMessages({ admin: { messages: { action: c(1, 2) } }, sites: [] })).toEqual({ action: c(1, 2) });
    expect(() => parseMessages({ admin: null })).toThrow(/admin counters/);
    // An admin from before the per-type counters: its totals are still measured.
    expect(parseMessages({ admin: { cpuUserMs: 1 } })).toEqual({});
    expect(() => parseMessages({ admin: { messages: { action: { framesIn: -1, bytesIn: 0, framesOut: 0, bytesOut: 0 } } } })).toThrow();
  });

  it('takes bounded options', () => {
    expect(parseOptions([])).toEqual({ bots: 25, runs: 1, warmupS: 8, measureS: 15, idleS: 10, json: null });
    expect(parseOptions(['--idle', '0'])).toMatchObject({ idleS: 0 });
    expect(() => parseOptions(['--idle', '-1'])).toThrow(/--idle/);
    expect(parseOptions(['--bots', '60', '--runs', '2', '--json', 'x.json'])).toMatchObject({ bots: 60, runs: 2, json: 'x.json' });
    expect(() => parseOptions(['--bots', '1000'])).toThrow(/--bots/);
    expect(() => parseOptions(['--runs', '1.5'])).toThrow(/--runs/);
    expect(() => parseOptions(['--json'])).toThrow(/--json/);
    expect(() => parseOptions(['--fast', '1'])).toThrow(/unknown option/);
  });
});

describe('adminload: the idle floor', () => {
  it("the marginal CPU per player-second is the window's CPU less the idle admin's rate over the window", () => {
    // 20 s with 60 players: 300 ms, of which the idle admin's 1.5 ms/s is 30.
    expect(marginalCpu({ cpuMs: 300, seconds: 20, playerSeconds: 1200 }, 1.5)).toBeCloseTo(270 / 1200, 12);
    expect(marginalCpu({ cpuMs: 300, seconds: 20, playerSeconds: 1200 }, 0)).toBe(0.25);
  });
});
