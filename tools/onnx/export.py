"""Exports llama-architecture GGUF models (the pool: stories260K-shaped, F32) to ONNX with a KV cache.

The forward pass is tools/train/model.py's (the one the pool was trained with, laid out like
llama.cpp's graph: rope NORM on adjacent pairs, grouped-query attention, RMSNorm, SwiGLU), rewritten
here to take the cache of earlier tokens and return it extended:

  inputs   input_ids                 int64 [1, T]            the new tokens
           past_key_<l>, past_value_<l>  float32 [1, n_kv_heads, P, head_dim]   (P = 0 for a fresh prompt)
  outputs  logits                    float32 [1, T, n_vocab] for every new position
           present_key_<l>, present_value_<l>  float32 [1, n_kv_heads, P + T, head_dim]

Positions are P … P+T-1 (read from the cache's length), the attention mask is causal over the
cache and the new tokens, and rope's cos/sin come from a table of the model's context length
computed in float64 (as model.py does) and stored as an initializer. Opset 17, float32 weights as
stored in the GGUF. The export is deterministic: same GGUF in, same bytes out (one thread, no
timestamps; `--check-reproducible` exports twice and compares).

The files are checked against llama.cpp's own logits by tests/unit/onnx-model.test.ts (onnxruntime-web
in Node against node-llama-cpp), so this script needs no runtime of its own.

Usage: /usr/bin/python3 tools/onnx/export.py public/models/generalist.gguf [more.gguf …] [--out-dir public/models]
       (writes <name>.onnx beside each GGUF unless --out-dir is given)
"""
import argparse
import hashlib
import io
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'train'))
from gguf_read import read_gguf  # noqa: E402
from model import Config, Llama, rms_norm  # noqa: E402

OPSET = 17


class LlamaWithCache(nn.Module):
    """model.py's Llama forward with past keys/values in and out (one sequence, batch 1)."""

    def __init__(self, net: Llama, n_ctx: int):
        super().__init__()
        self.net = net
        pos = torch.arange(n_ctx, dtype=torch.float64)
        ang = pos[:, None] * net.inv_freq[None, :]
        self.register_buffer('rope_cos', torch.cos(ang).float(), persistent=False)
        self.register_buffer('rope_sin', torch.sin(ang).float(), persistent=False)

    def rope(self, x, cos, sin):
        # x: [1, T, H, hd]; rotate adjacent pairs (llama.cpp rope mode NORM), as model.py's rope
        x0, x1 = x[..., 0::2], x[..., 1::2]
        c, s = cos[None, :, None, :], sin[None, :, None, :]
        return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)

    def forward(self, input_ids, *past):
        net, cfg = self.net, self.net.cfg
        T = input_ids.shape[1]
        P = past[0].shape[2]
        pos = torch.arange(T) + P
        cos, sin = self.rope_cos[pos], self.rope_sin[pos]
        keys = torch.arange(T + P)
        mask = torch.where(keys[None, :] > pos[:, None], torch.tensor(float('-inf')), torch.tensor(0.0))
        rep = cfg.n_heads // cfg.n_kv_heads
        hd = cfg.head_dim
        h = F.embedding(input_ids, net.w('token_embd.weight'))
        present = []
        for l in range(cfg.n_layers):
            b = f'blk.{l}.'
            x = rms_norm(h, net.w(b + 'attn_norm.weight'), cfg.eps)
            q = (x @ net.w(b + 'attn_q.weight').T).view(1, T, cfg.n_heads, hd)
            k = (x @ net.w(b + 'attn_k.weight').T).view(1, T, cfg.n_kv_heads, hd)
            v = (x @ net.w(b + 'attn_v.weight').T).view(1, T, cfg.n_kv_heads, hd)
            q, k = self.rope(q, cos, sin), self.rope(k, cos, sin)
            k = torch.cat((past[2 * l], k.transpose(1, 2)), dim=2)
            v = torch.cat((past[2 * l + 1], v.transpose(1, 2)), dim=2)
            present += [k, v]
            S = k.shape[2]
            # head i reads kv head i // rep, as repeat_interleave in model.py
            kf = k[:, :, None].expand(1, cfg.n_kv_heads, rep, S, hd).reshape(1, cfg.n_heads, S, hd)
            vf = v[:, :, None].expand(1, cfg.n_kv_heads, rep, S, hd).reshape(1, cfg.n_heads, S, hd)
            att = (q.transpose(1, 2) @ kf.transpose(2, 3)) / math.sqrt(hd) + mask
            o = (att.softmax(-1) @ vf).transpose(1, 2).reshape(1, T, cfg.dim)
            h = h + o @ net.w(b + 'attn_output.weight').T
            x = rms_norm(h, net.w(b + 'ffn_norm.weight'), cfg.eps)
            g = F.silu(x @ net.w(b + 'ffn_gate.weight').T) * (x @ net.w(b + 'ffn_up.weight').T)
            h = h + g @ net.w(b + 'ffn_down.weight').T
        h = rms_norm(h, net.w('output_norm.weight'), cfg.eps)
        return (h @ net.w('output.weight').T, *present)


def export_bytes(gguf_path: str) -> bytes:
    meta, tensors, _ = read_gguf(gguf_path)
    if meta.get('general.architecture') != 'llama':
        raise SystemExit(f'{gguf_path}: architecture {meta.get("general.architecture")!r}; this exporter handles llama models only')
    cfg = Config(meta)
    n_ctx = int(meta.get('llama.context_length', 2048))
    model = LlamaWithCache(Llama(cfg, tensors), n_ctx).eval()
    L = cfg.n_layers
    ids = torch.tensor([[1, 400, 300]], dtype=torch.int64)
    past = tuple(torch.zeros(1, cfg.n_kv_heads, 2, cfg.head_dim) for _ in range(2 * L))
    names_in = ['input_ids'] + [f'past_{kind}_{l}' for l in range(L) for kind in ('key', 'value')]
    names_out = ['logits'] + [f'present_{kind}_{l}' for l in range(L) for kind in ('key', 'value')]
    axes = {'input_ids': {1: 'tokens'}, 'logits': {1: 'tokens'}}
    for l in range(L):
        for kind in ('key', 'value'):
            axes[f'past_{kind}_{l}'] = {2: 'past'}
            axes[f'present_{kind}_{l}'] = {2: 'total'}
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, (ids, *past), buf, opset_version=OPSET, input_names=names_in, output_names=names_out,
                          dynamic_axes=axes, do_constant_folding=True)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('gguf', nargs='+')
    ap.add_argument('--out-dir')
    ap.add_argument('--check-reproducible', action='store_true', help='export each model twice and fail unless the bytes are equal')
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    for path in args.gguf:
        data = export_bytes(path)
        if args.check_reproducible and export_bytes(path) != data:
            raise SystemExit(f'{path}: two exports gave different bytes')
        out_dir = args.out_dir or os.path.dirname(path)
        out = os.path.join(out_dir, os.path.splitext(os.path.basename(path))[0] + '.onnx')
        with open(out, 'wb') as f:
            f.write(data)
        print(f'{out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}')


if __name__ == '__main__':
    main()
