"""Reference values for aigc's Transformer building blocks: LayerNorm and GELU.

Writes graph/testdata/torch_blocks.json: float64 nn.LayerNorm (eps 1e-5, with weight and
bias) and nn.GELU() (exact, erf) on deterministic inputs, the outputs and the gradients of
Σ out·r with respect to every input. graph/op_layernorm_test.go compares aigc's Ops.

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

path = os.path.join(os.path.dirname(__file__), "..", "..", "graph", "testdata", "torch_blocks.json")
with open(path, "w") as f:
    json.dump({"layernorm": layernorm, "gelu": gelu}, f, indent=1)
print("wrote", os.path.normpath(path))
