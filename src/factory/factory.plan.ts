/**
 * The plan of a factory run: its zod schema (also the planner tool's JSON
 * schema), the cross-reference checks zod cannot express, the deterministic
 * offline compiler used with `local/echo`, and the dependency rule the
 * supervisor applies to stage and issue records.
 *
 * Pure: no I/O, no clock, no randomness. Same input, same plan.
 */
import { z } from "zod";
import type { Plan, PlannedIssue, PlannedStage, PlanSource } from "./factory.brains.types.js";

export type { Plan, PlannedIssue, PlannedStage, PlanSource } from "./factory.brains.types.js";

/** Bounds of a plan; a model's plan beyond them is rejected with the bound named. */
export const PLAN_LIMITS = {
  stages: 50,
  issuesPerStage: 100,
  issues: 500,
  dependencies: 50,
  criteria: 30,
  keyChars: 64,
  titleChars: 200,
  kindChars: 40,
  bodyChars: 20_000,
  criterionChars: 1_000,
  summaryChars: 2_000,
} as const;

const Key = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a key is letters, digits, '.', '_' or '-', starting with a letter or digit")
  .max(PLAN_LIMITS.keyChars);
const Line = (max: number) => z.string().trim().min(1).max(max);

export const PlannedIssueSchema = z
  .object({
    key: Key.describe('Unique among the plan\'s issues, e.g. "s1.i2".'),
    title: Line(PLAN_LIMITS.titleChars).describe("A short imperative title."),
    kind: Line(PLAN_LIMITS.kindChars).describe('The kind of work, e.g. "task".'),
    body: Line(PLAN_LIMITS.bodyChars).describe("The complete instructions the worker receives for this issue."),
    depends_on: z.array(Key).max(PLAN_LIMITS.dependencies).describe("Keys of issues that must pass before this one starts."),
    acceptance_criteria: z.array(Line(PLAN_LIMITS.criterionChars)).max(PLAN_LIMITS.criteria).describe("Checkable statements about the issue's output."),
    verification_requirements: z.array(Line(PLAN_LIMITS.criterionChars)).max(PLAN_LIMITS.criteria).describe("How the output is to be verified."),
  })
  .strict();

export const PlannedStageSchema = z
  .object({
    key: Key.describe('Unique among the plan\'s stages, e.g. "s1".'),
    stage_name: Line(PLAN_LIMITS.titleChars),
    depends_on: z.array(Key).max(PLAN_LIMITS.dependencies).describe("Keys of stages whose issues must all pass before this stage starts."),
    issues: z.array(PlannedIssueSchema).min(1).max(PLAN_LIMITS.issuesPerStage),
  })
  .strict();

/** The plan as the planner must produce it: strict objects, bounded sizes. */
export const PlanSchema: z.ZodType<Plan> = z
  .object({
    summary: Line(PLAN_LIMITS.summaryChars).describe("One or two sentences: what the plan delivers."),
    stages: z.array(PlannedStageSchema).min(1).max(PLAN_LIMITS.stages),
  })
  .strict();

/** A zod issue as one line: `stages[0].issues[1].title: Too small: ...`. */
export function formatZodIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    let path = "";
    for (const key of i.path) path += typeof key === "number" ? `[${key}]` : path ? `.${String(key)}` : String(key);
    return `${path || "(root)"}: ${i.message}`;
  });
}

function findCycle(nodes: string[], edges: (node: string) => readonly string[]): string[] | null {
  // Iterative three-colour DFS in node order, so the cycle reported is the same every time.
  const colour = new Map<string, 0 | 1 | 2>();
  for (const start of nodes) {
    if (colour.get(start)) continue;
    const stack: { node: string; next: number }[] = [{ node: start, next: 0 }];
    colour.set(start, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const out = edges(top.node);
      if (top.next >= out.length) {
        colour.set(top.node, 2);
        stack.pop();
        continue;
      }
      const to = out[top.next++]!;
      const c = colour.get(to);
      if (c === 1) {
        const from = stack.findIndex((f) => f.node === to);
        return [...stack.slice(from).map((f) => f.node), to];
      }
      if (c === undefined && nodes.includes(to)) {
        colour.set(to, 1);
        stack.push({ node: to, next: 0 });
      }
    }
  }
  return null;
}

