"""Task-vector statistics of a pool's specialists (issue 15): for each specialist, tau = weights - base
over every tensor; prints ||tau||, ||tau|| / ||base||, and for each pair the cosine of the two task
vectors and their sign agreement (the share of coordinates, among those where both move by more than
1e-8, that move in the same direction: what TIES's sign election needs to keep several skills).

Usage: /usr/bin/python3 tools/train/pool2/task_vectors.py BASE.gguf SPECIALIST.gguf [SPECIALIST.gguf …]
"""
import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gguf_read import read_gguf  # noqa: E402


def flat(path):
    _meta, tensors, infos = read_gguf(path)
    return np.concatenate([np.asarray(tensors[name], dtype=np.float64).ravel() for name, *_ in infos])


def main(argv):
    if len(argv) < 3:
        raise SystemExit('usage: task_vectors.py BASE.gguf SPECIALIST.gguf [SPECIALIST.gguf ...]')
    base = flat(argv[1])
    taus = {os.path.basename(p).removesuffix('.gguf'): flat(p) - base for p in argv[2:]}
    print(f'base {os.path.basename(argv[1])}: {base.size} weights, norm {np.linalg.norm(base):.3f}')
    print('| specialist | norm of tau | norm / norm of base | share of weights moved > 1e-8 |')
    print('| --- | --- | --- | --- |')
    for k, t in taus.items():
        print(f'| {k} | {np.linalg.norm(t):.3f} | {np.linalg.norm(t) / np.linalg.norm(base):.4f} | {np.mean(np.abs(t) > 1e-8):.3f} |')
    if len(taus) > 1:
        print('\n| pair | cosine | sign agreement |')
        print('| --- | --- | --- |')
        for (a, ta), (b, tb) in itertools.combinations(taus.items(), 2):
            both = (np.abs(ta) > 1e-8) & (np.abs(tb) > 1e-8)
            cos = float(ta @ tb / (np.linalg.norm(ta) * np.linalg.norm(tb)))
            print(f'| {a} / {b} | {cos:.3f} | {np.mean(np.sign(ta[both]) == np.sign(tb[both])):.3f} |')


if __name__ == '__main__':
    main(sys.argv)
