/**
 * The offline verifier: deterministic, documented rules that decide an
 * acceptance criterion against an issue's output. A criterion no rule can
 * decide is `needs_review`, never a silent pass; an empty output fails every
 * criterion. Pure: same criteria and output, same verdicts.
 */
import type { CriterionVerdict } from "./factory.brains.types.js";

export type { CriterionVerdict, CriterionVerdictValue } from "./factory.brains.types.js";

export const VERIFICATION_RULES_DOC = `## Verification rules (offline verifier)

With the built-in \`local/echo\` model each acceptance criterion of a finished
issue is checked against the issue's output by these rules. With a real model
a judge model gives each criterion \`pass\` or \`fail\` with a reason instead.

| A criterion containing | passes when the output |
| --- | --- |
| \`matches /regex/flags\` | matches the regular expression (flags \`i\`, \`m\`, \`s\`, \`u\`) |
| \`does not match /regex/\` | does not match it |
| \`at least N words\` (also \`lines\`, \`paragraphs\`, \`characters\`) | has N or more of them |
| \`at most N words\` (also \`no more than\`, \`fewer than\`, \`less than\`, \`more than\`) | stays within the bound |
| \`no "X"\`, \`without "X"\`, \`does not mention "X"\` (also \`contain\`, \`include\`, \`say\`, \`use\`) | does not contain X |
| \`mentions "X"\` (also \`includes\`, \`contains\`, \`says\`, \`uses\`) | contains X |
| \`mentions X\` unquoted (also \`includes\`, \`contains\`): X is the words up to the next punctuation, "and" or "or" | contains X |
| any other quoted phrase \`"X"\` (straight or curly double quotes, or backticks) | contains X |

- Text comparisons ignore case and treat any run of whitespace as one space.
- Words are runs of non-space characters; lines and paragraphs count only
  non-empty ones; characters are counted on the trimmed output.
- A criterion may hold several checks ("mentions "a" and at least 50
  words"): it passes when every check passes and fails when any fails. Only
  the recognised parts are checked; the rest of the sentence is not.
- A criterion in which no rule applies is \`needs_review\`: a person decides
  it (the run stops at the \`verification_passed\` gate until then).
- A regular expression that does not compile makes the criterion
  \`needs_review\`, with the error as the reason.
- An empty output fails every criterion.
`;

/** Regexes run on at most this many characters of output, so a pathological pattern stays bounded. */
const REGEX_INPUT_CHARS = 200_000;
const QUOTED = String.raw`(?:"([^"]+)"|“([^”]+)”|\x60([^\x60]+)\x60)`;
const VERB = String.raw`(?:mention|contain|include|say|use)s?`;
/** Verbs that also take an unquoted phrase ("says" and "uses" are too loose for that). */
const BARE_VERB = String.raw`(?:mention|contain|include)s?`;

interface Check {
  ok: boolean;
  what: string;
}

function fold(text: string): string {
  return text.toLowerCase().replace(/\s+/g, " ").trim();
}

function quotedOf(m: RegExpExecArray, from: number): string {
  return (m[from] ?? m[from + 1] ?? m[from + 2] ?? "").trim();
}

const show = (s: string) => JSON.stringify(s);

function counts(output: string): Record<"words" | "lines" | "paragraphs" | "characters", number> {
  const trimmed = output.trim();
  return {
    words: trimmed === "" ? 0 : trimmed.split(/\s+/).length,
    lines: output.split("\n").filter((l) => l.trim() !== "").length,
    paragraphs: output.split(/\n\s*\n/).filter((p) => p.trim() !== "").length,
    characters: trimmed.length,
  };
}

function unitOf(word: string): "words" | "lines" | "paragraphs" | "characters" {
  const w = word.toLowerCase();
  if (w.startsWith("word")) return "words";
  if (w.startsWith("line")) return "lines";
  if (w.startsWith("paragraph")) return "paragraphs";
  return "characters";
}

/**
 * Decides one criterion: runs each rule in a fixed order, removing the text
 * a rule consumed so a later rule does not read it again (the phrase of
 * `no "X"` is not also a must-contain phrase).
 */
