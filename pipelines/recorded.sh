#!/usr/bin/env bash
# Recorded video in, H.264 in MP4 out.
#   pipelines/recorded.sh INPUT.mp4 REFERENCE.jpg OUTPUT.mp4
# decodebin decodes any container and codec GStreamer knows; the element works on every frame
# (no frame is dropped: there is no live clock); x264enc + mp4mux write the result.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
INPUT="${1:?usage: pipelines/recorded.sh INPUT.mp4 REFERENCE.jpg OUTPUT.mp4}"
REFERENCE="${2:?reference photo}"
OUTPUT="${3:?output file}"
export GST_PLUGIN_PATH="$PWD/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
exec gst-launch-1.0 -e filesrc location="$INPUT" ! decodebin ! videoconvert \
    ! garmenttransfer reference="$REFERENCE" \
    ! videoconvert ! x264enc tune=zerolatency ! mp4mux ! filesink location="$OUTPUT"
