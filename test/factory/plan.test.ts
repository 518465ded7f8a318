import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  checkPlan,
  compilePlan,
  PLAN_LIMITS,
  PlanSchema,
  PLANNER_SYNTAX_DOC,
  PLANNER_SYNTAX_EXAMPLE,
  readyIssueIds,
  unmetDependencies,
  validatePlan,
  type Plan,
} from "../../src/factory/factory.plan.js";

const md = (content: string, title?: string) => compilePlan({ format: "markdown", content }, title ? { title } : {});
const text = (content: string) => compilePlan({ format: "text", content });
const issues = (plan: Plan) => plan.stages.flatMap((s) => s.issues);

function tinyPlan(over: (p: Plan) => void = () => {}): Plan {
  const plan: Plan = {
    summary: "A plan",
    stages: [
      {
        key: "s1",
        stage_name: "One",
        depends_on: [],
        issues: [
          { key: "a", title: "A", kind: "task", body: "do a", depends_on: [], acceptance_criteria: [], verification_requirements: [] },
          { key: "b", title: "B", kind: "task", body: "do b", depends_on: ["a"], acceptance_criteria: [], verification_requirements: [] },
        ],
      },
      {
        key: "s2",
        stage_name: "Two",
        depends_on: ["s1"],
        issues: [{ key: "c", title: "C", kind: "task", body: "do c", depends_on: [], acceptance_criteria: [], verification_requirements: [] }],
      },
    ],
  };
  over(plan);
  return plan;
}

describe("the documented example", () => {
  it("is in the syntax doc and compiles to the plan the doc describes", () => {
    expect(PLANNER_SYNTAX_DOC).toContain(PLANNER_SYNTAX_EXAMPLE);
    const plan = md(PLANNER_SYNTAX_EXAMPLE);
    expect(checkPlan(plan)).toEqual({ ok: true, plan });
    expect(plan.summary).toBe("Launch notes: 2 stages, 3 issues");
    expect(plan.stages.map((s) => [s.key, s.stage_name, s.depends_on])).toEqual([
      ["s1", "Draft", []],
      ["s2", "Review", ["s1"]],
    ]);
    expect(issues(plan).map((i) => ({ key: i.key, title: i.title, kind: i.kind, deps: i.depends_on, ac: i.acceptance_criteria, vr: i.verification_requirements }))).toEqual([
      { key: "s1.i1", title: "Write the changelog summary", kind: "task", deps: [], ac: ['mentions "version 2"'], vr: ["at least 40 words"] },
      { key: "s1.i2", title: "Write the upgrade guide", kind: "task", deps: ["s1.i1"], ac: ["matches /npm (install|i) roomservice@2/"], vr: [] },
      { key: "s2.i1", title: "Proofread both documents", kind: "task", deps: [], ac: ['no "lorem ipsum"'], vr: [] },
    ]);
    // The document's opening paragraph reaches every room as context; the inline dependency does not.
    for (const i of issues(plan)) expect(i.body).toContain("Write the launch notes for version 2 of the service.");
    expect(issues(plan)[1]!.body).not.toContain("depends on");
  });
});

