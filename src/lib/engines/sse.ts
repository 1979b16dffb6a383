/**
 * Server-sent events parser (the `text/event-stream` format of the WHATWG HTML spec, §9.2), as
 * much of it as OpenAI-compatible servers use: `data:` lines joined by "\n" into one event,
 * events separated by a blank line, comments (":" lines) and other fields ignored, CRLF/CR/LF
 * line endings. Incremental: feed decoded text chunks as they arrive, split anywhere.
 */
export class SSEParser {
  #buffer = '';
  #data: string[] = [];

  /** Feeds text; returns the `data` payload of every event completed by it. */
  push(text: string): string[] {
    this.#buffer += text;
    const events: string[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.#buffer);
      if (!m) break;
      // A lone CR at the very end may be the first half of CRLF: wait for more text.
      if (m[0] === '\r' && m.index === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(0, m.index);
      this.#buffer = this.#buffer.slice(m.index + m[0].length);
      if (line === '') {
        if (this.#data.length) events.push(this.#data.join('\n'));
        this.#data = [];
      } else if (line.startsWith('data:')) {
        this.#data.push(line.slice(line[5] === ' ' ? 6 : 5));
      }
    }
    return events;
  }

  /** Ends the stream: an event not followed by a blank line still counts. */
  end(): string[] {
    const events = this.push('\n\n');
    this.#buffer = '';
    return events;
  }
}