function decide(criterion: string, output: string): CriterionVerdict {
  const folded = fold(output);
  const checks: Check[] = [];
  let rest = criterion;
  const consume = (re: RegExp, each: (m: RegExpExecArray) => Check | { review: string }): string | null => {
    let review: string | null = null;
    rest = rest.replace(re, (...args: unknown[]) => {
      const groups = args.slice(0, -2) as string[];
      const m = Object.assign(groups, { index: 0, input: "" }) as unknown as RegExpExecArray;
      const r = each(m);
      if ("review" in r) review = r.review;
      else checks.push(r);
      return " ";
    });
    return review;
  };

  // 1. Regular expressions (negative first, so "does not match" is not read as "match").
  for (const [re, negate] of [
    [/\b(?:does\s+not|doesn't|must\s+not|never)\s+match(?:es)?\s+\/((?:\\.|[^/\\])+)\/([a-z]*)/gi, true],
    [/\bmatch(?:es)?\s+\/((?:\\.|[^/\\])+)\/([a-z]*)/gi, false],
  ] as const) {
    const review = consume(re, (m) => {
      const flags = [...new Set((m[2] ?? "").replace(/[^imsu]/g, ""))].join("");
      let rx: RegExp;
      try {
        rx = new RegExp(m[1]!, flags);
      } catch (err) {
        return { review: `the regular expression /${m[1]}/ does not compile: ${err instanceof Error ? err.message : String(err)}` };
      }
      const hit = rx.test(output.slice(0, REGEX_INPUT_CHARS));
      return { ok: negate ? !hit : hit, what: `${negate ? "does not match" : "matches"} /${m[1]}/${flags}` };
    });
    if (review) return { criterion, verdict: "needs_review", reason: review };
  }

  // 2. Counts.
  const have = counts(output);
  consume(/\b(at\s+least|no\s+fewer\s+than|more\s+than|at\s+most|no\s+more\s+than|fewer\s+than|less\s+than|under|over)\s+(\d{1,9})\s+(words?|lines?|paragraphs?|char(?:acter)?s?)\b/gi, (m) => {
    const bound = m[1]!.toLowerCase().replace(/\s+/g, " ");
    const n = Number(m[2]);
    const unit = unitOf(m[3]!);
    const got = have[unit];
    const ok =
      bound === "at least" || bound === "no fewer than"
        ? got >= n
        : bound === "more than" || bound === "over"
          ? got > n
          : bound === "at most" || bound === "no more than"
            ? got <= n
            : got < n;
    return { ok, what: `${bound} ${n} ${unit} (has ${got})` };
  });

  // 3. Negative phrases.
  consume(new RegExp(String.raw`\b(?:no|without|(?:does\s+not|doesn't|must\s+not|should\s+not|not|never)\s+${VERB})\s+(?:the\s+(?:word|phrase|text)\s+)?${QUOTED}`, "gi"), (m) => {
    const phrase = quotedOf(m, 1);
    const found = folded.includes(fold(phrase));
    return { ok: !found, what: found ? `contains ${show(phrase)}, which it must not` : `does not contain ${show(phrase)}` };
  });

  // 4. Positive verbs with a quoted phrase, or a bare one after mention/contain/include.
  consume(new RegExp(String.raw`\b${VERB}\s+(?:the\s+(?:word|phrase|text)\s+)?${QUOTED}`, "gi"), (m) => {
    const phrase = quotedOf(m, 1);
    const found = folded.includes(fold(phrase));
    return { ok: found, what: found ? `contains ${show(phrase)}` : `does not contain ${show(phrase)}` };
  });
  consume(
    new RegExp(String.raw`\b${BARE_VERB}\s+(?:the\s+(?:word|phrase|text)\s+)?(?:${QUOTED}|([^\s"“\x60,.;:!?][^"“\x60,.;:!?]*?))(?=\s*(?:[,.;:!?]|\band\b|\bor\b|$))`, "gi"),
    (m) => {
      const phrase = quotedOf(m, 1) || (m[4] ?? "").trim();
      const found = folded.includes(fold(phrase));
      return { ok: found, what: found ? `contains ${show(phrase)}` : `does not contain ${show(phrase)}` };
    },
  );

  // 5. Any other quoted phrase must appear.
  consume(new RegExp(QUOTED, "g"), (m) => {
    const phrase = quotedOf(m, 1);
    const found = folded.includes(fold(phrase));
    return { ok: found, what: found ? `contains ${show(phrase)}` : `does not contain ${show(phrase)}` };
  });

  if (checks.length === 0) {
    return { criterion, verdict: "needs_review", reason: "no verification rule applies to this criterion; a person must review it" };
  }
  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) return { criterion, verdict: "fail", reason: `the output ${failed.map((c) => c.what).join("; ")}` };
  return { criterion, verdict: "pass", reason: `the output ${checks.map((c) => c.what).join("; ")}` };
}

/** One verdict per criterion, in order, by the rules of VERIFICATION_RULES_DOC. */
export function verifyWithRules(criteria: string[], output: string): CriterionVerdict[] {
  if (output.trim() === "") return criteria.map((criterion) => ({ criterion, verdict: "fail", reason: "the output is empty" }));
  return criteria.map((criterion) => decide(criterion, output));
}

/** The verification status of a set of verdicts: failed if any failed, else passed; `skipped` when there were none. */
export function summariseVerdicts(verdicts: CriterionVerdict[]): { status: "passed" | "failed" | "skipped"; pass: number; fail: number; needs_review: string[] } {
  let pass = 0;
  let fail = 0;
  const needs: string[] = [];
  for (const v of verdicts) {
    if (v.verdict === "pass") pass++;
    else if (v.verdict === "fail") fail++;
    else needs.push(v.criterion);
  }
  const status = verdicts.length === 0 ? "skipped" : fail > 0 ? "failed" : "passed";
  return { status, pass, fail, needs_review: needs };
}
