/**
 * Compares two V8 heap snapshots (.heapsnapshot) by object kind: count and
 * self size per constructor / type, sorted by growth. Used to find what a
 * follower or a live room keeps in memory.
 *
 *   npx tsx bench/tools/heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [--top 40]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

export function aggregate(file: string): Map<string, { count: number; size: number }> {
  const s = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const out = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!]!;
    let name = s.strings[s.nodes[i + iName]!]!;
    if (type === "string" || type === "concatenated string" || type === "sliced string") name = "(string)";
    else if (type === "code") name = "(code)";
    else if (type === "number" || type === "hidden") name = `(${type})`;
    else if (name.length > 60) name = `${name.slice(0, 60)}…`;
    const key = `${type}: ${name}`;
    const e = out.get(key);
    if (e) {
      e.count++;
      e.size += s.nodes[i + iSize]!;
    } else out.set(key, { count: 1, size: s.nodes[i + iSize]! });
  }
  return out;
}

export function diff(before: string, after: string, top = 40, per = 1): string {
  const a = aggregate(before);
  const b = aggregate(after);
  const rows: { key: string; dCount: number; dSize: number }[] = [];
  for (const [key, v] of b) {
    const o = a.get(key) ?? { count: 0, size: 0 };
    rows.push({ key, dCount: v.count - o.count, dSize: v.size - o.size });
  }
  const totalD = rows.reduce((x, r) => x + r.dSize, 0);
  const lines = [`heap growth ${before} → ${after}: ${(totalD / 1e6).toFixed(2)} MB self size${per !== 1 ? ` (${(totalD / per).toFixed(0)} bytes per unit, ${per} units)` : ""}`, "  Δcount      Δbytes   per unit  kind"];
  for (const r of rows.sort((x, y) => y.dSize - x.dSize).slice(0, top)) {
    lines.push(`  ${String(r.dCount).padStart(7)} ${String(r.dSize).padStart(11)} ${(r.dSize / per).toFixed(0).padStart(9)}  ${r.key}`);
  }
  return lines.join("\n");
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const { values, positionals } = parseArgs({ options: { top: { type: "string", default: "40" }, per: { type: "string", default: "1" } }, allowPositionals: true });
  process.stdout.write(`${diff(positionals[0]!, positionals[1]!, Number(values.top), Number(values.per))}\n`);
}
