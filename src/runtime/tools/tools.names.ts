/**
 * The names of the built-in tools, known without building the tools (whose
 * parameter schemas load pi-ai): rent and PATCH validate a tool_policy
 * against these before any turn has run. tools.registry.ts builds exactly
 * these tools (a test holds the two together).
 */
export const BUILTIN_TOOL_NAMES: readonly string[] = ["calculator", "clock"];
