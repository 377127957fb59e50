#!/usr/bin/python3
"""Load an aigc checkpoint into the PyTorch module it mirrors, and evaluate it there.

Reads the safetensors file with the standard library and numpy (the `safetensors`
package is not needed), loads the parameters into pytorch/examples/vae's VAE with
load_state_dict(strict=True), and prints its test loss per image computed by PyTorch:

    /usr/bin/python3 scripts/torch/load_checkpoint.py runs/vae/latest.safetensors [--trained]

A checkpoint of a run with a moving average of the weights (the VAE's default `ema`) holds
both; the average, which aigc evaluates and samples, is loaded unless --trained is given.
"""
import json
import struct
import sys

import numpy as np
import torch

from vae import VAE, images, test_loss


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    buf = data[8 + n:]
    tensors = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", e
        begin, end = e["data_offsets"]
        tensors[name] = torch.from_numpy(np.frombuffer(buf[begin:end], dtype="<f4").reshape(e["shape"]).copy())
    return tensors, meta


def main(path, trained=False):
    tensors, meta = read_safetensors(path)
    params = {k: v for k, v in tensors.items() if not k.startswith(("optim.", "ema."))}
    # A run with `ema` also saves the moving average of the weights it evaluates and samples.
    averaged = {k[len("ema."):]: v for k, v in tensors.items() if k.startswith("ema.")}
    if averaged and not trained:
        params = averaged
    model = VAE()
    model.load_state_dict(params, strict=True)
    torch.manual_seed(0)
    loss = test_loss(model, images("t10k-images-idx3-ubyte.gz"))
    print(json.dumps({"checkpoint": path, "family": meta.get("family"), "step": int(meta.get("step", 0)),
                      "pytorch_test_loss": loss}))


if __name__ == "__main__":
    main(sys.argv[1], trained="--trained" in sys.argv[2:])
