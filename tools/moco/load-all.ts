/**
 * Loads every MoCo data file in a folder with Chorus's loader and prints, per file, its task type,
 * split sizes and warnings, or why it was refused: `npx tsx tools/moco/load-all.ts DIR`
 * (DIR = a checkout's model_collaboration/data). A check that MoCo's own files load unchanged.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMocoFile } from '../../src/lib/eval/moco/dataset.ts';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: npx tsx tools/moco/load-all.ts PATH/TO/model_collaboration/data');
  process.exit(1);
}
let loaded = 0;
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
for (const f of files) {
  try {
    const ds = parseMocoFile(readFileSync(join(dir, f), 'utf8'), f);
    loaded++;
    console.log(`${f}: ${ds.taskType}, dev ${ds.splits.dev?.length ?? 0}, test ${ds.splits.test?.length ?? 0}${ds.groupScores ? ', grouped by question_id' : ''}`);
    for (const w of ds.warnings ?? []) console.log(`  warning: ${w}`);
  } catch (e) {
    console.log(`${f}: REFUSED ${(e as Error).message.split('\n')[0]}`);
  }
}
console.log(`${loaded} of ${files.length} files loaded`);
