import { describe, expect, it } from 'vitest';
import { detectType, extractAnswer, focusText, isAnswerType, normaliseNumber, normaliseText, type AnswerType } from '../../src/lib/answers.ts';

describe('answer extraction table', () => {
  const table: [string, AnswerType, string][] = [
    // numbers
    ['The answer is 42.', 'number', '42'],
    ['42 apples', 'number', '42'],
    ['I had 3 apples and ate 1, so 2 are left.', 'number', '2'],
    ['First 3, then 4. The answer is 7. Check: 3+4=7, not 8', 'number', '7'],
    ['Final answer: 1,234,567', 'number', '1234567'],
    ['The answer is -0', 'number', '0'],
    ['It costs 42.50 dollars', 'number', '42.5'],
    ['It is 3.0', 'number', '3'],
    ['\\boxed{12} is my result', 'number', '12'],
    ['#### 18', 'number', '18'],
    ['+5 degrees', 'number', '5'],
    ['-17 is the result', 'number', '-17'],
    ['007', 'number', '7'],
    ['no digits here', 'number', ''],
    ['Final answer: 12,345', 'number', '12345'],
    ['It is 3.050 m', 'number', '3.05'],
    // multiple choice
    ['(B)', 'choice', 'B'],
    ['The answer is (c).', 'choice', 'C'],
    ['I pick option d because it fits', 'choice', 'D'],
    ['B) the cat sat', 'choice', 'B'],
    ['answer: b', 'choice', 'B'],
    ['C', 'choice', 'C'],
    ['a cat is an animal', 'choice', ''],
    ['The answer is unclear', 'choice', ''],
    // yes / no
    ['Yes, it is.', 'yesno', 'yes'],
    ['No.', 'yesno', 'no'],
    ['I think that is true', 'yesno', 'yes'],
    ['The statement is false.', 'yesno', 'no'],
    ['Maybe later', 'yesno', ''],
    ['That is incorrect.', 'yesno', 'no'],
    ['That is correct.', 'yesno', 'yes'],
    ['Yeah, sure', 'yesno', 'yes'],
    ['Yep', 'yesno', 'yes'],
    ['Nope, never', 'yesno', 'no'],
    ['The answer is: no. Yes would be wrong.', 'yesno', 'no'],
    // short phrases
    ['The Eiffel Tower.', 'text', 'eiffel tower'],
    ['  Paris!  \nIt is in France.', 'text', 'paris'],
    ['The answer is: a red ball. It was big.', 'text', 'red ball'],
    ['An  apple, of course', 'text', 'apple of course'],
    ['It weighs 3.5 kg. Heavy.', 'text', 'it weighs 3.5 kg'],
    ['1,000 or so.', 'text', '1,000 or so'],
    ['The answer is:\n  Paris.', 'text', 'paris'],
    ['Answer:\n  Paris.', 'text', 'paris'],
    ['rock—paper,scissors', 'text', 'rock paper scissors'],
    // auto
    ['The answer is 42.', 'auto', '42'],
    ['(B) because the story says so', 'auto', 'B'],
    ['Yes, the cat was happy.', 'auto', 'yes'],
    ['Lily went to the park.', 'auto', 'lily went to park'],
    ['She had 3 red balls.', 'auto', '3'],
    ['The answer is B', 'auto', 'B'],
  ];
  for (const [text, type, expected] of table) {
    it(`${type}: ${JSON.stringify(text)} → ${JSON.stringify(expected)}`, () => {
      expect(extractAnswer(text, type).answer).toBe(expected);
    });
  }
});

