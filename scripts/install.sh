#!/usr/bin/env bash
# Installs the plugin for this user (or into DEST): the plugin file, and beside it
# garmenttransfer/ holding ONNX Runtime's library and the shipped models - where an installed
# plugin looks for them (it never looks in the folder it was built in).
#   scripts/install.sh [DEST]
# DEST defaults to ${XDG_DATA_HOME:-~/.local/share}/gstreamer-1.0/plugins, a folder GStreamer
# scans without GST_PLUGIN_PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DEST="${1:-${XDG_DATA_HOME:-$HOME/.local/share}/gstreamer-1.0/plugins}"
[ -f .onnxruntime/current/libonnxruntime.so ] || scripts/setup.sh
cargo build --release -q -p gst-garment-transfer
mkdir -p "$DEST/garmenttransfer/models/int8"
install -m 644 target/release/libgstgarmenttransfer.so "$DEST/"
cp -a .onnxruntime/current/libonnxruntime*.so* "$DEST/garmenttransfer/"
install -m 644 models/*.onnx models/manifest.json "$DEST/garmenttransfer/models/"
install -m 644 models/int8/*.onnx models/int8/manifest.json "$DEST/garmenttransfer/models/int8/"
echo "install: $DEST/libgstgarmenttransfer.so, with ONNX Runtime and the models in $DEST/garmenttransfer/"
