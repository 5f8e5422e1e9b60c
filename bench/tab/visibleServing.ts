/**
 * A visible serving tab vs a hidden one, in one run (issue 16, the tab part).
 *
 *     npx vite build && npx tsx bench/tab/visibleServing.ts [--moves 20] [--rounds 3] [--profile]
 *
 * One headless Chromium (e2e/cdp.ts, plain CDP: Playwright would keep every tab visible and
 * unthrottled), five guest tabs each in a browser context (a window) of its own: three on town,
 * forest and lake become the Site Servers of meadow, where two players walk. The players are
 * visible; the serving tabs are hidden (a blank tab in front of each), then brought to the front
 * of their windows (visible), and so on for `--rounds` rounds, then hidden once more: alternating
 * so that the machine's load, which drifts (it is shared), weighs on both alike. In each phase
 * both players make `--moves` one-tile moves (waiting for each to be accepted, then 150 ms) and
 * the HUD's action delay of each is kept. Per phase it prints the delays (median, p90), each
 * serving tab's Timeslots against the T_timeslot grid and the frames each tab drew per second
 * (`__mmo.frames()`; tabs: three servers, then the two players); then all hidden phases' delays
 * against all visible ones'.
 * `--profile` adds a CPU profile of one visible serving tab while both players make 10 moves (self
 * time by script and the top functions).
 *
 * Not in `npm test`: it takes 2-4 minutes and measures the machine as much as the code.
 */
import { loadavg } from 'node:os';
import { getSite, isWalkable, stepFrom, type Dir } from '../../src/game/index.js';
import { CdpBrowser, type CdpPage } from '../../e2e/cdp.js';
import { operatorView, startServer, waitFor, type RunningServer } from '../../e2e/helpers.js';

const BUSY = 'meadow';
const QUIET = ['town', 'forest', 'lake'] as const;
const OPPOSITE: Record<Dir, Dir> = { up: 'down', down: 'up', left: 'right', right: 'left' };
const KEY: Record<Dir, string> = { up: 'ArrowUp', down: 'ArrowDown', left: 'ArrowLeft', right: 'ArrowRight' };

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1 || v > 1000) throw new Error(`${name}: an integer in 1..1000`);
  return v;
}
const MOVES = argValue('--moves', 20);
const ROUNDS = argValue('--rounds', 3);
const PROFILE = process.argv.includes('--profile');

interface Tab {
  page: CdpPage;
  targetId: string;
  /** The blank tab in front of it while hidden (serving tabs only). */
  cover: string | null;
  sessionId: string;
}

interface Reading {
  at: number;
  visibility: string;
  user: string | null;
  site: string | null;
  me: { x: number; y: number } | null;
  timeslotSeq: number | null;
  status: string | null;
  serverId: string | null;
  frames: number | null;
}

const READ = `(() => {
  const m = window.__mmo;
  if (!m) return null;
  const s = m.snapshot(), p = m.p2p();
  return { at: performance.now(), visibility: document.visibilityState, user: s.user, site: s.site,
    me: s.me && { x: s.me.x, y: s.me.y }, timeslotSeq: p.serving ? p.serving.timeslotSeq : null,
    status: p.serving ? p.serving.status : null, serverId: p.serverId,
    frames: typeof m.frames === 'function' ? m.frames() : null };
})()`;

async function read(t: Tab): Promise<Reading> {
  const r = await t.page.evaluate<Reading | null>(READ);
  if (!r) throw new Error('no window.__mmo');
  return r;
}

