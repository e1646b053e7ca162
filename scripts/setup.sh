#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test this project:
#   - GStreamer 1.22 development files, tools and plugin sets (apt);
#   - ONNX Runtime 1.31.x's libonnxruntime.so, unpacked from the PyPI wheel into
#     .onnxruntime/<variant>/ inside the repository, where the code finds it without
#     any environment variable.
#
# Usage: scripts/setup.sh [--gpu]
#   --gpu   take the onnxruntime-gpu wheel (CUDA 13 execution provider) instead of the CPU one.
#
# Idempotent: packages already present are not reinstalled, a library already unpacked is kept.
set -euo pipefail

ORT_VERSION="1.31.1"
VARIANT="cpu"
for arg in "$@"; do
    case "$arg" in
        --gpu) VARIANT="gpu" ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown argument '$arg' (expected --gpu or nothing)" >&2; exit 2 ;;
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
    trap 'rm -rf "$TMP"' EXIT
    echo "setup: downloading $WHEEL_NAME==$ORT_VERSION"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
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
