"""The VAE of pytorch/examples/vae on the same MNIST files aigc embeds, for side-by-side
figures: `train` runs the example's 10 epochs and prints the test loss per image after
each; `bench` times training steps like `aigc bench vae`. Uses one torch thread, the
fastest setting on a 2-core machine (OpenBLAS already uses both cores).

    /usr/bin/python3 scripts/torch/vae.py train [--epochs 10] [--seed 1] [--ema 0.995]
    /usr/bin/python3 scripts/torch/vae.py bench [--steps 100]
"""
import argparse
import copy
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))  # 1: the fastest on a 2-core machine
DEVICE = torch.device(os.environ.get("TORCH_DEVICE", "cpu"))  # cuda: the GPU runs of scripts/gpu-check.sh


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "datasets", "mnist")


def images(name):
    with gzip.open(os.path.join(MNIST, name), "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    return torch.from_numpy(data.reshape(-1, 784).astype(np.float32) / 255)


class VAE(nn.Module):  # pytorch/examples/vae/main.py
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def loss_function(recon, x, mu, logvar):  # summed over the batch, as in the example
    bce = F.binary_cross_entropy(recon, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def test_loss(model, test_x):
    """The example's test loss: the negative ELBO per image, one sample of z each."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(test_x), 128):
            x = test_x[i:i + 128]
            recon, mu, logvar = model(x)
            total += loss_function(recon, x, mu, logvar).item()
    return total / len(test_x)


def train(args):
    torch.manual_seed(args.seed)
    train_x, test_x = images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    avg = copy.deepcopy(model) if args.ema > 0 else None  # aigc's `ema`: evaluate a moving average
    updates = 0
    for epoch in range(1, args.epochs + 1):
        start = time.time()
        model.train()
        perm = torch.randperm(len(train_x))
        for i in range(0, len(train_x), 128):  # the example's DataLoader keeps the last partial batch
            x = train_x[perm[i:i + 128]]
            opt.zero_grad()
            recon, mu, logvar = model(x)
            loss = loss_function(recon, x, mu, logvar)
            loss.backward()
            opt.step()
            if avg is not None:
                updates += 1
                d = min(args.ema, (1 + updates) / (10 + updates))  # the warm-up of graph.EMA
                with torch.no_grad():
                    for a, p in zip(avg.parameters(), model.parameters()):
                        a.mul_(d).add_(p, alpha=1 - d)
        took = time.time() - start
        rng = torch.get_rng_state()  # evaluation's noise must not change training's
        loss = test_loss(avg if avg is not None else model, test_x)
        torch.set_rng_state(rng)
        print(json.dumps({"epoch": epoch, "test_loss": loss, "train_s": round(took, 2)}), flush=True)


def bench(args):
    torch.manual_seed(args.seed)
    train_x = images("train-images-idx3-ubyte.gz").to(DEVICE)
    model = VAE().to(DEVICE)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(i):
        x = train_x[(i * 128) % 59904:(i * 128) % 59904 + 128]
        opt.zero_grad()
        recon, mu, logvar = model(x)
        loss_function(recon, x, mu, logvar).backward()
        opt.step()

    for i in range(args.warmup):
        step(i)
    sync()
    start = time.time()
    for i in range(args.steps):
        step(i)
    sync()
    took = time.time() - start
    flops = 2 * 128 * (784 * 400 + 2 * 400 * 20 + 20 * 400 + 400 * 784) * 3 - 2 * 128 * 784 * 400
    print(json.dumps({"framework": "pytorch " + torch.__version__, "threads": torch.get_num_threads(),
                      "ms_per_step": 1000 * took / args.steps, "samples_per_s": 128 * args.steps / took,
                      "gflops": flops * args.steps / took / 1e9}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["train", "bench"])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ema", type=float, default=0, help="evaluate a moving average of the weights (aigc's VAE: 0.995)")
    args = p.parse_args()
    train(args) if args.mode == "train" else bench(args)