/**
 * The checks zod cannot express: an empty plan, duplicate keys, dependencies
 * on unknown keys or on themselves, dependency cycles among stages or among
 * issues, and an issue that waits on an issue of a stage that itself waits on
 * the issue's stage (which could never start). Each error is one line naming
 * the place (`stages[1].issues[0].depends_on[0]`), in document order.
 */
export function validatePlan(plan: Plan): string[] {
  const errors: string[] = [];
  if (plan.stages.length === 0) return ["stages: the plan is empty: it has no stages"];
  const issueCount = plan.stages.reduce((n, s) => n + s.issues.length, 0);
  if (issueCount === 0) return ["stages: the plan is empty: no stage has an issue"];
  if (issueCount > PLAN_LIMITS.issues) errors.push(`stages: the plan has ${issueCount} issues; at most ${PLAN_LIMITS.issues} are allowed`);

  const stageKeys = new Map<string, number>();
  const issueKeys = new Map<string, { stage: number; issue: number }>();
  plan.stages.forEach((stage, si) => {
    if (stageKeys.has(stage.key)) errors.push(`stages[${si}].key: duplicate stage key "${stage.key}" (also stages[${stageKeys.get(stage.key)}])`);
    else stageKeys.set(stage.key, si);
    if (stage.issues.length === 0) errors.push(`stages[${si}].issues: stage "${stage.key}" has no issues`);
    stage.issues.forEach((issue, ii) => {
      const seen = issueKeys.get(issue.key);
      if (seen) errors.push(`stages[${si}].issues[${ii}].key: duplicate issue key "${issue.key}" (also stages[${seen.stage}].issues[${seen.issue}])`);
      else issueKeys.set(issue.key, { stage: si, issue: ii });
    });
  });

  plan.stages.forEach((stage, si) => {
    stage.depends_on.forEach((dep, di) => {
      if (dep === stage.key) errors.push(`stages[${si}].depends_on[${di}]: stage "${stage.key}" depends on itself`);
      else if (!stageKeys.has(dep)) errors.push(`stages[${si}].depends_on[${di}]: "${dep}" is not the key of any stage`);
    });
    stage.issues.forEach((issue, ii) => {
      issue.depends_on.forEach((dep, di) => {
        const at = `stages[${si}].issues[${ii}].depends_on[${di}]`;
        if (dep === issue.key) errors.push(`${at}: issue "${issue.key}" depends on itself`);
        else if (!issueKeys.has(dep)) errors.push(`${at}: "${dep}" is not the key of any issue`);
      });
    });
  });
  if (errors.length > 0) return errors;

  const stageOrder = plan.stages.map((s) => s.key);
  const stageByKey = new Map(plan.stages.map((s) => [s.key, s]));
  const stageCycle = findCycle(stageOrder, (k) => stageByKey.get(k)!.depends_on);
  if (stageCycle) errors.push(`stages: the stage dependencies form a cycle: ${stageCycle.join(" -> ")}`);

  const issueOrder = plan.stages.flatMap((s) => s.issues.map((i) => i.key));
  const issueByKey = new Map(plan.stages.flatMap((s) => s.issues.map((i) => [i.key, i] as const)));
  const issueCycle = findCycle(issueOrder, (k) => issueByKey.get(k)!.depends_on);
  if (issueCycle) errors.push(`stages: the issue dependencies form a cycle: ${issueCycle.join(" -> ")}`);
  if (errors.length > 0) return errors;

  // With stage waits folded in: an issue waits for its own depends_on and for every issue of the stages its stage depends on.
  const stageOfIssue = new Map(plan.stages.flatMap((s) => s.issues.map((i) => [i.key, s.key] as const)));
  const waits = (k: string): string[] => {
    const stage = stageByKey.get(stageOfIssue.get(k)!)!;
    return [...issueByKey.get(k)!.depends_on, ...stage.depends_on.flatMap((sk) => stageByKey.get(sk)!.issues.map((i) => i.key))];
  };
  const mixed = findCycle(issueOrder, waits);
  if (mixed) {
    errors.push(
      `stages: an issue waits on itself through stage order: ${mixed.map((k) => `${k} (stage ${stageOfIssue.get(k)})`).join(" -> ")}; drop the issue dependency or the stage dependency`,
    );
  }
  return errors;
}

