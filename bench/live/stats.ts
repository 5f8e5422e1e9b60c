/** Small numeric and text helpers of `npm run bench:live`: quantiles, ratios and aligned tables. */

/** The q-quantile (0..1) of `xs` by the nearest-rank method; NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil(q * s.length)));
  return s[rank - 1] ?? NaN;
}

export const mean = (xs: readonly number[]): number =>
  xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;

/** a / b, NaN when b is 0 or either is not finite (a ratio that cannot be computed is not 0). */
export const ratio = (a: number, b: number): number =>
  Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;

/** A number for a table: `-` when not finite, else `digits` decimals (fewer for big values). */
export function fmt(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  const d = Math.abs(x) >= 1000 ? 0 : digits;
  return x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
}

/** A Markdown table (also readable in a terminal), columns padded to their widest cell. */
export function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(head), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** Empirical CDF points (x sorted, y in 0..1) thinned to at most `max` points for a plot. */
export function cdfPoints(xs: readonly number[], max = 200): Array<[number, number]> {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return [];
  const step = Math.max(1, Math.floor(s.length / max));
  const out: Array<[number, number]> = [];
  for (let i = 0; i < s.length; i += step) out.push([s[i] ?? 0, (i + 1) / s.length]);
  const last = s[s.length - 1] ?? 0;
  if (out[out.length - 1]?.[0] !== last || out[out.length - 1]?.[1] !== 1) out.push([last, 1]);
  return out;
}
