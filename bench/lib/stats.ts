/** Order statistics for the bench: nearest-rank percentiles, no interpolation, so every reported number is a measured one. */

/** Nearest-rank percentile of an ascending-sorted array (p in 0..100). NaN for an empty array. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))]!;
}

export function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

export function percentile(values: readonly number[], p: number): number {
  return percentileSorted(sortedCopy(values), p);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function min(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.min(...values);
}

export function max(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.max(...values);
}

/** p50/p90/p99/max and count of a latency sample set. */
export interface LatencySummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(values: readonly number[]): LatencySummary {
  const s = sortedCopy(values);
  return { n: s.length, p50: percentileSorted(s, 50), p90: percentileSorted(s, 90), p99: percentileSorted(s, 99), max: s.length ? s[s.length - 1]! : Number.NaN };
}

/** Rounds for display only; results.json keeps full precision. */
export function fmt(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "n/a";
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  return v.toFixed(digits);
}
