"""Reference losses and gradients of aigc's MLP GAN steps, computed with PyTorch.

A small instance (2x2 images, latent 3, hidden 4, batch 3) with deterministic weights,
images and noise, aigc's default leaky ReLU (0.2) and label smoothing (real target 0.9).
Writes models/testdata/torch_gan.json: the state_dict (names as in aigc), the
discriminator step's loss and D's gradients, the generator step's loss and G's gradients.

    /usr/bin/python3 scripts/torch/gan_fixture.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(1)


class Generator(nn.Module):
    def __init__(self, latent, hidden, pixels):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(latent, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, pixels)

    def forward(self, z):
        return torch.tanh(self.fc3(F.relu(self.fc2(F.relu(self.fc1(z))))))


class Discriminator(nn.Module):
    def __init__(self, hidden, pixels):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(pixels, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, 1)

    def forward(self, x):
        return self.fc3(F.leaky_relu(self.fc2(F.leaky_relu(self.fc1(x), 0.2)), 0.2))


class GAN(nn.Module):
    def __init__(self):
        super().__init__()
        self.generator, self.discriminator = Generator(3, 4, 4), Discriminator(4, 4)


def values(n, offset, scale=0.6):
    return torch.tensor([scale * math.sin(1.9 * i + offset) + 0.1 * math.cos(i * i + offset) for i in range(n)],
                        dtype=torch.float64)


gan = GAN().double()
with torch.no_grad():
    for k, (name, p) in enumerate(gan.named_parameters()):
        p.copy_(values(p.numel(), k).reshape(p.shape))
x = values(12, 20, 0.9).reshape(3, 4)
z_d, z_g = values(9, 21, 1.5).reshape(3, 3), values(9, 22, 1.5).reshape(3, 3)
G, D = gan.generator, gan.discriminator

real, fake = D(x), D(G(z_d).detach())
loss_d = F.binary_cross_entropy_with_logits(real, torch.full_like(real, 0.9)) + \
    F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
loss_d.backward()
grads_d = {"discriminator." + k: [float(v) for v in p.grad.reshape(-1)] for k, p in D.named_parameters()}
gan.zero_grad()
out = D(G(z_g))
loss_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
loss_g.backward()
grads_g = {"generator." + k: [float(v) for v in p.grad.reshape(-1)] for k, p in G.named_parameters()}


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


result = {
    "state_dict": {k: flat(v) for k, v in gan.state_dict().items()},
    "x": flat(x), "z_d": flat(z_d), "z_g": flat(z_g),
    "loss_d": float(loss_d), "loss_g": float(loss_g), "grads_d": grads_d, "grads_g": grads_g,
    "torch_version": torch.__version__,
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "models", "testdata", "torch_gan.json")
with open(path, "w") as f:
    json.dump(result, f, indent=1)
print("wrote", os.path.normpath(path))
