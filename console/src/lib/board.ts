/**
 * The factory run's dependency board: stages as columns in dependency
 * order, each holding its issues in rows by dependency depth (an issue sits
 * below everything it depends on). Pure, so it is unit-tested.
 */
export interface Node {
  id: string;
  depends_on: readonly string[];
}

/**
 * Depth of each node: 0 without known dependencies, else 1 + the deepest
 * dependency. Unknown ids are ignored; a dependency cycle (which the server
 * should refuse) is cut where it closes, so every node still gets a depth.
 */
export function depths(nodes: readonly Node[]): Map<string, number> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (n: Node): number => {
    const known = depth.get(n.id);
    if (known !== undefined) return known;
    if (visiting.has(n.id)) return -1;
    visiting.add(n.id);
    let d = 0;
    for (const dep of n.depends_on) {
      const m = byId.get(dep);
      if (m && m.id !== n.id) d = Math.max(d, visit(m) + 1);
    }
    visiting.delete(n.id);
    depth.set(n.id, d);
    return d;
  };
  for (const n of nodes) visit(n);
  return depth;
}

/** Nodes grouped into layers by depth, each layer in the input order. */
export function layers<T extends Node>(nodes: readonly T[]): T[][] {
  const d = depths(nodes);
  const out: T[][] = [];
  for (const n of nodes) (out[d.get(n.id) ?? 0] ??= []).push(n);
  return out.filter((l) => l !== undefined);
}

export interface BoardColumn<S, I> {
  stage: S | null;
  /** The stage's issues, row by row (by dependency depth across the whole run). */
  rows: I[][];
}

/** Columns for the board: stages ordered by their own dependencies, issues placed by depth; issues of no known stage get a last column. */
export function board<S extends Node, I extends Node & { stage_id: string | null }>(stages: readonly S[], issues: readonly I[]): BoardColumn<S, I>[] {
  const issueDepth = depths(issues);
  const stageIds = new Set(stages.map((s) => s.id));
  const group = (list: I[]): I[][] => {
    const rows: I[][] = [];
    for (const i of list) (rows[issueDepth.get(i.id) ?? 0] ??= []).push(i);
    return rows.filter((r) => r !== undefined);
  };
  const columns: BoardColumn<S, I>[] = layers(stages)
    .flat()
    .map((stage) => ({ stage, rows: group(issues.filter((i) => i.stage_id === stage.id)) }));
  const loose = issues.filter((i) => i.stage_id === null || !stageIds.has(i.stage_id));
  if (loose.length > 0) columns.push({ stage: null, rows: group(loose) });
  return columns;
}
