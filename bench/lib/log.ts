/** Progress lines on stderr, stamped with seconds since the bench started. */
const t0 = performance.now();
export function log(msg: string): void {
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);
}
