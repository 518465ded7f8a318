/**
 * The two rules of the composition root that are not about imports (those
 * are .dependency-cruiser.cjs): only src/main.ts reads the environment
 * (`process.env`) or installs signal handlers (`process.on("SIG…")`). Read
 * from TypeScript's own syntax tree, so formatting, comments and strings
 * cannot hide or fake a use. Exits 1 listing each with file and line.
 *
 *   tsx scripts/lint-env.ts [src-dir]     (default: src)
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const src = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, "..", "src"));
const ROOT_FILE = "main.ts";
const LISTENS = new Set(["on", "once", "addListener", "prependListener", "prependOnceListener"]);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const isProcess = (e: ts.Expression) => ts.isIdentifier(e) && e.text === "process";
const memberName = (n: ts.Node): string | undefined =>
  ts.isPropertyAccessExpression(n) ? n.name.text : ts.isElementAccessExpression(n) && ts.isStringLiteralLike(n.argumentExpression) ? n.argumentExpression.text : undefined;

/** `process.env`, `process["env"]`, `process.on("SIGTERM", …)` and the like in one file. */
function findViolations(file: string, text: string): { line: number; what: string }[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: { line: number; what: string }[] = [];
  const at = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const visit = (n: ts.Node): void => {
    if ((ts.isPropertyAccessExpression(n) || ts.isElementAccessExpression(n)) && isProcess(n.expression)) {
      const name = memberName(n);
      if (name === "env") out.push({ line: at(n), what: "reads process.env: only src/main.ts reads the environment" });
      if (name && LISTENS.has(name) && ts.isCallExpression(n.parent) && n.parent.expression === n) {
        const first = n.parent.arguments[0];
        if (first && ts.isStringLiteralLike(first) && first.text.startsWith("SIG")) out.push({ line: at(n), what: "installs a signal handler: only src/main.ts does" });
      }
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

const violations: string[] = [];
const files = walk(src);
for (const file of files) {
  const rel = path.relative(src, file).split(path.sep).join("/");
  if (rel === ROOT_FILE) continue;
  for (const v of findViolations(file, readFileSync(file, "utf8"))) violations.push(`src/${rel}:${v.line}: ${v.what}`);
}
if (violations.length > 0) {
  process.stderr.write(`composition-root violations:\n${violations.join("\n")}\n`);
  process.exit(1);
}
process.stdout.write(`environment and signals ok (${files.length} files)\n`);
