"""Checks an exported specialist end to end: reads public/models/<id>.gguf (written by the project's
GGUF writer) back into the PyTorch forward and compares its greedy answers on a task's test items
with what llama.cpp (wllama) produced in `npm run pool:results` (raw outputs in
/tmp/chorus-pool-outputs.json). Exit status 1 on any difference.

Usage: /usr/bin/python3 tools/train/check_export.py arithmetic-specialist arithmetic [--n 60]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_read import read_gguf  # noqa: E402
from model import Config, Llama  # noqa: E402
from spm import SPMTokenizer  # noqa: E402
from train import ROOT  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model')
    ap.add_argument('task')
    ap.add_argument('--n', type=int, default=60)
    ap.add_argument('--outputs', default='/tmp/chorus-pool-outputs.json')
    a = ap.parse_args()
    meta, tensors, _ = read_gguf(os.path.join(ROOT, 'public/models', f'{a.model}.gguf'))
    tok = SPMTokenizer(meta['tokenizer.ggml.tokens'], meta['tokenizer.ggml.scores'])
    net = Llama(Config(meta), tensors)
    with open(os.path.join(ROOT, 'public/datasets/index.json')) as f:
        tasks = json.load(f)['tasks']
    start = 0
    for t in tasks:  # the mixed test set is every task's test split, in manifest order
        if t['id'] == a.task:
            break
        start += t['splits']['test']
    with open(os.path.join(ROOT, 'public/datasets', a.task, 'test.jsonl')) as f:
        items = [json.loads(line) for line in f][:a.n]
    with open(a.outputs) as f:
        wl = json.load(f)['testOut'][a.model][start:start + len(items)]
    diff = 0
    for item, w in zip(items, wl):
        out = tok.decode(net.greedy(tok.encode(item['prompt']), 16, stop_ids=(tok.eos_id,))).split('\n')[0]
        if out != w:
            diff += 1
            print(f'differs on {item["id"]}: PyTorch {out!r}, llama.cpp {w!r}')
    print(f'{len(items) - diff}/{len(items)} greedy answers of {a.model} on {a.task} identical in PyTorch and llama.cpp')
    sys.exit(1 if diff else 0)


if __name__ == '__main__':
    main()
