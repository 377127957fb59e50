"""Reference values for aigc's convolutions, computed with PyTorch.

Writes graph/testdata/torch_conv.json: for a few configurations of F.conv2d and
F.conv_transpose2d (with bias), the inputs, the outputs and the gradients of
loss = sum(y * r) with respect to the input, the weight and the bias. graph/op_conv_test.go
rebuilds the same computations in aigc (float64 and float32) and compares. Run with
Debian's python3-torch:

    /usr/bin/python3 scripts/torch/conv_fixture.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_num_threads(1)


def values(*shape, scale=1.0, offset=0.0):
    """Deterministic, irregular values (no RNG needed to reproduce them)."""
    n = math.prod(shape)
    v = [scale * math.sin(1.7 * i + offset) + 0.1 * math.cos(0.3 * i * i + offset) for i in range(n)]
    return torch.tensor(v, dtype=torch.float64).reshape(*shape)


def leaf(t):
    return t.clone().requires_grad_(True)


def flat(t):
    return [float(x) for x in t.detach().reshape(-1)]


# kind, batch, in channels, out channels, height, width, kernel, stride, padding
CASES = [
    ("conv", 2, 3, 4, 7, 7, 4, 2, 1),  # DCGAN-style, kernel does not tile 7+2 exactly
    ("conv", 2, 3, 2, 8, 8, 4, 2, 1),  # DCGAN-style, exact
    ("conv", 2, 2, 3, 6, 5, 3, 1, 1),  # classifier-style, non-square image
    ("conv", 1, 2, 2, 5, 6, 2, 3, 0),  # stride larger than the kernel
    ("conv_transpose", 2, 3, 2, 4, 3, 4, 2, 1),  # DCGAN generator-style, doubles the size
    ("conv_transpose", 2, 2, 3, 5, 4, 3, 1, 1),  # same size
    ("conv_transpose", 2, 2, 2, 3, 3, 3, 2, 0),  # odd output, no padding
]

out = {"cases": []}
for i, (kind, n, cin, cout, h, w, k, stride, pad) in enumerate(CASES):
    x = leaf(values(n, cin, h, w, scale=1.0, offset=0.1 + i))
    if kind == "conv":
        wt = leaf(values(cout, cin, k, k, scale=0.5, offset=0.2 + i))
    else:
        wt = leaf(values(cin, cout, k, k, scale=0.5, offset=0.2 + i))
    b = leaf(values(cout, scale=0.3, offset=0.3 + i))
    if kind == "conv":
        y = F.conv2d(x, wt, b, stride=stride, padding=pad)
    else:
        y = F.conv_transpose2d(x, wt, b, stride=stride, padding=pad)
    r = values(*y.shape, scale=0.8, offset=0.4 + i)
    (y * r).sum().backward()
    out["cases"].append({
        "kind": kind, "n": n, "cin": cin, "cout": cout, "h": h, "w": w,
        "k": k, "stride": stride, "pad": pad, "y_shape": list(y.shape),
        "x": flat(x), "weight": flat(wt), "bias": flat(b), "r": flat(r), "y": flat(y),
        "grad_x": flat(x.grad), "grad_weight": flat(wt.grad), "grad_bias": flat(b.grad),
    })

out["torch_version"] = torch.__version__
path = os.path.join(os.path.dirname(__file__), "..", "..", "graph", "testdata", "torch_conv.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path))
