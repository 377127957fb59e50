"""The GPU check of aigc-cuda, for a machine with an NVIDIA GPU and no Go (run by
scripts/gpu-check.sh, which says how): everything it finds goes into one Markdown file.

  1. every GPU kernel against the CPU's op on random inputs (aigc-cuda devices --check:
     float32 relative error <= 1e-4);
  2. each family trained a few hundred steps on the GPU and on the CPU from one seed,
     matmul_precision=highest, the losses compared step by step;
  3. ms/step of each family on the GPU and on the CPU (aigc bench), beside the PyTorch
     twins (scripts/torch, TORCH_DEVICE=cuda) on the same GPU in the same run;
  4. the GPT with nanoGPT's GPU configuration for Shakespeare characters (6 layers, 6
     heads, 384 dims, block 256, batch 64, dropout 0.2, cosine to 5000 iterations): wall
     time and validation loss, within a time budget (the iterations reached are reported).

    python3 scripts/gpu_check.py [--bin bin/aigc-cuda] [--out gpu-check] [--gpu cuda]
        [--nanogpt-seconds 200] [--quick]

--gpu cpu --bin bin/aigc --quick runs the same steps with the CPU standing in for the GPU
(to try the script on a machine without one).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH = os.path.join(ROOT, "scripts", "torch")

# family: (aigc model, --set overrides, training steps for the loss comparison)
FAMILIES = {
    "vae": ("vae", [], 300),
    "gan": ("gan", ["eval_samples=500"], 300),
    "dcgan": ("gan", ["arch=dcgan", "eval_samples=500"], 60),
    "classifier": ("classifier", [], 150),
    "rnn": ("rnn", [], 300),
    "lstm": ("lstm", [], 60),
    "gpt": ("gpt", ["eval_iters=5", "eval_interval=1000"], 300),
    "transformer": ("transformer", [], 150),
}

# family: (bench steps, PyTorch twin command or None, the rate's key)
BENCH = {
    "vae": (200, ["vae.py", "bench", "--steps", "200", "--warmup", "10"], "samples_per_s"),
    "gan": (200, ["gan.py", "bench", "--steps", "200", "--warmup", "10"], "samples_per_s"),
    "dcgan": (50, None, "samples_per_s"),
    "rnn": (100, ["charlm.py", "bench", "rnn", "--steps", "100", "--warmup", "10"], "tokens_per_s"),
    "lstm": (50, ["charlm.py", "bench", "lstm", "--steps", "50", "--warmup", "5"], "tokens_per_s"),
    "gpt": (100, ["gpt.py", "bench", "--steps", "100"], "tokens_per_s"),
}

NANOGPT = ["n_layer=6", "n_head=6", "n_embd=384", "block_size=256", "batch_size=64", "dropout=0.2",
           "max_iters=5000", "lr_decay=cosine", "lr_decay_iters=5000", "min_lr=1e-4", "warmup_steps=100",
           "beta2=0.99", "eval_interval=500", "eval_iters=20"]
NANOGPT_TORCH = ["--n-layer", "6", "--n-head", "6", "--n-embd", "384", "--block-size", "256", "--batch-size", "64"]


class Report:
    def __init__(self, path):
        self.path = path
        self.f = open(path, "w")

    def line(self, s=""):
        print(s, flush=True)
        self.f.write(s + "\n")
        self.f.flush()

    def block(self, text):
        self.line("```")
        for s in text.rstrip("\n").split("\n"):
            self.line(s)
        self.line("```")


def run(cmd, timeout=None, env=None, check=False):
    """Runs cmd; returns (exit status, stdout, stderr, seconds)."""
    start = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
        code, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        code, out, err = 124, (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), "timed out"
    took = time.time() - start
    if check and code != 0:
        print(f"{' '.join(cmd)} failed ({code}): {err}", file=sys.stderr)
    return code, out, err, took


def last_json(text):
    i, j = text.find("{"), text.rfind("}")
    if i < 0 or j < i:
        return None
    try:
        return json.loads(text[i:j + 1])
    except json.JSONDecodeError:
        return None


def metrics(run_dir):
    """The training lines of a run's metrics.jsonl: step -> loss (the first loss key)."""
    out = {}
    try:
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            for line in f:
                m = json.loads(line)
                if "step" not in m or m.get("kind", "train") != "train":
                    continue
                for k in ("loss", "d_loss", "loss_d"):
                    if k in m:
                        out[m["step"]] = float(m[k])
                        break
    except OSError:
        pass
    return out


