"""Checks that the PyTorch forward (model.py) and tokenizer (spm.py) reproduce llama.cpp exactly.

The references below are llama.cpp's greedy continuations (40 tokens, temperature 0) of the base
stories260K.gguf, produced by wllama 3.13 in headless Chromium (tools/pool/harness, recorded
2026-11-25), with llama.cpp's prompt token counts (BOS included). Exit status 1 on any mismatch.

Usage: /usr/bin/python3 tools/train/verify_base.py
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_read import read_gguf  # noqa: E402
from model import Config, Llama  # noqa: E402
from spm import SPMTokenizer  # noqa: E402
from train import BASE  # noqa: E402

REFERENCE = [
    ('Once upon a time', 5,
     ', there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.'),
    ('Lily went to the park and', 10,
     ' saw a big box. She was very happy. She wanted to see what was inside. She wanted to see what was in'),
    ('Q: 12+7\nA:', 12, ' are you okay?" Daddy replied, "I want to see what I have to do." \n"'),
    ('The cat said "hello" to the dog.', 15,
     ' He was very happy and wanted to play with it. He wanted to play with it, but he was too small. He wanted to play with it.\nThe'),
]


def main():
    meta, tensors, _ = read_gguf(BASE)
    tok = SPMTokenizer(meta['tokenizer.ggml.tokens'], meta['tokenizer.ggml.scores'])
    net = Llama(Config(meta), tensors)
    bad = 0
    for prompt, n_prompt, want in REFERENCE:
        ids = tok.encode(prompt)
        got = tok.decode(net.greedy(ids, 40))
        ok = len(ids) == n_prompt and got == want
        bad += not ok
        print(f'{"ok  " if ok else "FAIL"} {prompt!r}: {len(ids)} prompt tokens (llama.cpp {n_prompt}); '
              f'{"same 40 greedy tokens" if got == want else "got " + repr(got)}')
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
