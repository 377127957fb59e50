"""Reference loss and gradients of the VAE of pytorch/examples/vae, for aigc's VAE.

A small instance (4x4 images, hidden 8, latent 2) with deterministic weights, inputs and
noise; writes models/testdata/torch_vae.json with its state_dict (names are the same in
aigc), the loss terms and every parameter's gradient. Run with Debian's python3-torch:

    /usr/bin/python3 scripts/torch/vae_fixture.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(1)


class VAE(nn.Module):  # pytorch/examples/vae/main.py, sizes as parameters
    def __init__(self, pixels, hidden, latent):
        super().__init__()
        self.fc1 = nn.Linear(pixels, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, pixels)

    def forward(self, x, eps):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + eps * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def values(n, offset):
    return torch.tensor([0.4 * math.sin(2.3 * i + offset) + 0.05 * math.cos(i * i + offset) for i in range(n)],
                        dtype=torch.float64)


pixels, hidden, latent, batch = 16, 8, 2, 3
model = VAE(pixels, hidden, latent).double()
with torch.no_grad():
    for k, (name, p) in enumerate(model.named_parameters()):
        p.copy_(values(p.numel(), k).reshape(p.shape))
x = values(batch * pixels, 10).abs().clamp(0, 1).reshape(batch, pixels)
eps = values(batch * latent, 11).reshape(batch, latent) * 3

logits, mu, logvar = model(x, eps)
bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), 1)
loss = (bce + kl).mean()  # the example sums over the batch; aigc reports the mean per image
loss.backward()


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


out = {
    "pixels": pixels, "hidden": hidden, "latent": latent, "batch": batch,
    "state_dict": {k: {"shape": list(v.shape), "values": flat(v)} for k, v in model.state_dict().items()},
    "x": flat(x), "eps": flat(eps),
    "loss": float(loss), "bce": float(bce.mean()), "kl": float(kl.mean()),
    "grads": {k: flat(p.grad) for k, p in model.named_parameters()},
    "torch_version": torch.__version__,
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "models", "testdata", "torch_vae.json")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path))
