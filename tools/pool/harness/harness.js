// Bare wllama page for the pool tools and tests: no app code, only llama.cpp wasm.
// Playwright drives it through window.harness. Models are fetched from this origin (./models/…).
import { Wllama } from './wllama/index.js';
import { workerSandbox } from './code.js';

const loaded = new Map();

async function load(id, url, opts = {}) {
  if (loaded.has(id)) return loaded.get(id).info;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`harness: fetching ${url} gave HTTP ${res.status}`);
  const blob = await res.blob();
  const w = new Wllama({ default: './wllama/wllama.wasm' }, { suppressNativeLog: true });
  await w.loadModel([blob], { n_ctx: opts.n_ctx ?? 256, n_threads: 1, n_gpu_layers: 0, seed: opts.seed ?? 0, ...(opts.load ?? {}) });
  const md = w.getModelMetadata();
  const info = { nVocab: md.hparams.nVocab, nCtxTrain: md.hparams.nCtxTrain, nEmbd: md.hparams.nEmbd, nLayer: md.hparams.nLayer,
    meta: md.meta, chatTemplate: w.getChatTemplate() };
  loaded.set(id, { w, info });
  return info;
}

function get(id) {
  const m = loaded.get(id);
  if (!m) throw new Error(`harness: model ${id} is not loaded`);
  return m.w;
}

async function complete(id, prompt, p = {}) {
  const r = await get(id).createCompletion({ prompt, max_tokens: p.max_tokens ?? 32, temperature: p.temperature ?? 0,
    seed: p.seed ?? 0, stop: p.stop, ...(p.top_k !== undefined ? { top_k: p.top_k } : {}), ...(p.extra ?? {}) });
  return { text: r.choices[0].text, finish: r.choices[0].finish_reason, usage: r.usage };
}

async function completeMany(id, prompts, p = {}) {
  const out = [];
  for (const prompt of prompts) out.push((await complete(id, prompt, p)).text);
  return out;
}

async function chat(id, messages, p = {}) {
  const r = await get(id).createChatCompletion({ messages, max_tokens: p.max_tokens ?? 32, temperature: p.temperature ?? 0,
    seed: p.seed ?? 0, stop: p.stop, ...(p.extra ?? {}) });
  return { text: r.choices[0].message.content, usage: r.usage, raw: r };
}

async function unload(id) {
  const m = loaded.get(id);
  if (m) { await m.w.exit(); loaded.delete(id); }
}

const sandbox = workerSandbox();
const runCode = (code, tests, timeoutMs) => sandbox.run(code, tests, timeoutMs);

window.harness = { load, complete, completeMany, chat, unload, runCode };
document.getElementById('status').textContent = 'ready';
