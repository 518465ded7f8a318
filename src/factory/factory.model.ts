/**
 * The model-backed planner and judge. Each asks for its answer through one
 * forced tool call whose parameters are a zod schema's JSON schema, validates
 * the arguments with zod (and, for a plan, `validatePlan`), and on invalid
 * output asks again with the validation error quoted, a bounded number of
 * times. A model that never gets it right ends in a diagnostic quoting the
 * last validation error; a provider failure ends at once (the runtime has
 * already retried what was retryable). Never throws.
 */
import { z } from "zod";
import type { ActorSpec, StructuredModel, StructuredResult, Usage } from "../runtime/llm/llm.types.js";
import type { CriterionVerdict, Plan, PlanSource } from "./factory.brains.types.js";
import { formatZodIssues, PlanSchema, validatePlan } from "./factory.plan.js";

export type { StructuredModel } from "../runtime/llm/llm.types.js";

export const PLAN_TOOL = "submit_plan";
export const JUDGE_TOOL = "submit_verdicts";
/** How many validation errors a retry prompt and a diagnostic quote. */
const MAX_QUOTED_ERRORS = 10;
const MAX_SOURCE_CHARS = 200_000;
const MAX_OUTPUT_CHARS = 100_000;

export interface ModelCallOptions {
  /** Attempts in all, at least 1. */
  maxAttempts: number;
  signal?: AbortSignal;
  /** Per-request wall time; default the runtime's. */
  timeoutMs?: number;
}

export type PlanWithModelResult = { ok: true; plan: Plan; usage: Usage; attempts: number } | { ok: false; diagnostic: string; usage: Usage; attempts: number };
export type JudgeWithModelResult = { ok: true; verdicts: CriterionVerdict[]; usage: Usage; attempts: number } | { ok: false; diagnostic: string; usage: Usage; attempts: number };

function zeroUsage(): Usage {
  return { input: 0, output: 0, totalTokens: 0, cost: { total: 0 } };
}

function addUsage(total: Usage, more: Usage): void {
  total.input += more.input;
  total.output += more.output;
  total.totalTokens += more.totalTokens;
  total.cost.total += more.cost.total;
}

/** The JSON schema of a zod schema as a tool's parameters (no `$schema` key, which some providers reject). */
export function toolParameters(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema) as Record<string, unknown>;
  delete json["$schema"];
  return json;
}

function quoteErrors(errors: string[]): string {
  const shown = errors.slice(0, MAX_QUOTED_ERRORS);
  const more = errors.length > shown.length ? `; and ${errors.length - shown.length} more` : "";
  return `${shown.join("; ")}${more}`;
}

type Validation<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/**
 * The shared loop: ask, validate, and on invalid output ask again with the
 * errors quoted. A failure that is not the model's answer (provider, timeout,
 * abort, unknown model) ends the loop at once.
 */
async function askUntilValid<T>(
  llm: StructuredModel,
  actor: ActorSpec,
  ask: { what: string; system: string; prompt: string; tool: { name: string; description: string; parameters: Record<string, unknown> } },
  validate: (args: Record<string, unknown>) => Validation<T>,
  opts: ModelCallOptions,
): Promise<{ ok: true; value: T; usage: Usage; attempts: number } | { ok: false; diagnostic: string; usage: Usage; attempts: number }> {
  const maxAttempts = Math.max(1, Math.floor(opts.maxAttempts));
  const usage = zeroUsage();
  let feedback: string | null = null;
  let lastProblem = "";
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const prompt: string = feedback === null ? ask.prompt : `${ask.prompt}\n\n${feedback}`;
    const result: StructuredResult = await llm.completeStructured({
      actor,
      system: ask.system,
      prompt,
      tool: ask.tool,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    });
    addUsage(usage, result.usage);
    if (!result.ok) {
      if (result.code !== "NO_TOOL_CALL") {
        return { ok: false, diagnostic: `the ${ask.what} model ${actor.provider}/${actor.model} failed (${result.code}): ${result.message}`, usage, attempts: attempt };
      }
      lastProblem = `the model answered in text instead of calling ${ask.tool.name}`;
      feedback = `Your previous answer was rejected: you answered in text. Call the tool ${ask.tool.name} exactly once with the complete answer as its arguments.`;
      continue;
    }
    const checked = validate(result.arguments);
    if (checked.ok) return { ok: true, value: checked.value, usage, attempts: attempt };
    lastProblem = `validation error: ${quoteErrors(checked.errors)}`;
    feedback = `Your previous call of ${ask.tool.name} was rejected by validation:\n${checked.errors
      .slice(0, MAX_QUOTED_ERRORS)
      .map((e) => `- ${e}`)
      .join("\n")}\nCall ${ask.tool.name} again with corrected, complete arguments.`;
  }
  return {
    ok: false,
    diagnostic: `the ${ask.what} model ${actor.provider}/${actor.model} gave no valid answer in ${maxAttempts} attempt${maxAttempts === 1 ? "" : "s"}; last ${lastProblem}`,
    usage,
    attempts: maxAttempts,
  };
}

const PLANNER_SYSTEM = `You are the planner of a work factory. You turn a brief into a plan of stages and issues that separate workers will carry out, one issue each, in order of their dependencies.
Rules:
- Call the tool ${PLAN_TOOL} exactly once with the whole plan; do not answer in text.
- Stage keys are "s1", "s2", ...; issue keys are "s1.i1", "s1.i2", ...; every key is unique.
- depends_on lists keys that exist in the plan; there are no cycles.
- Each issue's body is complete, self-contained instructions for a worker who sees nothing else.
- acceptance_criteria are short checkable statements about the issue's output.`;

