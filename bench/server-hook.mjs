// Loaded into bench server children with NODE_OPTIONS=--import (bench/lib/proc.ts), never in
// production. On SIGUSR2 it runs a full GC twice and writes process.memoryUsage() to
// $BENCH_HOOK_DIR/gc-<pid>-<n>.json, so the bench reads VmRSS of live objects only, not
// of garbage not yet collected. It does nothing in the tsx wrapper process and never
// touches the server's code or state. With BENCH_HOOK_SNAPSHOTS=1 it also writes a heap
// snapshot per signal (bench/tools/profile.ts).
import { renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";

const dir = process.env.BENCH_HOOK_DIR;
const script = process.argv[1] ?? "";
if (dir && /\.(ts|mts|js|mjs)$/.test(script) && !/node_modules[\\/]tsx[\\/]/.test(script)) {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  let n = 0;
  process.on("SIGUSR2", () => {
    n++;
    gc();
    gc();
    const file = path.join(dir, `gc-${process.pid}-${n}.json`);
    // Investigation only (bench/tools/profile.ts): a heap snapshot next to the numbers.
    if (process.env.BENCH_HOOK_SNAPSHOTS === "1") v8.writeHeapSnapshot(path.join(dir, `gc-${process.pid}-${n}.heapsnapshot`));
    writeFileSync(`${file}.tmp`, JSON.stringify({ ...process.memoryUsage(), at: Date.now() }));
    renameSync(`${file}.tmp`, file);
  });
}