describe('answer extraction rules', () => {
  it('reads only the text after the last answer marker', () => {
    expect(focusText('answer is 1, no wait, the answer is 2').focus).toBe(' 2');
    expect(focusText('no marker').marked).toBe(false);
  });

  it('auto picks the reading from the text', () => {
    expect(detectType('(A)')).toBe('choice');
    expect(detectType('option c')).toBe('choice');
    expect(detectType('No, never')).toBe('yesno');
    expect(detectType('about 12 of them')).toBe('number');
    expect(detectType('a blue bird')).toBe('text');
    // A lone lower-case "a" is the article, not option A.
    expect(detectType('a')).toBe('text');
    expect(detectType('B.')).toBe('choice');
    expect(extractAnswer('No, never', 'auto').type).toBe('yesno');
  });

  it('normalises numbers canonically', () => {
    expect(normaliseNumber('1,000')).toBe('1000');
    expect(normaliseNumber('+4')).toBe('4');
    expect(normaliseNumber('-0.00')).toBe('0');
    expect(normaliseNumber('0.50')).toBe('0.5');
    expect(normaliseNumber('-012.10')).toBe('-12.1');
  });

  it('normalises phrases like SQuAD (case, punctuation, articles, spaces)', () => {
    expect(normaliseText('The  Quick, brown fox!')).toBe('quick brown fox');
    expect(normaliseText('“An” apple — the end.')).toBe('apple end');
    expect(normaliseText('Theatre')).toBe('theatre');
  });

  it('two phrasings of one answer normalise to the same string', () => {
    expect(extractAnswer('The answer is 42.', 'auto').answer).toBe(extractAnswer('42 apples', 'auto').answer);
    expect(extractAnswer('The Cat.', 'text').answer).toBe(extractAnswer('cat', 'text').answer);
  });

  it('reads with auto when no type is given', () => {
    expect(extractAnswer('The answer is (C).')).toEqual({ answer: 'C', type: 'choice' });
    expect(extractAnswer('Paris.')).toEqual({ answer: 'paris', type: 'text' });
  });

  it('returns "" (an abstention) for empty text in every reading', () => {
    for (const type of ['auto', 'number', 'choice', 'yesno', 'text'] as const) expect(extractAnswer('', type).answer).toBe('');
  });
});

/**
 * Each case here pins one piece of a rule that a one-character change would break (found by
 * `npm run mutate -- answers`): the spacing allowed inside a marker, the anchors of the `auto`
 * detection, the order of the choice patterns.
 */
describe('answer extraction: the exact shape of each rule', () => {
  it.each([
    ['Steps give 5 and 8. Final answer 3, and later 9', '3'],
    ['Steps give 5 and 8. Final  answer 3, and later 9', '3'],
    ['the answer  is 3, not 9', '3'],
    ['the answer would be 3, not 9', '3'],
    ['the answer would  be 3, not 9', '3'],
    ['the answer will be 3, not 9', '3'],
    ['the answer will  be 3, not 9', '3'],
    ['the answer should be 3, not 9', '3'],
    ['the answer should  be 3, not 9', '3'],
    ['Answer : 3, not 9', '3'],
  ])('a marker with any spacing: %j reads %j (the first number after it, not the last)', (text, want) => {
    expect(extractAnswer(text, 'number').answer).toBe(want);
  });

  it.each([
    ['Plan B', 'text'],
    ['Bob went home', 'text'],
    ['I think (b) is right', 'text'],
    ['see part C) above', 'text'],
    ['x) is not an option letter', 'text'],
    ['B) because it is blue', 'choice'],
    ['(b) because it is blue', 'choice'],
    ['option  b fits', 'choice'],
    ['I say no', 'text'],
    ['casino', 'text'],
    ['No, it is not', 'yesno'],
  ] as const)('auto detection is anchored: %j is %s', (text, want) => {
    expect(detectType(text)).toBe(want);
  });

  it.each([
    ['I pick option c', 'C'],
    ['b) it is', 'B'],
    ['Pick B now', 'B'],
    ['Pick B', 'B'],
  ])('choice patterns in order: %j reads %j', (text, want) => {
    expect(extractAnswer(text, 'choice').answer).toBe(want);
  });

  it('every answer type name is accepted and nothing else', () => {
    for (const t of ['auto', 'number', 'choice', 'yesno', 'text']) expect(isAnswerType(t), t).toBe(true);
    for (const t of ['', 'Number', 'letters', 5, null]) expect(isAnswerType(t), String(t)).toBe(false);
  });
});
