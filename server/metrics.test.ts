import { describe, expect, it } from 'vitest';
import { CLOCK_PING_BASE } from '../src/protocol/clock.js';
import { ServerMetrics, RATE_WINDOW_MS } from './metrics.js';
import { guest, Player, startServer } from './testkit.js';
import type { AdminMetrics } from './metrics.js';

describe('admin metrics', () => {
  it('integrates players over time and reads rates over the window', () => {
    let now = 0;
    let players = 0;
    let cpuUs = 0;
    const m = new ServerMetrics({ now: () => now, players: () => players, cpu: () => ({ user: cpuUs, system: 0 }) });
    m.sample();
    expect(m.snapshot().rates).toBeNull();
    players = 4;
    m.sample(); // 4 players from t = 0
    for (let k = 1; k <= 5; k++) {
      now = k * 1000;
      cpuUs += 250_000; // a quarter of a core
      m.sample();
    }
    const s = m.snapshot();
    expect(s.playerSeconds).toBe(20);
    expect(s.players).toBe(4);
    expect(s.cpuUserMs).toBe(1250);
    expect(s.rates?.windowMs).toBe(RATE_WINDOW_MS);
    expect(s.rates?.cpuPercent).toBe(25);
    players = 2;
    now = 6000;
    expect(m.counters().playerSeconds).toBe(24); // 4 players held until the reading at 6 s
    now = 7000;
    expect(m.counters().playerSeconds).toBe(26);
  });

  it('counts frames and payload bytes per message type each way; past 64 types the rest share one', () => {
    const m = new ServerMetrics({ now: () => 0, players: () => 0, cpu: () => ({ user: 0, system: 0 }) });
    m.countIn('action', 70);
    m.countIn('action', 30);
    m.countOut('update', 500);
    m.countOut('ws.ping', 0);
    expect(m.snapshot().messages).toEqual({
      action: { framesIn: 2, bytesIn: 100, framesOut: 0, bytesOut: 0 },
      update: { framesIn: 0, bytesIn: 0, framesOut: 1, bytesOut: 500 },
      'ws.ping': { framesIn: 0, bytesIn: 0, framesOut: 1, bytesOut: 0 },
    });
    for (let k = 0; k < 100; k++) m.countIn(`kind${k}`, 1);
    const kinds = m.snapshot().messages;
    expect(Object.keys(kinds)).toHaveLength(65);
    expect(kinds.other?.framesIn).toBe(100 - 61);
    expect(kinds.action?.framesIn).toBe(2);
  });

  it('counts the real bytes of HTTP and WebSocket clients in /api/admin, for a bench to diff', async () => {
    const s = await startServer({ adminToken: 'metrics-token' });
    const read = async (): Promise<AdminMetrics> =>
      ((await (await fetch(`${s.base}/api/admin`, { headers: { authorization: 'Bearer metrics-token' } })).json()) as { admin: AdminMetrics }).admin;
    const a = await read();
    const p = await Player.connect(s.wsUrl, await guest(s.base, 'lake'));
    const text = 'x'.repeat(200);
    for (let k = 0; k < 5; k++) await p.act({ kind: 'say', text });
    // A clock-sync ping is counted apart from a round-trip one; the pongs by what they are.
    p.client.send({ type: 'ping', id: 7, t: 1 });
    await p.client.waitType('pong', (m) => m.id === 7);
    p.client.send({ type: 'ping', id: CLOCK_PING_BASE + 1, t: 1 });
    await p.client.waitType('pong', (m) => m.id === CLOCK_PING_BASE + 1);
    p.client.sendRaw('{"type":"nonsense"}');
    await p.client.waitType('error');
    const b = await read();
    const diff = (kind: string, k: 'framesIn' | 'framesOut' | 'bytesIn'): number => (b.messages[kind]?.[k] ?? 0) - (a.messages[kind]?.[k] ?? 0);
    expect(diff('action', 'framesIn')).toBe(5);
    expect(diff('action', 'bytesIn')).toBeGreaterThan(5 * 200);
    expect(diff('update', 'framesOut')).toBeGreaterThanOrEqual(5);
    expect(diff('ping', 'framesIn')).toBe(1);
    expect(diff('ping.clock', 'framesIn')).toBe(1);
    expect(diff('pong', 'framesOut')).toBe(2);
    expect(diff('invalid', 'framesIn')).toBe(1);
    expect(diff('error', 'framesOut')).toBe(1);
    // Five chat lines of 200 characters each went in and came back at least once.
    expect(b.bytesIn - a.bytesIn).toBeGreaterThan(1000);
    expect(b.bytesOut - a.bytesOut).toBeGreaterThan(1000);
    expect(b.players).toBe(1);
    expect(b.at).toBeGreaterThanOrEqual(a.at);
    expect(b.cpuUserMs + b.cpuSystemMs).toBeGreaterThan(a.cpuUserMs + a.cpuSystemMs);
    p.client.ws.close();
    await p.client.closed;
  });
});
