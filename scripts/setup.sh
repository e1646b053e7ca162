#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test this project:
#   - GStreamer 1.22 development files, tools and plugin sets (apt);
#   - ONNX Runtime 1.31.x's libonnxruntime.so, unpacked from the PyPI wheel into
#     .onnxruntime/<variant>/ inside the repository, where the code finds it without
#     any environment variable.
#   - with --libtorch: libtorch 2.9.0 for the training crate's `libtorch` feature (burn's
#     tch backend), unpacked from the PyPI `torch` wheel into .libtorch/cpu/ - no Python at
#     run time, no environment variable to set (.cargo/config.toml points the build at it).
#
# Usage: scripts/setup.sh [--gpu] [--libtorch]
#   --gpu        take the onnxruntime-gpu wheel (CUDA 13 execution provider) instead of the CPU one.
#   --libtorch   also install libtorch (CPU) for training (about 900 MB to download, 450 MB kept).
#
# Idempotent: packages already present are not reinstalled, a library already unpacked is kept.
set -euo pipefail

ORT_VERSION="1.31.1"
TORCH_VERSION="2.9.0"
# libtorch_cpu.so of the torch wheel links the CUDA runtime and CUPTI even on the CPU; these
# two small wheels carry them (the CUDA 12.8 build the torch 2.9.0 wheel was made against).
CUDA_RUNTIME_VERSION="12.8.90"
VARIANT="cpu"
LIBTORCH=0
for arg in "$@"; do
    case "$arg" in
        --gpu) VARIANT="gpu" ;;
        --libtorch) LIBTORCH=1 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown argument '$arg' (expected --gpu, --libtorch or nothing)" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# --- Debian packages -------------------------------------------------------------------------
PACKAGES=(
    pkg-config
    libgstreamer1.0-dev
    libgstreamer-plugins-base1.0-dev
    gstreamer1.0-tools
    gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad
    gstreamer1.0-plugins-ugly
    gstreamer1.0-libav
    unzip
)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "setup: Debian packages present"
fi

# --- ONNX Runtime shared library from the PyPI wheel -----------------------------------------
DEST="$ROOT/.onnxruntime/$VARIANT"
if [ -f "$DEST/libonnxruntime.so" ] && [ "$(cat "$DEST/VERSION" 2>/dev/null)" = "$ORT_VERSION" ]; then
    echo "setup: ONNX Runtime $ORT_VERSION ($VARIANT) present in $DEST"
else
    WHEEL_NAME="onnxruntime"
    [ "$VARIANT" = "gpu" ] && WHEEL_NAME="onnxruntime-gpu"
    TMP="$(mktemp -d)"
    trap 'rm -rf "${TMP:-}" "${TTMP:-}"' EXIT
    echo "setup: downloading $WHEEL_NAME==$ORT_VERSION"
    python3 -m pip download --no-cache-dir --quiet --no-deps --only-binary=:all: \
        --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 \
        --python-version 3.11 --dest "$TMP" "$WHEEL_NAME==$ORT_VERSION"
    WHEEL="$(ls "$TMP"/*.whl)"
    unzip -q -o "$WHEEL" 'onnxruntime/capi/*.so*' -d "$TMP/unpacked"
    mkdir -p "$DEST"
    # The wheel ships libonnxruntime.so.<version> plus provider libraries; keep all of them side
    # by side so the CUDA provider (GPU wheel) is found next to the main library.
    for f in "$TMP"/unpacked/onnxruntime/capi/libonnxruntime*.so*; do
        cp "$f" "$DEST/"
    done
    main="$(ls "$DEST"/libonnxruntime.so.* 2>/dev/null | head -n1 || true)"
    if [ ! -f "$DEST/libonnxruntime.so" ]; then
        [ -n "$main" ] || { echo "setup: no libonnxruntime.so in $WHEEL" >&2; exit 1; }
        ln -sf "$(basename "$main")" "$DEST/libonnxruntime.so"
    fi
    echo "$ORT_VERSION" > "$DEST/VERSION"
    echo "setup: ONNX Runtime $ORT_VERSION ($VARIANT) unpacked into $DEST"
