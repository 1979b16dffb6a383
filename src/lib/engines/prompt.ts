/**
 * Chat prompt format for models without a chat template (e.g. stories260K, base models and the
 * project's tiny specialists). llama.cpp applies `tokenizer.chat_template` when a GGUF has one;
 * when it has none we render the conversation ourselves in a plain transcript form:
 *
 *   <system text>\n\n          (only when there is a system message)
 *   User: <text>\n
 *   Assistant: <text>\n        (earlier assistant turns)
 *   User: <text>\n
 *   Assistant:
 *
 * and stop generation at "\nUser:" so the model does not write the next user turn. Plain words
 * rather than special tokens, because a template-less model has no special tokens for roles; this
 * is the form base models have seen most in pre-training text (dialogue transcripts).
 */
import type { ChatMessage } from './engine.ts';

export const FALLBACK_STOP = ['\nUser:'];

export function renderFallbackChat(messages: ChatMessage[]): string {
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content.trim()).filter(Boolean);
  let out = system.length ? `${system.join('\n')}\n\n` : '';
  for (const m of messages) {
    if (m.role === 'system') continue;
    out += `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content.trim()}\n`;
  }
  return `${out}Assistant:`;
}

/**
 * Completion-mode prompts. The built-in data sets' prompts are already in the pool's prompt format
 * (`promptFormat` in public/datasets/index.json: "Q: {question}\nA:"), the very text the pool
 * models were trained on and that `npm run pool:results` sends with `complete` (tools/pool/). Sent
 * through chat, such a prompt would be wrapped a second time: the pool's chat template gives
 * "Q: Q: 79 - 36 = ?\nA:\nA:", a template-less model "User: Q: …\nA:\nAssistant:".
 *
 * The rule: a conversation of exactly one user message (optionally after one system message)
 * whose text starts with "Q: " and ends with a line "A:" (trailing spaces ignored) is sent as a raw
 * completion: the system text and a newline (as the pool's chat template writes a system turn),
 * then the prompt, with generation stopped at the end of the line (COMPLETION_STOP: the answers of
 * this format are one line, as the pool's scoring reads them). Anything else goes through chat.
 */
export const COMPLETION_PROMPT = /^Q: [\s\S]*\nA:[ \t]*$/;
export const COMPLETION_STOP = ['\n'];

export function completionPromptOf(messages: readonly ChatMessage[]): string | null {
  const users = messages.filter((m) => m.role === 'user');
  const systems = messages.filter((m) => m.role === 'system');
  const last = messages[messages.length - 1];
  if (users.length !== 1 || systems.length > 1 || messages.length !== users.length + systems.length || last?.role !== 'user') return null;
  const prompt = last.content.replace(/[ \t]+$/, '');
  if (!COMPLETION_PROMPT.test(prompt)) return null;
  const system = systems[0]?.content.trim() ?? '';
  return system ? `${system}\n${prompt}` : prompt;
}

/**
 * The pool's chat template (tokenizer.chat_template of every model in public/models, written by
 * tools/train/export.ts): a system turn as its text and a newline, a user turn as "Q: …\nA:", an
 * assistant turn as a space, its text and a newline. llama.cpp renders it with its Jinja engine;
 * engines without one (the ONNX engine) render it here, the same way (no trimming: the template
 * has none).
 */
export const POOL_CHAT_TEMPLATE =
  "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n{% elif m['role'] == 'user' %}Q: {{ m['content'] }}\nA:{% else %} {{ m['content'] }}\n{% endif %}{% endfor %}";

/** The prompt `template` gives `messages` when it is the pool's template; null for any other template. */
export function renderPoolChat(template: string, messages: readonly ChatMessage[]): string | null {
  if (template !== POOL_CHAT_TEMPLATE) return null;
  return messages.map((m) => (m.role === 'system' ? `${m.content}\n` : m.role === 'user' ? `Q: ${m.content}\nA:` : ` ${m.content}\n`)).join('');
}
