"""Reference values for aigc's GPT: a tiny nanoGPT-style model in float64 with
deterministic weights, its mean cross-entropy on a batch and the gradient for every
parameter, under nanoGPT's parameter names. Writes models/testdata/torch_gpt.json, which
models/gpt_test.go compares against.

    /usr/bin/python3 scripts/torch/gpt_fixture.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(1)
V, C, NH, L, T, B = 11, 8, 2, 2, 5, 2


def values(*shape, scale=1.0, offset=0.0):
    n = math.prod(shape)
    v = [scale * math.sin(1.7 * i + offset) + 0.1 * math.cos(0.3 * i * i + offset) for i in range(n)]
    return torch.tensor(v, dtype=torch.float64).reshape(*shape)


class Block(nn.Module):  # nanoGPT's, bias=True, dropout 0
    def __init__(self):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.attn = nn.Module()
        self.attn.c_attn, self.attn.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.mlp = nn.Module()
        self.mlp.c_fc, self.mlp.c_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def attention(self, x):
        q, k, v = self.attn.c_attn(x).split(C, dim=2)
        sh = lambda t: t.view(B, T, NH, C // NH).transpose(1, 2)
        q, k, v = sh(q), sh(k), sh(v)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // NH)
        att = att.masked_fill(torch.ones(T, T).tril() == 0, float("-inf")).softmax(-1)
        return self.attn.c_proj((att @ v).transpose(1, 2).reshape(B, T, C))

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.wte, self.transformer.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.transformer.h = nn.ModuleList([Block() for _ in range(L)])
        self.transformer.ln_f = nn.LayerNorm(C)

    def forward(self, idx):
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(T))
        for b in self.transformer.h:
            x = b(x)
        return self.transformer.ln_f(x) @ self.transformer.wte.weight.T  # weight tying


model = GPT().double()
with torch.no_grad():
    for k, (name, p) in enumerate(model.named_parameters()):
        p.copy_(values(*p.shape, scale=0.3, offset=0.41 * k) + (1 if name.endswith("ln_1.weight") or
                name.endswith("ln_2.weight") or name.endswith("ln_f.weight") else 0))
ids = torch.tensor([[1, 5, 9, 3, 3], [0, 10, 2, 7, 4]])
targets = torch.tensor([[5, 9, 3, 3, 8], [10, 2, 7, 4, 6]])
logits = model(ids)
loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
loss.backward()
fixture = {"sizes": {"vocab": V, "n_embd": C, "n_head": NH, "n_layer": L, "block_size": T, "batch": B},
           "ids": ids.reshape(-1).tolist(), "targets": targets.reshape(-1).tolist(),
           "params": {n: p.detach().reshape(-1).tolist() for n, p in model.named_parameters()},
           "loss": loss.item(), "logits": logits.detach().reshape(-1).tolist(),
           "grads": {n: p.grad.reshape(-1).tolist() for n, p in model.named_parameters()}}
path = os.path.join(os.path.dirname(__file__), "..", "..", "models", "testdata", "torch_gpt.json")
with open(path, "w") as f:
    json.dump(fixture, f)
print("wrote", os.path.normpath(path))