describe("compilePlan on markdown", () => {
  it("makes a document without headings one stage named after the run's title", () => {
    const plan = md("- First thing\n- Second thing\n", "My run");
    expect(plan.stages).toHaveLength(1);
    expect(plan.stages[0]).toMatchObject({ key: "s1", stage_name: "My run", depends_on: [] });
    expect(issues(plan).map((i) => i.title)).toEqual(["First thing", "Second thing"]);
    expect(md("- Only\n").stages[0]!.stage_name).toBe("Plan");
  });

  it("uses a lone opening heading as the title and the next level as stages", () => {
    const plan = md("# Project\n\n## Alpha\n- a1\n\n## Beta\n- b1\n- b2\n");
    expect(plan.summary).toBe("Project: 2 stages, 3 issues");
    expect(plan.stages.map((s) => s.stage_name)).toEqual(["Alpha", "Beta"]);
  });

  it("makes every heading of the shallowest level a stage when there are several", () => {
    const plan = md("# Alpha\n- a1\n### detail\nmore words\n# Beta\n- b1\n");
    expect(plan.stages.map((s) => s.stage_name)).toEqual(["Alpha", "Beta"]);
    // The deeper heading is kept as text, not a stage.
    expect(issues(plan)[0]!.body).toContain("detail");
  });

  it("runs stages in order by default, and follows a Depends on: line instead", () => {
    const seq = md("# A\n- a\n# B\n- b\n# C\n- c\n");
    expect(seq.stages.map((s) => s.depends_on)).toEqual([[], ["s1"], ["s2"]]);
    const par = md("# A\n- a\n# B\nDepends on: none\n- b\n# C\nDepends on: A, b\n- c\n");
    expect(par.stages.map((s) => s.depends_on)).toEqual([[], [], ["s1", "s2"]]);
  });

  it("reads sub-items as criteria and Verify:/Acceptance:/Depends on: lines by keyword", () => {
    const plan = md(
      [
        "- Build the parser",
        "  - handles empty input",
        "  - Verify: run the unit tests",
        "  Acceptance: mentions \"parser\"",
        "- Write docs (depends on: build the parser.)",
        "  Depends on: s1.i1",
        "  Verify: at least 3 lines",
      ].join("\n"),
    );
    const [a, b] = issues(plan);
    expect(a!.acceptance_criteria).toEqual(["handles empty input", 'mentions "parser"']);
    expect(a!.verification_requirements).toEqual(["run the unit tests"]);
    expect(b!.depends_on).toEqual(["s1.i1"]);
    expect(b!.verification_requirements).toEqual(["at least 3 lines"]);
  });

  it("applies stage-level Acceptance: and Verify: lines to every issue of the stage", () => {
    const plan = md("# S\nAcceptance: no \"lorem\"\nVerify: read it\n\n- one\n- two\n# T\n- three\n");
    expect(issues(plan).map((i) => i.acceptance_criteria)).toEqual([['no "lorem"'], ['no "lorem"'], []]);
    expect(issues(plan).map((i) => i.verification_requirements)).toEqual([["read it"], ["read it"], []]);
  });

  it("makes one issue per paragraph in a stage without list items", () => {
    const plan = md("# Essay\n\nWrite the introduction.\nKeep it short.\n\nWrite the conclusion.\nAcceptance: mentions \"finally\"\n");
    expect(issues(plan).map((i) => [i.title, i.body, i.acceptance_criteria])).toEqual([
      ["Write the introduction", "Write the introduction.\nKeep it short.", []],
      ["Write the conclusion", "Write the conclusion.", ['mentions "finally"']],
    ]);
  });

  it("makes a stage's issues wait for a named stage's issues, never for themselves", () => {
    const plan = md("# A\n- a1\n- a2\n# B\nDepends on: none\n- b1 (depends on: A)\n- b2 (depends on: B)\n");
    const [, , b1, b2] = issues(plan);
    expect(b1!.depends_on).toEqual(["s1.i1", "s1.i2"]);
    expect(b2!.depends_on).toEqual(["s2.i1"]);
  });

  it("keeps an unknown reference as written so validation names it", () => {
    const plan = md("- Write A\n- Write B (depends on: Write Z)\n");
    expect(issues(plan)[1]!.depends_on).toEqual(["Write Z"]);
    expect(validatePlan(plan)).toEqual(['stages[0].issues[1].depends_on[0]: "Write Z" is not the key of any issue']);
  });

  it("copies fenced code into the body and ignores headings and items inside it", () => {
    const plan = md("# Code\n- Add the config file:\n  ```yaml\n  # not a heading\n  - not an item\n  ```\n- Next\n");
    expect(plan.stages).toHaveLength(1);
    expect(issues(plan)).toHaveLength(2);
    expect(issues(plan)[0]!.body).toContain("# not a heading\n  - not an item");
  });

  it("cuts a long first sentence to a title of at most 120 characters and keeps the whole text as the body", () => {
    const long = `Write ${"a very long sentence ".repeat(12)}that never ends`;
    const [issue] = issues(md(`- ${long}\n`));
    expect(issue!.title.length).toBeLessThanOrEqual(120);
    expect(issue!.title.endsWith("…")).toBe(true);
    expect(issue!.body).toBe(long);
  });

  it("skips a heading with nothing under it, and its stage is not waited on", () => {
    const plan = md("# A\n- a\n# Empty\n# C\n- c\n");
    expect(plan.stages.map((s) => [s.key, s.stage_name, s.depends_on])).toEqual([
      ["s1", "A", []],
      ["s2", "C", ["s1"]],
    ]);
  });

  it("gives an empty source an empty plan, which validation rejects", () => {
    const plan = md("   \n\n");
    expect(plan.stages).toEqual([]);
    expect(validatePlan(plan)).toEqual(["stages: the plan is empty: it has no stages"]);
  });
});

