/**
 * Section 6, browser: the meadow's Site Servers are three real Chromium tabs (the built client,
 * Debian's Chromium over plain CDP, e2e/cdp.ts), its players Node bots; the bots' P2P action delay
 * with the serving tabs visible, then hidden (behind another tab: throttled the way a tab a player
 * switched away from is), in one invocation; on loopback, then (full run) with the real-world
 * latencies injected at both ends: the bots' flags, and in the tabs a test-only script added
 * before the page's own (tabDelay.ts) that delays their data channels and admin socket and
 * measures what each frame waited.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CdpBrowser } from '../../e2e/cdp.js';
import { check, QUICK, type SectionContext, type SectionOutput } from './section.js';
import { mergeFigures } from './figures.js';
import { delayFormulas } from './formulas.js';
import type { Injection, Scenario, Setup } from './scenario.js';
import { REAL_WORLD } from './section.js';
import { sleep } from './proc.js';
import { fmt, mean, quantile, table } from './stats.js';
import { tabDelayScript, type TabDelayConfig, type TabDelayReadout, type TabLinkClass } from './tabDelay.js';

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

interface Tab {
  evaluate<T>(e: string): Promise<T>;
}

/**
 * A tab in a fresh context of its own (a player of its own): visible in its own window, or hidden
 * behind a blank tab (as e2e/cdp.ts's openHiddenTab). It opens blank and is navigated once the
 * delay script (if any) is added, so that script runs before the page's own.
 */
async function openTab(b: CdpBrowser, url: string, hidden: boolean, script: string | null): Promise<Tab> {
  const { browserContextId } = await b.send<{ browserContextId: string }>('Target.createBrowserContext');
  if (hidden) await b.send('Target.createTarget', { url: 'about:blank', browserContextId });
  const { targetId } = await b.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank', browserContextId, ...(hidden ? { background: true } : {}) });
  const { sessionId } = await b.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
  await b.send('Runtime.enable', {}, sessionId);
  if (script) {
    // Without Page.enable the script is accepted but not run (Chromium 156).
    await b.send('Page.enable', {}, sessionId);
    await b.send('Page.addScriptToEvaluateOnNewDocument', { source: script }, sessionId);
  }
  await b.send('Page.navigate', { url }, sessionId);
  return { evaluate: <T>(expression: string) => b.evaluateIn<T>(sessionId, expression) };
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

/** Three guest tabs on the quiet sites, ready to serve, before the bots come; `delay`: injected in them. */
function tabsSetup(hidden: boolean, delay: TabDelayConfig | null): Setup {
  return async (url) => {
    const b = await CdpBrowser.launch();
    try {
      const script = delay ? tabDelayScript(delay) : null;
      const tabs = await Promise.all(QUIET.map(() => openTab(b, url, hidden, script)));
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
        info: async () => ({
          tabs: await Promise.all(tabs.map((t) => t.evaluate<TabState | null>(READ))),
          delays: delay ? await Promise.all(tabs.map((t) => t.evaluate<TabDelayReadout | null>('window.__benchTabDelay ? window.__benchTabDelay.read() : null'))) : [],
        }),
        stop: () => b.close(),
      };
    } catch (e) {
      await b.close();
      throw e;
    }
  };
}

/** A latency as got: mean, p50, p99 (ms) and how many frames. */
export interface Got {
  count: number;
  mean: number;
  p50: number;
  p99: number;
}

/** The three tabs' waits merged per class (quantiles over all their frames, not averaged). */
export function tabLatencies(rs: ReadonlyArray<TabDelayReadout | null>): { got: Record<TabLinkClass, Got>; unclassified: number } {
  const all = (k: TabLinkClass): number[] => rs.flatMap((r) => r?.waited[k] ?? []);
  const got = (xs: number[]): Got => ({ count: xs.length, mean: mean(xs), p50: quantile(xs, 0.5), p99: quantile(xs, 0.99) });
  return {
    got: { cu: got(all('cu')), su: got(all('su')), ss: got(all('ss')) },
    unclassified: rs.reduce((n, r) => n + (r?.unclassified ?? 0), 0),
  };
}

