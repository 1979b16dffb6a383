// Every text-level method's prompts word for word. The method files check that a call sends what
// the prompt builder makes (e.g. `summaryPrompt(…)`), which a change inside the builder passes; here
// each builder's text is pinned: the instruction, the order of the parts, the numbering and fences,
// the trimming, and where the system prompt goes.
import { describe, expect, it } from 'vitest';
import type { Agent } from '../../src/lib/strategies/types.ts';
import { revisionMessages, revisionPrompt } from '../../src/lib/strategies/debate.ts';
import { summaryPrompt, summaryRevisionMessages } from '../../src/lib/strategies/debate-summary.ts';
import { refinePrompt, synthesisPrompt } from '../../src/lib/strategies/refine.ts';
import { synthesizeMessages, synthesizePrompt } from '../../src/lib/strategies/moa.ts';
import { selectMessages, selectPrompt } from '../../src/lib/strategies/usc.ts';
import { cardPrompt, cardsAnswerPrompt, relevancePrompt } from '../../src/lib/strategies/knowledge-cards.ts';
import { nodeMessages } from '../../src/lib/strategies/hswarm.ts';
import { updateMessages, updatePrompt } from '../../src/lib/strategies/structure.ts';
import { critiquePrompt, feedbackRevisionMessages } from '../../src/lib/strategies/feedback.ts';
import { ScriptedEngine } from './strategies.scripted.ts';

const agent = (system?: string): Agent => ({ id: 'a1', name: 'Agent 1', model: 'm', engine: new ScriptedEngine(() => []), temperature: 0, ...(system !== undefined && { system }) });

