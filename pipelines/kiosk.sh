#!/usr/bin/env bash
# Camera try-on kiosk: the camera, the element, a window.
#   pipelines/kiosk.sh REFERENCE.jpg [/dev/video0]
# v4l2src reads the camera; videoconvert gives the element RGB; the element dresses the person
# in the garment of REFERENCE.jpg (execution-provider=auto: CUDA when there is a GPU);
# autovideosink shows the result. The element reports its processing time as latency, so the
# sink does not drop frames as late; queue max-size-buffers=1 leaky=downstream keeps the
# camera live even when a frame takes longer than the frame interval.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REFERENCE="${1:?usage: pipelines/kiosk.sh REFERENCE.jpg [/dev/video0]}"
DEVICE="${2:-/dev/video0}"
export GST_PLUGIN_PATH="$PWD/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
exec gst-launch-1.0 v4l2src device="$DEVICE" ! videoconvert ! videoscale ! video/x-raw,width=640,height=480 \
    ! queue max-size-buffers=1 leaky=downstream \
    ! garmenttransfer reference="$REFERENCE" \
    ! videoconvert ! autovideosink sync=false
