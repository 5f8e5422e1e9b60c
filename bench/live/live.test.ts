/** The pure parts of `npm run bench:live`: figures, formulas in force, merging, options, plots. */
import { describe, expect, it } from 'vitest';
import { computeLoad, PAPER_LOAD } from '../../src/analysis/load.js';
import { addSample, emptyTally } from '../../src/bots/tally.js';
import { summary, Totals } from '../../src/bots/totals.js';
import { adminWindow } from './admin.js';
import { parseBotSummary } from './botsJson.js';
import { mergeDist, type Dist } from './figures.js';
import { bytesFormulas, DATACHANNEL_HEADER, delayFormulas, failureFormulas } from './formulas.js';
import { parseProcStat, treeCpuMs } from './proc.js';
import { parseOptions } from './main.js';
import type { OffloadRow } from './offload.js';
import { linePlotSvg, niceStep } from './plot.js';
import { scaleFigures } from './scale.js';
import { botArgs, type Scenario } from './scenario.js';
import { busyMeadow } from './section.js';
import { cdfPoints, quantile, ratio, table } from './stats.js';
import { meanBothEnds, tabLatencies } from './browser.js';
import { tabDelayCore, tabDelayScript, type TabDelayEnv } from './tabDelay.js';

describe('stats', () => {
  it('quantile is nearest rank', () => {
    const xs = [5, 1, 4, 2, 3];
    expect(quantile(xs, 0.5)).toBe(3);
    expect(quantile(xs, 0.99)).toBe(5);
    expect(quantile(xs, 0.2)).toBe(1);
    expect(quantile([], 0.5)).toBeNaN();
  });
  it('a ratio over 0 is NaN, not 0 or Infinity', () => {
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(3, 2)).toBe(1.5);
  });
  it('cdf ends at the largest value with share 1 and never goes down', () => {
    const pts = cdfPoints(Array.from({ length: 1000 }, (_, i) => 1000 - i), 50);
    expect(pts.length).toBeLessThanOrEqual(52);
    expect(pts[pts.length - 1]).toEqual([1000, 1]);
    for (let i = 1; i < pts.length; i++) {
      expect(pts[i]![0]).toBeGreaterThanOrEqual(pts[i - 1]![0]);
      expect(pts[i]![1]).toBeGreaterThan(pts[i - 1]![1]);
    }
  });
  it('tables pad every column to its widest cell', () => {
    const t = table(['a', 'bb'], [['123', '4']]).split('\n');
    expect(t).toEqual(['| a   | bb |', '| --- | -- |', '| 123 | 4  |']);
  });
});

describe('formulas with the parameters in force', () => {
  it('eq. (12) is 2 l_cu and eq. (14) 2 l_su + l_ss + T/2', () => {
    expect(delayFormulas({ cu: 30, su: 20, ss: 10 }, 100)).toEqual({ eq12: 60, eq14: 100, eq14echo: 110 });
    expect(delayFormulas({ cu: 0, su: 0, ss: 0 }, 50)).toEqual({ eq12: 0, eq14: 25, eq14echo: 25 });
  });
  it('with one action per user per round the byte formulas are the paper’s', () => {
    const p = { ...PAPER_LOAD, N_server: 3, n: 8, a: 70 };
    const ref = computeLoad(p);
    const b = bytesFormulas({ N_server: 3, n: 8, a: 70, actionsPerRound: 1, S_header: 66 });
    expect(b).toEqual({
      eq4: ref.send.proposed,
      eq7: ref.receive.proposed,
      eq9: ref.siteServer.sendFull,
      eq10: ref.siteServer.sendHash,
      eq11: ref.siteServer.receive,
    });
  });
  it('fewer actions per round shrink the update and what a server receives, not the bytes per action', () => {
    const one = bytesFormulas({ N_server: 3, n: 8, a: 70, actionsPerRound: 1, S_header: 66 });
    const fifth = bytesFormulas({ N_server: 3, n: 8, a: 70, actionsPerRound: 0.2, S_header: 66 });
    expect(fifth.eq4).toBe(one.eq4);
    // eq. (7): 2 (66 + 8 a k) + 1 (66 + 16).
    expect(fifth.eq7).toBeCloseTo(2 * (66 + 8 * 70 * 0.2) + (66 + 16), 9);
    expect(fifth.eq11).toBeCloseTo(one.eq11 * 0.2, 9);
    expect(fifth.eq10).toBe(one.eq10);
  });
  it('the data-channel header is 119 B, and eqs. (16), (18) are p and the majority tail', () => {
    expect(DATACHANNEL_HEADER).toBe(119);
    const f = failureFormulas(0.1, 3);
    expect(f.eq16).toBe(0.1);
    expect(f.eq18).toBeCloseTo(3 * 0.01 * 0.9 + 0.001, 12);
  });
});

