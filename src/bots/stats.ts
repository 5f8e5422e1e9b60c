/**
 * Figures of a bot run: a bounded uniform sample of a stream (reservoir) with exact count, sum and
 * max, and the percentiles read from it. Percentiles are exact while a stream has at most
 * `capacity` values, and estimates from a uniform sample beyond that.
 */

/** Samples kept per stream for percentiles and plots (the --json summary's bound). */
export const SAMPLE_CAPACITY = 20_000;

export interface DistSummary {
  count: number;
  mean: number | null;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/** The `q`-quantile (0..1) of `sorted` (ascending), nearest rank; null when empty. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? null;
}

/**
 * A bounded sample of a stream, weighted (Efraimidis-Spirakis A-Res: each value gets the key
 * u^(1/w), the `capacity` largest keys stay): with weights 1 a uniform sample; a value that stands
 * for w values of a subsampled second weighs w.
 */
export class Reservoir {
  count = 0;
  sum = 0;
  max = -Infinity;
  private entries: Array<{ v: number; key: number }> = [];

  constructor(
    readonly capacity = SAMPLE_CAPACITY,
    private readonly random: () => number = Math.random,
  ) {}

  add(v: number): void {
    if (!Number.isFinite(v)) return;
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
    this.keep(v, 1);
  }

  addAll(vs: readonly number[]): void {
    for (const v of vs) this.add(v);
  }

  /**
   * Adds `n` values of which `sample` is a uniform subsample (all of them when n = sample.length):
   * each kept value stands for n / sample.length of them. Count, sum and max stay exact.
   */
  addStream(s: { n: number; sum: number; max: number; sample: readonly number[] }): void {
    if (s.n <= 0 || s.sample.length === 0) return;
    const w = s.n / s.sample.length;
    for (const v of s.sample) this.keep(v, w);
    this.count += s.n;
    this.sum += s.sum;
    if (s.max > this.max) this.max = s.max;
  }

  /** The kept values (at most `capacity`). */
  values(): number[] {
    this.compact();
    return this.entries.map((e) => e.v);
  }

  summary(): DistSummary {
    const sorted = this.values().sort((a, b) => a - b);
    return {
      count: this.count,
      mean: this.count > 0 ? this.sum / this.count : null,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: this.count > 0 ? this.max : null,
    };
  }

  private keep(v: number, w: number): void {
    this.entries.push({ v, key: Math.pow(this.random(), 1 / w) });
    if (this.entries.length >= 2 * this.capacity) this.compact();
  }

  private compact(): void {
    if (this.entries.length <= this.capacity) return;
    this.entries.sort((a, b) => b.key - a.key);
    this.entries.length = this.capacity;
  }
}

/** Rounds the figures of a summary to 0.1 ms for the JSON and the status line. */
export function rounded(s: DistSummary): DistSummary {
  const r = (v: number | null): number | null => (v === null ? null : Math.round(v * 10) / 10);
  return { count: s.count, mean: r(s.mean), p50: r(s.p50), p99: r(s.p99), max: r(s.max) };
}
