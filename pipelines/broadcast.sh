#!/usr/bin/env bash
# Broadcast: one processed feed to a monitor and to an SRT listener, and recorded to a file.
#   pipelines/broadcast.sh REFERENCE.jpg [SRT_URI] [/dev/video0]
# The tee fans the element's output out; each branch has its own queue so a slow branch does
# not stall the others. srtsink (gst-plugins-bad) serves MPEG-TS over SRT: watch it with
#   gst-launch-1.0 srtsrc uri=srt://HOST:7001 ! decodebin ! autovideosink
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REFERENCE="${1:?usage: pipelines/broadcast.sh REFERENCE.jpg [srt://:7001] [/dev/video0]}"
URI="${2:-srt://:7001}"
DEVICE="${3:-/dev/video0}"
export GST_PLUGIN_PATH="$PWD/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
exec gst-launch-1.0 -e v4l2src device="$DEVICE" ! videoconvert \
    ! queue max-size-buffers=1 leaky=downstream \
    ! garmenttransfer reference="$REFERENCE" ! videoconvert ! tee name=t \
    t. ! queue ! autovideosink sync=false \
    t. ! queue ! x264enc tune=zerolatency bitrate=4000 ! mpegtsmux ! srtsink uri="$URI" wait-for-connection=false \
    t. ! queue ! x264enc tune=zerolatency ! mp4mux ! filesink location=broadcast-recording.mp4