describe('merging groups', () => {
  const d = (samples: number[], count: number): Dist => ({
    count,
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
    p50: NaN,
    p99: NaN,
    max: Math.max(...samples),
    samples,
  });
  it('counts and means are exact, percentiles weigh each group by its count', () => {
    // 1000 actions at 10 ms (sampled 10 times) and 100 actions at 100 ms (all sampled).
    const m = mergeDist([d(Array(10).fill(10), 1000), d(Array(100).fill(100), 100)]);
    expect(m.count).toBe(1100);
    expect(m.mean).toBeCloseTo((1000 * 10 + 100 * 100) / 1100, 9);
    expect(m.max).toBe(100);
    expect(m.p50).toBe(10);
    expect(m.p99).toBe(100);
    // The heavy group is not drowned by the small one's full sample: 10 samples to 1.
    expect(m.samples.filter((x) => x === 10)).toHaveLength(10);
    expect(m.samples.filter((x) => x === 100)).toHaveLength(1);
  });
  it('an empty group changes nothing', () => {
    const m = mergeDist([d([5, 7], 2), { count: 0, mean: NaN, p50: NaN, p99: NaN, max: NaN, samples: [] }]);
    expect(m.count).toBe(2);
    expect(m.mean).toBe(6);
    expect(m.max).toBe(7);
  });
});

describe('admin window', () => {
  it('is the diff of two snapshots per player-second', () => {
    const a = { cpuUserMs: 100, cpuSystemMs: 50, bytesIn: 1000, bytesOut: 2000, playerSeconds: 10, at: 1000 };
    const b = { cpuUserMs: 400, cpuSystemMs: 150, bytesIn: 4000, bytesOut: 8000, playerSeconds: 110, at: 11_000 };
    const w = adminWindow(a, b);
    expect(w.seconds).toBe(10);
    expect(w.cpuMsPerPlayerSecond).toBe(4);
    expect(w.bytesInPerPlayerSecond).toBe(30);
    expect(w.bytesOutPerPlayerSecond).toBe(60);
    expect(w.cpuShare).toBe(0.04);
  });
  it('refuses an empty window', () => {
    const a = { cpuUserMs: 1, cpuSystemMs: 1, bytesIn: 1, bytesOut: 1, playerSeconds: 5, at: 10 };
    expect(() => adminWindow(a, a)).toThrow(/empty window/);
  });
});

describe('options and scenarios', () => {
  it('parses --quick, --only and --out, and refuses the rest', () => {
    expect(parseOptions(['--quick', '--only', 'delay,bytes', '--out', '/tmp/x'])).toEqual({
      quick: true,
      only: ['delay', 'bytes'],
      out: '/tmp/x',
      svg: null,
      sizes: null,
    });
    expect(parseOptions(['--only', 'offload', '--sizes', '60,100']).sizes).toEqual([60, 100]);
    for (const bad of ['0', '60,x', '401', '', '1.5']) expect(() => parseOptions(['--sizes', bad])).toThrow(/--sizes needs/);
    expect(() => parseOptions(['--only', 'speed'])).toThrow(/unknown section speed/);
    expect(() => parseOptions(['--out'])).toThrow(/needs a directory/);
    expect(() => parseOptions(['--fast'])).toThrow(/unknown option/);
  });
  it('passes the injection to the bots only where set', () => {
    const s: Scenario = busyMeadow({ name: 'x', admin: { nServer: 3, T_timeslot: 100 }, players: 8, warmupS: 5, measureS: 10 });
    const g = s.groups[0]!;
    const plain = botArgs(g, 'http://127.0.0.1:1', {}, s);
    expect(plain.some((a) => a.startsWith('--latency') || a === '--link-down')).toBe(false);
    // The window opens readyGuessS + warmupS after the bots start; the bench ends them itself.
    expect(plain).toEqual(expect.arrayContaining(['--warmup', '17', '--site', 'meadow', '--no-serve']));
    expect(plain).not.toContain('--seconds');
    const real = botArgs(g, 'http://127.0.0.1:1', { cu: 30, su: 20, ss: 10, jitter: 5, linkDown: 0.1 }, s);
    expect(real.join(' ')).toContain('--latency-cu 30 --latency-su 20 --latency-ss 10 --jitter 5 --link-down 0.1');
  });
  it('the busy meadow goes P2P at its population and its town volunteers stay under it', () => {
    const s = busyMeadow({ name: 'x', admin: { nServer: 5, T_timeslot: 50 }, players: 8, warmupS: 1, measureS: 1 });
    expect(s.admin.threshold).toBe(8);
    expect(s.groups.map((g) => [g.site, g.count])).toEqual([['meadow', 8], ['town', 6]]);
    expect(busyMeadow({ name: 'y', admin: { nServer: 3, T_timeslot: 50 }, players: 8, warmupS: 1, measureS: 1, p2p: false }).admin.threshold).toBe(0);
    expect(() => busyMeadow({ name: 'z', admin: { nServer: 5, T_timeslot: 50 }, players: 6, warmupS: 1, measureS: 1 })).toThrow(/outnumber/);
  });
});

