"""Generates the second pool's data sets (public/pool2/datasets) from a seed; no copied benchmark text.

Three tasks, built so collaboration can show its effect or fail honestly (issue 15):
- `sum`: one-digit-and-teen arithmetic, "a + b = ?" (a, b in 0..19) and two-step "a + b - c = ?"
  (a, b, c in 0..9, result >= 0). Held out by operands in both orders: an unordered pair {a, b}
  (with its c for the two-step form) is in exactly one split, so "3 + 5" in test means neither
  "3 + 5" nor "5 + 3" is in train (the first pool held its additions out only literally).
  The train split is cut into two disjoint halves, `sum-a` and `sum-b`, so two specialists trained
  on different halves with different seeds err on different items (a vote can beat either).
- `facts`: 32 invented people with an age (1..9) and a town, each fact asked in three phrasings,
  one held out (as the first pool's world task).
- `combo`: compositional, test and dev only, never trained: "How old will Kalo be in 3 years?"
  needs a fact (Kalo's age, which the facts specialist knows) and an addition (which the sum
  specialists know). Nobody is trained on this form, so a method that scores here combines members.

Every prompt is in the pool's format "Q: {question}\\nA:". `fresh(seed)` makes a new item set from
another seed for the independent check, from a reserve that is in no split (the splits and the
reserve are checked pairwise disjoint).

`halves(seed)` writes the sum training halves as two test-only tasks (`sum-half-a`, `sum-half-b`, the
items and ids of the train split): each sum member is trained on one half only, so the other half is
~450 held-out items of the same generator and mixture for it (public/pool2/halves/, the larger check
beside the 60 fresh items; experiments/pool2-halves.json).

Usage: /usr/bin/python3 tools/train/pool2/make_data.py [--seed 2026] [--out public/pool2/datasets]
       /usr/bin/python3 tools/train/pool2/make_data.py --fresh 77 --out /tmp/fresh
       /usr/bin/python3 tools/train/pool2/make_data.py --halves --out public/pool2/halves
"""
import argparse
import json
import os
import random
import re

SEED = 2026
PROMPT_FORMAT = 'Q: {question}\nA:'
SYL = ['ka', 'lo', 'mi', 'ra', 'tu', 've', 'no', 'si', 'da', 'pe', 'zu', 'fi', 'go', 'be', 'xa', 'jo']
TOWNS = ['Brindle', 'Corvale', 'Dunmoor', 'Elmsby', 'Fallow', 'Gristow', 'Harrow', 'Ivel']
PHRASES = {
    'age': ['How old is {n}?', 'What is the age of {n}?', 'How many years old is {n}?', 'What age is {n}?'],
    'town': ['Where does {n} live?', 'In which town does {n} live?', 'What is the home town of {n}?', 'Which town is home to {n}?'],
}
COMBO = ['How old will {n} be in {k} years?', 'What age will {n} be {k} years from now?']


def norm(p):
    return re.sub(r'\s+', ' ', p.strip().lower())


def q(question):
    return PROMPT_FORMAT.format(question=question)


# ---------------------------------------------------------------- sum
def sum_groups():
    """Every item of the sum task, grouped by its operands with order ignored (a group is held out whole)."""
    groups = {}
    for a in range(20):
        for b in range(20):
            groups.setdefault(('2', min(a, b), max(a, b)), []).append({'prompt': q(f'{a} + {b} = ?'), 'answer': str(a + b), 'form': 'a+b'})
    for a in range(10):
        for b in range(10):
            for c in range(10):
                if a + b - c >= 0:
                    groups.setdefault(('3', min(a, b), max(a, b), c), []).append(
                        {'prompt': q(f'{a} + {b} - {c} = ?'), 'answer': str(a + b - c), 'form': 'a+b-c'})
    return groups


