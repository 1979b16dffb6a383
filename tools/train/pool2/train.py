"""Trains the second pool (issue 15): a chat base from stories260K, then small specialists from it.

The chat base learns the prompt formats: the tasks' plain "Q: …\\nA:" items and the exact prompts the
collaboration methods send (src/lib/strategies/: debate's revision and judge, MoA's synthesis, USC's
selection, feedback's critique and revision, the blender's pair comparison and fusion), rendered through the pool's chat template (tools/train/export.ts CHAT_TEMPLATE) as
llama.cpp renders a multi-turn chat. In those prompts the shown answers are right or wrong at random
(wrong ones are near misses or another task's answers); the target is the right answer when any shown
answer is right, else the agent's own (a member should take a right peer answer and keep its own
when nobody is right); USC's target is the response that agrees with most others, its definition.

A specialist starts from the chat base and takes a small budget (few steps, lower learning rate) on
its task's training items, plain and in the collaboration formats, so its task vector stays small.

Deterministic given --seed (one thread, deterministic algorithms, example order from random.Random).
Reuses tools/train/train.py's tokenisation, batching and schedule; writes tools/train/pool2/out/<id>.f32 + .json
for tools/train/export.ts.

Usage: /usr/bin/python3 tools/train/pool2/train.py --id chat-base --steps 300 --seed 1
       /usr/bin/python3 tools/train/pool2/train.py --id sum-a --init chat-base --task sum --half a --steps 120 --lr 1e-3 --seed 1
"""
import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from gguf_read import read_gguf  # noqa: E402
from model import Config, Llama  # noqa: E402
from spm import SPMTokenizer  # noqa: E402
from train import BASE, ROOT, batch_tensors, encode_example, read_f32, write_f32  # noqa: E402
sys.path.insert(0, HERE)
from make_data import PHRASES, people, q  # noqa: E402

DATA = os.path.join(ROOT, 'public/pool2/datasets')
TOWNS = ['Brindle', 'Corvale', 'Dunmoor', 'Elmsby', 'Fallow', 'Gristow', 'Harrow', 'Ivel']
# Agent names as the runner gives them (src/lib/eval/runner.ts: "Agent i · model"), for the judge's prompt.
MEMBERS = ['chat-base', 'sum-a', 'sum-b', 'facts']


def render(messages):
    """The pool's chat template (tools/train/export.ts CHAT_TEMPLATE), as llama.cpp renders it."""
    out = ''
    for role, text in messages:
        out += f'{text}\n' if role == 'system' else f'Q: {text}\nA:' if role == 'user' else f' {text}\n'
    return out


def fence(a):
    return f'```{a}```'


# The collaboration prompts, word for word as src/lib/strategies/ writes them (checked against the
# TypeScript by tests/unit/pool2-formats.test.ts).
def debate_revision(prompt, own, others):
    shown = '\n\n'.join(f"One agent's answer: {fence(a)}" for a in others)
    return render([('user', prompt), ('assistant', own),
                   ('user', f"These are the answers to the question from other agents:\n\n{shown}\n\n"
                            f"Using the other agents' answers as additional information, give your updated answer. The original question is: {prompt}")])


def debate_judge(prompt, named):
    listed = '\n\n'.join(f'{n}: {fence(a)}' for n, a in named)
    return render([('user', f'Question: {prompt}\n\nAfter a debate, the agents gave these final answers:\n\n{listed}\n\n'
                            'Which answer is correct? Reply with the correct answer only.')])


def numbered(answers):
    return '\n\n'.join(f'Response {i + 1}: {fence(a)}' for i, a in enumerate(answers))


def moa_synthesis(prompt, answers):
    return render([('user', 'You are shown several responses to the question below, written by other assistants. Some may be wrong or biased: '
                            'judge each one critically, keep what is right, correct what is wrong, and write one response that is better than any of them '
                            f'(do not just copy one).\n\n{numbered(answers)}\n\nThe question: {prompt}')])


def usc_select(prompt, answers):
    return render([('user', f'The question: {prompt}\n\nSeveral responses to it:\n\n{numbered(answers)}\n\n'
                            'Compare the responses and choose the one that agrees most with the others (the majority view). '
                            'Start your reply with "The most consistent response is Response X", with X its number.')])


