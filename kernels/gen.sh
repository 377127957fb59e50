#!/bin/sh
# Compiles each kernel file to PTX for compute_80 (PTX ISA 7.8 with CUDA 11.8), which the
# drivers of newer GPUs compile on load. Run by `go generate ./kernels`.
set -e
cd "$(dirname "$0")"
for f in *.cu; do
  nvcc -ptx -arch=compute_80 -O3 -o "${f%.cu}.ptx" "$f"
done
