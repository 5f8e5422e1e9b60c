/**
 * bench/serve.ts as a harness: its options are bounded, and a short run of the real core says
 * what the protocol fixes (frames per server per round, every action accepted, nothing
 * rejected), so a broken wire or meter shows here rather than as a plausible figure.
 */
import { describe, expect, it } from 'vitest';
import { parseServeArgs, serveBench } from './serve.js';

describe('bench/serve.ts', () => {
  it('reads its options and refuses unknown or out-of-range ones', () => {
    expect(parseServeArgs(['--seconds', '3', '--json', '--split'])).toEqual({ options: { seconds: 3, split: true }, json: true });
    expect(() => parseServeArgs(['--second', '3'])).toThrow(/unknown or incomplete option --second/);
    expect(() => parseServeArgs(['--seconds'])).toThrow(/incomplete/);
    expect(() => serveBench({ servers: 4 })).toThrow(/--servers must be odd/);
    expect(() => serveBench({ seconds: 0 })).toThrow(/--seconds must be in/);
    expect(() => serveBench({ users: Number.NaN })).toThrow(/--users must be in/);
  });

  it('runs a site: each server sends a Timeslot and an echo to each peer per round, users act and are applied', () => {
    const r = serveBench({ seconds: 2, warmup: 1, split: true });
    const rounds = 1000 / r.options.tTimeslot;
    const peers = r.options.servers - 1;
    expect(r.sentPerServerSecond.byType.timeslot?.frames).toBeCloseTo(peers * rounds, 5);
    expect(r.sentPerServerSecond.byType.echo?.frames).toBeCloseTo(peers * rounds, 5);
    // Every user sends each action to every server; the servers receive those, Timeslots and echoes.
    expect(r.sentPerUserSecond.frames).toBeCloseTo(r.options.rate * r.options.servers, 5);
    expect(r.receivedPerServerSecond.frames).toBeCloseTo(r.options.users * r.options.rate + 2 * peers * rounds, 5);
    expect(r.actions.sent).toBe(r.options.users * r.options.rate * r.options.seconds);
    expect(r.actions.accepted).toBeGreaterThanOrEqual(r.actions.sent - r.options.users * r.options.rate); // the last round may still be in flight
    expect(r.rejected).toBe(0);
    expect(r.undecodable).toBe(0);
    expect(r.cpuPerServerSecond).toBeGreaterThan(0);
    expect(r.cpuPerUserSecond).toBeGreaterThan(0);
    const parts = r.serverParts;
    expect(parts).not.toBeNull();
    for (const v of Object.values(parts ?? {})) expect(v).toBeGreaterThan(0);
    expect(r.insideMs.server + r.insideMs.user + r.insideMs.admin).toBeLessThanOrEqual(r.cpuMs + 1);
  });
});