export type PlanCheck = { ok: true; plan: Plan } | { ok: false; errors: string[] };

/** Schema then cross-references: what the supervisor runs on any plan, compiled or from a model. */
export function checkPlan(raw: unknown): PlanCheck {
  const parsed = PlanSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, errors: formatZodIssues(parsed.error) };
  const errors = validatePlan(parsed.data);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, plan: parsed.data };
}

// ---------------------------------------------------------------- the offline compiler

/** Markdown describing the syntax `compilePlan` reads, for the docs page. Its example is compiled by a test. */
export const PLANNER_SYNTAX_EXAMPLE = `# Launch notes

Write the launch notes for version 2 of the service.

## Draft

- Write the changelog summary
  - mentions "version 2"
  - Verify: at least 40 words
- Write the upgrade guide (depends on: Write the changelog summary)
  Acceptance: matches /npm (install|i) roomservice@2/

## Review

Depends on: Draft

- Proofread both documents
  Acceptance: no "lorem ipsum"
`;

export const PLANNER_SYNTAX_DOC = `## Planner syntax (offline planner)

With the built-in \`local/echo\` model a run's source is compiled into a plan
by fixed rules, so the same source always gives the same plan. With a real
model the model writes the plan instead (through a tool call validated
against the plan schema), and these rules do not apply.

### Markdown (\`format: "markdown"\`)

- **Headings become stages.** Every heading at the shallowest level used is a
  stage, named by its text. A document that opens with a single heading of
  its level followed by deeper headings uses that first heading as the plan's
  title and the next level as stages. A document without headings is one
  stage, named after the run's \`title\` (or "Plan").
- **Stages run in order.** Each stage depends on the one before it, unless a
  \`Depends on:\` line under its heading (before its first list item) names
  other stages (by name or key, comma-separated), or says \`Depends on: none\`.
- **List items become issues.** Each top-level item (\`-\`, \`*\`, \`+\` or
  \`1.\`) of a stage is one issue. Its title is the item's first sentence (at
  most 120 characters); its body is the whole item with its continuation lines.
  Paragraph text of the stage (outside any item), and text before the first
  stage heading, is added to the body of each issue of the stage as context.
  A heading with nothing under it is not a stage.
- **A stage without list items** makes one issue per paragraph; its
  \`Acceptance:\`, \`Verify:\` and \`Depends on:\` lines attach to the
  paragraph they belong to or follow (those before any text belong to the
  stage).
- **Acceptance criteria**: indented sub-items of an item, and lines starting
  \`Acceptance:\` (or \`Acceptance criteria:\`) inside an item. An
  \`Acceptance:\` line outside any item applies to every issue of its stage.
- **Verification requirements**: sub-items or lines starting \`Verify:\`
  (same placement rules as \`Acceptance:\`).
- **Dependencies between issues**: \`(depends on: A, B)\` anywhere in an item's
  first line, or a \`Depends on: A, B\` sub-item or line inside the item. A
  reference is an issue's key (\`s1.i2\`) or its title (case and surrounding
  punctuation ignored); naming a stage makes the issue wait for every issue
  of that stage. A reference that matches nothing is kept as written, and
  the plan is then rejected with \`"<reference>" is not the key of any issue\`.
- **Keys**: stages are \`s1\`, \`s2\`, ...; issues \`s1.i1\`, \`s1.i2\`, ...
  in document order. Fenced code blocks are copied into the body unchanged.
  Every issue's \`kind\` is \`task\`.

### Plain text (\`format: "text"\`)

One stage. Paragraphs (separated by blank lines) are issues; a text that is
a single paragraph makes one issue per line. \`Acceptance:\`, \`Verify:\` and
\`Depends on:\` lines and \`(depends on: ...)\` work as in markdown and attach
to the issue they follow.

### Example

\`\`\`markdown
${PLANNER_SYNTAX_EXAMPLE}\`\`\`

compiles to stage \`s1\` "Draft" with issues \`s1.i1\` "Write the changelog
summary" (criterion \`mentions "version 2"\`, requirement \`at least 40
words\`) and \`s1.i2\` "Write the upgrade guide" (depends on \`s1.i1\`,
criterion \`matches /npm (install|i) roomservice@2/\`), then stage \`s2\`
"Review" (depends on \`s1\`) with issue \`s2.i1\` "Proofread both documents"
(criterion \`no "lorem ipsum"\`).
`;

