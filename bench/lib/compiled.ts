/**
 * `--runner node`: the server as production runs it, plain JavaScript on
 * node, without tsx's loader (whose esbuild transform keeps function names
 * by attaching a property to every closure, which costs memory). Each file
 * of src/ (and the bench's bare apps) is transpiled on its own with the
 * project's TypeScript (`transpileModule`, the project's compiler options)
 * into a temp dir that has package.json, migrations/ and node_modules/ beside
 * it, so paths resolve as they do from dist/.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { ROOT } from "./proc.js";

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => path.join(dir, f));
}

/**
 * Transpiles `root`'s src/ (default: this checkout; another checkout for an
 * A/B, bench/tools/ab-read.ts) and this checkout's bench/bare-*.ts into
 * `out`/dist, beside `root`'s package.json, migrations/ and node_modules/;
 * returns `out`, the package root of the build.
 */
export function buildCompiled(out: string, root: string = ROOT): string {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    // ESM as the package is "type": "module"; transpileModule cannot read that, so it is stated here.
    module: ts.ModuleKind.ES2022,
    esModuleInterop: true,
    verbatimModuleSyntax: true,
    isolatedModules: true,
    sourceMap: false,
  };
  const bare = readdirSync(path.join(ROOT, "bench"))
    .filter((f) => /^bare-.*\.ts$/.test(f))
    .map((f) => path.join(ROOT, "bench", f));
  const files = [...tsFiles(path.join(root, "src")), ...bare];
  for (const file of files) {
    const rel = bare.includes(file) ? path.relative(ROOT, file) : path.relative(root, file);
    const js = ts.transpileModule(readFileSync(file, "utf8"), { compilerOptions: options, fileName: file, reportDiagnostics: false }).outputText;
    const dest = path.join(out, "dist", rel.replace(/\.ts$/, ".js"));
    mkdirSync(path.dirname(dest), { recursive: true });
    writeFileSync(dest, js);
  }
  copyFileSync(path.join(root, "package.json"), path.join(out, "package.json"));
  symlinkSync(path.join(root, "migrations"), path.join(out, "migrations"));
  symlinkSync(path.join(root, "node_modules"), path.join(out, "node_modules"));
  return out;
}