describe('scale', () => {
  const row = (bots: number, cs: number, p2p: number): OffloadRow =>
    ({ bots, T_timeslot: 100, cs: { delay: { p99: cs } }, p2p: { delay: { p99: p2p } } }) as unknown as OffloadRow;
  it('is the largest size whose p99 stays under 2 T_timeslot, per mode', () => {
    const s = scaleFigures([row(25, 20, 150), row(50, 30, 199), row(100, 60, 900), row(200, 200, 2000)]);
    expect(s.bound).toBe(200);
    expect(s.cs).toBe(100);
    expect(s.p2p).toBe(50);
    expect(scaleFigures([row(25, 300, 300)]).cs).toBeNull();
  });
});

describe('plots', () => {
  it('draws one curve per series, steps for a CDF', () => {
    const svg = linePlotSvg({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      series: [
        { name: 'a', points: [[0, 0], [10, 0.5], [20, 1]], steps: true },
        { name: 'b <c>', points: [[0, 1], [20, 0]] },
      ],
    });
    expect(svg.match(/class="curve"/g)).toHaveLength(2);
    expect(svg).toContain('data-series="b &lt;c&gt;"');
    // A step: horizontal to the next x at the previous y, then up.
    const d = /data-series="a" d="([^"]+)"/.exec(svg)?.[1] ?? '';
    expect(d.split(/(?=[ML])/).length).toBe(5);
    expect(niceStep(930)).toBe(200);
    expect(niceStep(1)).toBe(0.2);
  });
});

describe('the bots --json summary', () => {
  it('reads what src/bots/totals.ts writes: delays per mode, actions, CPU and bytes per role, latency per link class', () => {
    const t = new Totals();
    const tally = emptyTally();
    for (const v of [10, 20, 30]) addSample(tally.delay.cs, v);
    for (const v of [100, 200]) addSample(tally.delay.p2p, v);
    for (const v of [31, 29]) addSample(tally.linkDelay.cu, v);
    tally.sent = { cs: 3, p2p: 4 };
    tally.unprocessed = { cs: 0, p2p: 1 };
    tally.handlerMs = { serving: 500, playing: 40 };
    tally.botSeconds = { serving: 10, playing: 20 };
    tally.peer.serving = { sent: 20_000, received: 5000, framesSent: 100, framesReceived: 50 };
    tally.peer.playing = { sent: 4000, received: 10_000, framesSent: 40, framesReceived: 80 };
    t.add(tally, true);
    const json = summary({
      args: {},
      counts: { requested: 3, online: 3, failed: 0, p2pPlaying: 2, serving: 1, enterPending: 0 },
      totals: t,
      window: { fromMs: 0, toMs: 10_000 },
      roundMs: 100,
      linkSpec: null,
    });
    const f = parseBotSummary(JSON.parse(JSON.stringify(json)), 100);
    expect([f.delay.cs.count, f.delay.cs.p50, f.delay.cs.mean]).toEqual([3, 20, 20]);
    expect([f.delay.p2p.count, f.delay.p2p.p99, f.delay.p2p.samples.length]).toEqual([2, 200, 2]);
    expect(f.notProcessed.p2p).toEqual({ sent: 4, lost: 1 });
    expect(f.cpu.serving).toEqual({ ms: 500, botSeconds: 10 });
    // 10 bot-seconds serving are 100 rounds of 100 ms.
    expect(f.bytes.serverPerRound).toEqual({ sent: 200, received: 50 });
    expect(f.bytes.userPerRound).toEqual({ sent: 20, received: 50 });
    expect(f.latency.cu?.mean).toBe(30);
    expect(f.latency.su).toBeNull();
  });
  it('refuses a summary of another shape', () => {
    expect(() => parseBotSummary({ version: 2 }, 100)).toThrow(/cannot read/);
  });
});