const TITLE_CHARS = 120;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const ITEM = /^(\s*)(?:[-*+]|\d{1,9}[.)])\s+(.*)$/;
const FENCE = /^\s*(```|~~~)/;
const KEYWORD = /^\s*(acceptance(?:\s+criteria)?|verify|verification|depends\s+on)\s*:\s*(.*)$/i;
const INLINE_DEPENDS = /\(\s*depends\s+on\s*:\s*([^)]*)\)/gi;

type Keyword = "acceptance" | "verify" | "depends";

function keywordOf(line: string): { kind: Keyword; rest: string } | null {
  const m = KEYWORD.exec(line);
  if (!m) return null;
  const word = m[1]!.toLowerCase();
  const kind: Keyword = word.startsWith("accept") ? "acceptance" : word.startsWith("verif") ? "verify" : "depends";
  return { kind, rest: m[2]!.trim() };
}

function splitRefs(text: string): string[] {
  return text
    .split(/[,;]/)
    .map((r) => r.trim())
    .filter((r) => r.length > 0);
}

function normalise(text: string): string {
  return text
    .toLowerCase()
    .replace(/\s+/g, " ")
    .replace(/^[\s"'`*_.:;,!?-]+|[\s"'`*_.:;,!?-]+$/g, "");
}

function indentOf(line: string): number {
  let n = 0;
  for (const ch of line) {
    if (ch === " ") n += 1;
    else if (ch === "\t") n += 4;
    else break;
  }
  return n;
}