describe('prompts, word for word', () => {
  it('debate: the others’ answers (trimmed), then the question again, after the agent’s own answer', () => {
    expect(revisionPrompt('Q?', [' 4 ', '5'])).toBe(
      "These are the answers to the question from other agents:\n\nOne agent's answer: ```4```\n\nOne agent's answer: ```5```\n\n" +
        "Using the other agents' answers as additional information, give your updated answer. The original question is: Q?",
    );
    expect(revisionMessages(agent('Sys'), 'Q?', 'mine', ['5'])).toEqual([
      { role: 'system', content: 'Sys' },
      { role: 'user', content: 'Q?' },
      { role: 'assistant', content: 'mine' },
      { role: 'user', content: revisionPrompt('Q?', ['5']) },
    ]);
  });

  it('debate with a summariser: the summary request and the revision showing the summary', () => {
    expect(summaryPrompt('Q?', ['4', '5'])).toBe(
      "Here are the answers several agents gave to a question.\n\nQuestion: Q?\n\nOne agent's answer: ```4```\n\nOne agent's answer: ```5```\n\n" +
        'Summarise these answers in a few sentences: the answers they give and their main reasons.',
    );
    expect(summaryRevisionMessages(agent(), 'Q?', 'mine', 'they say 4')).toEqual([
      { role: 'user', content: 'Q?' },
      { role: 'assistant', content: 'mine' },
      { role: 'user', content: 'Here is a summary of the answers from the agents: ```they say 4```\n\nUsing the summary as additional information, give your updated answer. The original question is: Q?' },
    ]);
  });

  it('refine: the refinement and the synthesis requests', () => {
    expect(refinePrompt('Q?', 'mine', ['4', '5'])).toBe(
      'You and other assistants answer the same question. Use their answers to refine and improve your own.\n\n' +
        "Question: Q?\n\nYour previous answer: ```mine```\n\nThe other assistants' answers:\n- ```4```\n- ```5```\n\nGive your refined answer to the question.",
    );
    expect(synthesisPrompt('Q?', ['4', '5'])).toBe(
      'Several assistants answered this question. Use their answers to write one final, complete answer.\n\nQuestion: Q?\n\nTheir answers:\n- ```4```\n- ```5```\n\nGive the final answer to the question.',
    );
  });

  it('MoA: the aggregate-and-synthesize request, numbered responses then the question; the system prompt first', () => {
    const text =
      'You are shown several responses to the question below, written by other assistants. Some may be wrong or biased: ' +
      'judge each one critically, keep what is right, correct what is wrong, and write one response that is better than any of them ' +
      '(do not just copy one).\n\nResponse 1: ```4```\n\nResponse 2: ```5```\n\nThe question: Q?';
    expect(synthesizePrompt('Q?', ['4', ' 5 '])).toBe(text);
    expect(synthesizeMessages(agent('Sys'), 'Q?', ['4', '5'])).toEqual([{ role: 'system', content: 'Sys' }, { role: 'user', content: text }]);
  });

  it('USC: the selection request', () => {
    const text =
      'The question: Q?\n\nSeveral responses to it:\n\nResponse 1: ```4```\n\nResponse 2: ```5```\n\n' +
      'Compare the responses and choose the one that agrees most with the others (the majority view). ' +
      'Start your reply with "The most consistent response is Response X", with X its number.';
    expect(selectPrompt('Q?', ['4', '5'])).toBe(text);
    expect(selectMessages(agent('  '), 'Q?', ['4', '5'])).toEqual([{ role: 'user', content: text }]);
  });

  it('knowledge cards: the card, relevance and answer requests', () => {
    expect(cardPrompt('Q?')).toBe('Write a short paragraph of knowledge that would help answer this question.\n\nQuestion: Q?');
    expect(relevancePrompt('Q?', 'Paris is in France.')).toBe(
      'Question: Q?\n\nA knowledge paragraph: ```Paris is in France.```\n\nIs this paragraph relevant and helpful for answering the question? Reply yes or no.',
    );
    expect(cardsAnswerPrompt('Q?', ['c1', 'c2'])).toBe(
      'Other assistants wrote these knowledge paragraphs for the question:\n- ```c1```\n- ```c2```\n\nQuestion: Q?\n\nUsing this knowledge where it helps, answer the question.',
    );
  });

  it('hswarm: a node shows its in-nodes’ responses (trimmed, numbered by node), the end node is told to give a final answer', () => {
    expect(nodeMessages(agent('Sys'), 'Q?', [{ node: 0, text: ' 4 ' }, { node: 2, text: '5' }], false)).toEqual([
      { role: 'system', content: 'Sys' },
      { role: 'user', content: 'Earlier responses:\n\nNode 1: ```4```\n\nNode 3: ```5```\n\nUse them if they help; ignore wrong ones.\n\nQ?' },
    ]);
    expect(nodeMessages(agent(' '), 'Q?', [{ node: 1, text: '4' }], true)).toEqual([
      { role: 'user', content: 'Earlier responses:\n\nNode 2: ```4```\n\nUse them if they help; ignore wrong ones. Give a final answer.\n\nQ?' },
    ]);
  });

  it('structure: the update request after the agent’s own answer', () => {
    const text = 'The task: Q?\n\nOther assistants answered:\n\nAssistant 1: ```4```\n\nAssistant 2: ```5```\n\nThink again about your previous answer and theirs, then give your updated answer to the task.';
    expect(updatePrompt('Q?', ['4', '5'])).toBe(text);
    expect(updateMessages(agent(), 'Q?', 'mine', ['4', '5'])).toEqual([
      { role: 'user', content: 'Q?' },
      { role: 'assistant', content: 'mine' },
      { role: 'user', content: text },
    ]);
  });

  it('feedback: the critique and the revision showing the critiques', () => {
    expect(critiquePrompt('Q?', '4')).toBe(
      "You are reviewing another assistant's answer to a question.\n\nQuestion: Q?\n\nThe assistant's answer: ```4```\n\n" +
        'Give brief, constructive feedback: what is wrong or missing, and how to improve it.',
    );
    expect(feedbackRevisionMessages(agent(), 'Q?', 'mine', ['c1', 'c2'])).toEqual([
      { role: 'user', content: 'Q?' },
      { role: 'assistant', content: 'mine' },
      { role: 'user', content: 'Other assistants reviewed your answer:\n- ```c1```\n- ```c2```\n\nUse their feedback to refine and improve your answer. The original question is: Q?' },
    ]);
  });
});
