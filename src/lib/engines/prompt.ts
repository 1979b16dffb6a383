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