def sum_task(rng):
    groups = sum_groups()
    keys = sorted(groups)
    rng.shuffle(keys)
    two = [k for k in keys if k[0] == '2']
    three = [k for k in keys if k[0] == '3']
    held = {'test': two[:30] + three[:60], 'dev': two[30:45] + three[60:90], 'reserve': two[45:60] + three[90:120]}
    held_keys = set(held['test']) | set(held['dev']) | set(held['reserve'])
    out = {s: [x for k in ks for x in groups[k]] for s, ks in held.items()}
    train_keys = [k for k in keys if k not in held_keys]
    # Two disjoint halves of the training groups, for the two sum specialists.
    half = len(train_keys) // 2
    out['train'] = [dict(x, half='a') for k in train_keys[:half] for x in groups[k]] + \
                   [dict(x, half='b') for k in train_keys[half:] for x in groups[k]]
    for s in out:
        rng.shuffle(out[s])
    return out


# ---------------------------------------------------------------- facts and combo
def people(rng, n=32):
    names = set()
    while len(names) < n:
        names.add((rng.choice(SYL) + rng.choice(SYL) + rng.choice(['n', 'r', 's', ''])).capitalize())
    return [(p, rng.randint(1, 9), rng.choice(TOWNS)) for p in sorted(names)]


def facts_task(rng, world):
    train, held, reserve = [], [], []
    for n, age, town in world:
        for attr, val in (('age', str(age)), ('town', town)):
            ph = PHRASES[attr][:]
            rng.shuffle(ph)
            item = lambda p: {'prompt': q(p.format(n=n)), 'answer': val, 'entity': n, 'attribute': attr}  # noqa: E731
            held.append(item(ph[0]))
            reserve.append(item(ph[1]))
            train += [item(p) for p in ph[2:]]
    rng.shuffle(held)
    rng.shuffle(train)
    return {'test': held[:40], 'dev': held[40:], 'train': train, 'reserve': reserve}


def combo_task(rng, world):
    items = []
    for n, age, _town in world:
        ks = rng.sample(range(1, 9), 8)
        for i, k in enumerate(ks):
            items.append((i, {'prompt': q(rng.choice(COMBO).format(n=n, k=k)), 'answer': str(age + k), 'entity': n,
                              'parts': {'fact': age, 'add': k}}))
    rng.shuffle(items)
    used = [x for i, x in items if i < 3]
    return {'test': used[:64], 'dev': used[64:], 'reserve': [x for i, x in items if i >= 3]}


TASKS = [
    ('sum', 'Held-out addition and two-step arithmetic', 'arithmetic', sum_task,
     'a + b (0..19) and a + b - c (0..9); operand pairs are held out in both orders.'),
    ('facts', 'Ages and towns of invented people', 'factual recall', facts_task,
     '32 invented people with an age and a town; each fact asked in three phrasings, one held out.'),
    ('combo', 'Compositional: a fact plus an addition', 'composition', combo_task,
     '"How old will X be in k years?": needs a person\'s age (facts) and an addition (sum); never trained.'),
]


def generate(seed):
    """All splits of all tasks for one seed: {task: {split: [item]}} and the people of the world."""
    world = people(random.Random(seed * 100 + 99))
    out = {}
    for k, (tid, _name, _skill, gen, _desc) in enumerate(TASKS):
        rng = random.Random(seed * 100 + k)
        out[tid] = gen(rng) if tid == 'sum' else gen(rng, world)
    return out, world


def check_disjoint(tasks):
    for tid, splits in tasks.items():
        seen = {s: {norm(x['prompt']) for x in xs} for s, xs in splits.items()}
        names = list(seen)
        for i, s in enumerate(names):
            for t in names[i + 1:]:
                assert not (seen[s] & seen[t]), f'{tid}: {s} and {t} share prompts'


