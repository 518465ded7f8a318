/**
 * Arithmetic for the `calculator` tool: a tokenizer and a recursive-descent
 * parser that evaluates as it parses. Nothing here reaches eval, Function or
 * any object lookup: identifiers resolve only through fixed Maps, so input
 * such as `constructor` or `process.exit()` is just an unknown name.
 *
 * Grammar (lowest precedence first; `^` is right-associative and binds
 * tighter than unary minus, so -2^2 = -4 and 2^-1 = 0.5):
 *   expr    := term (("+" | "-") term)*
 *   term    := unary (("*" | "/" | "%") unary)*
 *   unary   := ("+" | "-") unary | power
 *   power   := primary ("^" unary)?
 *   primary := number | name | name "(" [expr ("," expr)*] ")" | "(" expr ")"
 */

export const CALCULATOR_LIMITS = {
  /** Longest accepted expression, in characters. */
  maxLength: 1000,
  /** Deepest accepted nesting of parentheses, calls and unary signs. */
  maxDepth: 64,
} as const;

/**
 * Raised for any expression that cannot be evaluated; the message is safe to
 * show a model or a user. `kind` tells malformed input ("syntax": includes
 * the length and depth limits) from well-formed arithmetic that has no
 * finite answer ("math": division by zero, overflow, sqrt of a negative).
 */
export class CalculatorError extends Error {
  override name = "CalculatorError";
  constructor(
    message: string,
    readonly kind: "syntax" | "math" = "syntax",
  ) {
    super(message);
  }
}

type Token =
  | { kind: "num"; value: number; pos: number }
  | { kind: "name"; value: string; pos: number }
  | { kind: "op"; value: "+" | "-" | "*" | "/" | "%" | "^" | "(" | ")" | ","; pos: number }
  | { kind: "end"; pos: number };

const CONSTANTS: ReadonlyMap<string, number> = new Map([
  ["pi", Math.PI],
  ["e", Math.E],
]);

interface Fn {
  min: number;
  max: number;
  apply: (args: number[]) => number;
}

const FUNCTIONS: ReadonlyMap<string, Fn> = new Map<string, Fn>([
  ["sqrt", { min: 1, max: 1, apply: ([x]) => {
    if (x! < 0) throw new CalculatorError("sqrt of a negative number", "math");
    return Math.sqrt(x!);
  } }],
  ["abs", { min: 1, max: 1, apply: ([x]) => Math.abs(x!) }],
  ["round", { min: 1, max: 1, apply: ([x]) => Math.round(x!) }],
  ["floor", { min: 1, max: 1, apply: ([x]) => Math.floor(x!) }],
  ["ceil", { min: 1, max: 1, apply: ([x]) => Math.ceil(x!) }],
  ["min", { min: 1, max: 100, apply: (xs) => Math.min(...xs) }],
  ["max", { min: 1, max: 100, apply: (xs) => Math.max(...xs) }],
]);

const NUMBER_RE = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*/;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") {
      i++;
      continue;
    }
    if ("+-*/%^(),".includes(ch)) {
      tokens.push({ kind: "op", value: ch as "+", pos: i });
      i++;
      continue;
    }
    // Common spellings models and people use for the same operators.
    if (ch === "×" || ch === "·") {
      tokens.push({ kind: "op", value: "*", pos: i });
      i++;
      continue;
    }
    if (ch === "÷") {
      tokens.push({ kind: "op", value: "/", pos: i });
      i++;
      continue;
    }
    const rest = src.slice(i);
    const num = NUMBER_RE.exec(rest);
    if (num) {
      const value = Number(num[0]);
      if (!Number.isFinite(value)) throw new CalculatorError(`number at position ${i + 1} is too large`, "math");
      tokens.push({ kind: "num", value, pos: i });
      i += num[0].length;
      continue;
    }
    const name = NAME_RE.exec(rest);
    if (name) {
      tokens.push({ kind: "name", value: name[0], pos: i });
      i += name[0].length;
      continue;
    }
    throw new CalculatorError(`unexpected character ${JSON.stringify(ch)} at position ${i + 1}`);
  }
  tokens.push({ kind: "end", pos: src.length });
  return tokens;
}

class Parser {
  #i = 0;
  #depth = 0;
  /** The first math error; parsing goes on so that malformed input is still reported as such. */
  mathError: CalculatorError | null = null;

  constructor(private readonly tokens: Token[]) {}

  parse(): number {
    const value = this.#expr();
    const t = this.#peek();
    if (t.kind !== "end") throw new CalculatorError(`unexpected ${describe(t)} at position ${t.pos + 1}`);
    return value;
  }