/** A tab in a browser context of its own; with `hidden`, behind a blank tab of its window. */
async function openTab(b: CdpBrowser, url: string, hidden: boolean): Promise<Tab> {
  const { browserContextId } = await b.send<{ browserContextId: string }>('Target.createBrowserContext');
  let cover: string | null = null;
  if (hidden) {
    cover = (await b.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank', browserContextId })).targetId;
  }
  const { targetId } = await b.send<{ targetId: string }>('Target.createTarget', { url, browserContextId, background: hidden });
  const { sessionId } = await b.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
  await b.send('Runtime.enable', {}, sessionId);
  const page: CdpPage = {
    targetId,
    consoleTail: () => [],
    evaluate: <T>(expression: string) => b.evaluateIn<T>(sessionId, expression),
  };
  return { page, targetId, cover, sessionId };
}

async function guestOn(t: Tab, site: string): Promise<Reading> {
  await waitFor('login form', () => t.page.evaluate<boolean>(`!!document.querySelector('[data-testid="login-guest"]') && !!window.__mmo`));
  await t.page.evaluate(`(() => {
    document.querySelector('[data-testid="login-site"]').value = ${JSON.stringify(site)};
    document.querySelector('[data-testid="login-guest"]').click();
  })()`);
  return waitFor(`guest on ${site}`, async () => {
    const r = await read(t);
    return r.site === site && r.me !== null && r.serverId !== null ? r : null;
  });
}

/** A direction from `at` onto walkable ground (the player walks there and back). */
function openDir(at: { x: number; y: number }): Dir {
  const def = getSite(BUSY);
  const d = (['right', 'left', 'down', 'up'] as const).find((x) => {
    const n = stepFrom(at, x);
    return isWalkable(def, n.x, n.y);
  });
  if (!d) throw new Error(`walled in at ${at.x},${at.y}`);
  return d;
}

/**
 * In the player's page: `n` moves there and back by synthetic key presses, each awaited until the
 * player stands on the new tile; returns the HUD's action delay of each (null: not accepted in 10 s).
 */
const walkInPage = (there: string, back: string, n: number): string => `(async () => {
  const snap = () => window.__mmo.snapshot();
  const press = (key) => {
    window.dispatchEvent(new KeyboardEvent('keydown', { key }));
    window.dispatchEvent(new KeyboardEvent('keyup', { key }));
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const delays = [];
  for (let i = 0; i < ${n}; i++) {
    const from = snap().me;
    const t0 = performance.now();
    press(i % 2 === 0 ? ${JSON.stringify(there)} : ${JSON.stringify(back)});
    for (;;) {
      await sleep(5);
      const s = snap();
      if (s.me && (s.me.x !== from.x || s.me.y !== from.y)) { delays.push(s.lastActionDelay); break; }
      if (performance.now() - t0 > 10000) { delays.push(null); break; }
    }
    await sleep(150);
  }
  return delays;
})()`;

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

async function setVisible(b: CdpBrowser, t: Tab, visible: boolean): Promise<void> {
  await b.send('Target.activateTarget', { targetId: visible || !t.cover ? t.targetId : t.cover });
  const want = visible ? 'visible' : 'hidden';
  await waitFor(`tab ${want}`, async () => (await read(t)).visibility === want, 10_000);
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string }; hitCount?: number }>;
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

/** Self time per script (and the top functions) of a CPU profile, in ms. */
function summarise(p: CpuProfile): { total: number; byScript: Record<string, number>; top: Array<[string, number]> } {
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    // A sample's time is the delta to the next one.
    const dt = (deltas[i + 1] ?? 0) / 1000;
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + dt);
  }
  const byScript: Record<string, number> = {};
  const byFn = new Map<string, number>();
  for (const n of p.nodes) {
    const ms = self.get(n.id) ?? 0;
    const file = n.callFrame.url.split('/').pop() || n.callFrame.functionName || '(native)';
    const script = file.replace(/-[\w-]{8}\.js$/, '.js');
    byScript[script] = (byScript[script] ?? 0) + ms;
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${script}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + ms);
  }
  for (const k of Object.keys(byScript)) byScript[k] = Math.round(byScript[k]!);
  const top = [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]): [string, number] => [k, Math.round(v)]);
  return { total: Math.round((p.endTime - p.startTime) / 1000), byScript, top };
}