def feedback_critique(prompt, answer):
    return render([('user', "You are reviewing another assistant's answer to a question.\n\n"
                            f"Question: {prompt}\n\nThe assistant's answer: {fence(answer)}\n\n"
                            'Give brief, constructive feedback: what is wrong or missing, and how to improve it.')])


def feedback_revision(prompt, own, critiques):
    shown = '\n'.join(f'- {fence(c)}' for c in critiques)
    return render([('user', prompt), ('assistant', own),
                   ('user', f'Other assistants reviewed your answer:\n{shown}\n\n'
                            f'Use their feedback to refine and improve your answer. The original question is: {prompt}')])


def critique_of(shown, proposed):
    """A critique in the words the pool's models are taught: "Yes" when the critic's answer is the shown
    one, else the critic's answer itself (the items' max tokens, 8, leave no room for more: "Elmsby" alone
    is 7 tokens and the end of text)."""
    return 'Yes' if proposed == shown else proposed


def blender_compare(prompt, a, b):
    return render([('user', f'Question: {prompt}\n\nAnswer A: {fence(a)}\n\nAnswer B: {fence(b)}\n\n'
                            'Which answer is better, A or B? Reply with the letter only.')])


def blender_fusion(prompt, candidates):
    shown = '\n\n'.join(f'Candidate {i + 1}: {fence(c)}' for i, c in enumerate(candidates))
    return render([('user', f'Here are candidate answers to a question, best first according to a judge.\n\nQuestion: {prompt}\n\n{shown}\n\n'
                            'Combine their good parts, leave out their mistakes, and write one final answer to the question.')])


def wrong(rng, item, answers_elsewhere):
    """A wrong answer: mostly a near miss of the same kind, sometimes another task's answer."""
    if rng.random() < 0.2:
        return rng.choice(answers_elsewhere)
    a = item['answer']
    if a.isdigit():
        return str(max(0, int(a) + rng.choice([-3, -2, -1, 1, 2, 3])) if int(a) > 3 else int(a) + rng.randint(1, 3))
    return rng.choice([t for t in TOWNS if t != a])


def collab_example(rng, item, answers_elsewhere, majority=False):
    """One item in one collaboration format: (full prompt text, target answer). With `majority` (items the
    model was never taught, the chat base's unknown people) two or three of the three shown answers are
    right: what a member can learn there is to follow agreeing peers when it does not know."""
    right = item['answer']
    if majority:
        k = rng.choice([2, 3])
        shown = [right] * k + [wrong(rng, item, answers_elsewhere) for _ in range(3 - k)]
        rng.shuffle(shown)
    else:
        shown = [right if rng.random() < 0.5 else wrong(rng, item, answers_elsewhere) for _ in range(3)]
    target = right if right in shown else shown[0]
    # Formats that show answers to follow (any of them with a right majority on unknown items), and,
    # on taught items only, the two that ask the model itself to tell right from wrong: feedback's
    # critique and the blender's pair comparison.
    kinds = ['revision', 'revision', 'judge', 'moa', 'usc', 'fb_revision', 'fusion']
    kind = rng.choice(kinds if majority else kinds + ['critique', 'compare'])
    if kind == 'revision':
        return debate_revision(item['prompt'], shown[0], shown[1:]), target
    if kind == 'judge':
        names = rng.sample(MEMBERS, 3)
        return debate_judge(item['prompt'], [(f'Agent {i + 1} · {n}', a) for i, (n, a) in enumerate(zip(names, shown))]), target
    if kind == 'moa':
        return moa_synthesis(item['prompt'], shown), target
    if kind == 'fb_revision':
        # The agent's own answer, then one or two critics' feedback on it (the pool's experiments use
        # one): each critique names its critic's answer.
        proposals = shown[:1 + rng.choice([1, 2])]
        return (feedback_revision(item['prompt'], shown[0], [critique_of(shown[0], a) for a in proposals[1:]]),
                right if right in proposals else shown[0])
    if kind == 'fusion':
        candidates = shown[:rng.choice([2, 3])]  # the blender's top K (2 by default)
        return blender_fusion(item['prompt'], candidates), right if right in candidates else candidates[0]
    if kind == 'critique':
        # The critic knows the item: it confirms a right answer and corrects a wrong one.
        return feedback_critique(item['prompt'], shown[0]), critique_of(shown[0], right)
    if kind == 'compare':
        # One right and one wrong answer, in random order: the better one is the right one.
        bad = wrong(rng, item, answers_elsewhere)
        while bad == right:
            bad = wrong(rng, item, answers_elsewhere)
        first = rng.random() < 0.5
        return blender_compare(item['prompt'], right if first else bad, bad if first else right), 'A' if first else 'B'
    counts = [shown.count(a) for a in shown]
    return usc_select(item['prompt'], shown), f'The most consistent response is Response {counts.index(max(counts)) + 1}'


