/** The calculator parser and the built-in tools, including hostile input. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CALCULATOR_LIMITS, CalculatorError, evaluateExpression, findExpression, formatNumber } from "../../src/runtime/tools/calculator.parser.js";
import { calculatorTool } from "../../src/runtime/tools/calculator.tool.js";
import { clockTool, localIso, resolveTimeZone } from "../../src/runtime/tools/clock.tool.js";
import { createToolRegistry } from "../../src/runtime/tools/tools.registry.js";

const calc = (s: string) => evaluateExpression(s);
const calcError = (s: string): CalculatorError => {
  try {
    evaluateExpression(s);
  } catch (err) {
    expect(err).toBeInstanceOf(CalculatorError);
    return err as CalculatorError;
  }
  throw new Error(`expected ${JSON.stringify(s.slice(0, 40))} to fail`);
};

describe("evaluateExpression", () => {
  it.each([
    ["42 * 19", 798],
    ["1 + 2 * 3", 7],
    ["(1 + 2) * 3", 9],
    ["10 - 4 - 3", 3],
    ["100 / 10 / 5", 2],
    ["7 % 3", 1],
    ["2 ^ 10", 1024],
    ["2 ^ 3 ^ 2", 512],
    ["-2 ^ 2", -4],
    ["2 ^ -1", 0.5],
    ["-(3 + 4)", -7],
    ["--5", 5],
    ["+5", 5],
    ["3.5 * 2", 7],
    [".5 + .25", 0.75],
    ["1e3 + 2.5E-1", 1000.25],
    ["sqrt(16) + abs(-3)", 7],
    ["min(4, 2, 8) + max(1, 9)", 11],
    ["round(2.5) + floor(2.9) + ceil(2.1)", 8],
    ["pi", Math.PI],
    ["2 * e", 2 * Math.E],
    ["2 × 3 ÷ 4", 1.5],
    ["  ( ( 1 ) )  ", 1],
  ])("%s = %d", (expr, want) => {
    expect(calc(expr)).toBeCloseTo(want, 12);
  });

  it("formats results people can read", () => {
    expect(formatNumber(calc("0.1 + 0.2"))).toBe("0.3");
    expect(formatNumber(calc("42 * 19"))).toBe("798");
    expect(formatNumber(calc("-0 * 1"))).toBe("0");
    expect(formatNumber(calc("1 / 3"))).toBe("0.333333333333333");
  });

  it.each([
    ["1 / 0", "division by zero", "math"],
    ["5 % 0", "modulo by zero", "math"],
    ["sqrt(-1)", "sqrt of a negative number", "math"],
    ["10 ^ 400", "not a finite number", "math"],
    ["1e309", "too large", "math"],
    ["9".repeat(400), "too large", "math"],
    ["", "empty", "syntax"],
    ["   ", "empty", "syntax"],
    ["1 +", "end of expression", "syntax"],
    ["(1 + 2", 'expected ")"', "syntax"],
    ["1 + 2)", 'unexpected ")"', "syntax"],
    ["2 3", "unexpected number", "syntax"],
    ["sqrt()", "sqrt takes 1 argument(s), got 0", "syntax"],
    ["abs(1, 2)", "abs takes 1 argument(s), got 2", "syntax"],
    ["1 $ 2", 'unexpected character "$"', "syntax"],
  ])("%s fails: %s", (expr, message, kind) => {
    const err = calcError(expr);
    expect(err.message).toContain(message);
    expect(err.kind).toBe(kind);
  });

  it.each([
    "constructor",
    "__proto__",
    "toString()",
    "process.exit()",
    "process.exit(1)",
    "require('fs')",
    "globalThis",
    "this",
    "Function('return 1')()",
    "eval(1)",
    "hasOwnProperty",
    "valueOf()",
    "1; process.exit()",
    "`1`",
    "[1]",
    "{}",
  ])("hostile input %s is only ever a clean error", (expr) => {
    const err = calcError(expr);
    expect(err.message.length).toBeLessThan(200);
  });

  it("rejects input over the length limit before parsing", () => {
    const nested = "(".repeat(10_000) + "1" + ")".repeat(10_000);
    expect(calcError(nested).message).toContain("too long");
    expect(calcError("1+".repeat(CALCULATOR_LIMITS.maxLength) + "1").message).toContain("too long");
  });

  it("bounds nesting depth within the length limit", () => {
    const deep = "(".repeat(100) + "1" + ")".repeat(100);
    expect(calcError(deep).message).toContain("nested too deeply");
    expect(calcError("-".repeat(500) + "1").message).toContain("nested too deeply");
    expect(calcError("2^".repeat(300) + "1").message).toContain("nested too deeply");
    const ok = "(".repeat(CALCULATOR_LIMITS.maxDepth) + "1" + ")".repeat(CALCULATOR_LIMITS.maxDepth);
    expect(calc(ok)).toBe(1);
  });

  it("agrees with integer arithmetic on random operands", () => {
    fc.assert(
      fc.property(fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.integer({ min: -1_000_000, max: 1_000_000 }), (a, b) => {
        expect(calc(`${a} + ${b}`)).toBe(a + b);
        expect(calc(`${a} - (${b})`)).toBe(a - b);
        expect(calc(`${a} * ${b}`)).toBe(a * b);
      }),
    );
  });

  it("never throws anything but CalculatorError, and only returns finite numbers", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.stringMatching(/^[0-9+\-*/%^(). a-z,]{0,60}$/)), (s) => {
        try {
          expect(Number.isFinite(evaluateExpression(s))).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(CalculatorError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("findExpression", () => {
  it.each([
    ["Calculate 42 * 19", "42 * 19"],
    ["What is (3+4)*2 - 1?", "(3+4)*2 - 1"],
    ["please compute 2^10.", "2^10"],
    ["what is 1 / 0 ?", "1 / 0"],
    ["-3 + 4 please", "-3 + 4"],
  ])("%s -> %s", (text, want) => {
    expect(findExpression(text)).toBe(want);
  });

  it.each(["hello there", "I have 3 apples", "version 1.2", "(", "1 + + )"])("%s has none", (text) => {
    expect(findExpression(text)).toBeNull();
  });
});

describe("calculator tool", () => {
  it("returns the formatted result as text and the number in details", async () => {
    const out = await calculatorTool().execute("c1", { expression: "42 * 19" });
    expect(out.content).toEqual([{ type: "text", text: "798" }]);
    expect(out.details).toEqual({ expression: "42 * 19", result: 798 });
  });

  it("throws (becoming an error result) for a bad expression", async () => {
    await expect(calculatorTool().execute("c1", { expression: "1/0" })).rejects.toThrow("division by zero");
  });
});

describe("clock tool", () => {
  const fixed = Date.UTC(2030, 5, 15, 12, 30, 0);

  it("returns UTC ISO-8601 and unix ms by default", async () => {
    const out = await clockTool(() => fixed).execute("k1", {});
    expect(out.details).toEqual({ iso: "2030-06-15T12:30:00.000Z", unix_ms: fixed, timezone: "UTC", local: "2030-06-15T12:30:00+00:00" });
    expect(JSON.parse((out.content[0] as { text: string }).text)).toEqual(out.details);
  });

  it("gives the local time in a valid IANA zone", async () => {
    const out = await clockTool(() => fixed).execute("k1", { timezone: "Asia/Kolkata" });
    expect(out.details.local).toBe("2030-06-15T18:00:00+05:30");
    expect(out.details.iso).toBe("2030-06-15T12:30:00.000Z");
    expect(localIso(fixed, "America/New_York")).toBe("2030-06-15T08:30:00-04:00");
  });

  it.each(["Mars/Olympus_Mons", "../../etc/passwd", "UTC; rm -rf /", "x".repeat(200), "constructor"])("rejects time zone %s", async (tz) => {
    await expect(clockTool(() => fixed).execute("k1", { timezone: tz })).rejects.toThrow("unknown time zone");
  });

  it("resolves zone names canonically", () => {
    expect(resolveTimeZone(undefined)).toBe("UTC");
    expect(resolveTimeZone("Europe/Paris")).toBe("Europe/Paris");
  });
});

describe("tool registry", () => {
  it("lists the built-in tools and selects only allowed, known ones", () => {
    const registry = createToolRegistry();
    expect(registry.names().sort()).toEqual(["calculator", "clock"]);
    expect(registry.select(["clock", "shell", "clock"]).map((t) => t.name)).toEqual(["clock"]);
    expect(registry.select([])).toEqual([]);
  });
});
