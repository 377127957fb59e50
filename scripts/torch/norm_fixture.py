"""Reference values for aigc's batch normalisation, max pooling and softmax cross-entropy.

Writes graph/testdata/torch_norm.json: for deterministic inputs, float64 BatchNorm2d and
BatchNorm1d in train mode (output, gradients of a weighted sum with respect to input,
weight and bias, running statistics after the step), then in eval mode (output and
gradients); F.max_pool2d (output and input gradient, with and without ties); and
F.cross_entropy with reduction='none' (loss and logits gradient, ordinary and ±1000
logits). graph/op_batchnorm_test.go, op_pool_test.go and op_xent_test.go rebuild the same
computations in aigc and compare. Run with Debian's python3-torch:

    /usr/bin/python3 scripts/torch/norm_fixture.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
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


def batchnorm(module, x, x_eval, r, r_eval):
    """One train-mode step and one eval-mode application of module, with the gradients of
    Σ out·r (and Σ out_eval·r_eval) with respect to input, weight and bias."""
    c = module.num_features
    module.double()
    with torch.no_grad():
        module.weight.copy_(1 + values(c, scale=0.5, offset=0.2))
        module.bias.copy_(values(c, scale=0.3, offset=0.3))
    start = {"running_mean": flat(module.running_mean), "running_var": flat(module.running_var)}
    weight, bias = flat(module.weight), flat(module.bias)

    module.train()
    x = leaf(x)
    y = module(x)
    (y * r).sum().backward()
    train = {
        "y": flat(y), "grad_x": flat(x.grad),
        "grad_weight": flat(module.weight.grad), "grad_bias": flat(module.bias.grad),
        "running_mean": flat(module.running_mean), "running_var": flat(module.running_var),
        "num_batches_tracked": int(module.num_batches_tracked),
    }

    module.eval()
    module.zero_grad()
    x_eval = leaf(x_eval)
    y_eval = module(x_eval)
    (y_eval * r_eval).sum().backward()
    evaluation = {
        "y": flat(y_eval), "grad_x": flat(x_eval.grad),
        "grad_weight": flat(module.weight.grad), "grad_bias": flat(module.bias.grad),
    }
    return {
        "shape": list(x.shape), "eval_shape": list(x_eval.shape),
        "momentum": module.momentum, "eps": module.eps,
        "x": flat(x), "r": flat(r), "x_eval": flat(x_eval), "r_eval": flat(r_eval),
        "weight": weight, "bias": bias, "start": start,
        "state_keys": list(module.state_dict().keys()),
        "train": train, "eval": evaluation,
    }


def channel_offsets(shape):
    """A different mean and scale per channel, so that normalising changes something."""
    c = shape[1]
    view = [1, c] + [1] * (len(shape) - 2)
    return torch.arange(c, dtype=torch.float64).reshape(view), (1 + 0.5 * torch.arange(c, dtype=torch.float64)).reshape(view)


out = {}

# BatchNorm2d with PyTorch's defaults, from freshly initialised running statistics.
shape = (4, 3, 5, 6)
shift, scale = channel_offsets(shape)
out["batchnorm2d"] = batchnorm(
    torch.nn.BatchNorm2d(3),
    values(*shape, scale=1.0, offset=0.1) * scale + shift,
    values(2, 3, 5, 6, scale=1.5, offset=0.5) + shift,
    values(*shape, offset=0.4), values(2, 3, 5, 6, offset=0.6))

# BatchNorm1d with another momentum and eps, from non-trivial running statistics.
bn1 = torch.nn.BatchNorm1d(5, momentum=0.3, eps=1e-3)
with torch.no_grad():
    bn1.running_mean.copy_(values(5, scale=0.2, offset=0.7))
    bn1.running_var.copy_(1 + 0.5 * values(5, offset=0.8).abs())
shape = (8, 5)
shift, scale = channel_offsets(shape)
out["batchnorm1d"] = batchnorm(
    bn1, values(*shape, offset=0.9) * scale - shift, values(3, 5, scale=2.0, offset=1.0),
    values(*shape, offset=1.1), values(3, 5, offset=1.2))

# Max pooling: overlapping windows on irregular values; then values rounded to halves, full
# of ties, with overlapping and with disjoint windows.
pools = []
for x, kernel, stride in (
        (values(2, 3, 7, 8, offset=1.3), 3, 2),
        (torch.round(values(1, 2, 6, 7, scale=2, offset=1.4) * 2) / 2, 3, 1),
        (torch.round(values(1, 2, 6, 7, scale=2, offset=1.5) * 2) / 2, 2, 2)):
    x = leaf(x)
    y = F.max_pool2d(x, kernel, stride)
    r = values(*y.shape, offset=1.6)
    (y * r).sum().backward()
    pools.append({"shape": list(x.shape), "kernel": kernel, "stride": stride,
                  "x": flat(x), "r": flat(r), "y": flat(y), "grad_x": flat(x.grad)})
out["maxpool"] = pools

# Softmax cross-entropy with integer targets.
xents = []
for logits, labels in (
        (values(6, 5, scale=3.0, offset=1.7), [0, 2, 4, 1, 3, 0]),
        (torch.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [-1000.0, -1000.0, -1000.0],
                       [1000.0, 1000.0, -1000.0]], dtype=torch.float64), [1, 2, 0, 0])):
    logits = leaf(logits)
    target = torch.tensor(labels)
    loss = F.cross_entropy(logits, target, reduction="none")
    w = values(len(labels), offset=1.8)
    (loss * w).sum().backward()
    xents.append({"shape": list(logits.shape), "logits": flat(logits), "labels": labels,
                  "w": flat(w), "loss": flat(loss), "grad": flat(logits.grad)})
out["xent"] = xents

out["torch_version"] = torch.__version__
path = os.path.join(os.path.dirname(__file__), "..", "..", "graph", "testdata", "torch_norm.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path))
