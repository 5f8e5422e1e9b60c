import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultOptions, parseOptions } from './options.js';
import { COLLUSION_SVG, FAILURE_SVG, collusionSvg, failureSvg } from './plots.js';
import { computeReport } from './report.js';
import { logPlotSvg } from './svg.js';

const curves = (svg: string): string[] =>
  [...svg.matchAll(/<path class="curve" data-series="([^"]*)" d="([^"]*)"/g)].map((m) => `${m[1]}|${m[2]}`);

describe('SVG plots', () => {
  const report = computeReport(defaultOptions());

  it('Figure 3 has one curve per c, each through its non-zero points', () => {
    const svg = collusionSvg(report);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    const cs = curves(svg);
    expect(cs.map((c) => c.split('|')[0])).toEqual(['c = 3', 'c = 5', 'c = 10', 'c = 20']);
    // c = 3 is 0 from N_server 7 on (N_majority 4 > 3), c = 5 from 11 on; c = 10 and 20 never here.
    const points = (c: string) => (c.split('|')[1] ?? '').split(/[ML]/).filter((s) => s.trim()).length;
    expect(cs.map(points)).toEqual([3, 5, 8, 8]);
    // Log axis down to 1e-18 (the smallest value, 7.5e-18).
    expect(svg).toContain('>1e-18<');
    expect(svg).toContain('>1e0<');
  });

  it('the plots committed in docs/ are what `npm run analysis -- --svg docs` writes now', () => {
    const committed = (name: string) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');
    expect(committed(COLLUSION_SVG)).toBe(collusionSvg(report));
    expect(committed(FAILURE_SVG)).toBe(failureSvg(report));
  });

  it('follows the options: one curve per --colluders value', () => {
    const r = computeReport(parseOptions(['--colluders', '4,8', '--servers', '3,5,7']));
    expect(curves(collusionSvg(r)).map((c) => c.split('|')[0])).toEqual(['c = 4', 'c = 8']);
  });

  it('the failure plot has one curve per model with a point per p', () => {
    const cs = curves(failureSvg(report));
    expect(cs.map((c) => c.split('|')[0])).toEqual([
      'client-server (16)',
      'NEO, n = 30 (17)',
      'proposed, N_server = 5 (18)',
    ]);
    for (const c of cs) expect((c.match(/[ML]/g) ?? []).length).toBe(30);
  });

  it('puts larger values higher, on a log scale', () => {
    const svg = logPlotSvg({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      xTicks: [0, 1, 2],
      series: [
        {
          name: 's',
          points: [
            [0, 1],
            [1, 0.1],
            [2, 0.01],
          ],
        },
      ],
    });
    const ys = [...svg.matchAll(/<circle cx="[^"]*" cy="([^"]*)"/g)].map((m) => Number(m[1]));
    expect(ys).toHaveLength(3);
    const [a = NaN, b = NaN, c = NaN] = ys;
    expect(a).toBeLessThan(b);
    // Equal ratios, equal distances.
    expect(c - b).toBeCloseTo(b - a, 1);
  });

  it('escapes text and breaks a line at values a log axis cannot show', () => {
    const svg = logPlotSvg({
      title: 'a < b & "c"',
      xLabel: 'x',
      yLabel: 'y',
      xTicks: [0, 3],
      series: [
        {
          name: 's',
          points: [
            [0, 1],
            [1, 0.5],
            [2, 0],
            [3, 0.2],
          ],
        },
      ],
    });
    expect(svg).toContain('a &lt; b &amp; &quot;c&quot;');
    const d = curves(svg)[0]?.split('|')[1] ?? '';
    expect(d.match(/[ML]/g)).toEqual(['M', 'L', 'M']);
  });
});
