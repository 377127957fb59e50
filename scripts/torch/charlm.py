"""aigc's Elman RNN and LSTM language models (configs/rnn.yaml, configs/lstm.yaml) in
PyTorch, on the same tiny Shakespeare split (first 90% of the characters to train, the rest
to validate), for side-by-side figures: `bench` times training steps like `aigc bench`,
`train` trains for a wall-clock budget and prints the validation loss (nats per character
over the whole split, windows from zero state, as `aigc eval`). One torch thread, the
fastest setting on a 2-core machine.

    /usr/bin/python3 scripts/torch/charlm.py bench rnn [--hidden 128] [--steps 100]
    /usr/bin/python3 scripts/torch/charlm.py train lstm --minutes 15
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


def corpus():
    text = open(CORPUS, encoding="utf-8").read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text])
    cut = int(len(text) * 0.9)
    return ids[:cut], ids[cut:], len(chars)


class RNN(nn.Module):  # the reference design's Elman cell, tanh on the hidden state
    def __init__(self, v, hidden):
        super().__init__()
        self.v, self.hidden = v, hidden
        self.i2h = nn.Linear(v + hidden, hidden)
        self.i2o = nn.Linear(v + hidden, v)

    def forward(self, ids):  # ids [T, B] -> logits [T, B, V]
        h = torch.zeros(ids.shape[1], self.hidden, device=ids.device)
        x = F.one_hot(ids, self.v).float()
        out = []
        for t in range(ids.shape[0]):
            combined = torch.cat([x[t], h], 1)
            out.append(self.i2o(combined))
            h = torch.tanh(self.i2h(combined))
        return torch.stack(out)


class LSTM(nn.Module):
    def __init__(self, v, embed, hidden, layers, dropout):
        super().__init__()
        self.embedding = nn.Embedding(v, embed)
        self.lstm = nn.LSTM(embed, hidden, layers, dropout=dropout if layers > 1 else 0)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, v)

    def forward(self, ids):
        out, _ = self.lstm(self.embedding(ids))
        return self.fc(self.drop(out))


def build(args, v):
    if args.model == "rnn":
        return RNN(v, args.hidden or 128)
    return LSTM(v, args.embed, args.hidden or 512, args.layers, args.dropout)


def batch(ids, b, t):
    starts = torch.randint(len(ids) - t - 1, (b,))
    w = torch.stack([ids[s:s + t + 1] for s in starts]).T.to(DEVICE)  # [T+1, B]
    return w[:-1], w[1:]


def step(model, opt, ids, args):
    x, y = batch(ids, args.batch_size, args.block_size)
    loss = F.cross_entropy(model(x).reshape(-1, model_vocab(model)), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
    opt.step()
    return loss.item()


def model_vocab(model):
    return model.v if isinstance(model, RNN) else model.fc.out_features


@torch.no_grad()
def evaluate(model, ids, args):
    model.eval()
    total, n, t = 0.0, 0, args.block_size
    starts = list(range(0, len(ids) - 1, t))
    for i in range(0, len(starts), args.batch_size):
        group = starts[i:i + args.batch_size]
        full = [s for s in group if s + t + 1 <= len(ids)]
        if full:
            w = torch.stack([ids[s:s + t + 1] for s in full]).T
            logits = model(w[:-1])
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[1:].reshape(-1), reduction="sum").item()
            n += w[1:].numel()
        for s in group:
            if s + t + 1 > len(ids):
                w = ids[s:].unsqueeze(1)
                logits = model(w[:-1])
                total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[1:].reshape(-1), reduction="sum").item()
                n += w[1:].numel()
    model.train()
    return total / n


def main(args):
    torch.manual_seed(args.seed)
    train_ids, val_ids, v = corpus()
    model = build(args, v).to(DEVICE)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    if args.cmd == "bench":
        for _ in range(args.warmup):
            step(model, opt, train_ids, args)
        sync()
        start = time.time()
        for _ in range(args.steps):
            step(model, opt, train_ids, args)
        sync()
        el = time.time() - start
        print(json.dumps({"model": args.model, "ms_per_step": round(1000 * el / args.steps, 2),
                          "tokens_per_s": round(args.steps * args.batch_size * args.block_size / el)}))
        return
    start, steps, next_eval = time.time(), 0, args.eval_every
    while time.time() - start < args.minutes * 60:
        loss = step(model, opt, train_ids, args)
        steps += 1
        if time.time() - start >= next_eval:
            print(json.dumps({"minutes": round((time.time() - start) / 60, 2), "step": steps, "train_loss": round(loss, 4)}), flush=True)
            next_eval += args.eval_every
    train_s = time.time() - start
    val = evaluate(model, val_ids, args)
    print(json.dumps({"model": args.model, "steps": steps, "train_s": round(train_s, 1), "val_loss": round(val, 4),
                      "tokens_per_s": round(steps * args.batch_size * args.block_size / train_s)}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["bench", "train"])
    p.add_argument("model", choices=["rnn", "lstm"])
    p.add_argument("--hidden", type=int, default=0, help="0: 128 for rnn, 512 for lstm")
    p.add_argument("--embed", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--block-size", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--minutes", type=float, default=15)
    p.add_argument("--eval-every", type=float, default=60, help="seconds between progress lines")
    p.add_argument("--seed", type=int, default=1)
    main(p.parse_args())