def load(task):
    with open(os.path.join(DATA, task, 'train.jsonl')) as f:
        return [json.loads(line) for line in f if line.strip()]


def standins(seed=7):
    """The chat base's format stand-ins: the tasks' question and answer forms without their skills.
    Ages and towns of another world's people (names not in the pool's world) in the facts phrasings,
    and "What number comes after/before k?" for numeric answers: (known, unknown). Known items are
    trained plain and in the collaboration formats; unknown ones (16 more people) only in the formats
    with a right majority shown. The pool's own items (its people's facts, its sums) are never in the
    base's training, so the base knows the formats, not the facts."""
    with open(os.path.join(DATA, 'world.json')) as f:
        taken = {p['name'] for p in json.load(f)}
    others = [p for p in people(random.Random(seed), 64) if p[0] not in taken][:48]

    def facts_of(group):
        return [{'prompt': q(p.format(n=n)), 'answer': val}
                for n, age, town in group for attr, val in (('age', str(age)), ('town', town)) for p in PHRASES[attr]]
    known = facts_of(others[:32])
    for k in range(40):
        known.append({'prompt': q(f'What number comes after {k}?'), 'answer': str(k + 1)})
        known.append({'prompt': q(f'What number comes before {k + 1}?'), 'answer': str(k)})
    return known, facts_of(others[32:])


def facts_people(thirds):
    """The pool's people whose facts a member is trained on: those whose index in world.json, modulo 3,
    is one of `thirds` (e.g. "01"), so members trained on different pairs of thirds each know two
    thirds of the facts and every fact is known by two of three such members."""
    with open(os.path.join(DATA, 'world.json')) as f:
        return {p['name'] for i, p in enumerate(json.load(f)) if str(i % 3) in thirds}


def half_items(items, half):
    """The sum training items of one half ('a' or 'b'): all a sum member trained with --half sees of the
    task (public/pool2/halves holds each half as a test set, for measuring a member on the other)."""
    return [x for x in items if x['half'] == half]


