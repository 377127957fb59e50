"""The MLP GAN of aigc's configs/gan.yaml in PyTorch, for side-by-side figures.

`train` trains it on the MNIST files aigc embeds and saves 10,000 samples in [0, 1] as an
N x 28 x 28 float32 .npy, which `aigc eval gan --images FILE.npy` scores with aigc's
metric; `bench` times training steps like `aigc bench gan`. One torch thread, the fastest
setting on a 2-core machine.

    /usr/bin/python3 scripts/torch/gan.py train --epochs 30 --out /tmp/torch_gan.npy
    /usr/bin/python3 scripts/torch/gan.py train --reference ...   # ReLU D, Adam betas (0.9, 0.999), hard labels
    /usr/bin/python3 scripts/torch/gan.py bench
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vae import images

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))  # 1: the fastest on a 2-core machine
DEVICE = torch.device(os.environ.get("TORCH_DEVICE", "cpu"))  # cuda: the GPU runs of scripts/gpu-check.sh


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


class Generator(nn.Module):
    def __init__(self, latent, hidden):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(latent, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, 784)

    def forward(self, z):
        return torch.tanh(self.fc3(F.relu(self.fc2(F.relu(self.fc1(z))))))


class Discriminator(nn.Module):
    def __init__(self, hidden, slope, dropout):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, 1)
        self.act = (lambda x: F.leaky_relu(x, slope)) if slope > 0 else F.relu
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.fc3(self.drop(self.act(self.fc2(self.drop(self.act(self.fc1(x)))))))


def setup(args):
    torch.manual_seed(args.seed)
    g, d = Generator(100, 256), Discriminator(256, 0 if args.reference else 0.2, 0 if args.reference else args.dropout)
    g, d = g.to(DEVICE), d.to(DEVICE)
    betas = (0.9, 0.999) if args.reference else (0.5, 0.999)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=betas)
    real_label = 1.0 if args.reference else 0.9
    return g, d, opt_g, opt_d, real_label


def step(g, d, opt_g, opt_d, real_label, x):
    b = len(x)
    z = torch.randn(b, 100, device=x.device)
    opt_d.zero_grad()
    real, fake = d(x), d(g(z).detach())
    loss_d = F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_label)) + \
        F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    out = d(g(torch.randn(b, 100, device=x.device)))
    loss_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
    loss_g.backward()
    opt_g.step()
    return loss_d.item(), loss_g.item()


def train(args):
    g, d, opt_g, opt_d, real_label = setup(args)
    x_all = images("train-images-idx3-ubyte.gz") * 2 - 1
    for epoch in range(1, args.epochs + 1):
        start = time.time()
        perm = torch.randperm(len(x_all))
        for i in range(0, len(x_all), 64):
            loss_d, loss_g = step(g, d, opt_g, opt_d, real_label, x_all[perm[i:i + 64]])
        print(json.dumps({"epoch": epoch, "loss_d": loss_d, "loss_g": loss_g, "train_s": round(time.time() - start, 2)}),
              flush=True)
        if args.snapshot_every and epoch % args.snapshot_every == 0 and epoch < args.epochs:
            save_samples(g, args.out.replace(".npy", "_epoch%03d.npy" % epoch))
    save_samples(g, args.out)


def save_samples(g, path):
    """10,000 samples in [0, 1] as an N x 28 x 28 float32 .npy."""
    with torch.no_grad():
        samples = (g(torch.randn(10000, 100)) + 1) / 2
    np.save(path, samples.reshape(-1, 28, 28).numpy().astype(np.float32))
    print("wrote", path, flush=True)


def bench(args):
    g, d, opt_g, opt_d, real_label = setup(args)
    x_all = (images("train-images-idx3-ubyte.gz") * 2 - 1).to(DEVICE)
    for i in range(args.warmup):
        step(g, d, opt_g, opt_d, real_label, x_all[i * 64:(i + 1) * 64])
    sync()
    start = time.time()
    for i in range(args.steps):
        step(g, d, opt_g, opt_d, real_label, x_all[i * 64:(i + 1) * 64])
    sync()
    took = time.time() - start
    print(json.dumps({"framework": "pytorch " + torch.__version__, "ms_per_step": 1000 * took / args.steps,
                      "samples_per_s": 64 * args.steps / took}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["train", "bench"])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--reference", action="store_true", help="the reference design's settings")
    p.add_argument("--dropout", type=float, default=0.3, help="dropout after D's hidden layers")
    p.add_argument("--out", default="/tmp/torch_gan.npy")
    p.add_argument("--snapshot-every", type=int, default=0, help="also save samples every N epochs")
    args = p.parse_args()
    train(args) if args.mode == "train" else bench(args)
