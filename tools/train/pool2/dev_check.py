"""Quick dev-split check of trained pool2 checkpoints in PyTorch (greedy, 8 tokens, stop at newline),
used to size training budgets on dev only; the reported figures come from the experiment runner.

Usage: /usr/bin/python3 tools/train/pool2/dev_check.py ID [ID ...] [--split dev] [--limit 60]
"""
import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from gguf_read import read_gguf  # noqa: E402
from model import Config, Llama  # noqa: E402
from spm import SPMTokenizer  # noqa: E402
from train import BASE, ROOT, read_f32  # noqa: E402

DATA = os.path.join(ROOT, 'public/pool2/datasets')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('ids', nargs='+')
    ap.add_argument('--split', default='dev')
    ap.add_argument('--limit', type=int, default=60)
    ap.add_argument('--out', default=os.path.join(HERE, 'out'))
    a = ap.parse_args()
    torch.set_num_threads(1)
    meta, tensors, infos = read_gguf(BASE)
    tok = SPMTokenizer(meta['tokenizer.ggml.tokens'], meta['tokenizer.ggml.scores'],
                       int(meta['tokenizer.ggml.bos_token_id']), int(meta['tokenizer.ggml.eos_token_id']))
    nl = [i for i, t in enumerate(meta['tokenizer.ggml.tokens']) if '\n' in t or t == '<0x0A>']
    items = {}
    for t in ('sum', 'facts', 'combo'):
        with open(os.path.join(DATA, t, f'{a.split}.jsonl')) as f:
            items[t] = [json.loads(x) for x in f if x.strip()][:a.limit]
    for mid in a.ids:
        net = Llama(Config(meta), read_f32(os.path.join(a.out, f'{mid}.f32'), tensors, infos))
        row = []
        for t, xs in items.items():
            ok = 0
            for x in xs:
                out = tok.decode(net.greedy(tok.encode(x['prompt']), 8, stop_ids=set(nl) | {tok.eos_id}))
                ok += out.strip().split('\n')[0].strip() == x['answer']
            row.append(f'{t} {100 * ok / len(xs):.1f}')
        print(f'{mid}: ' + ', '.join(row), flush=True)


if __name__ == '__main__':
    main()
