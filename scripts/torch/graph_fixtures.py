"""Reference values for aigc's graph layers, computed with PyTorch.

Writes graph/testdata/torch_layers.json: inputs, outputs and gradients of a small network
made of the layers aigc implements (Linear, ReLU, LeakyReLU, Tanh, Sigmoid, BCE with
logits, the Gaussian KL term) and three Adam steps. graph/torch_test.go rebuilds the same
computations in aigc and compares. Run with Debian's python3-torch:

    /usr/bin/python3 scripts/torch/graph_fixtures.py
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


out = {}

# A two-layer network with every activation and the VAE's losses.
x = leaf(values(4, 6, scale=1.0, offset=0.1))
w1, b1 = leaf(values(5, 6, scale=0.5, offset=0.2)), leaf(values(5, scale=0.3, offset=0.3))
w2, b2 = leaf(values(6, 5, scale=0.7, offset=0.4)), leaf(values(6, scale=0.2, offset=0.5))
target = values(4, 6, scale=0.5, offset=0.6).abs().clamp(0, 1)
mu, logvar = leaf(values(4, 3, offset=0.7)), leaf(values(4, 3, scale=0.8, offset=0.8))

h = F.linear(x, w1, b1)
relu, leaky, tanh, sig = F.relu(h), F.leaky_relu(h, 0.2), torch.tanh(h), torch.sigmoid(h)
mix = relu + 0.5 * leaky + 0.25 * tanh + 0.125 * sig
logits = F.linear(mix, w2, b2)
bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1)
kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
loss = (bce + kl).mean()
loss.backward()

out["net"] = {
    "x": flat(x), "w1": flat(w1), "b1": flat(b1), "w2": flat(w2), "b2": flat(b2),
    "target": flat(target), "mu": flat(mu), "logvar": flat(logvar),
    "bce": flat(bce), "kl": flat(kl), "loss": float(loss),
    "grad_x": flat(x.grad), "grad_w1": flat(w1.grad), "grad_b1": flat(b1.grad),
    "grad_w2": flat(w2.grad), "grad_b2": flat(b2.grad),
    "grad_mu": flat(mu.grad), "grad_logvar": flat(logvar.grad),
}

# BCE with large logits: stable, finite, and its gradient is sigmoid(l) - t.
big = leaf(torch.tensor([[-100.0, -30.0, 0.0, 30.0, 100.0]], dtype=torch.float64))
t = torch.tensor([[0.0, 1.0, 0.5, 0.0, 1.0]], dtype=torch.float64)
bb = F.binary_cross_entropy_with_logits(big, t, reduction="none").sum(1)
bb.sum().backward()
out["bce_extreme"] = {"logits": flat(big), "target": flat(t), "bce": flat(bb), "grad": flat(big.grad)}

# Three Adam steps, float32 as aigc runs them.
p = torch.nn.Parameter(values(7, scale=1.0, offset=0.9).float())
opt = torch.optim.Adam([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
grads = [values(7, scale=s, offset=o).float() for s, o in ((1.0, 1.0), (0.01, 1.1), (5.0, 1.2))]
start = flat(p)
for g in grads:
    opt.zero_grad()
    p.grad = g.clone()
    opt.step()
state = opt.state[p]
out["adam"] = {
    "lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
    "start": start, "grads": [flat(g) for g in grads], "final": flat(p),
    "exp_avg": flat(state["exp_avg"]), "exp_avg_sq": flat(state["exp_avg_sq"]),
}

out["torch_version"] = torch.__version__
path = os.path.join(os.path.dirname(__file__), "..", "..", "graph", "testdata", "torch_layers.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path))
