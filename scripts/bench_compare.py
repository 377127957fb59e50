"""Training throughput of aigc beside its PyTorch twins, measured in one run on one
machine: `make bench-compare` runs this.

For each model (vae, gan, rnn, lstm, gpt, the default configs) it alternates
`aigc bench MODEL --json` and the PyTorch script of the same model and recipe
(scripts/torch), ROUNDS times each, and reports the median samples or tokens per second,
each process's peak resident memory and the ratio. PyTorch runs at its fastest thread
setting, chosen in a first calibration round (1 or 2 torch threads), and with the OpenBLAS
kernels aigc uses (OPENBLAS_CORETYPE set to the core aigc reports: Debian 12's OpenBLAS
does not recognise some recent processors and falls back to generic kernels five times
slower, for PyTorch as for aigc); PyTorch as installed, without that setting, is measured
in the calibration round too and reported beside.

    /usr/bin/python3 scripts/bench_compare.py [--rounds 3] [--models vae,gan,rnn,lstm,gpt]
        [--aigc bin/aigc] [--out bench/RESULTS.md]
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TORCH = os.path.join(ROOT, "scripts", "torch")

# model: (aigc steps, warm-up, PyTorch command, the rate's unit)
MODELS = {
    "vae": (300, 10, ["vae.py", "bench", "--steps", "300", "--warmup", "10"], "samples/s"),
    "gan": (300, 10, ["gan.py", "bench", "--steps", "300", "--warmup", "10"], "samples/s"),
    "rnn": (200, 10, ["charlm.py", "bench", "rnn", "--steps", "200", "--warmup", "10"], "tokens/s"),
    "lstm": (20, 3, ["charlm.py", "bench", "lstm", "--steps", "20", "--warmup", "3"], "tokens/s"),
    "gpt": (50, 5, ["gpt.py", "bench", "--steps", "50"], "tokens/s"),
}


def measured(cmd, env=None):
    """Runs cmd, returning its JSON result and its peak RSS (bytes) from wait4."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{err.decode()}")
    text = out.decode()
    res = json.loads(text[text.index("{"):text.rindex("}") + 1])
    return res, ru.ru_maxrss * 1024


def rate(res, unit):
    key = "tokens_per_s" if unit == "tokens/s" else "samples_per_s"
    return float(res[key])


def aigc(binary, model):
    steps, warmup, _, unit = MODELS[model]
    res, rss = measured([binary, "bench", model, "--json", "-q", "--steps", str(steps), "--warmup", str(warmup)])
    return rate(res, unit), rss, res


def torch(model, threads, core):
    _, _, cmd, unit = MODELS[model]
    env = dict(os.environ, TORCH_THREADS=str(threads))
    env.pop("OPENBLAS_CORETYPE", None)
    if core:
        env["OPENBLAS_CORETYPE"] = core
    res, rss = measured(["/usr/bin/python3", os.path.join(TORCH, cmd[0])] + cmd[1:], env)
    return rate(res, unit), rss


def processor():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def commit():
    try:
        return subprocess.check_output(["git", "describe", "--always", "--dirty"], cwd=ROOT).decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="vae,gan,rnn,lstm,gpt")
    ap.add_argument("--aigc", default=os.path.join(ROOT, "bin", "aigc"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    args = ap.parse_args()
    models = args.models.split(",")

    # Calibration: aigc once (for the OpenBLAS core it runs), PyTorch with 1 and 2 threads
    # on that core, and as installed.
    calib = {}
    for m in models:
        _, _, info = aigc(args.aigc, m)
        core = info["blas"].split()[-1] if info["blas"].startswith("OpenBLAS") else ""
        by_threads = {t: torch(m, t, core)[0] for t in (1, 2)}
        best = max(by_threads, key=by_threads.get)
        installed = torch(m, best, "")[0]
        calib[m] = {"core": core, "threads": best, "by_threads": by_threads, "installed": installed, "info": info}
        print(f"calibration {m}: PyTorch {by_threads} by threads on {core or 'its own core'}; as installed {installed:.0f}",
              flush=True)

    rows = {m: {"aigc": [], "torch": [], "aigc_rss": [], "torch_rss": []} for m in models}
    for r in range(args.rounds):
        for m in models:
            a, arss, _ = aigc(args.aigc, m)
            t, trss = torch(m, calib[m]["threads"], calib[m]["core"])
            rows[m]["aigc"].append(a)
            rows[m]["torch"].append(t)
            rows[m]["aigc_rss"].append(arss)
            rows[m]["torch_rss"].append(trss)
            print(f"round {r + 1} {m}: aigc {a:.0f}, PyTorch {t:.0f} ({a / t:.2f}x)", flush=True)

    info0 = calib[models[0]]["info"]
    lines = [
        "# aigc beside PyTorch: training throughput",
        "",
        f"Measured {datetime.date.today().isoformat()} by `make bench-compare` (scripts/bench_compare.py) at commit "
        f"{commit()}, on {processor()} ({os.cpu_count()} cores), aigc with {info0['threads']} threads "
        f"({info0['blas']}, {info0.get('simd') or 'reference'} kernels; the machine's sgemm "
        f"{info0['sgemm_gflops']:.0f} GFLOP/s when measured). PyTorch "
        "1.13 (Debian's python3-torch) at its fastest thread setting and on the same OpenBLAS kernels "
        "(OPENBLAS_CORETYPE); each figure the median of "
        f"{args.rounds} rounds, aigc and PyTorch alternating. Peak RSS is each process's, the largest of its rounds.",
        "",
        "| model (default config) | unit | aigc | PyTorch (threads) | ratio | aigc peak RSS | PyTorch peak RSS | PyTorch as installed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in models:
        unit = MODELS[m][3]
        a, t = statistics.median(rows[m]["aigc"]), statistics.median(rows[m]["torch"])
        c = calib[m]
        lines.append(f"| {m} | {unit} | {a:,.0f} | {t:,.0f} ({c['threads']}) | {a / t:.2f} | "
                     f"{max(rows[m]['aigc_rss']) / 2**20:.0f} MB | {max(rows[m]['torch_rss']) / 2**20:.0f} MB | "
                     f"{c['installed']:,.0f} |")
    lines += ["", "Every round:", "", "| model | round | aigc | PyTorch | ratio |", "|---|---|---|---|---|"]
    for m in models:
        for i, (a, t) in enumerate(zip(rows[m]["aigc"], rows[m]["torch"])):
            lines.append(f"| {m} | {i + 1} | {a:,.0f} | {t:,.0f} | {a / t:.2f} |")
    lines += ["", "PyTorch in the calibration round, by torch threads (on aigc's OpenBLAS kernels):", ""]
    for m in models:
        c = calib[m]
        lines.append(f"- {m}: " + ", ".join(f"{k} thread{'s' if k > 1 else ''} {v:,.0f}" for k, v in c["by_threads"].items())
                     + f"; as installed (its own OpenBLAS core detection) {c['installed']:,.0f} {MODELS[m][3]}")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