function titleFrom(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  const sentence = /^(.+?[.!?])(\s|$)/.exec(oneLine)?.[1] ?? oneLine;
  const title = sentence.replace(/[.]$/, "");
  if (title.length <= TITLE_CHARS) return title;
  const cut = title.slice(0, TITLE_CHARS - 1);
  const space = cut.lastIndexOf(" ");
  return `${(space > 40 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** An issue while its text is being collected. */
interface Draft {
  text: string[];
  criteria: string[];
  verify: string[];
  refs: string[];
}

/** A stage while its text is being collected. */
interface StageDraft {
  name: string;
  context: string[];
  criteria: string[];
  verify: string[];
  /** null: the default (the previous stage). */
  refs: string[] | null;
  items: Draft[];
  /** Paragraphs, used when the stage has no list items. */
  paragraphs: Draft[];
}

function newDraft(first: string): Draft {
  const refs: string[] = [];
  const text = first.replace(INLINE_DEPENDS, (_all, list: string) => {
    refs.push(...splitRefs(list));
    return "";
  });
  return { text: [text.replace(/\s+$/, "")], criteria: [], verify: [], refs };
}

/** Routes a line inside an issue: a keyword line to its list, else text (with inline dependencies lifted out). */
function addToDraft(draft: Draft, line: string, asCriterion: boolean): void {
  const kw = keywordOf(line);
  if (kw) {
    if (kw.kind === "acceptance") {
      if (kw.rest) draft.criteria.push(kw.rest);
    } else if (kw.kind === "verify") {
      if (kw.rest) draft.verify.push(kw.rest);
    } else if (!/^none$/i.test(kw.rest)) draft.refs.push(...splitRefs(kw.rest));
    return;
  }
  const trimmed = line.trim();
  if (asCriterion) {
    if (trimmed) draft.criteria.push(trimmed);
    return;
  }
  draft.text.push(
    line.replace(INLINE_DEPENDS, (_all, list: string) => {
      draft.refs.push(...splitRefs(list));
      return "";
    }),
  );
}

function bodyOf(text: string[]): string {
  return text
    .join("\n")
    .replace(/[ \t]+$/gm, "")
    .replace(/^\n+|\n+$/g, "");
}

function paragraphsOf(lines: string[]): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let fenced = false;
  for (const line of lines) {
    if (FENCE.test(line)) fenced = !fenced;
    if (!fenced && line.trim() === "") {
      if (cur.length) out.push(cur);
      cur = [];
    } else cur.push(line);
  }
  if (cur.length) out.push(cur);
  return out;
}

function stageFromLines(name: string, lines: string[]): StageDraft {
  const stage: StageDraft = { name, context: [], criteria: [], verify: [], refs: null, items: [], paragraphs: [] };
  /** Lines outside any item, read once it is known whether the stage has items. */
  const outside: string[] = [];
  let item: Draft | null = null;
  let itemIndent = 0;
  let fenced = false;
  for (const line of lines) {
    if (FENCE.test(line) || fenced) {
      if (FENCE.test(line)) fenced = !fenced;
      if (item) item.text.push(line);
      else outside.push(line);
      continue;
    }
    const m = ITEM.exec(line);
    if (m) {
      const indent = indentOf(m[1]!);
      if (item && indent > itemIndent) {
        // An indented sub-item: a criterion, or a keyword line.
        addToDraft(item, m[2]!, keywordOf(m[2]!) === null);
        continue;
      }
      item = newDraft(m[2]!);
      itemIndent = indent;
      stage.items.push(item);
      continue;
    }
    if (line.trim() === "") {
      if (item) item.text.push("");
      else outside.push("");
      continue;
    }
    if (item && (indentOf(line) > itemIndent || item.text[item.text.length - 1] !== "")) {
      // A continuation line (indented, or lazy: directly after the item's text).
      addToDraft(item, line.trim(), false);
      continue;
    }
    // Text outside any item ends the current item.
    item = null;
    outside.push(line);
  }

  const stageKeyword = (kw: { kind: Keyword; rest: string }) => {
    if (kw.kind === "acceptance") {
      if (kw.rest) stage.criteria.push(kw.rest);
    } else if (kw.kind === "verify") {
      if (kw.rest) stage.verify.push(kw.rest);
    } else stage.refs = [...(stage.refs ?? []), ...(/^none$/i.test(kw.rest) ? [] : splitRefs(kw.rest))];
  };

  if (stage.items.length > 0) {
    let inFence = false;
    for (const line of outside) {
      if (FENCE.test(line)) inFence = !inFence;
      const kw = inFence ? null : keywordOf(line);
      if (kw) stageKeyword(kw);
      else stage.context.push(line);
    }
    return stage;
  }

  // No list: each paragraph is an issue, its keyword lines attached to it; keyword lines before any text belong to the stage.
  let seenText = false;
  for (const p of paragraphsOf(outside)) {
    const draft: Draft = { text: [], criteria: [], verify: [], refs: [] };
    for (const l of p) {
      const kw = keywordOf(l);
      if (kw && !seenText) stageKeyword(kw);
      else {
        if (!kw) seenText = true;
        addToDraft(draft, l, false);
      }
    }
    if (draft.text.some((t) => t.trim() !== "")) stage.paragraphs.push(draft);
    else if (stage.paragraphs.length > 0) {
      const prev = stage.paragraphs[stage.paragraphs.length - 1]!;
      prev.criteria.push(...draft.criteria);
      prev.verify.push(...draft.verify);
      prev.refs.push(...draft.refs);
    }
  }
  return stage;
}

function textStage(name: string, content: string): StageDraft {
  const stage: StageDraft = { name, context: [], criteria: [], verify: [], refs: [], items: [], paragraphs: [] };
  const lines = content.split("\n");
  const paragraphs = paragraphsOf(lines);
  const units: string[][] = paragraphs.length === 1 ? paragraphs[0]!.map((l) => [l]) : paragraphs;
  for (const unit of units) {
    const draft = newDraft("");
    draft.text = [];
    for (const l of unit) addToDraft(draft, l, false);
    if (draft.text.some((t) => t.trim() !== "")) stage.paragraphs.push(draft);
    else if (stage.paragraphs.length > 0) {
      const prev = stage.paragraphs[stage.paragraphs.length - 1]!;
      prev.criteria.push(...draft.criteria);
      prev.verify.push(...draft.verify);
      prev.refs.push(...draft.refs);
    } else {
      stage.criteria.push(...draft.criteria);
      stage.verify.push(...draft.verify);
    }
  }
  return stage;
}

function splitMarkdown(content: string, fallbackName: string): { title: string | null; preamble: string[]; stages: { name: string; lines: string[] }[] } {
  const lines = content.split("\n");
  const headings: { index: number; level: number; text: string }[] = [];
  let fenced = false;
  lines.forEach((line, index) => {
    if (FENCE.test(line)) fenced = !fenced;
    if (fenced) return;
    const m = HEADING.exec(line);
    if (m && m[2]!.trim() !== "") headings.push({ index, level: m[1]!.length, text: m[2]!.trim() });
  });
  if (headings.length === 0) return { title: null, preamble: [], stages: [{ name: fallbackName, lines }] };

  let title: string | null = null;
  let candidates = headings;
  const top = Math.min(...headings.map((h) => h.level));
  const atTop = headings.filter((h) => h.level === top);
  const firstContent = lines.findIndex((l) => l.trim() !== "");
  if (atTop.length === 1 && atTop[0] === headings[0] && headings[0]!.index === firstContent && headings.length > 1) {
    title = headings[0]!.text;
    candidates = headings.slice(1);
  }
  const level = Math.min(...candidates.map((h) => h.level));
  const stageHeads = candidates.filter((h) => h.level === level);
  const preambleStart = title !== null ? headings[0]!.index + 1 : 0;
  const preamble = lines.slice(preambleStart, stageHeads[0]!.index);
  const stages = stageHeads.map((h, i) => {
    const end = i + 1 < stageHeads.length ? stageHeads[i + 1]!.index : lines.length;
    // Deeper headings inside a stage are kept as paragraph text (outside code fences).
    let inFence = false;
    const body = lines.slice(h.index + 1, end).map((l) => {
      if (FENCE.test(l)) inFence = !inFence;
      const d = inFence ? null : HEADING.exec(l);
      return d ? d[2]!.trim() : l;
    });
    return { name: h.text, lines: body };
  });
  return { title, preamble, stages };
}

/**
 * The deterministic offline planner: markdown headings become stages, list
 * items issues, sub-items and `Acceptance:` lines criteria, `Verify:` lines
 * verification requirements, `(depends on: ...)` and `Depends on:` lines
 * dependencies; plain text is one stage with an issue per paragraph (or per
 * line). Never throws: a reference that matches nothing stays in depends_on
 * as written so `validatePlan` names it; a source with no text gives a plan
 * with no issues, which `validatePlan` rejects as empty.
 */
export function compilePlan(source: PlanSource, opts: { title?: string } = {}): Plan {
  const content = source.content.replace(/\r\n?/g, "\n");
  const fallbackName = opts.title?.trim() || "Plan";
  let docTitle: string | null = null;
  let preamble: string[] = [];
  let drafts: StageDraft[];
  if (source.format === "text") drafts = [textStage(fallbackName, content)];
  else {
    const split = splitMarkdown(content, fallbackName);
    docTitle = split.title;
    preamble = split.preamble;
    drafts = split.stages.map((s) => stageFromLines(s.name, s.lines));
  }
  // A heading with nothing under it is no stage (and the default order skips it).
  drafts = drafts.filter((d) => d.items.length > 0 || d.paragraphs.length > 0);

  const stageKey = (i: number) => `s${i + 1}`;
  const planned: { stage: PlannedStage; drafts: Draft[] }[] = drafts.map((d, si) => {
    const key = stageKey(si);
    const issues = d.items.length > 0 ? d.items : d.paragraphs;
    const context = bodyOf([...preamble, "", ...d.context]);
    return {
      drafts: issues,
      stage: {
        key,
        stage_name: d.name,
        depends_on: [],
        issues: issues.map((draft, ii) => {
          const own = bodyOf(draft.text);
          return {
            key: `${key}.i${ii + 1}`,
            title: titleFrom(own),
            kind: "task",
            body: context ? `${own}\n\nContext:\n${context}` : own,
            depends_on: [],
            acceptance_criteria: [...d.criteria, ...draft.criteria],
            verification_requirements: [...d.verify, ...draft.verify],
          };
        }),
      },
    };
  });

  // Resolve references: an issue key, a stage key, an issue title (or its full first line), a stage name.
  const byIssue = new Map<string, string>();
  const byStage = new Map<string, PlannedStage>();
  for (const { stage, drafts: ds } of planned) {
    byStage.set(stage.key.toLowerCase(), stage);
    if (!byStage.has(normalise(stage.stage_name))) byStage.set(normalise(stage.stage_name), stage);
    stage.issues.forEach((issue, i) => {
      byIssue.set(issue.key.toLowerCase(), issue.key);
      for (const name of [issue.title, ds[i]!.text[0] ?? ""]) {
        const n = normalise(name);
        if (n && !byIssue.has(n)) byIssue.set(n, issue.key);
      }
    });
  }
  const resolveIssueRef = (ref: string): string[] => {
    const n = normalise(ref);
    const issue = byIssue.get(ref.toLowerCase()) ?? byIssue.get(n);
    if (issue) return [issue];
    const stage = byStage.get(ref.toLowerCase()) ?? byStage.get(n);
    if (stage) return stage.issues.map((i) => i.key);
    return [ref.trim()];
  };
  planned.forEach(({ stage, drafts: ds }, si) => {
    const d = drafts[si]!;
    if (d.refs === null) stage.depends_on = si > 0 ? [stageKey(si - 1)] : [];
    else {
      const deps: string[] = [];
      for (const ref of d.refs) {
        const found = byStage.get(ref.toLowerCase()) ?? byStage.get(normalise(ref));
        const key = found ? found.key : ref.trim();
        if (!deps.includes(key)) deps.push(key);
      }
      stage.depends_on = deps;
    }
    stage.issues.forEach((issue, ii) => {
      const deps: string[] = [];
      // Naming its own stage makes an issue wait for its siblings, never for itself.
      for (const ref of ds[ii]!.refs) for (const key of resolveIssueRef(ref)) if (key !== issue.key && !deps.includes(key)) deps.push(key);
      issue.depends_on = deps;
    });
  });

  const stages = planned.map((p) => p.stage);

  const name = opts.title?.trim() || docTitle || titleFrom(content.split("\n").find((l) => l.trim() !== "")?.replace(/^#+\s*|^\s*(?:[-*+]|\d+[.)])\s+/, "") ?? "") || "Plan";
  const issueCount = stages.reduce((n, s) => n + s.issues.length, 0);
  const summary = `${name}: ${stages.length} stage${stages.length === 1 ? "" : "s"}, ${issueCount} issue${issueCount === 1 ? "" : "s"}`;
  return { summary: summary.length > PLAN_LIMITS.summaryChars ? summary.slice(0, PLAN_LIMITS.summaryChars) : summary, stages };
}

// ---------------------------------------------------------------- the dependency rule on records

export interface DependencyStage {
  id: string;
  depends_on: string[];
}

export interface DependencyIssue {
  id: string;
  stage_id: string;
  status: string;
  depends_on: string[];
}

/**
 * What an issue still waits for: its own depends_on, and every issue of the
 * stages its stage depends on, that has not `passed`. Empty means it may be
 * dispatched. `failed` names the waits that can never be met (a dependency
 * failed or is blocked), so the issue should be marked `blocked`.
 */
export function unmetDependencies(issueId: string, stages: DependencyStage[], issues: DependencyIssue[]): { waiting: string[]; failed: string[] } {
  const byId = new Map(issues.map((i) => [i.id, i]));
  const issue = byId.get(issueId);
  if (!issue) return { waiting: [], failed: [] };
  const stage = stages.find((s) => s.id === issue.stage_id);
  const needed = new Set(issue.depends_on);
  for (const sid of stage?.depends_on ?? []) for (const other of issues) if (other.stage_id === sid) needed.add(other.id);
  needed.delete(issueId);
  const waiting: string[] = [];
  const failed: string[] = [];
  for (const id of needed) {
    const dep = byId.get(id);
    if (dep?.status === "passed") continue;
    waiting.push(id);
    if (!dep || dep.status === "failed" || dep.status === "blocked") failed.push(id);
  }
  return { waiting, failed };
}

/** The issues whose every wait has passed and that have not started (status `pending` or `ready`), in the order given. */
export function readyIssueIds(stages: DependencyStage[], issues: DependencyIssue[]): string[] {
  return issues.filter((i) => (i.status === "pending" || i.status === "ready") && unmetDependencies(i.id, stages, issues).waiting.length === 0).map((i) => i.id);
}
