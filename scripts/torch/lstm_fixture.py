"""Reference values for aigc's embedding, LSTM cell and cross-entropy, as the LSTM language
model composes them.

Writes graph/testdata/torch_lstm.json: float64 nn.Embedding -> 2-layer nn.LSTM (from given
h0, c0) -> nn.Linear -> F.cross_entropy (mean over every step and row), with deterministic
weights; the loss, the final states and the gradient of the loss with respect to every
parameter and to h0 and c0. graph/recurrent_test.go rebuilds the same computation with
aigc's Ops and compares. Run with Debian's python3-torch:

    /usr/bin/python3 scripts/torch/lstm_fixture.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(1)
V, E, H, L, B, T = 7, 4, 5, 2, 2, 3


def values(*shape, scale=1.0, offset=0.0):
    n = math.prod(shape)
    v = [scale * math.sin(1.7 * i + offset) + 0.1 * math.cos(0.3 * i * i + offset) for i in range(n)]
    return torch.tensor(v, dtype=torch.float64).reshape(*shape)


def flat(t):
    return [float(x) for x in t.detach().reshape(-1)]


emb, lstm, fc = nn.Embedding(V, E).double(), nn.LSTM(E, H, L).double(), nn.Linear(H, V).double()
params = {}
with torch.no_grad():
    for k, (name, p) in enumerate([("embedding.weight", emb.weight)] +
                                  [("lstm." + n, p) for n, p in lstm.named_parameters()] +
                                  [("fc." + n, p) for n, p in fc.named_parameters()]):
        p.copy_(values(*p.shape, scale=0.6, offset=0.37 * k))
        params[name] = p
ids = torch.tensor([[1, 6], [3, 3], [0, 5]])          # [T, B]
targets = torch.tensor([[2, 0], [6, 1], [3, 3]])      # [T, B]
h0 = values(L, B, H, scale=0.4, offset=5.0).requires_grad_(True)
c0 = values(L, B, H, scale=0.7, offset=6.0).requires_grad_(True)

out, (hT, cT) = lstm(emb(ids), (h0, c0))              # out: [T, B, H]
logits = fc(out)
loss = F.cross_entropy(logits.reshape(T * B, V), targets.reshape(-1))
loss.backward()

fixture = {
    "sizes": {"vocab": V, "embed": E, "hidden": H, "layers": L, "batch": B, "steps": T},
    "ids": flat(ids), "targets": flat(targets),
    "params": {n: flat(p) for n, p in params.items()},
    "h0": flat(h0), "c0": flat(c0),
    "loss": loss.item(), "logits": flat(logits), "h_t": flat(hT), "c_t": flat(cT),
    "grads": {n: flat(p.grad) for n, p in params.items()},
    "grad_h0": flat(h0.grad), "grad_c0": flat(c0.grad),
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "graph", "testdata", "torch_lstm.json")
with open(path, "w") as f:
    json.dump(fixture, f, indent=1)
print("wrote", os.path.normpath(path))
