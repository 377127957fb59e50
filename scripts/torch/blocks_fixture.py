"""Reference values for aigc's Transformer building blocks: LayerNorm, GELU and
multi-head attention.

Writes graph/testdata/torch_blocks.json: float64 nn.LayerNorm (eps 1e-5, with weight and
bias), nn.GELU() (exact, erf) and multi-head attention (GPT's causal self-attention on one
[B·T, 3C] q|k|v matrix; cross-attention to [B·S, 2C] keys|values with padding masked) on
deterministic inputs: the outputs and the gradients of Σ out·r with respect to every input.
graph/op_layernorm_test.go and op_attention_test.go compare aigc's Ops.

    /usr/bin/python3 scripts/torch/blocks_fixture.py
"""
import json
import math
import os

import torch
from torch import nn

torch.set_num_threads(1)


def values(*shape, scale=1.0, offset=0.0):
    n = math.prod(shape)
    v = [scale * math.sin(1.7 * i + offset) + 0.1 * math.cos(0.3 * i * i + offset) for i in range(n)]
    return torch.tensor(v, dtype=torch.float64).reshape(*shape)


def flat(t):
    return [float(x) for x in t.detach().reshape(-1)]


n, d = 5, 8
ln = nn.LayerNorm(d).double()
with torch.no_grad():
    ln.weight.copy_(1 + values(d, scale=0.3, offset=1.0))
    ln.bias.copy_(values(d, scale=0.2, offset=2.0))
x = (values(n, d, scale=2.0, offset=0.5) + 3).requires_grad_(True)
r = values(n, d, offset=4.0)
y = ln(x)
(y * r).sum().backward()
layernorm = {"x": flat(x), "weight": flat(ln.weight), "bias": flat(ln.bias), "r": flat(r), "y": flat(y),
             "grad_x": flat(x.grad), "grad_weight": flat(ln.weight.grad), "grad_bias": flat(ln.bias.grad)}

xg = (values(4, 9, scale=3.0, offset=0.7)).requires_grad_(True)
rg = values(4, 9, offset=5.0)
yg = nn.GELU()(xg)
(yg * rg).sum().backward()
gelu = {"x": flat(xg), "r": flat(rg), "y": flat(yg), "grad_x": flat(xg.grad)}

def attention(q, k, v, heads, causal=False, key_mask=None):
    """q [B, Tq, C], k and v [B, Tk, C] -> [B, Tq, C], written out as nanoGPT does."""
    b, tq, c = q.shape
    tk = k.shape[1]
    split = lambda x, t: x.view(b, t, heads, c // heads).transpose(1, 2)
    q, k, v = split(q, tq), split(k, tk), split(v, tk)
    att = (q @ k.transpose(-2, -1)) / math.sqrt(c // heads)
    if causal:
        att = att.masked_fill(torch.ones(tq, tk).tril() == 0, float("-inf"))
    if key_mask is not None:
        att = att.masked_fill(key_mask[:, None, None, :] == 0, float("-inf"))
    return (att.softmax(-1) @ v).transpose(1, 2).reshape(b, tq, c)


B, T, C, NH = 2, 5, 8, 2
qkv = values(B * T, 3 * C, scale=1.5, offset=0.3).requires_grad_(True)
ra = values(B * T, C, offset=7.0)
q, k, v = qkv.view(B, T, 3 * C).split(C, dim=2)
ya = attention(q, k, v, NH, causal=True).reshape(B * T, C)
(ya * ra).sum().backward()
self_attn = {"qkv": flat(qkv), "r": flat(ra), "y": flat(ya), "grad_qkv": flat(qkv.grad)}

S = 4
qc = values(B * T, C, scale=1.2, offset=1.1).requires_grad_(True)
kv = values(B * S, 2 * C, scale=1.3, offset=2.2).requires_grad_(True)
mask = torch.tensor([[1.0, 1, 1, 0], [1, 1, 1, 1]])
rc = values(B * T, C, offset=8.0)
kc, vc = kv.view(B, S, 2 * C).split(C, dim=2)
yc = attention(qc.view(B, T, C), kc, vc, NH, key_mask=mask).reshape(B * T, C)
(yc * rc).sum().backward()
cross_attn = {"q": flat(qc), "kv": flat(kv), "mask": flat(mask), "r": flat(rc), "y": flat(yc),
              "grad_q": flat(qc.grad), "grad_kv": flat(kv.grad)}

path = os.path.join(os.path.dirname(__file__), "..", "..", "graph", "testdata", "torch_blocks.json")
with open(path, "w") as f:
    json.dump({"layernorm": layernorm, "gelu": gelu, "self_attention": self_attn,
               "cross_attention": cross_attn}, f, indent=1)
print("wrote", os.path.normpath(path))
