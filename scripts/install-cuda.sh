#!/bin/sh
# Installs what building aigc-cuda needs on Debian 12: the CUDA 11.8 toolkit (nvcc,
# ptxas, headers) and the driver's libcuda from the non-free component, which this
# enables. Run as root (or with sudo available). A machine with a GPU needs only its
# NVIDIA driver to run the binary; cuBLAS is loaded at run time.
set -eu
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-cuda.sh: run as root (or install sudo)" >&2; exit 1; }
  SUDO=sudo
fi
if ! grep -rqs "non-free" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  $SUDO tee /etc/apt/sources.list.d/aigc-non-free.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
  nvidia-cuda-toolkit nvidia-cuda-dev libcuda1 g++