fi
# The variant the build records (see build.rs): the last one set up wins.
ln -sfn "$VARIANT" "$ROOT/.onnxruntime/current"

# --- libtorch (--libtorch) from the PyPI torch wheel -------------------------------------------
# The wheel's libtorch.so needs libtorch_cuda.so (1 GB); for the CPU a lib/ with libtorch_cpu.so,
# libc10.so, libgomp.so.1, the CUDA runtime and CUPTI, and libtorch.so pointing at
# libtorch_cpu.so is all burn's tch backend loads. (CUDA: the same wheel's libtorch_cuda.so,
# libc10_cuda.so and the nvidia-* wheels it names; see training/README.md.)
if [ "$LIBTORCH" = 1 ]; then
    TDEST="$ROOT/.libtorch/cpu"
    if [ -f "$TDEST/lib/libtorch_cpu.so" ] && [ "$(cat "$TDEST/build-version" 2>/dev/null)" = "$TORCH_VERSION" ]; then
        echo "setup: libtorch $TORCH_VERSION present in $TDEST"
    else
        # Downloaded next to the checkout (not /tmp, which may be a small tmpfs) and without pip's
        # cache: pip buffers a cached 900 MB wheel in memory, which fails on small machines.
        mkdir -p "$ROOT/.libtorch"
        TTMP="$(mktemp -d "$ROOT/.libtorch/download.XXXXXX")"
        trap 'rm -rf "${TMP:-}" "${TTMP:-}"' EXIT
        echo "setup: downloading torch==$TORCH_VERSION (about 900 MB) and the CUDA runtime wheels"
        fetch_wheels() {
            python3 -m pip download --no-cache-dir --quiet --no-deps --only-binary=:all: \
                --platform manylinux_2_28_x86_64 --python-version 3.11 --dest "$TTMP" "torch==$TORCH_VERSION" &&
            python3 -m pip download --no-cache-dir --quiet --no-deps --only-binary=:all: --dest "$TTMP" \
                "nvidia-cuda-runtime-cu12==$CUDA_RUNTIME_VERSION" "nvidia-cuda-cupti-cu12==$CUDA_RUNTIME_VERSION"
        }
        for attempt in 1 2 3; do
            fetch_wheels && break
            [ "$attempt" = 3 ] && { echo "setup: could not download torch==$TORCH_VERSION (3 attempts); see pip's error above" >&2; exit 1; }
            echo "setup: download attempt $attempt failed; retrying in $((attempt * 10)) s" >&2
            rm -f "$TTMP"/*.whl
            sleep $((attempt * 10))
        done
        unzip -q -o "$TTMP"/torch-*.whl 'torch/include/*' 'torch/lib/libtorch_cpu.so' 'torch/lib/libc10.so' \
            'torch/lib/libgomp.so.1' -d "$TTMP/torch"
        unzip -q -o "$TTMP"/nvidia_cuda_runtime_cu12-*.whl 'nvidia/cuda_runtime/lib/libcudart.so.12' -d "$TTMP/cuda"
        unzip -q -o "$TTMP"/nvidia_cuda_cupti_cu12-*.whl 'nvidia/cuda_cupti/lib/libcupti.so.12' -d "$TTMP/cuda"
        rm -rf "$TDEST"
        mkdir -p "$TDEST/lib"
        mv "$TTMP/torch/torch/include" "$TDEST/include"
        mv "$TTMP"/torch/torch/lib/* "$TTMP"/cuda/nvidia/*/lib/* "$TDEST/lib/"
        ln -sf libtorch_cpu.so "$TDEST/lib/libtorch.so"
        echo "$TORCH_VERSION" > "$TDEST/build-version"
        echo "setup: libtorch $TORCH_VERSION (CPU) unpacked into $TDEST"
    fi
fi