def find_python():
    """A python3 that has torch, preferring NVIDIA's where there is one; or None."""
    for py in (os.environ.get("PYTHON"), sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if py and os.path.exists(py) and run([py, "-c", "import torch"])[0] == 0:
            return py
    return None


def kernel_check(rep, a):
    rep.line("## 1. Every GPU kernel against the CPU's op")
    code, out, err, took = run([a.bin, "devices", "--check", "--device", a.gpu], timeout=240)
    lines = out.strip().split("\n")
    fails = [s for s in lines if "FAIL" in s]
    rep.line(f"`aigc-cuda devices --check` exit {code}, {took:.1f} s: {lines[-1] if lines else err.strip()}")
    rep.block("\n".join(fails[:40]) if fails else "(no case beyond 1e-4)")
    if code != 0 and not fails:
        rep.block(err)


def losses(rep, a):
    rep.line("## 2. Losses, GPU against CPU (same seed, matmul_precision=highest)")
    rep.line("| family | steps | first loss GPU / CPU | worst relative difference, first 10 logged | last loss GPU / CPU | GPU s | CPU s |")
    rep.line("|---|---|---|---|---|---|---|")
    for fam, (model, sets, steps) in FAMILIES.items():
        if a.quick:
            steps = max(4, steps // 50)
        row = {}
        for dev in (a.gpu, "cpu"):
            d = os.path.join(a.out, "runs", f"{fam}-{dev}")
            shutil.rmtree(d, ignore_errors=True)
            cmd = [a.bin, "train", model, "--device", dev, "--run", d, "--steps", str(steps), "-q", "--seed", "1",
                   "--set", "matmul_precision=highest", "--set", "log_every=1"]
            for s in sets:
                cmd += ["--set", s]
            code, out, err, took = run(cmd, timeout=300)
            row[dev] = (code, metrics(d), took, err.strip().split("\n")[-1] if code else "")
        (gc, gm, gt, ge), (cc, cm, ct, ce) = row[a.gpu], row["cpu"]
        if gc or cc or not gm or not cm:
            rep.line(f"| {fam} | {steps} | failed: GPU exit {gc} {ge}; CPU exit {cc} {ce} | | | {gt:.1f} | {ct:.1f} |")
            continue
        common = sorted(set(gm) & set(cm))
        worst = max(abs(gm[s] - cm[s]) / max(abs(cm[s]), 1e-6) for s in common[:10])
        f, l = common[0], common[-1]
        rep.line(f"| {fam} | {steps} | {gm[f]:.6g} / {cm[f]:.6g} | {worst:.2e} | {gm[l]:.5g} / {cm[l]:.5g} | {gt:.1f} | {ct:.1f} |")


def bench(rep, a):
    rep.line("## 3. ms/step, default configs: aigc on the GPU and the CPU, PyTorch on the GPU")
    rep.line("| family | aigc GPU ms/step | aigc CPU ms/step | PyTorch GPU ms/step | PyTorch / aigc on the GPU |")
    rep.line("|---|---|---|---|---|")
    py = find_python()
    for fam, (steps, twin, _) in BENCH.items():
        model, sets, _ = FAMILIES[fam]
        if a.quick:
            steps = 5
        ms = {}
        for dev in (a.gpu, "cpu"):
            n = steps if dev == a.gpu else max(5, steps // 10)
            cmd = [a.bin, "bench", model, "--device", dev, "--json", "-q", "--steps", str(n), "--warmup", "3"]
            for s in sets:
                cmd += ["--set", s]
            code, out, err, _ = run(cmd, timeout=240)
            res = last_json(out) if code == 0 else None
            ms[dev] = f"{res['ms_per_step']:.2f}" if res else f"failed ({err.strip().splitlines()[-1] if err.strip() else code})"
        tms = "-"
        ratio = "-"
        if twin and py:
            cmd = [py, os.path.join(TORCH, twin[0])] + twin[1:]
            if a.quick:
                cmd = [c if c not in ("200", "100", "50") else "5" for c in cmd]
            env = dict(os.environ, TORCH_DEVICE="cuda" if a.gpu.startswith("cuda") else "cpu")
            code, out, err, _ = run(cmd, timeout=240, env=env)
            res = last_json(out) if code == 0 else None
            if res:
                tms = f"{res['ms_per_step']:.2f}"
                try:
                    ratio = f"{res['ms_per_step'] / float(ms[a.gpu]):.2f}"
                except ValueError:
                    pass
            else:
                tms = f"failed ({err.strip().splitlines()[-1] if err.strip() else code})"
        rep.line(f"| {fam} | {ms[a.gpu]} | {ms['cpu']} | {tms} | {ratio} |")
    if not py:
        rep.line("(no PyTorch here: no python3 imports torch)")


def nanogpt(rep, a):
    rep.line("## 4. nanoGPT's GPU configuration for Shakespeare characters")
    sets = list(NANOGPT)
    if a.quick:
        sets = [s for s in sets if not s.startswith(("n_layer", "n_embd", "block_size", "batch_size"))]
        sets += ["n_layer=1", "n_embd=48", "block_size=32", "batch_size=4"]
    d = os.path.join(a.out, "runs", "nanogpt")
    shutil.rmtree(d, ignore_errors=True)
    cmd = [a.bin, "train", "gpt", "--device", a.gpu, "--run", d, "-q"]
    for s in sets:
        cmd += ["--set", s]
    # Past the budget, SIGINT: aigc saves the step it is on and exits 130.
    start = time.time()
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=a.nanogpt_seconds)
    except subprocess.TimeoutExpired:
        p.send_signal(2)
        out, err = p.communicate(timeout=60)
    took = time.time() - start
    m = metrics(d)
    last = max(m) if m else 0
    rep.line(f"`{' '.join(cmd[1:])}`")
    rep.line(f"exit {p.returncode}, {took:.0f} s wall, {last} of 5000 iterations"
             + (f", {1000 * took / last:.0f} ms/iteration with evaluations: 5000 would take {took / last * 5000 / 60:.1f} min" if last else ""))
    code, out, err, t2 = run([a.bin, "eval", "gpt", "--device", a.gpu, "--run", d, "--json", "-q"], timeout=180)
    res = last_json(out)
    rep.line(f"validation loss, whole split: {res.get('loss', res) if res else 'eval failed: ' + err.strip()} ({t2:.0f} s)"
             + " (nanoGPT documents 1.4697 after 5000 iterations, about 3 minutes on an A100)")
    py = find_python()
    if py:
        env = dict(os.environ, TORCH_DEVICE="cuda" if a.gpu.startswith("cuda") else "cpu")
        steps = "3" if a.quick else "20"
        tcmd = [py, os.path.join(TORCH, "gpt.py"), "bench", "--steps", steps] + NANOGPT_TORCH
        bcmd = [a.bin, "bench", "gpt", "--device", a.gpu, "--json", "-q", "--steps", steps, "--warmup", "3"]
        for s in NANOGPT:
            if s.startswith(("n_", "block_size", "batch_size", "dropout")):
                bcmd += ["--set", s]
        if a.quick:
            tcmd[tcmd.index("--batch-size") + 1] = "2"
            bcmd += ["--set", "batch_size=2"]
        _, tout, terr, _ = run(tcmd, timeout=240, env=env)
        _, bout, berr, _ = run(bcmd, timeout=240)
        t, b = last_json(tout), last_json(bout)
        rep.line(f"one step at this size: aigc {b['ms_per_step']:.1f} ms, PyTorch (eager, fp32, no dropout) {t['ms_per_step']:.1f} ms"
                 if t and b else f"step timing failed: {terr.strip()[-200:]} {berr.strip()[-200:]}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default="bin/aigc-cuda")
    p.add_argument("--out", default=os.environ.get("OUT", "gpu-check"))
    p.add_argument("--gpu", default="cuda", help="the device under test (cpu: a dry run)")
    p.add_argument("--nanogpt-seconds", type=float, default=200)
    p.add_argument("--quick", action="store_true", help="a few steps of everything")
    p.add_argument("--only", default="1234", help="the sections to run")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rep = Report(os.path.join(a.out, "gpu-check.md"))
    start = time.time()
    rep.line(f"# aigc-cuda GPU check, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    for cmd in (["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                [a.bin, "version"], [a.bin, "devices"]):
        if shutil.which(cmd[0]) or os.path.exists(cmd[0]):
            code, out, err, _ = run(cmd, timeout=60)
            rep.block(f"$ {' '.join(cmd)}\n{out}{err}")
    sections = {"1": kernel_check, "2": losses, "3": bench, "4": nanogpt}
    for s in a.only:
        t = time.time()
        try:
            sections[s](rep, a)
        except Exception as e:  # a section's failure is a finding, not the end of the check
            rep.line(f"section {s} failed: {e!r}")
        rep.line(f"({time.time() - t:.0f} s)")
        rep.line()
    rep.line(f"total {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