/** A class's mean over both ends (bots and tabs), weighted by frames; 0 when neither injected it. */
export function meanBothEnds(a: { count: number; mean: number } | null, b: Got): number {
  const parts = [a, b].filter((x): x is { count: number; mean: number } => x !== null && x.count > 0);
  const n = parts.reduce((s, x) => s + x.count, 0);
  return n > 0 ? parts.reduce((s, x) => s + x.count * x.mean, 0) / n : 0;
}

export async function browser(ctx: SectionContext): Promise<SectionOutput> {
  if (!existsSync('dist/index.html')) {
    ctx.log('  building the client (vite build) for the browser section ...');
    execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'warn'], { stdio: 'inherit' });
  }
  const T_timeslot = 100;
  const rows = [];
  // Full: visible, hidden, visible, hidden on loopback (the machine's drift falls on both alike),
  // then one pair with the real-world latencies. Quick: still two runs, visible on loopback and
  // hidden with the latencies, so the smoke test goes through the tabs' delay script too.
  const runs: Array<{ hidden: boolean; links: 'loopback' | 'real-world' }> = ctx.quick
    ? [
        { hidden: false, links: 'loopback' },
        { hidden: true, links: 'real-world' },
      ]
    : [
        ...[false, true, false, true].map((hidden) => ({ hidden, links: 'loopback' as const })),
        ...[false, true].map((hidden) => ({ hidden, links: 'real-world' as const })),
      ];
  for (const { hidden, links } of runs) {
    const inj: Injection | null = links === 'real-world' ? REAL_WORLD : null;
    // The tabs get the latencies the bots get (one scenario, one set of flags).
    const tabDelay: TabDelayConfig | null = inj ? { cu: inj.cu ?? 0, su: inj.su ?? 0, ss: inj.ss ?? 0, jitter: inj.jitter ?? 0 } : null;
    const s: Scenario = {
      name: `browser-${hidden ? 'hidden' : 'visible'}-${links}-${rows.length + 1}`,
      // Only the tabs volunteer (the bots do not serve); each quiet site keeps one tab, under the threshold.
      admin: { nServer: 3, threshold: 4, T_timeslot },
      groups: [{ label: 'players', count: 4, site: 'meadow', rate: 2, serve: false }],
      ...(inj ? { injection: inj } : {}),
      ...(ctx.quick ? QUICK : { warmupS: 6, measureS: 15, readyGuessS: 15 }),
      expectP2P: 1,
      readyTimeoutS: 60,
      extraPlayers: QUIET.length,
      setup: tabsSetup(hidden, tabDelay),
    };
    const r = await ctx.run(s);
    const f = mergeFigures(r.groups.map((g) => g.figures));
    const info = r.setupInfo as { tabs?: Array<TabState | null>; delays?: Array<TabDelayReadout | null> } | undefined;
    const tabs = (info?.tabs ?? []).filter((t): t is TabState => t !== null);
    const inTabs = tabLatencies(info?.delays ?? []);
    // Eq. (14) with the mean each class got over both ends (bots send s-u and to the admin, tabs all three).
    const latency = { cu: meanBothEnds(f.latency.cu, inTabs.got.cu), su: meanBothEnds(f.latency.su, inTabs.got.su), ss: meanBothEnds(f.latency.ss, inTabs.got.ss) };
    rows.push({
      name: s.name,
      tabs: hidden ? 'hidden' : 'visible',
      links,
      tabsHidden: tabs.filter((t) => t.hidden).length,
      tabsServing: tabs.filter((t) => t.serving === 'meadow').length,
      p2pSites: r.p2pSitesAtEnd.length,
      p2p: { count: f.delay.p2p.count, mean: f.delay.p2p.mean, p50: f.delay.p2p.p50, p99: f.delay.p2p.p99 },
      lost: f.notProcessed.p2p,
      latency,
      latencyBots: f.latency,
      latencyTabs: inTabs.got,
      unclassified: inTabs.unclassified,
      eq14: delayFormulas(latency, T_timeslot).eq14,
    });
  }
  const got = (g: Got): string => (g.count > 0 ? `${fmt(g.mean)}/${fmt(g.p50)}/${fmt(g.p99)}` : '-');
  const text = [
    `Bots on the P2P meadow served by three Chromium tabs (N_server 3, T_timeslot ${T_timeslot} ms), action delay (ms); eq. (14) = 2 l_su + l_ss + T/2 with the mean latency each link class got (bots and tabs together):`,
    table(
      ['serving tabs', 'links', 'hidden/serving', 'P2P p50', 'P2P p99', 'P2P mean', 'eq.14', 'l_cu/su/ss got', 'actions', 'not processed'],
      rows.map((r) => [
        r.tabs,
        r.links,
        `${r.tabsHidden}/${r.tabsServing}`,
        fmt(r.p2p.p50),
        fmt(r.p2p.p99),
        fmt(r.p2p.mean),
        fmt(r.eq14),
        `${fmt(r.latency.cu)}/${fmt(r.latency.su)}/${fmt(r.latency.ss)}`,
        String(r.p2p.count),
        `${r.lost.lost}/${r.lost.sent}`,
      ]),
    ),
    ...(rows.some((r) => r.links === 'real-world')
      ? [
          'Latency each frame got where it was injected, mean/p50/p99 ms (frames), in the tabs (test-only script before the page\'s, bench/live/tabDelay.ts) and at the bots (src/net/p2p/delayLink.ts):',
          table(
            ['serving tabs', 'tabs l_cu', 'tabs l_su', 'tabs l_ss', 'unclassified', 'bots l_cu', 'bots l_su'],
            rows
              .filter((r) => r.links === 'real-world')
              .map((r) => [
                r.tabs,
                `${got(r.latencyTabs.cu)} (${r.latencyTabs.cu.count})`,
                `${got(r.latencyTabs.su)} (${r.latencyTabs.su.count})`,
                `${got(r.latencyTabs.ss)} (${r.latencyTabs.ss.count})`,
                String(r.unclassified),
                r.latencyBots.cu ? `${got(r.latencyBots.cu)} (${r.latencyBots.cu.count})` : '-',
                r.latencyBots.su ? `${got(r.latencyBots.su)} (${r.latencyBots.su.count})` : '-',
              ]),
          ),
          'A tab\'s data channel is s-s when the admin\'s signal for it names two Site Server ids, else s-u; "unclassified" frames (no signal matched) went at l_su and are counted as s-u. The tabs\' figures span their whole run (from login), the bots\' their window.',
        ]
      : ['Loopback rows use 0 ms in eq. (14) (nothing injected).']),
  ].join('\n');
  const checks = rows.flatMap((r) => [
    check(`${r.name}: the tabs serve the meadow`, r.tabsServing === 3, `${r.tabsServing} tabs serving`),
    check(`${r.name}: tabs ${r.tabs}`, r.tabsHidden === (r.tabs === 'hidden' ? 3 : 0), `${r.tabsHidden} hidden`),
    check(`${r.name}: delays > 0`, r.p2p.count > 0 && r.p2p.p50 > 0, `${r.p2p.count} actions, p50 ${fmt(r.p2p.p50)}`),
    ...(r.links === 'real-world'
      ? [
          check(
            `${r.name}: latency measured in the tabs (l_cu, l_su) and at the bots (l_su)`,
            // The bots' l_cu may carry no frame in their window: players on a P2P site have nothing
            // to say to the admin (no HUD ping there, the clock re-synced every 120 s), and the P2P
            // delay does not cross it.
            r.latencyTabs.cu.count > 0 && r.latencyTabs.su.count > 0 && (r.latencyBots.su?.count ?? 0) > 0,
            `tabs ${got(r.latencyTabs.cu)} / ${got(r.latencyTabs.su)}, bots ${r.latencyBots.cu ? got(r.latencyBots.cu) : '-'} / ${r.latencyBots.su ? got(r.latencyBots.su) : '-'}`,
          ),
        ]
      : []),
  ]);
  return { name: 'browser', title: '6. Browser tabs as Site Servers', text, figures: { rows }, svgs: {}, checks };
}
