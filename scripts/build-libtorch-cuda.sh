#!/usr/bin/env bash
# garment-train for a CUDA machine that carries PyTorch 2.11 (CUDA 13) but no package registry:
# built here against the headers and libraries of the PyPI `torch==2.11.0` wheel (whose Linux
# build is CUDA 13), run there against that machine's own PyTorch libraries.
#
#   scripts/build-libtorch-cuda.sh          # -> target-cuda/x86_64-unknown-linux-gnu/release/garment-train
#   # on the GPU machine:
#   LD_LIBRARY_PATH=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')/lib \
#     garment-train --device libtorch-cuda:0 train all ...
#
# burn 0.22.1's `tch` backend pins tch 0.22 (libtorch 2.9.0); its C++ layer compiles against the
# 2.11 headers with the version check bypassed, and the stages trained there with losses that
# match the CPU's (training/README.md). The link does not see the CUDA libraries that
# libtorch_cuda.so needs (they are the GPU machine's), hence --allow-shlib-undefined; and
# libtorch_cuda.so is linked whether or not a symbol of it is used, or CUDA would not register.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/.libtorch/cuda-2.11
if [[ ! -f $dest/lib/libtorch_cuda.so ]]; then
    tmp=$(mktemp -d "$root/.libtorch-download.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --platform manylinux_2_28_x86_64 -d "$tmp" torch==2.11.0
    mkdir -p "$dest"
    unzip -q -o "$tmp"/torch-*.whl 'torch/include/*' 'torch/lib/libtorch_cpu.so' 'torch/lib/libc10.so' \
        'torch/lib/libc10_cuda.so' 'torch/lib/libtorch.so' 'torch/lib/libtorch_cuda.so' 'torch/lib/libgomp.so.1' -d "$tmp/x"
    rm -rf "$dest/include" "$dest/lib"
    mv "$tmp/x/torch/include" "$tmp/x/torch/lib" "$dest/"
fi
# --target: the flags are for the binary, not for build scripts and proc macros.
LIBTORCH=$dest LIBTORCH_BYPASS_VERSION_CHECK=1 CARGO_TARGET_DIR=$root/target-cuda \
RUSTFLAGS="-C link-arg=-Wl,--allow-shlib-undefined -C link-arg=-L$dest/lib -C link-arg=-Wl,--no-as-needed -C link-arg=-ltorch_cuda -C link-arg=-lc10_cuda" \
    cargo build --release --target x86_64-unknown-linux-gnu -p garment-training --features libtorch --bin garment-train
echo "$root/target-cuda/x86_64-unknown-linux-gnu/release/garment-train"
