// Bundled by tests/e2e/experiments-store.spec.ts (esbuild, IIFE) and evaluated in the app's page, so
// the runner and its IndexedDB stores run in a real browser tab, with the scripted models of the unit
// tests (no model weights are needed to test storage and resume).
export { createRunner } from '../../../src/lib/eval/runner.ts';
export { parseExperiment } from '../../../src/lib/eval/experiment.ts';
export { openExperimentsDb, IdbAnswerStore, IdbRunState } from '../../../src/lib/store/experiments-db.ts';
export { ScriptedModel, readToy, toyDataset } from '../../unit/runner.scripted.ts';