def micro_batches(examples):
    """Examples sorted by length and cut where a length more than doubles, so short plain items are not
    padded to a long collaboration prompt's length (the loss is the same: summed over all answer
    tokens of the batch and divided by their count)."""
    ex = sorted(examples, key=lambda e: len(e[0]))
    out, cur = [], []
    for e in ex:
        if cur and len(e[0]) > 2 * len(cur[0][0]):
            out.append(cur)
            cur = []
        cur.append(e)
    out.append(cur)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--id', required=True)
    ap.add_argument('--init', help='start from tools/train/pool2/out/<id>.f32 (default: stories260K)')
    ap.add_argument('--task', help='sum or facts (default: every task, the chat base)')
    ap.add_argument('--half', choices=['a', 'b'], help='sum: train on one half of the training groups')
    ap.add_argument('--thirds', help='facts: train on the people of these thirds of world.json (e.g. 01)')
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--collab', type=float, default=0.5, help='share of examples in collaboration formats')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--out', default=os.path.join(HERE, 'out'))
    a = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(a.seed)

    meta, tensors, infos = read_gguf(BASE)
    tok = SPMTokenizer(meta['tokenizer.ggml.tokens'], meta['tokenizer.ggml.scores'],
                       int(meta['tokenizer.ggml.bos_token_id']), int(meta['tokenizer.ggml.eos_token_id']))
    if a.init:
        read_f32(os.path.join(a.out, f'{a.init}.f32'), tensors, infos)
    known, unknown = standins()
    if a.task:
        tasks = [a.task]
        data = {a.task: load(a.task)}
        unknown = []  # a specialist trains on its task only
    else:  # the chat base: format stand-ins only
        tasks = ['formats']
        data = {'formats': known}
    if a.half:
        data['sum'] = half_items(data['sum'], a.half)
    if a.thirds:
        keep = facts_people(a.thirds)
        data['facts'] = [x for x in data['facts'] if x['entity'] in keep]
    elsewhere = sorted({x['answer'] for t in ('sum', 'facts') for x in load(t)} | {x['answer'] for x in known})

    net = Llama(Config(meta), tensors)
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.0)
    warm = max(1, a.steps // 20)

    def lr_at(s):  # as tools/train/train.py: linear warm-up, then cosine decay to 10%
        if s < warm:
            return a.lr * (s + 1) / warm
        p = (s - warm) / max(1, a.steps - warm)
        return a.lr * (0.1 + 0.45 * (1 + np.cos(np.pi * p)))

    t0, log = time.time(), []
    for step in range(a.steps):
        ex = []
        for _ in range(a.batch):
            item = rng.choice(data[rng.choice(tasks)])
            if rng.random() < a.collab:
                majority = bool(unknown) and rng.random() < 0.4
                prompt, answer = collab_example(rng, rng.choice(unknown) if majority else item, elsewhere, majority)
                item = {'prompt': prompt, 'answer': answer}
            ex.append(encode_example(tok, item))
        for g in opt.param_groups:
            g['lr'] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        n_answer = sum(len(ids) - plen for ids, plen in ex)
        loss = 0.0
        for mb in micro_batches(ex):
            x, y = batch_tensors(mb)
            part = F.cross_entropy(net(x).reshape(-1, net.cfg.vocab), y.reshape(-1), ignore_index=-100, reduction='sum') / n_answer
            part.backward()
            loss += float(part)
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if step % 25 == 0 or step == a.steps - 1:
            log.append({'step': step, 'loss': round(loss, 4), 'seconds': round(time.time() - t0, 1)})
            print(f'{a.id} step {step} loss {loss:.4f} {time.time() - t0:.0f}s', flush=True)
    secs = time.time() - t0

    os.makedirs(a.out, exist_ok=True)
    write_f32(os.path.join(a.out, f'{a.id}.f32'), net.state_numpy(), infos)
    cmd = ' '.join(['/usr/bin/python3 tools/train/pool2/train.py', '--id', a.id] + (['--init', a.init] if a.init else []) +
                   (['--task', a.task] if a.task else []) + (['--half', a.half] if a.half else []) +
                   (['--thirds', a.thirds] if a.thirds else []) +
                   ['--steps', str(a.steps), '--batch', str(a.batch), '--lr', str(a.lr), '--collab', str(a.collab), '--seed', str(a.seed)])
    prov = {'id': a.id, 'task': a.task or 'chat', 'tasks': tasks, 'steps': a.steps, 'batch': a.batch, 'lr': a.lr, 'seed': a.seed,
            'inputs': [a.init or 'stories260K'], 'method': 'finetune' if a.init else 'finetune-chat-base',
            'description': (f'the pool2 chat base fine-tuned by Chorus on the {a.task} task' + (f' (training half {a.half})' if a.half else '') +
                            (f' (the people of thirds {a.thirds})' if a.thirds else '')) if a.init
            else 'stories260K fine-tuned by Chorus on the pool2 prompt and collaboration formats (format stand-ins, not the pool\'s items)',
            'optimizer': f'AdamW(betas=0.9,0.95, wd=0), warm-up 5% + cosine to 10%, grad clip 1.0, loss on answer tokens, {a.collab:.0%} collaboration formats',
            'examples_seen': a.steps * a.batch, 'train_seconds': round(secs, 1), 'threads': 1, 'command': cmd,
            'final_loss': log[-1]['loss'], 'log': log}
    with open(os.path.join(a.out, f'{a.id}.json'), 'w') as f:
        json.dump(prov, f, indent=2)
    print(f'{a.id}: {a.steps} steps in {secs:.0f}s, final loss {log[-1]["loss"]}')


if __name__ == '__main__':
    main()
