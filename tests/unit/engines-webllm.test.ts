/**
 * web-llm engine pieces that run without weights: the prebuilt list, compatibility messages, and
 * the Engine mapping over an MLC engine. Weights cannot be downloaded here, so the mapping test
 * drives WebLLMEngine with a FAKE MLCEngineInterface (named so in each test title); the real
 * worker path, feature detection and cache listing are covered in tests/e2e/engines.spec.ts.
 */
import { describe, expect, it } from 'vitest';
import type { MLCEngineInterface } from '@mlc-ai/web-llm';
import { collect, EngineError } from '../../src/lib/engines/engine.ts';
import { checkCompatible, detectWebGpuSupport, listPrebuiltModels, webllmError, WebLLMEngine } from '../../src/lib/engines/webllm.ts';

describe('web-llm prebuilt model list', () => {
  const list = listPrebuiltModels();
  it('lists web-llm models with VRAM needs and size estimates', () => {
    expect(list.length).toBeGreaterThan(50);
    const llama = list.find((m) => m.id === 'Llama-3.2-1B-Instruct-q4f16_1-MLC')!;
    expect(llama.vramMB).toBeGreaterThan(500);
    expect(llama.needsF16).toBe(true);
    expect(llama.f32Alternative).toBe('Llama-3.2-1B-Instruct-q4f32_1-MLC');
    // 1B params × 4 bits ≈ 0.55 GB with the embedding allowance.
    expect(llama.approxBytes).toBeGreaterThan(4e8);
    expect(llama.approxBytes).toBeLessThan(8e8);
    const f32 = list.find((m) => m.id === 'Llama-3.2-1B-Instruct-q4f32_1-MLC')!;
    expect(f32.needsF16).toBe(false);
    expect(f32.f32Alternative).toBeUndefined();
  });
});

describe('web-llm compatibility messages', () => {
  it('no WebGPU: says so and points to GGUF models', () => {
    const e = checkCompatible('Llama-3.2-1B-Instruct-q4f32_1-MLC', { webgpu: false, shaderF16: false, reason: 'this browser has no WebGPU (navigator.gpu is missing)' })!;
    expect(e.code).toBe('no-webgpu');
    expect(e.message).toMatch(/needs WebGPU, but this browser has no WebGPU.*Use a GGUF model/);
  });
  it('no shader-f16: offers the q4f32 variant', () => {
    const e = checkCompatible('Llama-3.2-1B-Instruct-q4f16_1-MLC', { webgpu: true, shaderF16: false })!;
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/shader-f16.*Choose Llama-3\.2-1B-Instruct-q4f32_1-MLC instead/);
  });
  it('compatible models pass; unknown ids are refused', () => {
    expect(checkCompatible('Llama-3.2-1B-Instruct-q4f16_1-MLC', { webgpu: true, shaderF16: true })).toBeNull();
    expect(checkCompatible('Llama-3.2-1B-Instruct-q4f32_1-MLC', { webgpu: true, shaderF16: false })).toBeNull();
    expect(checkCompatible('nope', { webgpu: true, shaderF16: true })!.message).toMatch(/not in web-llm's prebuilt model list/);
  });
  it('Node has no navigator.gpu: detection reports no WebGPU with a reason', async () => {
    expect(await detectWebGpuSupport({})).toEqual({ webgpu: false, shaderF16: false, reason: 'this browser has no WebGPU (navigator.gpu is missing)' });
  });
  it('errors are mapped: device loss → reload, fetch failure → network', () => {
    const lost = Object.assign(new Error('Device was lost'), { name: 'DeviceLostError' });
    expect(webllmError('m', lost)).toMatchObject({ code: 'device-lost' });
    expect(webllmError('m', lost).message).toMatch(/Reload the model/);
    expect(webllmError('m', new TypeError('Failed to fetch'))).toMatchObject({ code: 'network' });
  });
});

/** A FAKE MLC engine: streams fixed chunks, supports interruptGenerate, can simulate device loss. */
function fakeMlc(opts: { lose?: boolean } = {}) {
  let interrupted = false;
  const seen: Record<string, unknown>[] = [];
  const stream = (body: Record<string, unknown>) => {
    seen.push(body);
    return (async function* () {
      for (let i = 0; i < 50; i++) {
        if (interrupted) {
          yield { choices: [{ delta: {}, finish_reason: 'abort' }] };
          return;
        }
        if (opts.lose && i === 2) throw Object.assign(new Error('Device was lost'), { name: 'DeviceLostError' });
        await new Promise((r) => setTimeout(r, 1));
        yield { choices: [{ delta: { content: `w${i} ` }, logprobs: { content: [{ token: `w${i} `, logprob: -0.5, top_logprobs: [{ token: `w${i} `, logprob: -0.5 }, { token: 'x', logprob: -2 }] }] }, finish_reason: i === 4 ? 'length' : null }] };
        if (i === 4) break;
      }
      yield { choices: [], usage: { prompt_tokens: 9, completion_tokens: 5 } };
    })();
  };
  const engine = {
    chat: { completions: { create: async (b: Record<string, unknown>) => stream(b) } },
    completions: { create: async (b: Record<string, unknown>) => stream(b) },
    interruptGenerate: () => {
      interrupted = true;
    },
    unload: async () => undefined,
  } as unknown as MLCEngineInterface;
  return { engine, seen };
}

describe('WebLLMEngine over a FAKE MLC engine (web-llm weights cannot be downloaded here)', () => {
  it('fake: maps deltas, logprobs, usage and request fields', async () => {
    const { engine, seen } = fakeMlc();
    const e = new WebLLMEngine(engine, 'Fake-1B-q4f32_1-MLC');
    expect(e.info).toMatchObject({ kind: 'webllm', backend: 'webgpu' });
    const r = await collect(e.chat({ messages: [{ role: 'user', content: 'hi' }], temperature: 0, seed: 5, max_tokens: 5, top_logprobs: 1 }));
    expect(r.text).toBe('w0 w1 w2 w3 w4 ');
    expect(r.finish_reason).toBe('length');
    expect(r.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 5 });
    expect(r.logprobs[0]).toEqual({ token: 'w0 ', logprob: -0.5, top_logprobs: [{ token: 'w0 ', logprob: -0.5 }] });
    expect(seen[0]).toMatchObject({ temperature: 0, seed: 5, max_tokens: 5, logprobs: true, top_logprobs: 1, stream: true });
  });

  it('fake: abort interrupts generation and ends with finish "abort"', async () => {
    const { engine } = fakeMlc();
    const e = new WebLLMEngine(engine, 'Fake');
    const ac = new AbortController();
    let n = 0;
    let finish = '';
    for await (const c of e.complete({ prompt: 'x' }, { signal: ac.signal })) {
      if (c.type === 'delta' && ++n === 2) ac.abort();
      if (c.type === 'done') finish = c.finish_reason;
    }
    expect(n).toBeLessThanOrEqual(3);
    expect(finish).toBe('abort');
  });

  it('fake: device loss fails the call with device-lost, tells the owner, and the engine refuses further calls', async () => {
    const { engine } = fakeMlc({ lose: true });
    const lost: EngineError[] = [];
    const e = new WebLLMEngine(engine, 'Fake', { onDeviceLost: (err) => lost.push(err) });
    await expect(collect(e.complete({ prompt: 'x' }))).rejects.toMatchObject({ code: 'device-lost' });
    expect(lost).toHaveLength(1);
    await expect(collect(e.complete({ prompt: 'x' }))).rejects.toMatchObject({ code: 'unloaded' });
  });
});
