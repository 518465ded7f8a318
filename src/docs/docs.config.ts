/**
 * The README's configuration table, rendered from the config schema itself
 * (src/config.ts), so it lists every variable the server reads with its real
 * default. `npm run openapi` rewrites the README between the markers below;
 * `--check` and test/docs fail when the committed table has drifted.
 */
import { configVariables } from "../config.js";

export const CONFIG_TABLE_START = "<!-- config-table:start (generated from src/config.ts by `npm run openapi`; do not edit) -->";
export const CONFIG_TABLE_END = "<!-- config-table:end -->";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function renderConfigTable(): string {
  const rows = configVariables().map((v) => `| \`${v.name}\` | ${v.defaultValue === null ? "unset" : `\`${cell(v.defaultValue)}\``} | ${cell(v.meaning)} |`);
  return ["| variable | default | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

/** `readme` with the text between the markers replaced by the current table; throws if the markers are missing. */
export function withConfigTable(readme: string): string {
  const start = readme.indexOf(CONFIG_TABLE_START);
  const end = readme.indexOf(CONFIG_TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md has no configuration table markers (${CONFIG_TABLE_START} ... ${CONFIG_TABLE_END})`);
  return `${readme.slice(0, start + CONFIG_TABLE_START.length)}\n${renderConfigTable()}\n${readme.slice(end)}`;
}
