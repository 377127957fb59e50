"""aigc's DCGAN (configs/gan.yaml with arch: dcgan) in PyTorch, for side-by-side figures:
the same layers, initialisation defaults, optimiser and targets. Saves 10,000 samples in
[0, 1] as an N x 28 x 28 .npy for `aigc eval gan --images`.

    /usr/bin/python3 scripts/torch/dcgan.py --epochs 10 --channels 32 --out /tmp/torch_dcgan.npy
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


class Generator(nn.Module):
    def __init__(self, latent, c):
        super().__init__()
        self.c = c
        self.project = nn.Linear(latent, 2 * c * 49)
        self.bn0 = nn.BatchNorm2d(2 * c)
        self.up1 = nn.ConvTranspose2d(2 * c, c, 4, 2, 1)
        self.bn1 = nn.BatchNorm2d(c)
        self.up2 = nn.ConvTranspose2d(c, 1, 4, 2, 1)

    def forward(self, z):
        h = F.relu(self.bn0(self.project(z).view(-1, 2 * self.c, 7, 7)))
        h = F.relu(self.bn1(self.up1(h)))
        return torch.tanh(self.up2(h)).view(-1, 784)


class Discriminator(nn.Module):
    def __init__(self, c, slope, bn=True, dropout=0.0):
        super().__init__()
        self.c, self.slope = c, slope
        self.drop = nn.Dropout(dropout)
        self.conv1 = nn.Conv2d(1, c, 4, 2, 1)
        self.conv2 = nn.Conv2d(c, 2 * c, 4, 2, 1)
        self.bn2 = nn.BatchNorm2d(2 * c) if bn else nn.Identity()
        self.out = nn.Linear(2 * c * 49, 1)

    def forward(self, x):
        h = self.drop(F.leaky_relu(self.conv1(x.view(-1, 1, 28, 28)), self.slope))
        h = self.drop(F.leaky_relu(self.bn2(self.conv2(h)), self.slope))
        return self.out(h.view(len(x), -1))


def main(args):
    torch.manual_seed(args.seed)
    g, d = Generator(100, args.channels), Discriminator(args.channels, 0.2, args.d_bn, args.d_dropout)
    if args.init_std > 0:  # the DCGAN paper's N(0, std) weights, BN scales N(1, std)
        for m in list(g.modules()) + list(d.modules()):
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, 0, args.init_std)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1, args.init_std)
                nn.init.zeros_(m.bias)
    opt_g = torch.optim.Adam(g.parameters(), lr=args.lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=args.lr_d, betas=(0.5, 0.999))
    x_all = images("train-images-idx3-ubyte.gz") * 2 - 1
    for epoch in range(1, args.epochs + 1):
        start = time.time()
        perm = torch.randperm(len(x_all))
        for i in range(0, len(x_all), 64):
            x = x_all[perm[i:i + 64]]
            opt_d.zero_grad()
            real, fake = d(x), d(g(torch.randn(len(x), 100)).detach())
            loss_d = F.binary_cross_entropy_with_logits(real, torch.full_like(real, args.real_label)) + \
                F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            out = d(g(torch.randn(len(x), 100)))
            loss_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
            loss_g.backward()
            opt_g.step()
        print(json.dumps({"epoch": epoch, "loss_d": loss_d.item(), "loss_g": loss_g.item(),
                          "train_s": round(time.time() - start, 2)}), flush=True)
    g.train(not args.eval_mode)  # eval: BN's running statistics; train: the batch's
    with torch.no_grad():
        samples = torch.cat([(g(torch.randn(64, 100)) + 1) / 2 for _ in range(157)])[:10000]
    np.save(args.out, samples.reshape(-1, 28, 28).numpy().astype(np.float32))
    print("wrote", args.out)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--real-label", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr-g", type=float, default=2e-4)
    p.add_argument("--lr-d", type=float, default=2e-4)
    p.add_argument("--d-bn", type=int, default=1)
    p.add_argument("--d-dropout", type=float, default=0.0)
    p.add_argument("--init-std", type=float, default=0, help="0: PyTorch's default initialisation")
    p.add_argument("--eval-mode", type=int, default=1, help="sample with BN's running statistics (1) or batch statistics (0)")
    p.add_argument("--out", default="/tmp/torch_dcgan.npy")
    main(p.parse_args())
