"""The llama forward pass in PyTorch, laid out exactly like llama.cpp's graph for GGUF weights.

Weights are used as they are stored in the GGUF (no un-permuting): llama.cpp applies
rope type NORM to llama models, which rotates adjacent pairs (x[2i], x[2i+1]) with frequency
base^(-2i/d) (ggml_rope_ext, mode 0), so rotating adjacent pairs here matches the stored Q/K.
tools/train/verify_base.py checks greedy output against llama.cpp (wllama) token for token.
"""
import math
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Config:
    def __init__(self, meta):
        self.dim = int(meta['llama.embedding_length'])
        self.n_layers = int(meta['llama.block_count'])
        self.n_heads = int(meta['llama.attention.head_count'])
        self.n_kv_heads = int(meta['llama.attention.head_count_kv'])
        self.ffn = int(meta['llama.feed_forward_length'])
        self.eps = float(meta['llama.attention.layer_norm_rms_epsilon'])
        self.rope_base = float(meta.get('llama.rope.freq_base', 10000.0))
        self.vocab = len(meta['tokenizer.ggml.tokens'])
        self.head_dim = self.dim // self.n_heads


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class Llama(nn.Module):
    """Parameters are keyed by their GGUF tensor names (dots replaced by '__')."""

    def __init__(self, cfg: Config, tensors: dict):
        super().__init__()
        self.cfg = cfg
        self.p = nn.ParameterDict({k.replace('.', '__'): nn.Parameter(torch.tensor(np.asarray(v, dtype=np.float32)))
                                   for k, v in tensors.items()})
        hd = cfg.head_dim
        inv = cfg.rope_base ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
        self.register_buffer('inv_freq', inv, persistent=False)

    def w(self, name):
        return self.p[name.replace('.', '__')]

    def rope(self, x, pos):
        # x: [B, T, H, hd]; rotate adjacent pairs (llama.cpp rope mode NORM)
        ang = pos[:, None].double() * self.inv_freq[None, :]
        cos, sin = torch.cos(ang).float(), torch.sin(ang).float()
        x0, x1 = x[..., 0::2], x[..., 1::2]
        c, s = cos[None, :, None, :], sin[None, :, None, :]
        return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)

    def forward(self, ids):
        cfg = self.cfg
        B, T = ids.shape
        pos = torch.arange(T)
        h = F.embedding(ids, self.w('token_embd.weight'))
        mask = torch.full((T, T), float('-inf')).triu(1)
        rep = cfg.n_heads // cfg.n_kv_heads
        for l in range(cfg.n_layers):
            b = f'blk.{l}.'
            x = rms_norm(h, self.w(b + 'attn_norm.weight'), cfg.eps)
            q = (x @ self.w(b + 'attn_q.weight').T).view(B, T, cfg.n_heads, cfg.head_dim)
            k = (x @ self.w(b + 'attn_k.weight').T).view(B, T, cfg.n_kv_heads, cfg.head_dim)
            v = (x @ self.w(b + 'attn_v.weight').T).view(B, T, cfg.n_kv_heads, cfg.head_dim)
            q, k = self.rope(q, pos), self.rope(k, pos)
            k = k.repeat_interleave(rep, dim=2)
            v = v.repeat_interleave(rep, dim=2)
            att = torch.einsum('bthd,bshd->bhts', q, k) / math.sqrt(cfg.head_dim) + mask
            o = torch.einsum('bhts,bshd->bthd', att.softmax(-1), v).reshape(B, T, cfg.dim)
            h = h + o @ self.w(b + 'attn_output.weight').T
            x = rms_norm(h, self.w(b + 'ffn_norm.weight'), cfg.eps)
            g = F.silu(x @ self.w(b + 'ffn_gate.weight').T) * (x @ self.w(b + 'ffn_up.weight').T)
            h = h + g @ self.w(b + 'ffn_down.weight').T
        h = rms_norm(h, self.w('output_norm.weight'), cfg.eps)
        return h @ self.w('output.weight').T

    @torch.no_grad()
    def greedy(self, ids, max_new, stop_ids=()):
        out = list(ids)
        for _ in range(max_new):
            nxt = int(self.forward(torch.tensor([out]))[0, -1].argmax())
            if nxt in stop_ids:
                break
            out.append(nxt)
        return out[len(ids):]

    def state_numpy(self):
        return {k.replace('__', '.'): v.detach().cpu().numpy() for k, v in self.p.items()}
