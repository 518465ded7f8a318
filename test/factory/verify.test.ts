import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { summariseVerdicts, VERIFICATION_RULES_DOC, verifyWithRules } from "../../src/factory/factory.verify.js";

const one = (criterion: string, output: string) => verifyWithRules([criterion], output)[0]!;
const verdict = (criterion: string, output: string) => one(criterion, output).verdict;

const OUTPUT = `Roomservice version 2 is out.

Install it with npm install roomservice@2 and restart.
Nothing else changes.`;

describe("quoted phrases", () => {
  it("passes when every quoted phrase appears, ignoring case and spacing, and fails naming the missing one", () => {
    expect(one('The summary says "VERSION   2"', OUTPUT)).toEqual({ criterion: 'The summary says "VERSION   2"', verdict: "pass", reason: 'the output contains "VERSION   2"' });
    expect(one('Names “version 2” and `restart`', OUTPUT).verdict).toBe("pass");
    const miss = one('Names "version 2" and "downgrade"', OUTPUT);
    expect(miss.verdict).toBe("fail");
    expect(miss.reason).toBe('the output does not contain "downgrade"');
  });
});

describe("mentions", () => {
  it("checks a quoted or bare phrase", () => {
    expect(verdict('mentions "npm install"', OUTPUT)).toBe("pass");
    expect(verdict("mentions roomservice", OUTPUT)).toBe("pass");
    expect(verdict("It mentions the release date.", OUTPUT)).toBe("fail");
    expect(one("includes restart and mentions nothing else changes", OUTPUT)).toMatchObject({ verdict: "pass", reason: 'the output contains "restart"; contains "nothing else changes"' });
  });
});

describe("negative phrases", () => {
  it("fails when the phrase is present and passes when it is absent, never also requiring it", () => {
    expect(verdict('no "lorem ipsum"', OUTPUT)).toBe("pass");
    expect(one('no "npm"', OUTPUT)).toMatchObject({ verdict: "fail", reason: 'the output contains "npm", which it must not' });
    expect(verdict('does not mention "downgrade"', OUTPUT)).toBe("pass");
    expect(verdict('must not contain the word "restart"', OUTPUT)).toBe("fail");
    expect(verdict('without "lorem ipsum"', OUTPUT)).toBe("pass");
  });
});

describe("regular expressions", () => {
  it("matches with flags, supports the negative form, and sends a broken pattern to review", () => {
    expect(verdict("matches /npm (install|i) roomservice@2/", OUTPUT)).toBe("pass");
    expect(verdict("matches /^nothing/im", OUTPUT)).toBe("pass");
    expect(verdict("matches /^nothing/", OUTPUT)).toBe("fail");
    expect(verdict("does not match /\\bTODO\\b/", OUTPUT)).toBe("pass");
    expect(verdict("does not match /roomservice/i", OUTPUT)).toBe("fail");
    const broken = one("matches /(unclosed/", OUTPUT);
    expect(broken.verdict).toBe("needs_review");
    expect(broken.reason).toMatch(/^the regular expression \/\(unclosed\/ does not compile: /);
  });
});

describe("counts", () => {
  it("counts words, non-empty lines, paragraphs and characters against each bound", () => {
    // 16 words, 3 non-empty lines, 2 paragraphs.
    expect(one("at least 10 words", OUTPUT)).toMatchObject({ verdict: "pass", reason: "the output at least 10 words (has 16)" });
    expect(verdict("at least 17 words", OUTPUT)).toBe("fail");
    expect(verdict("at most 3 lines", OUTPUT)).toBe("pass");
    expect(verdict("fewer than 3 lines", OUTPUT)).toBe("fail");
    expect(verdict("more than 1 paragraph", OUTPUT)).toBe("pass");
    expect(verdict("no more than 1 paragraph", OUTPUT)).toBe("fail");
    expect(verdict("under 20 characters", "short text")).toBe("pass");
    expect(verdict("at least 11 chars", "short text")).toBe("fail");
  });
});

describe("combinations and the undecidable", () => {
  it("passes only when every recognised check passes", () => {
    expect(verdict('mentions "roomservice" and at least 5 words', OUTPUT)).toBe("pass");
    const r = one('mentions "roomservice" and at least 500 words and no "lorem ipsum"', OUTPUT);
    expect(r.verdict).toBe("fail");
    expect(r.reason).toBe("the output at least 500 words (has 16)");
  });

  it("sends a criterion no rule decides to review instead of passing it", () => {
    expect(one("The tone is friendly", OUTPUT)).toEqual({
      criterion: "The tone is friendly",
      verdict: "needs_review",
      reason: "no verification rule applies to this criterion; a person must review it",
    });
  });

  it("fails every criterion on an empty output, even an undecidable one", () => {
    expect(verifyWithRules(['no "x"', "The tone is friendly"], "  \n ")).toEqual([
      { criterion: 'no "x"', verdict: "fail", reason: "the output is empty" },
      { criterion: "The tone is friendly", verdict: "fail", reason: "the output is empty" },
    ]);
  });

  it("gives one verdict per criterion in order, the same every time", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 60 }), { maxLength: 6 }), fc.string({ maxLength: 200 }), (criteria, output) => {
        const a = verifyWithRules(criteria, output);
        expect(a.map((v) => v.criterion)).toEqual(criteria);
        expect(verifyWithRules(criteria, output)).toEqual(a);
        for (const v of a) expect(["pass", "fail", "needs_review"]).toContain(v.verdict);
      }),
      { numRuns: 300 },
    );
  });
});

describe("summariseVerdicts", () => {
  it("is failed on any fail, passed otherwise, skipped with nothing to check, and lists what needs review", () => {
    expect(summariseVerdicts([])).toEqual({ status: "skipped", pass: 0, fail: 0, needs_review: [] });
    expect(
      summariseVerdicts([
        { criterion: "a", verdict: "pass", reason: "" },
        { criterion: "b", verdict: "needs_review", reason: "" },
      ]),
    ).toEqual({ status: "passed", pass: 1, fail: 0, needs_review: ["b"] });
    expect(summariseVerdicts([{ criterion: "a", verdict: "fail", reason: "" }]).status).toBe("failed");
  });
});

describe("the rules doc", () => {
  it("documents every rule the verifier applies", () => {
    for (const phrase of ["matches /regex/", "does not match", "at least N words", "at most N words", 'no "X"', "mentions X", "needs_review", "An empty output fails every criterion"]) {
      expect(VERIFICATION_RULES_DOC).toContain(phrase);
    }
  });
});

describe("loose verbs", () => {
  it("reads says/uses only with a quoted phrase, so prose after them is left to review", () => {
    expect(verdict("It uses a friendly tone", OUTPUT)).toBe("needs_review");
    expect(verdict('It says "restart"', OUTPUT)).toBe("pass");
  });
});
