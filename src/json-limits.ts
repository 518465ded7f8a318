/**
 * Bounds for caller-supplied free-form JSON (metadata, actor options): deep or
 * huge values are refused at the edge so nothing downstream (JSON.stringify,
 * SQLite, the model prompt) can be stalled or overflowed by them.
 */
export const MAX_JSON_DEPTH = 16;
export const MAX_FREEFORM_JSON_BYTES = 64 * 1024;

/** Depth of a JSON value, computed without recursion; stops counting past `limit`. */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > limit) return true;
    for (const child of Object.values(v as Record<string, unknown>)) stack.push([child, depth + 1]);
  }
  return false;
}
