#!/bin/sh
# The GPU check of aigc-cuda (issue 11), for a machine with an NVIDIA GPU and no Go: it
# runs a carried bin/aigc-cuda, and the PyTorch twins where python3 has torch, and writes
# every result to one file, $OUT/gpu-check.md (OUT defaults to ./gpu-check). About 7
# minutes on an H200; scripts/gpu_check.py says what each section does.
#
# Build the binary here, without OpenBLAS so that it needs only the driver's libcuda.so.1
# and a libcublas on the GPU machine:
#     go build -tags aigc_cuda -o bin/aigc-cuda ./cmd/aigc
# then on the GPU machine, from the repository's root:
#     sh scripts/gpu-check.sh            # or: OUT=/some/dir sh scripts/gpu-check.sh
# A dry run with the CPU standing in for the GPU: sh scripts/gpu-check.sh --gpu cpu --bin bin/aigc --quick
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3 || echo /usr/bin/python3)}
exec "$PY" scripts/gpu_check.py "$@"
