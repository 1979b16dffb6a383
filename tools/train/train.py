"""Fine-tunes stories260K on one task (a specialist) or on the mixture (the generalist).

Deterministic given --seed: one CPU thread, torch deterministic algorithms, and the example order
drawn from random.Random(seed). The loss covers only the answer tokens (+ EOS), with the prompt
tokenised alone exactly as llama.cpp tokenises it at inference (BOS + SPM(prompt)), so what the
model sees in training is what wllama feeds it.

Output: tools/train/out/<id>.f32 (every GGUF tensor as raw F32, in the base's order) and <id>.json (provenance), which
tools/train/export.ts turns into public/models/<id>.gguf with the project's GGUF writer.

Usage: /usr/bin/python3 tools/train/train.py --task arithmetic --steps 600 --batch 32 --seed 1
       /usr/bin/python3 tools/train/train.py --task mix --id generalist --steps 600 --batch 32 --seed 1
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_read import read_gguf  # noqa: E402
from model import Config, Llama  # noqa: E402
from spm import SPMTokenizer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '../..'))
BASE = os.path.abspath(os.path.join(ROOT, '../shared/models/stories260K.gguf'))


def load_split(task, split):
    path = os.path.join(ROOT, 'public/datasets', task, f'{split}.jsonl')
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def encode_example(tok, item):
    p = tok.encode(item['prompt'], bos=True)
    a = tok.encode(item['answer'], bos=False) + [tok.eos_id]  # SPM's space prefix = the " " after "A:"
    return p + a, len(p)


def batch_tensors(examples):
    T = max(len(ids) for ids, _ in examples)
    x = torch.zeros((len(examples), T - 1), dtype=torch.long)
    y = torch.full((len(examples), T - 1), -100, dtype=torch.long)
    for i, (ids, plen) in enumerate(examples):
        t = torch.tensor(ids)
        x[i, :len(ids) - 1] = t[:-1]
        y[i, plen - 1:len(ids) - 1] = t[plen:]
    return x, y


def write_f32(path, state, infos):
    """The .f32 checkpoint: every tensor as raw little-endian F32 in the base file's tensor order (numpy C
    order = ggml row-major order); export.ts checks every size against the base's tensor infos."""
    with open(path, 'wb') as f:
        for name, _ne, _t, _o in infos:
            f.write(np.ascontiguousarray(state[name], dtype='<f4').tobytes())


def read_f32(path, tensors, infos):
    """Reads a checkpoint written by write_f32 into `tensors` (the base's shapes); refuses one whose size differs."""
    raw = np.fromfile(path, dtype='<f4')
    at = 0
    for name, ne, _t, _o in infos:
        n = int(np.prod(ne))
        tensors[name] = raw[at:at + n].reshape(tensors[name].shape)
        at += n
    assert at == raw.size, f'{os.path.basename(path)} does not match the base tensors'
    return tensors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--task', required=True, help='task id from public/datasets/index.json, or "mix"')
    ap.add_argument('--id', help='model id (default: <task>-specialist)')
    ap.add_argument('--steps', type=int, default=600)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--out', default=os.path.join(HERE, 'out'))
    a = ap.parse_args()
    model_id = a.id or f'{a.task}-specialist'

    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(a.seed)

    meta, tensors, base_infos = read_gguf(BASE)
    tok = SPMTokenizer(meta['tokenizer.ggml.tokens'], meta['tokenizer.ggml.scores'],
                       int(meta['tokenizer.ggml.bos_token_id']), int(meta['tokenizer.ggml.eos_token_id']))
    with open(os.path.join(ROOT, 'public/datasets/index.json')) as f:
        task_ids = [t['id'] for t in json.load(f)['tasks']]
    tasks = task_ids if a.task == 'mix' else [a.task]
    if a.task != 'mix' and a.task not in task_ids:
        raise SystemExit(f'train.py: unknown task {a.task!r}; known: {", ".join(task_ids)} or "mix"')
    data = {t: [encode_example(tok, x) for x in load_split(t, 'train')] for t in tasks}

    net = Llama(Config(meta), tensors)
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.0)
    warm = max(1, a.steps // 20)

    def lr_at(s):  # linear warm-up, then cosine decay to 10%
        if s < warm:
            return a.lr * (s + 1) / warm
        p = (s - warm) / max(1, a.steps - warm)
        return a.lr * (0.1 + 0.45 * (1 + np.cos(np.pi * p)))

    t0 = time.time()
    log = []
    for step in range(a.steps):
        # The generalist draws each example's task uniformly: same steps × batch as one specialist.
        ex = [rng.choice(data[rng.choice(tasks)]) for _ in range(a.batch)]
        x, y = batch_tensors(ex)
        for g in opt.param_groups:
            g['lr'] = lr_at(step)
        loss = F.cross_entropy(net(x).reshape(-1, net.cfg.vocab), y.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == a.steps - 1:
            log.append({'step': step, 'loss': round(float(loss), 4), 'seconds': round(time.time() - t0, 1)})
            print(f'{model_id} step {step} loss {float(loss):.4f} {time.time() - t0:.0f}s', flush=True)
    secs = time.time() - t0

    # Monitoring only (not a reported score): greedy exact match on 40 dev items per task in PyTorch.
    dev_quick = {}
    for t in tasks:
        dev = load_split(t, 'dev')[:40]
        ok = 0
        for item in dev:
            ids = tok.encode(item['prompt'], bos=True)
            out = tok.decode(net.greedy(ids, 24, stop_ids=(tok.eos_id,)), strip_leading_space=True)
            ok += out.split('\n')[0].strip() == item['answer']
        dev_quick[t] = ok / len(dev)
    print(f'{model_id} dev exact (PyTorch, monitoring): {dev_quick}', flush=True)

    os.makedirs(a.out, exist_ok=True)
    write_f32(os.path.join(a.out, f'{model_id}.f32'), net.state_numpy(), base_infos)
    cmd = f'/usr/bin/python3 tools/train/train.py --task {a.task} --id {model_id} --steps {a.steps} --batch {a.batch} --lr {a.lr} --seed {a.seed}'
    prov = {'id': model_id, 'task': a.task, 'tasks': tasks, 'steps': a.steps, 'batch': a.batch, 'lr': a.lr, 'seed': a.seed,
            'optimizer': 'AdamW(betas=0.9,0.95, wd=0), warm-up 5% + cosine to 10%, grad clip 1.0, loss on answer tokens',
            'examples_seen': a.steps * a.batch, 'train_seconds': round(secs, 1), 'threads': 1,
            'machine': 'shared 2-core CPU (no GPU), PyTorch ' + torch.__version__, 'command': cmd,
            'final_loss': log[-1]['loss'], 'dev_exact_pytorch_monitoring': dev_quick, 'log': log}
    with open(os.path.join(a.out, f'{model_id}.json'), 'w') as f:
        json.dump(prov, f, indent=2)
    print(f'{model_id}: {a.steps} steps in {secs:.0f}s, final loss {log[-1]["loss"]}')


if __name__ == '__main__':
    main()
