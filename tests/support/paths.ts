/** Paths of the real test material. Tests read the model from ../shared and never copy it. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve, dirname } from 'node:path';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const STORIES_PATH = resolve(REPO_ROOT, '../shared/models/stories260K.gguf');

/** The path of stories260K.gguf, or an error that names the path and what to do. */
export function storiesModel(): string {
  if (!existsSync(STORIES_PATH)) {
    throw new Error(
      `The real test model is missing: ${STORIES_PATH} was not found. ` +
        'Place stories260K.gguf (see ../shared/models/README.md) in ../shared/models beside the repository.',
    );
  }
  return STORIES_PATH;
}