/** A fake clock whose timers fire `late` ms after they are due (a busy tab), in due order. */
function fakeTabEnv(randoms: number[] = [], late = 0): TabDelayEnv & { advance(ms: number): void } {
  let now = 0;
  const timers: Array<{ at: number; cb: () => void }> = [];
  return {
    now: () => now,
    random: () => randoms.shift() ?? 0.5,
    setTimer: (ms, cb) => void timers.push({ at: now + ms + late, cb }),
    advance(ms) {
      const end = now + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const t = timers[0];
        if (!t || t.at > end) break;
        timers.shift();
        now = t.at;
        t.cb();
      }
      now = end;
    },
  };
}

describe('the tabs\' delay lines (tabDelay.ts)', () => {
  it('a frame leaves after its latency and jitter, never before the one queued before it', () => {
    // random 1 -> +jitter, 0 -> -jitter: the first frame is due at 25, the second at 15 but waits for it.
    const env = fakeTabEnv([1, 0, 0.5]);
    const core = tabDelayCore(env, 5);
    const got: Array<[string, number]> = [];
    const line = core.line<string>((x) => got.push([x, env.now()]));
    line.push('a', 20, 'su');
    line.push('b', 20, 'su');
    env.advance(5);
    line.push('c', 10, 'ss');
    env.advance(14);
    expect(got).toEqual([]);
    env.advance(100);
    expect(got).toEqual([
      ['a', 25],
      ['b', 25],
      ['c', 25],
    ]);
    expect(line.pending()).toBe(0);
  });
  it('books what each frame really waited, the timer\'s lateness included, per class', () => {
    const env = fakeTabEnv([], 7);
    const core = tabDelayCore(env, 0);
    const line = core.line<number>(() => undefined);
    line.push(1, 30, 'cu');
    env.advance(10);
    line.push(2, 10, 'ss');
    env.advance(100);
    expect(core.waited.cu).toEqual([37]);
    // Due at 20 behind frame 1 (due 30), delivered with it at 37: it waited 27.
    expect(core.waited.ss).toEqual([27]);
    expect(core.waited.su).toEqual([]);
  });
  it('a closed line delivers nothing more; a refused frame does not stop the ones behind it', () => {
    const env = fakeTabEnv();
    const core = tabDelayCore(env, 0);
    const got: number[] = [];
    const closed = core.line<number>((x) => got.push(x));
    closed.push(1, 10, 'su');
    closed.close();
    const refusing = core.line<number>((x) => {
      if (x === 2) throw new Error('refused');
      got.push(x);
    });
    refusing.push(2, 10, 'su');
    refusing.push(3, 10, 'su');
    env.advance(50);
    expect(got).toEqual([3]);
  });
  it('the page script is self-contained source (no module references left after stringifying)', () => {
    const src = tabDelayScript({ cu: 30, su: 20, ss: 10, jitter: 5 });
    expect(() => new Function(src)).not.toThrow();
    expect(src).toContain('"cu":30');
  });
  it('the tabs\' waits merge over all frames, and eq. (14)\'s latency weighs both ends by frames', () => {
    const t = tabLatencies([
      { waited: { cu: [30], su: [10, 20], ss: [] }, unclassified: 1 },
      null,
      { waited: { cu: [], su: [30, 40], ss: [9] }, unclassified: 2 },
    ]);
    expect(t.got.su).toEqual({ count: 4, mean: 25, p50: 20, p99: 40 });
    expect(t.got.ss.count).toBe(1);
    expect(t.unclassified).toBe(3);
    expect(meanBothEnds({ count: 4, mean: 10 }, t.got.su)).toBe(17.5);
    expect(meanBothEnds(null, t.got.ss)).toBe(9);
    expect(meanBothEnds(null, { count: 0, mean: NaN, p50: NaN, p99: NaN })).toBe(0);
  });
});

describe("the players' process CPU (proc.ts)", () => {
  it('parses a /proc stat line whose command has spaces and parentheses', () => {
    const line = '4242 (node (bots) x) S 4200 4242 4200 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 11 0 1 2 3';
    expect(parseProcStat(line)).toEqual({ ppid: 4200, user: 2500, system: 370 });
    expect(parseProcStat('garbage')).toBeNull();
  });
  it('adds up a process and all its descendants, nothing else', () => {
    const procs = new Map([
      [10, { ppid: 1, user: 100, system: 10 }],
      [11, { ppid: 10, user: 200, system: 20 }],
      [12, { ppid: 11, user: 300, system: 30 }],
      [20, { ppid: 1, user: 5000, system: 0 }],
    ]);
    expect(treeCpuMs([10], procs)).toBe(660);
    expect(treeCpuMs([11, 20], procs)).toBe(5550);
    expect(treeCpuMs([99], procs)).toBe(0);
  });
});
