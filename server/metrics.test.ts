import { describe, expect, it } from 'vitest';
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

  it('counts the real bytes of HTTP and WebSocket clients in /api/admin, for a bench to diff', async () => {
    const s = await startServer({ adminToken: 'metrics-token' });
    const read = async (): Promise<AdminMetrics> =>
      ((await (await fetch(`${s.base}/api/admin`, { headers: { authorization: 'Bearer metrics-token' } })).json()) as { admin: AdminMetrics }).admin;
    const a = await read();
    const p = await Player.connect(s.wsUrl, await guest(s.base, 'lake'));
    const text = 'x'.repeat(200);
    for (let k = 0; k < 5; k++) await p.act({ kind: 'say', text });
    const b = await read();
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
