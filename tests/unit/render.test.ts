import { describe, expect, it } from 'vitest';
import { cpuMs } from '../lib/cpu-time.ts';
import { escapeHtml, renderMarkdown, safeHref } from '../../src/lib/render/markdown.ts';
import { agentName, applyEvent, emptyTraceView, tokenTitle } from '../../src/lib/render/trace-view.ts';
import type { TraceEvent } from '../../src/lib/trace.ts';

describe('markdown renderer (pure layer of the safe renderer)', () => {
  it('keeps ordinary markdown', () => {
    const html = renderMarkdown('**bold** and `code`\n\n- a\n- b');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<code>code</code>');
    expect(html).toContain('<li>a</li>');
  });
  it('renders raw HTML as escaped text, never as elements', () => {
    const html = renderMarkdown('hi <img src=x onerror="alert(1)"> <script>window.pwned=1</script>\n\n<div onclick="x()">d</div>');
    expect(html).not.toMatch(/<img|<script|<div/i);
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    expect(html).toContain('&lt;script&gt;');
  });
  it('drops javascript: and data: links but keeps https links with safe rel', () => {
    expect(renderMarkdown('[x](javascript:alert(1))')).not.toContain('href');
    expect(renderMarkdown('[x](data:text/html,hi)')).not.toContain('href');
    const ok = renderMarkdown('[x](https://example.org/a)');
    expect(ok).toContain('href="https://example.org/a"');
    expect(ok).toContain('rel="noopener noreferrer nofollow"');
  });
  it('shows images as their alt text', () => {
    const html = renderMarkdown('![cat](https://evil.example/x.png)');
    expect(html).not.toContain('<img');
    expect(html).toContain('[image: cat]');
  });
  it('escapes attribute-breaking characters', () => {
    expect(escapeHtml(`"'<>&`)).toBe('&quot;&#39;&lt;&gt;&amp;');
    expect(safeHref(' javascript:alert(1)')).toBeNull();
    expect(safeHref('https://a b')).toBeNull();
  });
});

function msgEvents(msgId: string, agent: string, round: number, text: string[]): TraceEvent[] {
  return [
    { type: 'message-start', t: 1, msgId, agent, round, purpose: 'answer', messages: [{ role: 'user', content: 'q' }] },
    ...text.map((x): TraceEvent => ({ type: 'token', t: 2, msgId, text: x, logprob: -0.1 })),
    {
      type: 'message-end', t: 3, msgId, agent, text: text.join(''), finish_reason: 'stop', meanProb: 0.9,
      usage: { prompt_tokens: 3, completion_tokens: text.length, time_to_first_token_ms: 1, total_ms: 2, tokens_per_second: 10 },
    },
  ];
}

