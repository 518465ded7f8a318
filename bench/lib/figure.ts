/** One row of the results table and of bench/results.json, and how the table is printed. */
import { fmt } from "./stats.js";

export interface Baseline {
  name: string;
  unit: string;
  median: number | null;
  p99: number | null;
}

export interface Figure {
  id: string;
  name: string;
  unit: string;
  /** What the two statistic columns are: pooled samples ("p50 of samples"...) or per-run values. */
  stat: string;
  median: number | null;
  p99: number | null;
  /** Label of the second column: "p99" for pooled latency samples, "worst run" for per-run rates. */
  p99Label: string;
  baseline: Baseline | null;
  /** figure ÷ baseline, from the medians (or as `ratioOf` says). */
  ratio: number | null;
  ratioOf: string | null;
  target: string;
  /** null when not measured or no target applies. */
  pass: boolean | null;
  runs: unknown[];
  notes: string[];
  error: string | null;
}

export function figure(p: Partial<Figure> & Pick<Figure, "id" | "name" | "unit" | "target">): Figure {
  return {
    stat: "",
    median: null,
    p99: null,
    p99Label: "p99",
    baseline: null,
    ratio: null,
    ratioOf: null,
    pass: null,
    runs: [],
    notes: [],
    error: null,
    ...p,
  };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

export function renderTable(figures: readonly Figure[]): string {
  const header = ["figure", "unit", "median", "p99 / worst", "baseline (same run)", "ratio", "target", "result"];
  const rows = figures.map((f) => [
    f.name,
    f.unit,
    fmt(f.median),
    f.p99 === null ? "n/a" : `${fmt(f.p99)} (${f.p99Label})`,
    f.baseline ? `${f.baseline.name}: ${fmt(f.baseline.median)} ${f.baseline.unit}` : "—",
    f.ratio === null ? "—" : `${fmt(f.ratio, 3)}×`,
    f.target,
    f.error ? "ERROR" : f.pass === null ? "n/a" : f.pass ? "pass" : "MISS",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => pad(c, widths[i]!)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}
