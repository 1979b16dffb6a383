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

// One call with the request body the app's engine sends (src/lib/engines/wllama.ts), streamed
// as the app streams it (the non-streamed answer with n_probs failed inside wllama for some
// tokens: "Invalid typed array length"), collected here; the experiment runner's HarnessEngine
// (tools/pool/harness-engine.ts) drives it.
async function generate(id, mode, body) {
  const w = get(id);
  const t0 = performance.now();
  const req = { ...body, stream: true };
  const stream = mode === 'chat' ? await w.createChatCompletion(req) : await w.createCompletion(req);
  let text = '';
  let finish = null;
  let usage = null;
  let predicted;
  let promptN;
  const logprobs = [];
  for await (const raw of stream) {
    const c = raw.choices?.[0];
    text += c?.delta?.content ?? c?.text ?? '';
    if (c?.logprobs?.content) logprobs.push(...c.logprobs.content);
    if (c?.finish_reason) finish = c.finish_reason;
    if (raw.usage) usage = raw.usage;
    if (raw.timings?.predicted_n !== undefined) predicted = raw.timings.predicted_n;
    if (raw.timings?.prompt_n !== undefined) promptN = raw.timings.prompt_n;
  }
  // Not every stream ends with a usage chunk (multi-turn chats often do not): llama-server's
  // timings carry the same counts.
  if (usage === null && predicted !== undefined) usage = { completion_tokens: predicted };
  if (usage !== null && !usage.prompt_tokens && promptN !== undefined) usage = { ...usage, prompt_tokens: promptN };
  return { text, finish, usage, logprobs, ms: performance.now() - t0 };
}

// One non-streamed completion returned as wllama gives it: the stepping seam's one-token calls
// (src/lib/engines/wllama-stepper.ts), driven by HarnessEngine.stepper().
async function completeRaw(id, body) {
  return await get(id).createCompletion({ ...body, stream: false });
}

async function unload(id) {
  const m = loaded.get(id);
  if (m) { await m.w.exit(); loaded.delete(id); }
}

const sandbox = workerSandbox();
const runCode = (code, tests, timeoutMs) => sandbox.run(code, tests, timeoutMs);

window.harness = { load, complete, completeMany, chat, generate, completeRaw, unload, runCode };
document.getElementById('status').textContent = 'ready';
