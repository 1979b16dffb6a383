// Stages the bare-wllama harness into a directory that tools/serve.mjs can serve:
// harness page + wllama's ESM bundle and wasm + the code sandbox (src/lib/eval/code.ts as JS) +
// links to the model files it will load.
// Usage: npx tsx tools/pool/stage.ts <outDir> [name=path.gguf ...]
import { mkdirSync, copyFileSync, symlinkSync, rmSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

export function stageHarness(outDir: string, models: Record<string, string> = {}): string {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'wllama'), { recursive: true });
  mkdirSync(join(outDir, 'models'), { recursive: true });
  for (const f of readdirSync(join(here, 'harness'))) copyFileSync(join(here, 'harness', f), join(outDir, f));
  const wl = join(root, 'node_modules/@wllama/wllama/esm');
  copyFileSync(join(wl, 'index.js'), join(outDir, 'wllama/index.js'));
  copyFileSync(join(wl, 'wasm/wllama.wasm'), join(outDir, 'wllama/wllama.wasm'));
  // The browser code sandbox of src/lib/eval/code.ts, so the page tests the same code the app runs.
  const codeTs = readFileSync(join(root, 'src/lib/eval/code.ts'), 'utf8');
  const js = ts.transpileModule(codeTs, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
  writeFileSync(join(outDir, 'code.js'), js);
  for (const [name, path] of Object.entries(models)) {
    if (!existsSync(path)) throw new Error(`stage: model file ${path} not found`);
    symlinkSync(resolve(path), join(outDir, 'models', name));
  }
  return outDir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [out, ...rest] = process.argv.slice(2);
  if (!out) { console.error('usage: npx tsx tools/pool/stage.ts <outDir> [name=path ...]'); process.exit(2); }
  stageHarness(resolve(out), Object.fromEntries(rest.map((a) => a.split('=') as [string, string])));
  console.log(`staged harness in ${out}`);
}