describe("compilePlan on plain text", () => {
  it("makes one issue per paragraph", () => {
    const plan = text("Write a poem.\nAbout the sea.\n\nRead it aloud.\n");
    expect(plan.stages).toHaveLength(1);
    expect(issues(plan).map((i) => i.body)).toEqual(["Write a poem.\nAbout the sea.", "Read it aloud."]);
  });

  it("makes one issue per line of a single paragraph, attaching keyword lines to the issue before", () => {
    const plan = text('Write a haiku about rain\nAcceptance: mentions "rain"\nVerify: at most 3 lines\nTranslate it (depends on: write a haiku about rain)\n');
    expect(issues(plan).map((i) => [i.key, i.title, i.acceptance_criteria, i.verification_requirements, i.depends_on])).toEqual([
      ["s1.i1", "Write a haiku about rain", ['mentions "rain"'], ["at most 3 lines"], []],
      ["s1.i2", "Translate it", [], [], ["s1.i1"]],
    ]);
    expect(checkPlan(plan).ok).toBe(true);
  });

  it("does not read markdown syntax in text format", () => {
    const plan = text("# not a heading\n- not an item\n");
    expect(plan.stages).toHaveLength(1);
    expect(issues(plan).map((i) => i.body)).toEqual(["# not a heading", "- not an item"]);
  });
});

describe("determinism", () => {
  it("gives the same plan for the same input, every time, and never throws on any input", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("# H1", "## H2", "- item", "  - sub", "1. num", "Acceptance: x", "Verify: y", "Depends on: s1", "(depends on: item)", "text", "", "```", "\t- tab"), {
          maxLength: 30,
        }),
        fc.constantFrom<"text" | "markdown">("text", "markdown"),
        (lines, format) => {
          const content = lines.join("\n");
          const a = compilePlan({ format, content });
          const b = compilePlan({ format, content });
          expect(b).toEqual(a);
          expect(Array.isArray(validatePlan(a))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("gives every compiled plan from well-formed input unique keys and a passing check", () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.stringMatching(/^[a-z]{1,8}( [a-z]{1,8}){0,3}$/), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 5 }), (stages) => {
        const content = stages.map((items, i) => `# Stage ${i}\n${items.map((t) => `- ${t}`).join("\n")}`).join("\n\n");
        const result = checkPlan(md(content));
        expect(result).toMatchObject({ ok: true });
      }),
      { numRuns: 100 },
    );
  });
});

describe("validatePlan", () => {
  it("accepts a well-formed plan", () => {
    expect(validatePlan(tinyPlan())).toEqual([]);
  });

  it("rejects a plan whose stages have no issues", () => {
    expect(validatePlan({ summary: "x", stages: [{ key: "s1", stage_name: "S", depends_on: [], issues: [] }] })).toEqual(["stages: the plan is empty: no stage has an issue"]);
  });

  it("names duplicate stage and issue keys with both places", () => {
    const errors = validatePlan(
      tinyPlan((p) => {
        p.stages[1]!.key = "s1";
        p.stages[1]!.depends_on = [];
        p.stages[1]!.issues[0]!.key = "a";
      }),
    );
    expect(errors).toEqual(['stages[1].key: duplicate stage key "s1" (also stages[0])', 'stages[1].issues[0].key: duplicate issue key "a" (also stages[0].issues[0])']);
  });

  it("names unknown and self dependencies", () => {
    const errors = validatePlan(
      tinyPlan((p) => {
        p.stages[1]!.depends_on = ["s9", "s2"];
        p.stages[0]!.issues[0]!.depends_on = ["a", "zz"];
      }),
    );
    expect(errors).toEqual([
      'stages[0].issues[0].depends_on[0]: issue "a" depends on itself',
      'stages[0].issues[0].depends_on[1]: "zz" is not the key of any issue',
      'stages[1].depends_on[0]: "s9" is not the key of any stage',
      'stages[1].depends_on[1]: stage "s2" depends on itself',
    ]);
  });

  it("finds a cycle among issues and among stages", () => {
    expect(validatePlan(tinyPlan((p) => (p.stages[0]!.issues[0]!.depends_on = ["b"])))).toEqual(["stages: the issue dependencies form a cycle: a -> b -> a"]);
    expect(validatePlan(tinyPlan((p) => (p.stages[0]!.depends_on = ["s2"])))).toEqual(["stages: the stage dependencies form a cycle: s1 -> s2 -> s1"]);
  });

  it("finds an issue that would wait on itself through stage order", () => {
    // c waits for all of s1 (stage order); a waits for c: neither can start.
    const errors = validatePlan(tinyPlan((p) => (p.stages[0]!.issues[0]!.depends_on = ["c"])));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^stages: an issue waits on itself through stage order: a \(stage s1\) -> c \(stage s2\) -> a \(stage s1\)/);
  });
});

