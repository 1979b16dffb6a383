/**
 * Playwright's global setup: builds the engine harness (tools/bench/page, tools/bench/vite.config.ts)
 * once for the whole run and names it in H3_HARNESS_DIST, which the specs that drive engine workers
 * directly (engines, nprobs, onnx-engine, stepping) read instead of building it each. A directory
 * already named in H3_HARNESS_DIST is used as it is.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.ts';

export default function globalSetup(): void {
  if (process.env.H3_HARNESS_DIST) return;
  const out = mkdtempSync(join(tmpdir(), 'chorus-harness-'));
  execFileSync('npx', ['vite', 'build', '--config', 'tools/bench/vite.config.ts', '--outDir', out, '--emptyOutDir'], { cwd: REPO_ROOT, stdio: 'pipe' });
  process.env.H3_HARNESS_DIST = out;
}
