/**
 * The built-in model `local/echo`: a pi-ai API provider that needs no network
 * and no key. It answers deterministically from the prompt, streamed token by
 * token, so the service (events, limits, interrupts, persistence) can be
 * exercised end to end through the very same agent loop as a real provider.
 *
 * Answer rules, for the conversation since the last user message:
 * - a tool result is there: answer with text that includes each tool's result;
 * - else `tool_call` is set: ask for that tool once;
 * - else the `calculator` tool is offered and the prompt holds arithmetic
 *   (and no `reply` is set): ask `calculator` for it;
 * - else answer `reply`, or "Echo: <prompt>".
 */
import {
  createAssistantMessageEventStream,
  registerApiProvider,
  type AssistantMessage,
  type AssistantMessageEventStream,
  type Context,
  type Message,
  type Model,
  type SimpleStreamOptions,
  type ToolCall,
} from "@mariozechner/pi-ai";
import { findExpression } from "../tools/calculator.parser.js";
import { abortableSleep } from "./abortable-sleep.js";
import { emptyAssistantMessage } from "./assistant-message.js";
import { ECHO_API, type EchoSettings } from "./echo.model.js";

/** What the echo provider reads from its stream options (on top of pi-ai's). */
export type EchoStreamOptions = SimpleStreamOptions & { echo?: EchoSettings };

/** An echo token: a run of non-space characters with the spaces after it (leading spaces form their own token). */
const TOKEN = /\s+|\S+\s*/g;

/** Splits text into echo tokens. */
export function echoTokens(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

/**
 * The echo token of `text` that starts at `from` (empty at the end). A slow
 * answer is cut one token at a time, so a turn holds its reply once rather
 * than as an array of every token for as long as it streams.
 */
function tokenAt(text: string, from: number): string {
  TOKEN.lastIndex = from;
  return TOKEN.exec(text)?.[0] ?? "";
}

/** A message's text pieces, which its text joins with spaces. */
function piecesOf(message: Message): string[] {
  if (message.role === "assistant") return message.content.map((b) => (b.type === "text" ? b.text : b.type === "toolCall" ? `${b.name} ${JSON.stringify(b.arguments)}` : ""));
  if (typeof message.content === "string") return [message.content];
  return message.content.map((b) => (b.type === "text" ? b.text : ""));
}

function textOf(message: Message): string {
  return piecesOf(message).join(" ");
}

/** Whether a UTF-16 code unit is whitespace as the token pattern's `\s` has it. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/**
 * `echoTokens(pieces.join(" ")).length`, counted without building the text
 * or its tokens: a leading run of whitespace is one token, then every run of
 * non-space characters is one. Every turn counts its whole context this way
 * (its usage's input tokens), and the regex match's arrays were 14% of
 * all the server's allocations in the durable event-rate bench (heap
 * sampling, 20 rooms with long histories).
 */
export function countEchoTokens(pieces: readonly string[]): number {
  let n = 0;
  let started = false;
  let inWord = false;
  for (let p = 0; p < pieces.length; p++) {
    // The space that joins the pieces.
    if (p > 0) {
      if (!started) n++;
      started = true;
      inWord = false;
    }
    const text = pieces[p]!;
    for (let i = 0; i < text.length; i++) {
      const space = isSpace(text.charCodeAt(i));
      if (!started) {
        started = true;
        if (space) {
          n++;
          continue;
        }
      }
      if (!space && !inWord) n++;
      inWord = !space;
    }
  }
  return n;
}

function contextTokens(context: Context): number {
  let n = context.systemPrompt ? countEchoTokens([context.systemPrompt]) : 0;
  for (const m of context.messages) n += countEchoTokens(piecesOf(m));
  return n;
}

type Plan = { kind: "tool"; name: string; args: Record<string, unknown> } | { kind: "text"; text: string };

function plan(context: Context, settings: EchoSettings): Plan {
  const messages = context.messages;
  let lastUser = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]!.role === "user") {
      lastUser = i;
      break;
    }
  }
  const prompt = lastUser >= 0 ? textOf(messages[lastUser]!) : "";
  const since = messages.slice(lastUser + 1);
  const results = since.filter((m) => m.role === "toolResult");
  if (results.length > 0) {
    const calls = new Map<string, ToolCall>();
    for (const m of since) if (m.role === "assistant") for (const b of m.content) if (b.type === "toolCall") calls.set(b.id, b);
    const lines = results.map((r) => {
      const out = textOf(r);
      const expression = calls.get(r.toolCallId)?.arguments["expression"];
      if (r.toolName === "calculator" && typeof expression === "string") {
        return r.isError ? `I could not calculate ${expression}: ${out}` : `${expression} = ${out}`;
      }
      return r.isError ? `Tool ${r.toolName} failed: ${out}` : `Tool ${r.toolName} returned: ${out}`;
    });
    return { kind: "text", text: settings.reply !== undefined ? `${settings.reply} (${lines.join("; ")})` : lines.join("\n") };
  }
  if (settings.toolCall) return { kind: "tool", ...settings.toolCall };
  if (settings.reply === undefined && context.tools?.some((t) => t.name === "calculator")) {
    const expression = findExpression(prompt);
    if (expression !== null) return { kind: "tool", name: "calculator", args: { expression } };
  }
  return { kind: "text", text: settings.reply ?? `Echo: ${prompt}` };
}