describe("PlanSchema", () => {
  it("rejects unknown fields, missing fields and bad keys, naming each path", () => {
    const raw = JSON.parse(JSON.stringify(tinyPlan())) as any;
    raw.extra = 1;
    raw.stages[0].issues[0].key = "bad key!";
    delete raw.stages[1].issues[0].title;
    const result = checkPlan(raw);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toContainEqual(expect.stringMatching(/^\(root\): Unrecognized key: "extra"/));
    expect(result.errors).toContainEqual(expect.stringMatching(/^stages\[0\]\.issues\[0\]\.key: a key is letters/));
    expect(result.errors).toContainEqual(expect.stringMatching(/^stages\[1\]\.issues\[0\]\.title: /));
  });

  it("bounds the number of stages and the size of a body", () => {
    const many = tinyPlan((p) => {
      p.stages = Array.from({ length: PLAN_LIMITS.stages + 1 }, (_, i) => ({ ...p.stages[1]!, key: `s${i}`, depends_on: [], issues: [{ ...p.stages[1]!.issues[0]!, key: `i${i}` }] }));
    });
    expect(PlanSchema.safeParse(many).success).toBe(false);
    const big = tinyPlan((p) => (p.stages[0]!.issues[0]!.body = "x".repeat(PLAN_LIMITS.bodyChars + 1)));
    expect(PlanSchema.safeParse(big).success).toBe(false);
  });

  it("turns into a JSON schema with closed objects for the planner's tool", () => {
    const schema = z.toJSONSchema(PlanSchema) as any;
    expect(schema.type).toBe("object");
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(["summary", "stages"]);
    const issue = schema.properties.stages.items.properties.issues.items;
    expect(issue.additionalProperties).toBe(false);
    expect(issue.required).toEqual(["key", "title", "kind", "body", "depends_on", "acceptance_criteria", "verification_requirements"]);
  });
});

describe("the dependency rule on records", () => {
  const stages = [
    { id: "st1", depends_on: [] },
    { id: "st2", depends_on: ["st1"] },
  ];
  const rec = (id: string, stage_id: string, status: string, depends_on: string[] = []) => ({ id, stage_id, status, depends_on });

  it("makes an issue wait for its own dependencies and every issue of the stages its stage depends on", () => {
    const list = [rec("a", "st1", "passed"), rec("b", "st1", "running", ["a"]), rec("c", "st2", "pending"), rec("d", "st1", "pending", ["a"])];
    expect(unmetDependencies("c", stages, list)).toEqual({ waiting: ["a", "b", "d"].filter((x) => x !== "a"), failed: [] });
    expect(readyIssueIds(stages, list)).toEqual(["d"]);
  });

  it("names waits that can never be met", () => {
    const list = [rec("a", "st1", "failed"), rec("b", "st1", "pending", ["a", "gone"]), rec("c", "st2", "pending")];
    expect(unmetDependencies("b", stages, list)).toEqual({ waiting: ["a", "gone"], failed: ["a", "gone"] });
    expect(unmetDependencies("c", stages, list).failed).toEqual(["a"]);
    expect(readyIssueIds(stages, list)).toEqual([]);
  });

  it("makes everything ready once its waits have passed, and never a running or finished issue", () => {
    const list = [rec("a", "st1", "passed"), rec("b", "st1", "passed"), rec("c", "st2", "ready"), rec("d", "st2", "running"), rec("e", "st2", "failed")];
    expect(readyIssueIds(stages, list)).toEqual(["c"]);
  });
});
