/** A strict reader of the Prometheus text format for tests: every sample line parsed, or the test fails. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/g;

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ") || line.startsWith("# TYPE ")) continue;
    const m = LINE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? "";
    let consumed = 0;
    for (const l of body.matchAll(LABEL)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_s, c: string) => (c === "n" ? "\n" : c));
      consumed += l[0].length;
    }
    if (consumed !== body.length) throw new Error(`bad labels: ${line}`);
    const raw = m[3]!;
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    if (Number.isNaN(value) && raw !== "NaN" && raw !== "Nan") throw new Error(`bad value: ${line}`);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

function matches(s: Sample, name: string, labels: Record<string, string>): boolean {
  return s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v);
}

/** The one sample with this name whose labels include `labels`; throws when there is none or several. */
export function one(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => matches(s, name, labels));
  if (found.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}

/** Sum over every sample with this name whose labels include `labels` (0 when none). */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => matches(s, name, labels)).reduce((a, s) => a + s.value, 0);
}

/** The `_bucket` samples of one histogram child, in `le` order, as [le, cumulative count]. */
export function buckets(samples: Sample[], name: string, labels: Record<string, string> = {}): Array<[number, number]> {
  return samples
    .filter((s) => matches(s, `${name}_bucket`, labels))
    .map((s): [number, number] => [s.labels["le"] === "+Inf" ? Infinity : Number(s.labels["le"]), s.value])
    .sort((a, b) => a[0] - b[0]);
}
