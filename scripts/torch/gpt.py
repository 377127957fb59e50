"""nanoGPT's model and training loop on the same tiny Shakespeare characters, for
side-by-side figures with `aigc train gpt` (same config: 4 layers, 4 heads, 128 dims,
block 64, batch 12, dropout 0, no biases, AdamW lr 1e-3 betas (0.9, 0.99) weight decay
0.1 on matrices, 100 warm-up iterations, then 1e-3 until 1600 and linearly to 1e-4 at 2000
(aigc's wsd; --lr-decay cosine: nanoGPT's cosine to 1e-4 at 2000), clip 1.0). `train` prints
the validation loss over the whole split (windows of 64, as `aigc eval gpt`) and the
training wall time; `bench` times training steps. One torch thread.

    /usr/bin/python3 scripts/torch/gpt.py train [--max-iters 2000] [--seed 1] [--lr-decay wsd|cosine]
    /usr/bin/python3 scripts/torch/gpt.py bench [--steps 50]
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))  # 1: the fastest on a 2-core machine
DEVICE = torch.device(os.environ.get("TORCH_DEVICE", "cpu"))  # cuda: the GPU runs of scripts/gpu-check.sh


def sync():
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "datasets", "text", "tinyshakespeare.txt")


class Block(nn.Module):
    def __init__(self, c, nh):
        super().__init__()
        self.nh = nh
        self.ln_1, self.ln_2 = nn.LayerNorm(c, elementwise_affine=True), nn.LayerNorm(c)
        self.ln_1.bias, self.ln_2.bias = None, None
        self.c_attn, self.c_proj = nn.Linear(c, 3 * c, bias=False), nn.Linear(c, c, bias=False)
        self.c_fc, self.mlp_proj = nn.Linear(c, 4 * c, bias=False), nn.Linear(4 * c, c, bias=False)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        sh = lambda z: z.view(b, t, self.nh, c // self.nh).transpose(1, 2)
        q, k, v = sh(q), sh(k), sh(v)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(c // self.nh)
        att = att.masked_fill(torch.ones(t, t, device=x.device).tril() == 0, float("-inf")).softmax(-1)
        x = x + self.c_proj((att @ v).transpose(1, 2).reshape(b, t, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, v, block, c=128, nh=4, layers=4):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(v, c), nn.Embedding(block, c)
        self.h = nn.ModuleList([Block(c, nh) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(c)
        self.ln_f.bias = None
        for n, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0, 0.02 / math.sqrt(2 * layers) if n.endswith("c_proj.weight") or n.endswith("mlp_proj.weight") else 0.02)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for b in self.h:
            x = b(x)
        return self.ln_f(x) @ self.wte.weight.T


def lr_at(it, args):
    if it < 100:
        return 1e-3 * (it + 1) / 100
    if args.lr_decay == "wsd":  # aigc's default: constant, then linearly to 1e-4 over the last 20%
        return 1e-3 - min(1, max(0, it - 1600) / 400) * (1e-3 - 1e-4)
    ratio = min(1, (it - 100) / (2000 - 100))  # nanoGPT's cosine
    return 1e-4 + 0.5 * (1 + math.cos(math.pi * ratio)) * (1e-3 - 1e-4)


def main(args):
    torch.manual_seed(args.seed)
    text = open(CORPUS, encoding="utf-8").read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text])
    cut = int(len(text) * 0.9)
    train_ids, val_ids = ids[:cut], ids[cut:]
    model = GPT(len(chars), args.block_size, args.n_embd, args.n_head, args.n_layer).to(DEVICE)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "wte" not in n and "wpe" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "wte" not in n and "wpe" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))

    def step(it):
        t = args.block_size + 1
        starts = torch.randint(len(train_ids) - t, (args.batch_size,))
        w = torch.stack([train_ids[s:s + t] for s in starts]).to(DEVICE)
        loss = F.cross_entropy(model(w[:, :-1]).reshape(-1, len(chars)), w[:, 1:].reshape(-1))
        for g in opt.param_groups:
            g["lr"] = lr_at(it, args)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    if args.cmd == "bench":
        for it in range(5):
            step(it)
        sync()
        start = time.time()
        for it in range(args.steps):
            step(it)
        sync()
        el = time.time() - start
        print(json.dumps({"ms_per_step": round(1000 * el / args.steps, 2),
                          "tokens_per_s": round(args.steps * args.batch_size * args.block_size / el)}))
        return
    start = time.time()
    for it in range(args.max_iters):
        loss = step(it)
        if it % 250 == 0:
            print(json.dumps({"iter": it, "loss": round(loss, 4), "s": round(time.time() - start, 1)}), flush=True)
    train_s = time.time() - start
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        t, b = args.block_size, args.batch_size
        for s in range(0, len(val_ids) - 1, t * b):
            rows = [val_ids[o:o + t + 1] for o in range(s, min(s + t * b, len(val_ids) - 1), t)]
            for w in rows:  # the last window may be short
                w = w.to(DEVICE)
                logits = model(w[:-1].unsqueeze(0))
                total += F.cross_entropy(logits[0], w[1:], reduction="sum").item()
                n += len(w) - 1
    print(json.dumps({"train_s": round(train_s, 1), "val_loss": round(total / n, 4), "val_tokens": n}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["train", "bench"])
    p.add_argument("--max-iters", type=int, default=2000)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--lr-decay", choices=["wsd", "cosine"], default="wsd")
    # the model's size (defaults: aigc's gpt.yaml; nanoGPT's GPU run: 6, 6, 384, 256, 64)
    p.add_argument("--n-layer", type=int, default=4)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=12)
    main(p.parse_args())
