"""Reference values for aigc's encoder-decoder Transformer (models/transformer.go): a tiny
pre-norm model written out in PyTorch with aigc's parameter names and deterministic
weights, its teacher-forced loss on a padded batch and the gradient for every parameter.
Writes models/testdata/torch_transformer.json for models/transformer_test.go.

    /usr/bin/python3 scripts/torch/transformer_fixture.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
V, D, H, FF, S, T, B = 9, 8, 2, 16, 4, 5, 2


def values(*shape, scale=1.0, offset=0.0):
    n = math.prod(shape)
    v = [scale * math.sin(1.7 * i + offset) + 0.1 * math.cos(0.3 * i * i + offset) for i in range(n)]
    return torch.tensor(v, dtype=torch.float64).reshape(*shape)


shapes = {"embed.weight": (V, D)}
def linear(name, i, o):
    shapes[name + ".weight"], shapes[name + ".bias"] = (o, i), (o,)
def norm(name):
    shapes[name + ".weight"], shapes[name + ".bias"] = (D,), (D,)
for p in ["encoder.layers.0."]:
    norm(p + "norm1"); linear(p + "self_attn.in_proj", D, 3 * D); linear(p + "self_attn.out_proj", D, D)
    norm(p + "norm2"); linear(p + "linear1", D, FF); linear(p + "linear2", FF, D)
for p in ["decoder.layers.0."]:
    norm(p + "norm1"); linear(p + "self_attn.in_proj", D, 3 * D); linear(p + "self_attn.out_proj", D, D)
    norm(p + "norm2"); linear(p + "cross_attn.q_proj", D, D); linear(p + "cross_attn.kv_proj", D, 2 * D)
    linear(p + "cross_attn.out_proj", D, D); norm(p + "norm3"); linear(p + "linear1", D, FF); linear(p + "linear2", FF, D)
norm("encoder.norm"); norm("decoder.norm")
P = {}
for k, (name, shape) in enumerate(shapes.items()):
    v = values(*shape, scale=0.4, offset=0.37 * k)
    if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("norm3.weight") or name.endswith("norm.weight"):
        v = v + 1
    P[name] = v.requires_grad_(True)

lin = lambda x, n: x @ P[n + ".weight"].T + P[n + ".bias"]
ln = lambda x, n: F.layer_norm(x, (D,), P[n + ".weight"], P[n + ".bias"], 1e-5)


def pe(n):
    t = torch.zeros(n, D, dtype=torch.float64)
    for pos in range(n):
        for i in range(0, D, 2):
            a = pos / 10000 ** (i / D)
            t[pos, i], t[pos, i + 1] = math.sin(a), math.cos(a)
    return t


def attend(q, k, v, tq, tk, causal=False, key_mask=None):
    split = lambda x, t: x.view(B, t, H, D // H).transpose(1, 2)
    q, k, v = split(q, tq), split(k, tk), split(v, tk)
    att = q @ k.transpose(-2, -1) / math.sqrt(D // H)
    if causal:
        att = att.masked_fill(torch.ones(tq, tk).tril() == 0, float("-inf"))
    if key_mask is not None:
        att = att.masked_fill(key_mask[:, None, None, :] == 0, float("-inf"))
    return (att.softmax(-1) @ v).transpose(1, 2).reshape(B, tq, D)


src = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])
src_mask = torch.tensor([[1.0, 1, 1, 0], [1, 1, 0, 0]])
dec_in = torch.tensor([[1, 5, 4, 3, 0], [1, 7, 6, 0, 0]])
dec_out = torch.tensor([[5, 4, 3, 2, 0], [7, 6, 2, 0, 0]])
weights = torch.tensor([[1.0, 1, 1, 1, 0], [1, 1, 1, 0, 0]])

x = P["embed.weight"][src] * math.sqrt(D) + pe(S)
p = "encoder.layers.0."
q, k, v = lin(ln(x, p + "norm1"), p + "self_attn.in_proj").split(D, dim=2)
x = x + lin(attend(q, k, v, S, S, key_mask=src_mask), p + "self_attn.out_proj")
x = x + lin(F.relu(lin(ln(x, p + "norm2"), p + "linear1")), p + "linear2")
enc = ln(x, "encoder.norm")
y = P["embed.weight"][dec_in] * math.sqrt(D) + pe(T)
p = "decoder.layers.0."
q, k, v = lin(ln(y, p + "norm1"), p + "self_attn.in_proj").split(D, dim=2)
y = y + lin(attend(q, k, v, T, T, causal=True), p + "self_attn.out_proj")
q = lin(ln(y, p + "norm2"), p + "cross_attn.q_proj")
k, v = lin(enc, p + "cross_attn.kv_proj").split(D, dim=2)
y = y + lin(attend(q, k, v, T, S, key_mask=src_mask), p + "cross_attn.out_proj")
y = y + lin(F.relu(lin(ln(y, p + "norm3"), p + "linear1")), p + "linear2")
logits = ln(y, "decoder.norm") @ P["embed.weight"].T
ce = F.cross_entropy(logits.reshape(-1, V), dec_out.reshape(-1), reduction="none")
loss = (ce * weights.reshape(-1)).sum() / weights.sum()
loss.backward()

fixture = {"sizes": {"vocab": V, "d_model": D, "heads": H, "ff": FF, "src_len": S, "tgt_len": T, "batch": B},
           "source": src.reshape(-1).tolist(), "source_mask": src_mask.reshape(-1).tolist(),
           "dec_in": dec_in.reshape(-1).tolist(), "dec_out": dec_out.reshape(-1).tolist(),
           "target_mask": weights.reshape(-1).tolist(),
           "params": {n: t.detach().reshape(-1).tolist() for n, t in P.items()},
           "loss": loss.item(), "grads": {n: t.grad.reshape(-1).tolist() for n, t in P.items()}}
path = os.path.join(os.path.dirname(__file__), "..", "..", "models", "testdata", "torch_transformer.json")
with open(path, "w") as f:
    json.dump(fixture, f)
print("wrote", os.path.normpath(path))
