/**
 * What held the event loop, from a V8 CPU profile: every stretch of samples
 * with no `(idle)` sample between them is one stretch of work the loop could
 * not interrupt (to within the sampling interval, about 1 ms by default; a
 * stretch may hold several callbacks that ran back to back). Prints how many
 * stretches there were by length, the longest ones with the functions that
 * took their time (self time, and the innermost src/ frame on the stack),
 * and, over all stretches longer than --over ms, where their time went.
 *
 *   npx tsx bench/tools/long-tasks.ts <file.cpuprofile> [--over 5] [--top 15]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { where, type Node, type Profile } from "./cpuprofile-summary.js";


const { values, positionals } = parseArgs({ options: { over: { type: "string", default: "5" }, top: { type: "string", default: "15" } }, allowPositionals: true });
const file = positionals[0];
if (!file) {
  process.stderr.write("usage: long-tasks.ts <file.cpuprofile> [--over 5] [--top 15]\n");
  process.exit(2);
}
const over = Number(values.over);
const top = Number(values.top);
const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (n: Node) => `${n.callFrame.functionName || "(anonymous)"}  ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
/** The innermost frame of src/ on the sample's stack (what our code was doing), or its self frame. */
function srcFrame(id: number): string {
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur)!;
    if (n.callFrame.url.includes("/src/")) return label(n);
  }
  return `(no src/ frame) ${label(byId.get(id)!)}`;
}

interface Stretch {
  start: number;
  ms: number;
  samples: number[];
  deltas: number[];
}
const stretches: Stretch[] = [];
let t = p.startTime;
let cur: Stretch | null = null;
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i]!;
  // A sample's time is the delta that follows it (the time until the next sample).
  const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
  const n = byId.get(p.samples[i]!)!;
  if (n.callFrame.functionName === "(idle)") {
    if (cur) stretches.push(cur);
    cur = null;
    continue;
  }
  cur ??= { start: t, ms: 0, samples: [], deltas: [] };
  cur.ms += dt;
  cur.samples.push(p.samples[i]!);
  cur.deltas.push(dt);
}
if (cur) stretches.push(cur);

const bounds = [1, 2, 5, 10, 20, 50, 100, Infinity];
const counts = bounds.map(() => 0);
for (const s of stretches) counts[bounds.findIndex((b) => s.ms < b)]!++;
const lines: string[] = [];
lines.push(`${file}: ${stretches.length} stretches of work between idle samples; total ${(stretches.reduce((a, s) => a + s.ms, 0) / 1000).toFixed(1)} s`);
lines.push(`by length: ${bounds.map((b, i) => `${i === 0 ? "<" : `${bounds[i - 1]}–`}${b === Infinity ? "" : b} ms: ${counts[i]}`).join(", ")}`);

function breakdown(list: Stretch[], n: number, key: (id: number) => string): string[] {
  const m = new Map<string, number>();
  let total = 0;
  for (const s of list)
    s.samples.forEach((id, i) => {
      const k = key(id);
      m.set(k, (m.get(k) ?? 0) + s.deltas[i]!);
      total += s.deltas[i]!;
    });
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `    ${((v / total) * 100).toFixed(1).padStart(5)}%  ${v.toFixed(1).padStart(8)} ms  ${k}`);
}

const longest = [...stretches].sort((a, b) => b.ms - a.ms).slice(0, Math.min(top, 5));
for (const s of longest) {
  lines.push(`\nstretch of ${s.ms.toFixed(1)} ms at +${((s.start - p.startTime) / 1e6).toFixed(2)} s; self time:`);
  lines.push(...breakdown([s], 6, (id) => label(byId.get(id)!)));
  lines.push("  innermost src/ frame:");
  lines.push(...breakdown([s], 6, srcFrame));
}
const long = stretches.filter((s) => s.ms >= over);
lines.push(`\nover all ${long.length} stretches ≥ ${over} ms (${long.reduce((a, s) => a + s.ms, 0).toFixed(0)} ms), self time:`);
lines.push(...breakdown(long, top, (id) => label(byId.get(id)!)));
lines.push("innermost src/ frame:");
lines.push(...breakdown(long, top, srcFrame));
process.stdout.write(`${lines.join("\n")}\n`);