/**
 * Asks the actor's model for a plan of `source`. The plan is valid against
 * PlanSchema and validatePlan, or the result is a diagnostic that quotes the
 * last validation error (or names the provider failure).
 */
export async function planWithModel(llm: StructuredModel, actor: ActorSpec, source: PlanSource, opts: ModelCallOptions & { title?: string }): Promise<PlanWithModelResult> {
  const content = source.content.length > MAX_SOURCE_CHARS ? source.content.slice(0, MAX_SOURCE_CHARS) : source.content;
  const prompt = `${opts.title ? `Title: ${opts.title}\n` : ""}The brief (${source.format}) follows between the markers.\n<<<BRIEF\n${content}\nBRIEF>>>`;
  const result = await askUntilValid(
    llm,
    actor,
    {
      what: "planner",
      system: actor.system_prompt ? `${PLANNER_SYSTEM}\n\n${actor.system_prompt}` : PLANNER_SYSTEM,
      prompt,
      tool: { name: PLAN_TOOL, description: "Submit the complete plan: a summary and the stages with their issues.", parameters: toolParameters(PlanSchema) },
    },
    (args): Validation<Plan> => {
      const parsed = PlanSchema.safeParse(args);
      if (!parsed.success) return { ok: false, errors: formatZodIssues(parsed.error) };
      const errors = validatePlan(parsed.data);
      return errors.length > 0 ? { ok: false, errors } : { ok: true, value: parsed.data };
    },
    opts,
  );
  return result.ok ? { ok: true, plan: result.value, usage: result.usage, attempts: result.attempts } : result;
}

/** The judge's answer: one verdict per criterion, by index. */
export const JudgeSchema = z
  .object({
    verdicts: z
      .array(
        z
          .object({
            index: z.number().int().min(0).describe("The criterion's number in the list, starting at 0."),
            verdict: z.enum(["pass", "fail", "needs_review"]).describe("needs_review only when the output cannot be judged against the criterion."),
            reason: z.string().trim().min(1).max(1000).describe("One sentence: why."),
          })
          .strict(),
      )
      .max(200),
  })
  .strict();

const JUDGE_SYSTEM = `You are the verifier of a work factory. You judge one worker's output against each acceptance criterion of its issue.
Rules:
- Call the tool ${JUDGE_TOOL} exactly once, with exactly one verdict for every criterion, identified by its index; do not answer in text.
- pass: the output meets the criterion. fail: it does not. needs_review: the criterion cannot be judged from the output alone.
- The reason is one sentence a person can check against the output.`;

/**
 * Asks the actor's model to judge `output` against each criterion. An empty
 * output fails every criterion and no criteria gives no verdicts, both
 * without a model call, as the offline rules do.
 */
export async function judgeWithModel(llm: StructuredModel, actor: ActorSpec, input: { title: string; criteria: string[]; output: string }, opts: ModelCallOptions): Promise<JudgeWithModelResult> {
  if (input.criteria.length === 0) return { ok: true, verdicts: [], usage: zeroUsage(), attempts: 0 };
  if (input.output.trim() === "") {
    return { ok: true, verdicts: input.criteria.map((criterion) => ({ criterion, verdict: "fail", reason: "the output is empty" })), usage: zeroUsage(), attempts: 0 };
  }
  const output = input.output.length > MAX_OUTPUT_CHARS ? `${input.output.slice(0, MAX_OUTPUT_CHARS)}\n[output cut at ${MAX_OUTPUT_CHARS} characters]` : input.output;
  const prompt = `Issue: ${input.title}\n\nAcceptance criteria:\n${input.criteria.map((c, i) => `${i}. ${c}`).join("\n")}\n\nThe worker's output follows between the markers.\n<<<OUTPUT\n${output}\nOUTPUT>>>`;
  const n = input.criteria.length;
  const result = await askUntilValid(
    llm,
    actor,
    {
      what: "judge",
      system: JUDGE_SYSTEM,
      prompt,
      tool: { name: JUDGE_TOOL, description: "Submit one verdict per acceptance criterion.", parameters: toolParameters(JudgeSchema) },
    },
    (args): Validation<CriterionVerdict[]> => {
      const parsed = JudgeSchema.safeParse(args);
      if (!parsed.success) return { ok: false, errors: formatZodIssues(parsed.error) };
      const byIndex = new Map<number, { verdict: CriterionVerdict["verdict"]; reason: string }>();
      const errors: string[] = [];
      parsed.data.verdicts.forEach((v, i) => {
        if (v.index >= n) errors.push(`verdicts[${i}].index: ${v.index} is not a criterion index (0 to ${n - 1})`);
        else if (byIndex.has(v.index)) errors.push(`verdicts[${i}].index: criterion ${v.index} has more than one verdict`);
        else byIndex.set(v.index, { verdict: v.verdict, reason: v.reason });
      });
      const missing = input.criteria.map((_, i) => i).filter((i) => !byIndex.has(i));
      if (missing.length > 0) errors.push(`verdicts: no verdict for criterion ${missing.join(", ")}`);
      if (errors.length > 0) return { ok: false, errors };
      return { ok: true, value: input.criteria.map((criterion, i) => ({ criterion, ...byIndex.get(i)! })) };
    },
    opts,
  );
  return result.ok ? { ok: true, verdicts: result.value, usage: result.usage, attempts: result.attempts } : result;
}