def write(out_dir, seed, tasks, world):
    manifest = {'version': 1, 'seed': seed, 'generator': 'tools/train/pool2/make_data.py', 'promptFormat': PROMPT_FORMAT, 'tasks': []}
    for tid, name, skill, _gen, desc in TASKS:
        d = os.path.join(out_dir, tid)
        os.makedirs(d, exist_ok=True)
        splits = tasks[tid]
        for s in ('train', 'dev', 'test'):  # the reserve is not written: it is only for fresh()
            with open(os.path.join(d, f'{s}.jsonl'), 'w') as f:
                for i, x in enumerate(splits.get(s, [])):
                    f.write(json.dumps({'id': f'{tid}-{s}-{i}', **x}, ensure_ascii=False) + '\n')
        manifest['tasks'].append({'id': tid, 'name': name, 'skill': skill, 'metric': 'exact', 'description': desc,
                                  'splits': {s: len(splits.get(s, [])) for s in ('train', 'dev', 'test')},
                                  'promptFormat': PROMPT_FORMAT, 'maxTokens': 8})
    with open(os.path.join(out_dir, 'world.json'), 'w') as f:
        json.dump([{'name': n, 'age': a, 'town': t} for n, a, t in world], f, indent=0)
        f.write('\n')
    with open(os.path.join(out_dir, 'index.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    return manifest


def fresh(seed, fresh_seed, n=60):
    """A fresh test set for the independent check (issue 15): n items per task drawn with `fresh_seed`
    from the reserve that `generate(seed)` keeps out of every split (sum: operand groups in no split;
    facts: a fourth phrasing of each fact; combo: other year counts). Never trained, tuned or tested on."""
    tasks, world = generate(seed)
    rng = random.Random(fresh_seed)
    out = {}
    for tid, splits in tasks.items():
        pool = list(splits['reserve'])
        rng.shuffle(pool)
        out[tid] = {'test': pool[:n]}
    return out, world


def write_halves(out_dir, seed, tasks):
    """The sum train split's two halves as test-only tasks `sum-half-a` and `sum-half-b`, with the train
    split's ids (sum-train-i), for measuring each sum member on the half it never saw."""
    manifest = {'version': 1, 'seed': seed, 'generator': 'tools/train/pool2/make_data.py --halves', 'promptFormat': PROMPT_FORMAT, 'tasks': []}
    train = [{'id': f'sum-train-{i}', **x} for i, x in enumerate(tasks['sum']['train'])]
    for half in ('a', 'b'):
        tid = f'sum-half-{half}'
        items = [x for x in train if x['half'] == half]
        d = os.path.join(out_dir, tid)
        os.makedirs(d, exist_ok=True)
        for s in ('train', 'dev', 'test'):
            with open(os.path.join(d, f'{s}.jsonl'), 'w') as f:
                for x in items if s == 'test' else []:
                    f.write(json.dumps(x, ensure_ascii=False) + '\n')
        manifest['tasks'].append({'id': tid, 'name': f'The sum training half {half}', 'skill': 'arithmetic', 'metric': 'exact',
                                  'description': f'The sum train split\'s half {half} (sum-{half} is trained on it; sum-{"b" if half == "a" else "a"} never sees it).',
                                  'splits': {'train': 0, 'dev': 0, 'test': len(items)}, 'promptFormat': PROMPT_FORMAT, 'maxTokens': 8})
    with open(os.path.join(out_dir, 'index.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    return manifest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, default=SEED)
    ap.add_argument('--fresh', type=int, help='write a fresh test-only item set from this seed (items in no shipped split)')
    ap.add_argument('--halves', action='store_true', help='write the sum training halves as two test-only tasks')
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '../../../public/pool2/datasets'))
    a = ap.parse_args()
    tasks, world = generate(a.seed)
    check_disjoint(tasks)
    if a.halves:
        m = write_halves(a.out, a.seed, tasks)
    elif a.fresh is not None:
        out, world = fresh(a.seed, a.fresh)
        m = write(a.out, a.fresh, out, world)
    else:
        m = write(a.out, a.seed, tasks, world)
    print(json.dumps([(t['id'], t['splits']) for t in m['tasks']]))


if __name__ == '__main__':
    main()