async function main(): Promise<void> {
  let server: RunningServer | null = null;
  let browser: CdpBrowser | null = null;
  try {
    server = await startServer({ env: { MMO_TRANSFER_THRESHOLD: '2', MMO_N_SERVER: '3' } });
    const base = server.base;
    browser = await CdpBrowser.launch();
    const b = browser;
    const servers = await Promise.all(QUIET.map(() => openTab(b, base, true)));
    await Promise.all(servers.map((t, i) => guestOn(t, QUIET[i]!)));
    const serverUsers = (await Promise.all(servers.map(read))).map((r) => r.user!);
    await waitFor('the serving tabs eligible', async () => {
      const v = await operatorView(base);
      return serverUsers.every((u) => v.peers.some((p) => p.user === u && p.why === null));
    });
    const players = [await openTab(b, base, false), await openTab(b, base, false)];
    for (const p of players) await guestOn(p, BUSY);
    const T = (await operatorView(base)).settings.T_timeslot;
    await waitFor(
      `${BUSY} served by the three tabs`,
      async () => {
        const site = (await operatorView(base)).sites.find((s) => s.id === BUSY);
        const rs = await Promise.all(servers.map(read));
        return site?.mode === 'p2p' && site.servers.length === 3 && rs.every((r) => r.status === 'running');
      },
      30_000,
    );
    const pooled = { hidden: [] as number[], visible: [] as number[], lost: { hidden: 0, visible: 0 } };
    const phase = async (name: string, visible: boolean): Promise<void> => {
      for (const t of servers) await setVisible(b, t, visible);
      // Let the tabs settle into the new visibility (Phaser resumes, the first frames are drawn).
      await new Promise((r) => setTimeout(r, 2000));
      const before = await Promise.all([...servers, ...players].map(read));
      const starts = await Promise.all(players.map(read));
      const delays = await Promise.all(
        players.map((p, i) => {
          const d = openDir(starts[i]!.me!);
          return p.page.evaluate<Array<number | null>>(walkInPage(KEY[d], KEY[OPPOSITE[d]], MOVES));
        }),
      );
      const after = await Promise.all([...servers, ...players].map(read));
      const all = delays.flat();
      const ok = all.filter((x): x is number => x !== null);
      const r = {
        phase: name,
        moves: all.length,
        lost: all.length - ok.length,
        medianMs: Math.round(quantile(ok, 0.5)),
        p90Ms: Math.round(quantile(ok, 0.9)),
        timeslotShare: servers.map((_, i) =>
          +(((after[i]!.timeslotSeq ?? 0) - (before[i]!.timeslotSeq ?? 0)) / ((after[i]!.at - before[i]!.at) / T)).toFixed(3),
        ),
        framesPerSecond: after.map((a, i) =>
          a.frames === null || before[i]!.frames === null ? null : +((a.frames - before[i]!.frames) / ((a.at - before[i]!.at) / 1000)).toFixed(1),
        ),
        seconds: +((after[0]!.at - before[0]!.at) / 1000).toFixed(1),
        load: loadavg().map((x) => x.toFixed(1)).join(' '),
      };
      const kind = visible ? 'visible' : 'hidden';
      pooled[kind].push(...ok);
      pooled.lost[kind] += r.lost;
      console.log(JSON.stringify(r));
    };

    for (let i = 1; i <= ROUNDS; i++) {
      await phase(`hidden ${i}`, false);
      await phase(`visible ${i}`, true);
    }
    await phase(`hidden ${ROUNDS + 1}`, false);
    const h = pooled.hidden;
    const v = pooled.visible;
    console.log(
      JSON.stringify({
        all: true,
        hidden: { moves: h.length, lost: pooled.lost.hidden, medianMs: Math.round(quantile(h, 0.5)), p90Ms: Math.round(quantile(h, 0.9)) },
        visible: { moves: v.length, lost: pooled.lost.visible, medianMs: Math.round(quantile(v, 0.5)), p90Ms: Math.round(quantile(v, 0.9)) },
        medianRatio: +(quantile(v, 0.5) / quantile(h, 0.5)).toFixed(2),
        p90Ratio: +(quantile(v, 0.9) / quantile(h, 0.9)).toFixed(2),
      }),
    );

    if (PROFILE) {
      const t = servers[0]!;
      await setVisible(b, t, true);
      await b.send('Profiler.enable', {}, t.sessionId);
      await b.send('Profiler.setSamplingInterval', { interval: 500 }, t.sessionId);
      await b.send('Profiler.start', {}, t.sessionId);
      // The players walk meanwhile so the serving tab has Timeslots and actions to handle.
      const starts = await Promise.all(players.map(read));
      await Promise.all(
        players.map((p, i) => {
          const d = openDir(starts[i]!.me!);
          return p.page.evaluate(walkInPage(KEY[d], KEY[OPPOSITE[d]], 10));
        }),
      );
      const { profile } = await b.send<{ profile: CpuProfile }>('Profiler.stop', {}, t.sessionId);
      console.log(JSON.stringify({ profile: 'visible serving tab', ...summarise(profile) }, null, 1));
      await setVisible(b, t, false);
    }
  } finally {
    await browser?.close();
    await server?.dispose();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
