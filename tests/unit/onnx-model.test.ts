/**
 * The shipped ONNX exports (public/models/*.onnx, tools/onnx/export.py) and the ONNX engine
 * (src/lib/engines/onnx.ts) in Node, on onnxruntime-web's wasm build, against llama.cpp itself
 * (node-llama-cpp 3.21.1 on the same GGUF files): the full next-token distribution after real
 * prompts and the stepper's KV cache. The browser test (tests/e2e/onnx-engine.spec.ts) runs the
 * same engine on WebGPU and wasm and compares its greedy text with wllama's.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLlama, type Llama, type Token } from 'node-llama-cpp';
import { OnnxEngine, StopStream } from '../../src/lib/engines/onnx.ts';
import { readGGUF, bytesSource } from '../../src/lib/merge/gguf/index.ts';
import { REPO_ROOT } from '../support/paths.ts';

// Three of the eight exports: one exporter and one graph, only the weights differ, and each model
// loaded into llama.cpp costs seconds of CPU here.
const MODELS = ['generalist', 'arithmetic-specialist', 'pool-merge'];
const PROMPTS = ['Q: 69 + 46 = ?\nA:', 'Q: Reverse the word: table\nA:', 'Once upon a time, there was a little girl named Lily. She loved to play'];

let llama: Llama;

async function loadEngine(id: string): Promise<OnnxEngine> {
  const gguf = resolve(REPO_ROOT, 'public/models', `${id}.gguf`);
  const header = await readGGUF(bytesSource(new Uint8Array(readFileSync(gguf)), gguf));
  return OnnxEngine.load(ort, header, new Uint8Array(readFileSync(resolve(REPO_ROOT, 'public/models', `${id}.onnx`))), { modelName: id, provider: 'wasm' });
}

beforeAll(async () => {
  ort.env.wasm.numThreads = 1;
  llama = await getLlama({ gpu: false, build: 'never' });
}, 120_000);
afterAll(async () => {
  await llama?.dispose();
});

describe('ONNX exports against llama.cpp', () => {
  it('three pool models: the next-token distribution after each prompt is llama.cpp\'s within 1e-4 (probability), with the same most probable token', async () => {
    let worstP = 0;
    let worstLp = 0;
    for (const id of MODELS) {
      const engine = await loadEngine(id);
      const model = await llama.loadModel({ modelPath: resolve(REPO_ROOT, 'public/models', `${id}.gguf`) });
      try {
        const stepper = await engine.stepper();
        for (const prompt of PROMPTS) {
          const ids = await stepper.tokenize(prompt, { addBos: true });
          expect(ids).toEqual([model.tokens.bos, ...model.tokenize(prompt, true)]);
          // A fresh context per prompt: a sequence taken again from a used context keeps state that changes its probabilities.
          const context = await model.createContext({ contextSize: 256 });
          const [res] = (await context.getSequence().controlledEvaluate([
            ...(ids.slice(0, -1) as Token[]),
            [ids.at(-1)! as Token, { generateNext: { probabilities: true, token: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }],
          ])).slice(-1);
          await context.dispose();
          const cpp = res!.next!.probabilities!;
          expect(cpp.size).toBe(512);
          const ours = (await stepper.next(ids)).full!;
          for (const [token, p] of cpp) {
            worstP = Math.max(worstP, Math.abs(Math.exp(ours[token]!) - p));
            if (p > 1e-4) worstLp = Math.max(worstLp, Math.abs(ours[token]! - Math.log(p)));
          }
          expect(ours.indexOf(Math.max(...ours))).toBe(cpp.keys().next().value);
        }
      } finally {
        await model.dispose();
        await engine.unload();
      }
    }
    console.log(`ONNX vs llama.cpp over ${MODELS.length} models × ${PROMPTS.length} prompts: max |Δp| ${worstP.toExponential(2)}, max |Δlog p| (p > 1e-4) ${worstLp.toExponential(2)}`);
    expect(worstP).toBeLessThan(1e-4);
  }, 300_000);
});

describe('the stepper\'s KV cache', () => {
  it('steps reuse the cache: one pass of one token per extension, none to ask again, a pass of one token after going back', async () => {
    const engine = await loadEngine('generalist');
    const stepper = await engine.stepper();
    const prompt = await stepper.tokenize('Q: 69 + 46 = ?\nA:', { addBos: true });
    const before = engine.forwards.length;
    const first = await stepper.next(prompt);
    const t1 = first.top[0]!.id;
    const second = await stepper.next([...prompt, t1]);
    const t2 = second.top[0]!.id;
    await stepper.next([...prompt, t1, t2]);
    await stepper.next([...prompt, t1, t2]); // the same prefix again: no pass
    await stepper.next([...prompt, t1, 400]); // back one token, another one: one pass of one token
    expect(engine.forwards.slice(before)).toEqual([prompt.length, 1, 1, 1]);
    await engine.unload();
  });

  it('next() after cached steps equals a fresh full forward over the same prefix within 1e-5 (log-probability)', async () => {
    const engine = await loadEngine('generalist');
    const stepped = await engine.stepper();
    const prompt = await stepped.tokenize('Once upon a time, there was a', { addBos: true });
    let prefix = prompt.slice(0, 2);
    let last = await stepped.next(prefix);
    for (const t of prompt.slice(2)) {
      prefix = [...prefix, t];
      last = await stepped.next(prefix);
    }
    for (let i = 0; i < 6; i++) {
      prefix = [...prefix, last.top[0]!.id];
      last = await stepped.next(prefix);
    }
    const fresh = await (await engine.stepper()).next(prefix);
    expect(fresh.exactness).toBe('full');
    expect(fresh.full!.length).toBe(512);
    let worst = 0;
    for (let i = 0; i < 512; i++) worst = Math.max(worst, Math.abs(fresh.full![i]! - last.full![i]!));
    console.log(`stepped (${prefix.length} tokens, one at a time) vs one full forward: max |Δlog p| ${worst}`);
    // Not to the last bit: a pass of one token sums in another order than a pass of the whole prefix.
    expect(worst).toBeLessThan(1e-5);
    expect(last.top.map((c) => c.id)).toEqual(fresh.top.map((c) => c.id));
    await engine.unload();
  });
});

describe('StopStream', () => {
  it('holds back a possible stop string, cuts at a completed one, and flushes a false start', () => {
    const s = new StopStream(['\nUser:']);
    expect(s.push('Hello')).toEqual({ text: 'Hello', stopped: false });
    expect(s.push(' there\nUs')).toEqual({ text: ' there', stopped: false });
    expect(s.push('er: hi')).toEqual({ text: '', stopped: true });
    const t = new StopStream(['\n']);
    expect(t.push('115')).toEqual({ text: '115', stopped: false });
    expect(t.push('\nQ:')).toEqual({ text: '', stopped: true });
    const u = new StopStream(['END']);
    expect(u.push('the E')).toEqual({ text: 'the ', stopped: false });
    expect(u.flush()).toBe('E');
  });
});