describe('trace view model (draws any strategy from TraceEvents alone)', () => {
  it('puts each agent in its own lane per round, with votes in their round and the final answer', () => {
    const events: TraceEvent[] = [
      {
        type: 'run-start', t: 0, runId: 'r1', strategy: 'debate', seed: 7, prompt: 'q', knobs: { rounds: 2 },
        agents: [
          { id: 'a1', name: 'Agent 1', model: 'm', temperature: 0.7 },
          { id: 'a2', name: 'Agent 2', model: 'm', temperature: 0.7 },
        ],
      },
      { type: 'round', t: 0, round: 1, label: 'Round 1 · answer alone' },
      ...msgEvents('m1', 'a1', 1, ['4', '2']),
      ...msgEvents('m2', 'a2', 1, ['4', '1']),
      { type: 'round', t: 4, round: 2, label: 'Round 2 · revise' },
      ...msgEvents('m3', 'a1', 2, ['42']),
      ...msgEvents('m4', 'a2', 2, ['41']),
      {
        type: 'vote', t: 5, round: 2, winner: '42', tie: true, rule: 'earliest first vote among tied answers',
        ballots: [{ agent: 'a1', answer: '42' }, { agent: 'a2', answer: '41' }],
        tally: [{ answer: '42', count: 1, agents: ['a1'] }, { answer: '41', count: 1, agents: ['a2'] }],
      },
      { type: 'final', t: 6, answer: '42', text: '42', agent: 'a1' },
      { type: 'usage', t: 6, prompt_tokens: 12, completion_tokens: 6, seconds: 0.006, calls: 4 },
      { type: 'run-end', t: 6, status: 'done' },
    ];
    const view = emptyTraceView();
    for (const e of events) applyEvent(view, e);
    expect(view.status).toBe('done');
    expect(view.sections.map((s) => s.label)).toEqual(['Round 1 · answer alone', 'Round 2 · revise']);
    expect(view.sections[0]?.lanes).toEqual({ a1: ['m1'], a2: ['m2'] });
    expect(view.messages['m1']?.text).toBe('42');
    expect(view.messages['m1']?.tokens).toHaveLength(2);
    expect(view.sections[1]?.decisions[0]).toMatchObject({ kind: 'vote', winner: '42', tie: true });
    expect(view.final).toEqual({ answer: '42', text: '42', agent: 'a1', abstained: false });
    expect(view.usage?.calls).toBe(4);
    expect(agentName(view, 'a2')).toBe('Agent 2');
    expect(view.eventCount).toBe(events.length);
  });

  it('attaches a cascade route decision to the active section and marks cut messages on cancel', () => {
    const view = emptyTraceView();
    applyEvent(view, { type: 'run-start', t: 0, runId: 'r', strategy: 'cascade', seed: 1, prompt: 'p', knobs: {}, agents: [] });
    applyEvent(view, { type: 'round', t: 0, round: 1, label: 'Tier 1' });
    applyEvent(view, { type: 'route', t: 1, from: 'a1', to: 'a2', decision: 'defer', reason: 'low confidence', confidence: 0.4, threshold: 0.6 });
    applyEvent(view, { type: 'message-start', t: 2, msgId: 'x', agent: 'a2', round: 2, purpose: 'answer', messages: [] });
    applyEvent(view, { type: 'token', t: 3, msgId: 'x', text: 'Once' });
    applyEvent(view, { type: 'run-end', t: 4, status: 'cancelled' });
    expect(view.sections[0]?.decisions[0]).toMatchObject({ kind: 'route', decision: 'defer', confidence: 0.4, threshold: 0.6 });
    expect(view.sections.map((s) => s.round)).toEqual([1, 2]);
    expect(view.messages['x']).toMatchObject({ status: 'done', finish: 'abort', text: 'Once' });
    expect(view.status).toBe('cancelled');
  });

  it('a new run-start clears the previous run', () => {
    const view = emptyTraceView();
    applyEvent(view, { type: 'run-start', t: 0, runId: 'a', strategy: 's', seed: 1, prompt: 'p', knobs: {}, agents: [] });
    applyEvent(view, { type: 'message-start', t: 1, msgId: 'x', agent: 'a1', round: 0, purpose: 'answer', messages: [] });
    applyEvent(view, { type: 'run-start', t: 0, runId: 'b', strategy: 's', seed: 2, prompt: 'p', knobs: {}, agents: [] });
    expect(view.runId).toBe('b');
    expect(view.messages).toEqual({});
    expect(view.sections).toEqual([]);
  });

  it('token tooltips give the probability and the alternatives', () => {
    const title = tokenTitle({ text: 'a', logprob: Math.log(0.5), top: [{ token: 'a', logprob: Math.log(0.5) }, { token: 'b', logprob: Math.log(0.25) }] });
    expect(title).toBe('p = 50.0%\n"a"  50.0%\n"b"  25.0%');
  });
});

describe('markdown bombs fall back to plain text with a note, never throw, in bounded time', () => {
  const bombs: [string, string, RegExp][] = [
    ['2000 nested quotes', `${'>'.repeat(2000)} x`, /nests 2000 levels deep/],
    ['3000 nested list items', `${'- '.repeat(3000)}x`, /nests 3000 levels deep/],
    ['1000 quote+list pairs', `${'> - '.repeat(1000)}x`, /nests 2000 levels deep/],
    ['3000 nested ordered items', `${'1. '.repeat(3000)}x`, /nests 3000 levels deep/],
    ['20000 emphasis openers', '_a'.repeat(20_000), /40000 characters/],
    ['5000 emphasis openers in a short text', '*a'.repeat(5_000), /5000 emphasis markers/],
  ];
  for (const [name, source, note] of bombs) {
    it(name, () => {
      const { ms, value: html } = cpuMs(() => renderMarkdown(source));
      expect(ms).toBeLessThan(1000);
      expect(html).toMatch(/^<p><em>Shown as plain text: /);
      expect(html).toMatch(note);
      // The whole text is still there, escaped, in a <pre>.
      expect(html).toContain(`<pre>${escapeHtml(source)}</pre>`);
    });
  }

  it('ordinary nesting and emphasis still render as markdown', () => {
    const html = renderMarkdown(`${'> '.repeat(10)}**deep** _quote_\n\n- a\n  - b\n    - c`);
    expect(html).not.toContain('Shown as plain text');
    expect(html.match(/<blockquote>/g)).toHaveLength(10);
    expect(html).toContain('<strong>deep</strong>');
    expect(html.match(/<ul>/g)).toHaveLength(3);
  });

  it('the plain-text fallback escapes HTML in the text', () => {
    const html = renderMarkdown(`${'>'.repeat(100)} <img src=x onerror=alert(1)>`);
    expect(html).toMatch(/^<p><em>Shown as plain text: the text nests 100 levels deep/);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<img');
  });
});
