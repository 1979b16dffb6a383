"""Runs MoCo's own scoring functions on generated replies and prints the results as JSON.

Usage: python3 tools/moco/cases.py PATH/TO/model_collaboration/data/eval.py [N]

MoCo's eval.py imports torch, transformers and more at the top; this reads the file's syntax tree
and executes only the pure scoring functions (with re, string and Counter), so no MoCo dependency
is needed. The replies are random concatenations of pieces chosen to hit every rule: boxes,
markers, Unicode whitespace, articles next to non-ASCII letters, letters with punctuation, fences.
Used by tools/moco/compare.ts; nothing of MoCo's is copied into this repository.
"""
import ast
import json
import random
import re
import string
import sys
from collections import Counter

WANTED = {
    'normalize_answer', 'extract_answer_text', 'calculate_f1_score', 'calculate_exact_match',
    'format_mcq_question', 'parse_model_response_mcq', 'is_noncompliance', 'extract_code_block',
    'extract_function_name',
}

PIECES = [
    '\\boxed{', '\\box{', '\\box ', '\\BOXED {', '}', '{', '\\frac{1}{2}', 'Final Answer:', 'final answer is',
    'The answer is:', 'Answer:', 'answer =', 'Solution:', 'The solution is:', 'the answer', ' ', '\n', '\r', '\r\n',
    '\t', '\x1c', '\x85', '\u2028', '\ufeff', '\xa0', '.', '. ', ',', '42', 'Paris', 'the', 'a', 'an', 'An', 'THE',
    'é', 'éthe', 'the_', '_the', '²the', '<', '<<', '<a', 'A)', '(b)', 'c.', 'd ', 'B', 'answer is c', 'Option',
    '```python\n', '```\n', '```', '```js\n', 'def ', 'def f(x):\n  return x', 'def ĝ(y):', 'İ', 'ẞ', 'ſ', 'Σ', 'ΑΣ ',
    "don't", 'don’t', 'sorry', 'I cannot', 'unknown', 'never', 'not ', 'NOT ', 'many', 'One of the most', 'an AI',
    'As an AI', 'could you',
]
OPTION_SETS = [['Paris', 'Lyon', 'the', 'a'], ['42', '4', 'B', 'sorry'], ['éthe', 'Σ', 'don’t', 'x']]
CATEGORIES = ['false presuppositions', 'Subjective questions', 'universal unknowns', 'Requests with safety concerns']


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    tree = ast.parse(open(path, encoding='utf-8').read())
    module = ast.Module(body=[f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name in WANTED], type_ignores=[])
    ns = {'re': re, 'string': string, 'Counter': Counter}
    exec(compile(module, path, 'exec'), ns)
    missing = WANTED - set(ns)
    if missing:
        sys.exit(f'{path}: no function(s) {", ".join(sorted(missing))} — is this MoCo\'s data/eval.py?')
    rng = random.Random(7)

    def reply():
        return ''.join(rng.choice(PIECES) for _ in range(rng.randint(0, 20)))

    refs = [reply() for _ in range(400)]
    rows = []
    for i in range(n):
        o, r = reply(), refs[i % len(refs)]
        opts, cat = OPTION_SETS[i % len(OPTION_SETS)], CATEGORIES[i % len(CATEGORIES)]
        rows.append({
            'o': o, 'r': r, 'opts': opts, 'cat': cat,
            'extract': ns['extract_answer_text'](o), 'norm': ns['normalize_answer'](o),
            'em': ns['calculate_exact_match'](o, r), 'f1': ns['calculate_f1_score'](o, r),
            'mcq': ns['parse_model_response_mcq'](o, opts)[0], 'fmt': ns['format_mcq_question'](r, opts),
            'nc': ns['is_noncompliance'](o, cat), 'code': ns['extract_code_block'](o), 'fn': ns['extract_function_name'](o),
        })
    json.dump(rows, sys.stdout)


main()
