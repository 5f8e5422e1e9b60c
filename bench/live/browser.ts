/**
 * Section 6, browser: the meadow's Site Servers are three real Chromium tabs (the built client,
 * Debian's Chromium over plain CDP, e2e/cdp.ts), its players Node bots; the bots' P2P action delay
 * with the serving tabs visible, then hidden (behind another tab: throttled the way a tab a player
 * switched away from is), in one invocation. No latency is injected in the tabs (not done yet).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CdpBrowser } from '../../e2e/cdp.js';
import { check, QUICK, type SectionContext, type SectionOutput } from './section.js';
import { mergeFigures } from './figures.js';
import type { Scenario, Setup } from './scenario.js';
import { sleep } from './proc.js';
import { fmt, table } from './stats.js';

const QUIET = ['town', 'forest', 'lake'] as const;

interface TabState {
  user: string | null;
  site: string | null;
  serverId: string | null;
  serving: string | null;
  hidden: boolean;
}

const READ = `(() => window.__mmo ? (() => { const s = window.__mmo.snapshot(); const p = window.__mmo.p2p();
  return { user: s.user, site: s.site, serverId: p.serverId, serving: p.serving ? p.serving.site : null, hidden: document.hidden }; })() : null)()`;

/** A tab in a fresh context of its own (its own window: visible). */
async function openVisibleTab(b: CdpBrowser, url: string): Promise<{ evaluate<T>(e: string): Promise<T> }> {
  const { browserContextId } = await b.send<{ browserContextId: string }>('Target.createBrowserContext');
  const { targetId } = await b.send<{ targetId: string }>('Target.createTarget', { url, browserContextId });
  const { sessionId } = await b.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
  await b.send('Runtime.enable', {}, sessionId);
  return {
    async evaluate<T>(expression: string): Promise<T> {
      const r = await b.send<{ result: { value?: unknown }; exceptionDetails?: { text: string } }>(
        'Runtime.evaluate',
        { expression, returnByValue: true, awaitPromise: true },
        sessionId,
      );
      if (r.exceptionDetails) throw new Error(`in page: ${r.exceptionDetails.text}`);
      return r.result.value as T;
    },
  };
}

async function until<T>(what: string, f: () => Promise<T | null>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`browser: ${what} not within ${ms / 1000} s`);
    await sleep(250);
  }
}

/** Three guest tabs on the quiet sites, ready to serve, before the bots come. */
function tabsSetup(hidden: boolean): Setup {
  return async (url) => {
    const b = await CdpBrowser.launch();
    try {
      const tabs = await Promise.all(QUIET.map(() => (hidden ? b.openHiddenTab(url) : openVisibleTab(b, url))));
      await Promise.all(
        tabs.map(async (t, i) => {
          await until('login form', () => t.evaluate<boolean>(`!!document.querySelector('[data-testid="login-guest"]') && !!window.__mmo`).then((x) => (x ? x : null)), 60_000);
          await t.evaluate(`(() => { document.querySelector('[data-testid="login-site"]').value = ${JSON.stringify(QUIET[i])};
            document.querySelector('[data-testid="login-guest"]').click(); })()`);
          await until('guest in and registered to serve', async () => {
            const s = await t.evaluate<TabState | null>(READ);
            return s && s.site === QUIET[i] && s.serverId !== null ? s : null;
          }, 60_000);
        }),
      );
      return {
        info: async () => ({ tabs: await Promise.all(tabs.map((t) => t.evaluate<TabState | null>(READ))) }),
        stop: () => b.close(),
      };
    } catch (e) {
      await b.close();
      throw e;
    }
  };
}

export async function browser(ctx: SectionContext): Promise<SectionOutput> {
  if (!existsSync('dist/index.html')) {
    ctx.log('  building the client (vite build) for the browser section ...');
    execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn'], { stdio: 'inherit' });
  }
  const rows = [];
  // Full: visible, hidden, visible, hidden (the machine's drift falls on both alike).
  for (const hidden of ctx.quick ? [false, true] : [false, true, false, true]) {
    const s: Scenario = {
      name: `browser-${hidden ? 'hidden' : 'visible'}-${rows.length + 1}`,
      // Only the tabs volunteer (the bots do not serve); each quiet site keeps one tab, under the threshold.
      admin: { nServer: 3, threshold: 4, T_timeslot: 100 },
      groups: [{ label: 'players', count: 4, site: 'meadow', rate: 2, serve: false }],
      ...(ctx.quick ? QUICK : { warmupS: 6, measureS: 15, readyGuessS: 15 }),
      expectP2P: 1,
      readyTimeoutS: 60,
      extraPlayers: QUIET.length,
      setup: tabsSetup(hidden),
    };
    const r = await ctx.run(s);
    const f = mergeFigures(r.groups.map((g) => g.figures));
    const tabs = ((r.setupInfo as { tabs?: Array<TabState | null> } | undefined)?.tabs ?? []).filter((t): t is TabState => t !== null);
    rows.push({
      tabs: hidden ? 'hidden' : 'visible',
      tabsHidden: tabs.filter((t) => t.hidden).length,
      tabsServing: tabs.filter((t) => t.serving === 'meadow').length,
      p2pSites: r.p2pSitesAtEnd.length,
      p2p: { count: f.delay.p2p.count, mean: f.delay.p2p.mean, p50: f.delay.p2p.p50, p99: f.delay.p2p.p99 },
      lost: f.notProcessed.p2p,
    });
  }
  const text = [
    'Bots on the P2P meadow served by three Chromium tabs (N_server 3, T_timeslot 100 ms, loopback), action delay (ms):',
    table(
      ['serving tabs', 'hidden/serving', 'P2P p50', 'P2P p99', 'P2P mean', 'actions', 'not processed'],
      rows.map((r) => [r.tabs, `${r.tabsHidden}/${r.tabsServing}`, fmt(r.p2p.p50), fmt(r.p2p.p99), fmt(r.p2p.mean), String(r.p2p.count), `${r.lost.lost}/${r.lost.sent}`]),
    ),
  ].join('\n');
  const checks = rows.flatMap((r) => [
    check(`browser ${r.tabs}: the tabs serve the meadow`, r.tabsServing === 3, `${r.tabsServing} tabs serving`),
    check(`browser ${r.tabs}: tabs ${r.tabs}`, r.tabsHidden === (r.tabs === 'hidden' ? 3 : 0), `${r.tabsHidden} hidden`),
    check(`browser ${r.tabs}: delays > 0`, r.p2p.count > 0 && r.p2p.p50 > 0, `${r.p2p.count} actions, p50 ${fmt(r.p2p.p50)}`),
  ]);
  return { name: 'browser', title: '6. Browser tabs as Site Servers', text, figures: { rows }, svgs: {}, checks };
}
