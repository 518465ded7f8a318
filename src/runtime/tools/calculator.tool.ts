/** The `calculator` tool: arithmetic through the parser in calculator.parser.ts, never eval. */
import type { AgentTool } from "@mariozechner/pi-agent-core";
import { Type } from "@mariozechner/pi-ai";
import { CALCULATOR_LIMITS, evaluateExpression, formatNumber } from "./calculator.parser.js";

const CalculatorParams = Type.Object({
  expression: Type.String({
    description: `Arithmetic expression, at most ${CALCULATOR_LIMITS.maxLength} characters: numbers, + - * / % ^ (power), parentheses, unary minus, sqrt abs round floor ceil min max, pi, e. Example: "(42 * 19) / 2".`,
  }),
});

export interface CalculatorDetails {
  expression: string;
  result: number;
}

/** A bad expression or division by zero throws, which the agent loop turns into an error result for the model. */
export function calculatorTool(): AgentTool<typeof CalculatorParams, CalculatorDetails> {
  return {
    name: "calculator",
    label: "Calculator",
    description: "Evaluates an arithmetic expression exactly as written and returns the number.",
    parameters: CalculatorParams,
    async execute(_id, params) {
      const result = evaluateExpression(params.expression);
      return { content: [{ type: "text", text: formatNumber(result) }], details: { expression: params.expression, result } };
    },
  };
}