/** The stream function behind api "local-echo". Like every pi-ai provider it never throws: failures end the stream with an `error` event. */
export function streamEcho(model: Model<string>, context: Context, options?: EchoStreamOptions): AssistantMessageEventStream {
  const stream = createAssistantMessageEventStream();
  const settings = options?.echo ?? { tokenDelayMs: 0 };
  const signal = options?.signal;
  const output: AssistantMessage = emptyAssistantMessage(model, "stop");
  const setOutputTokens = (n: number) => {
    output.usage.output = n;
    output.usage.totalTokens = output.usage.input + n;
  };
  const fail = (reason: "aborted" | "error", message: string) => {
    // Like an OpenAI-compatible stream, whose usage only comes with its last chunk, a broken-off answer reports none.
    output.usage.input = 0;
    setOutputTokens(0);
    output.stopReason = reason;
    output.errorMessage = message;
    stream.push({ type: "error", reason, error: output });
    stream.end();
  };

  const run = async () => {
    output.usage.input = contextTokens(context);
    setOutputTokens(0);
    if (signal?.aborted) return fail("aborted", "Request was aborted");
    stream.push({ type: "start", partial: output });
    const next = plan(context, settings);

    if (next.kind === "tool") {
      if (await abortableSleep(settings.tokenDelayMs, signal)) return fail("aborted", "Request was aborted");
      const assistantCount = context.messages.filter((m) => m.role === "assistant").length;
      const block: ToolCall = { type: "toolCall", id: `echo_call_${assistantCount + 1}`, name: next.name, arguments: {} };
      output.content.push(block);
      const index = output.content.length - 1;
      const json = JSON.stringify(next.args);
      stream.push({ type: "toolcall_start", contentIndex: index, partial: output });
      block.arguments = JSON.parse(json) as Record<string, unknown>;
      stream.push({ type: "toolcall_delta", contentIndex: index, delta: json, partial: output });
      stream.push({ type: "toolcall_end", contentIndex: index, toolCall: block, partial: output });
      setOutputTokens(echoTokens(`${next.name} ${json}`).length);
      output.stopReason = "toolUse";
      stream.push({ type: "done", reason: "toolUse", message: output });
      stream.end();
      return;
    }

    const text = next.text;
    const limit = options?.maxTokens !== undefined && options.maxTokens > 0 ? options.maxTokens : Infinity;
    const failAt = settings.failAfterTokens;
    const block = { type: "text" as const, text: "" };
    output.content.push(block);
    const index = output.content.length - 1;
    stream.push({ type: "text_start", contentIndex: index, partial: output });
    let sent = 0;
    let stoppedByLimit = false;
    const stamp = settings.stampTokens === true;
    const startedAt = Date.now();
    for (let at = 0, token = tokenAt(text, 0); token !== ""; at += token.length, token = tokenAt(text, at)) {
      if (failAt !== undefined && sent >= failAt) break;
      if (sent >= limit) {
        stoppedByLimit = true;
        break;
      }
      let due = 0;
      if (stamp) {
        due = settings.tokenDelayMs > 0 ? startedAt + (sent + 1) * settings.tokenDelayMs : Date.now();
        const wait = due - Date.now();
        if (wait > 0 && (await abortableSleep(wait, signal))) return fail("aborted", "Request was aborted");
      } else if (settings.tokenDelayMs > 0) {
        if (await abortableSleep(settings.tokenDelayMs, signal)) return fail("aborted", "Request was aborted");
      }
      if (!(settings.tokenDelayMs > 0) && sent > 0 && sent % 64 === 0) {
        // Without a delay, still let timers and aborts in between long answers.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (signal?.aborted) return fail("aborted", "Request was aborted");
      const piece = stamp ? `${due.toString(36)} ` : token;
      block.text += piece;
      sent++;
      setOutputTokens(sent);
      stream.push({ type: "text_delta", contentIndex: index, delta: piece, partial: output });
    }
    // fail_after_tokens fails even when the answer is shorter: the option asks for a failure.
    if (failAt !== undefined && !stoppedByLimit) return fail("error", `local/echo: simulated provider failure after ${sent} token(s)`);
    stream.push({ type: "text_end", contentIndex: index, content: block.text, partial: output });
    const reason = stoppedByLimit ? "length" : "stop";
    output.stopReason = reason;
    stream.push({ type: "done", reason, message: output });
    stream.end();
  };
  run().catch(() => fail("error", "local/echo failed unexpectedly"));
  return stream;
}

/** Registers api "local-echo" with pi-ai; idempotent, and keeps no per-call state. */
export function registerEchoProvider(): void {
  registerApiProvider({ api: ECHO_API, stream: streamEcho, streamSimple: streamEcho }, "roomservice:local-echo");
}