  #math(message: string): number {
    this.mathError ??= new CalculatorError(message, "math");
    return NaN;
  }

  #peek(): Token {
    return this.tokens[this.#i]!;
  }

  #next(): Token {
    return this.tokens[this.#i++]!;
  }

  #isOp(value: string): boolean {
    const t = this.#peek();
    return t.kind === "op" && t.value === value;
  }

  #enter(): void {
    if (++this.#depth > CALCULATOR_LIMITS.maxDepth) {
      throw new CalculatorError(`expression is nested too deeply (more than ${CALCULATOR_LIMITS.maxDepth} levels)`);
    }
  }

  #expr(): number {
    let left = this.#term();
    while (this.#isOp("+") || this.#isOp("-")) {
      const op = this.#next();
      const right = this.#term();
      left = op.kind === "op" && op.value === "+" ? left + right : left - right;
    }
    return left;
  }

  #term(): number {
    let left = this.#unary();
    while (this.#isOp("*") || this.#isOp("/") || this.#isOp("%")) {
      const op = this.#next() as Extract<Token, { kind: "op" }>;
      const right = this.#unary();
      if (op.value === "*") left = left * right;
      else if (right === 0) left = this.#math(op.value === "/" ? "division by zero" : "modulo by zero");
      else left = op.value === "/" ? left / right : left % right;
    }
    return left;
  }

  #unary(): number {
    if (this.#isOp("-") || this.#isOp("+")) {
      const op = this.#next() as Extract<Token, { kind: "op" }>;
      this.#enter();
      const v = this.#unary();
      this.#depth--;
      return op.value === "-" ? -v : v;
    }
    return this.#power();
  }

  #power(): number {
    const base = this.#primary();
    if (this.#isOp("^")) {
      this.#next();
      this.#enter();
      const exponent = this.#unary();
      this.#depth--;
      return Math.pow(base, exponent);
    }
    return base;
  }

  #primary(): number {
    const t = this.#next();
    if (t.kind === "num") return t.value;
    if (t.kind === "op" && t.value === "(") {
      this.#enter();
      const v = this.#expr();
      this.#expect(")");
      this.#depth--;
      return v;
    }
    if (t.kind === "name") {
      const name = t.value.toLowerCase();
      if (this.#isOp("(")) {
        const fn = FUNCTIONS.get(name);
        if (!fn) throw new CalculatorError(`unknown function ${JSON.stringify(t.value)}`);
        this.#next();
        this.#enter();
        const args: number[] = [];
        if (!this.#isOp(")")) {
          args.push(this.#expr());
          while (this.#isOp(",")) {
            this.#next();
            args.push(this.#expr());
          }
        }
        this.#expect(")");
        this.#depth--;
        if (args.length < fn.min || args.length > fn.max) {
          const want = fn.min === fn.max ? `${fn.min}` : `${fn.min} to ${fn.max}`;
          throw new CalculatorError(`${name} takes ${want} argument(s), got ${args.length}`);
        }
        try {
          return fn.apply(args);
        } catch (err) {
          if (err instanceof CalculatorError) return this.#math(err.message);
          throw err;
        }
      }
      const c = CONSTANTS.get(name);
      if (c === undefined) throw new CalculatorError(`unknown name ${JSON.stringify(t.value)}`);
      return c;
    }
    throw new CalculatorError(`unexpected ${describe(t)} at position ${t.pos + 1}`);
  }

  #expect(value: string): void {
    const t = this.#next();
    if (t.kind !== "op" || t.value !== value) {
      throw new CalculatorError(`expected ${JSON.stringify(value)} but found ${describe(t)} at position ${t.pos + 1}`);
    }
  }
}

function describe(t: Token): string {
  switch (t.kind) {
    case "end":
      return "end of expression";
    case "num":
      return `number ${t.value}`;
    case "name":
      return `name ${JSON.stringify(t.value)}`;
    case "op":
      return JSON.stringify(t.value);
  }
}

/**
 * Evaluates an arithmetic expression. Throws CalculatorError (never anything
 * else) for empty, too long, too deeply nested or malformed input, division
 * or modulo by zero, and results that are not finite numbers.
 */
export function evaluateExpression(expression: string): number {
  if (typeof expression !== "string") throw new CalculatorError("expression must be a string");
  if (expression.length > CALCULATOR_LIMITS.maxLength) {
    throw new CalculatorError(`expression is too long (${expression.length} characters, at most ${CALCULATOR_LIMITS.maxLength})`);
  }
  if (expression.trim() === "") throw new CalculatorError("expression is empty");
  let value: number;
  let parser: Parser;
  try {
    parser = new Parser(tokenize(expression));
    value = parser.parse();
  } catch (err) {
    if (err instanceof CalculatorError) throw err;
    // A RangeError from the engine (it should not happen with the depth bound) must still be a clean tool error.
    throw new CalculatorError("expression could not be evaluated");
  }
  if (parser.mathError) throw parser.mathError;
  if (!Number.isFinite(value)) throw new CalculatorError("result is not a finite number", "math");
  return value;
}

/** Formats a result for people: at most 15 significant digits, so 0.1 + 0.2 reads 0.3; never "-0". */
export function formatNumber(value: number): string {
  const rounded = Number(value.toPrecision(15));
  return Object.is(rounded, -0) ? "0" : String(rounded);
}

/**
 * Finds the longest arithmetic expression inside free text ("Calculate 42 * 19"
 * gives "42 * 19"), or null when there is none that evaluates. Only
 * expressions with at least one binary operator between operands count.
 */
export function findExpression(text: string): string | null {
  const candidates = text.slice(0, 4 * CALCULATOR_LIMITS.maxLength).match(/[-+(]*[\d.][\d.\s+\-*/%^()×÷]*/g) ?? [];
  let best: string | null = null;
  for (const raw of candidates) {
    const candidate = trimExpression(raw);
    if (!/[\d.)]\s*[-+*/%^×÷]\s*[-+(]*[\d.(]/.test(candidate)) continue;
    try {
      evaluateExpression(candidate);
    } catch (err) {
      // "1 / 0" is still arithmetic the user asked about; only malformed text is skipped.
      if (!(err instanceof CalculatorError) || err.kind !== "math") continue;
    }
    if (best === null || candidate.length > best.length) best = candidate;
  }
  return best;
}

function trimExpression(raw: string): string {
  // Drop trailing operators, spaces and a sentence's closing dot ("... 42 * 19.").
  let s = raw.trim().replace(/[-+*/%^×÷.\s]+$/, "");
  // Drop parentheses left unmatched at the edges by the surrounding prose.
  while (s.startsWith("(") && count(s, "(") > count(s, ")")) s = s.slice(1).trimStart();
  while (s.endsWith(")") && count(s, ")") > count(s, "(")) s = s.slice(0, -1).trimEnd();
  return s;
}

function count(s: string, ch: string): number {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}
