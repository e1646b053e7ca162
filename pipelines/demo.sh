#!/usr/bin/env bash
# The whole product in one command: setup if needed, build, make a synthetic landscape video of
# a person walking and a reference photo, run the element through gst-launch-1.0, and write
#   demo/output.mp4          input and result side by side, H.264
#   demo/side-by-side.png    one frame of it (every frame: demo/side-by-side/)
#   demo/truth.png           the true transfer of that frame (the synthetic world knows it)
# Models: models/ (the shipped ones). Without them, untrained lite models are exported there
# first, and the element warns that its output is meaningless.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -f .onnxruntime/current/libonnxruntime.so ] && command -v gst-launch-1.0 >/dev/null || scripts/setup.sh
cargo build --release -q -p gst-garment-transfer -p garment-training
TRAIN=./target/release/garment-train
if [ ! -f models/manifest.json ]; then
    echo "demo: no models/ yet: exporting untrained lite models (run 'garment-train train all' for real ones)"
    $TRAIN export --preset lite --untrained --out models
fi
rm -rf demo && mkdir -p demo/side-by-side
# A landscape shot: the person walks across it at two thirds of its height, and the element
# follows them with its crop.
$TRAIN synth-video --out demo/video --frames 48 --size 640x360 --person-height 0.66 --walk --seed 11
export GST_PLUGIN_PATH="$PWD/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
gst-launch-1.0 -e multifilesrc location=demo/video/frames/%05d.png index=0 stop-index=47 caps=image/png,framerate=12/1 \
    ! pngdec ! videoconvert ! garmenttransfer reference=demo/video/reference.png output=side-by-side \
    ! tee name=t \
    t. ! queue ! videoconvert ! x264enc tune=zerolatency ! mp4mux ! filesink location=demo/output.mp4 \
    t. ! queue ! videoconvert ! pngenc ! multifilesink location=demo/side-by-side/%05d.png
# One frame of it, mid-sequence, where the pose is furthest from the first.
cp demo/side-by-side/00024.png demo/side-by-side.png
cp demo/video/transfer/00024.png demo/truth.png
echo "demo: wrote demo/output.mp4 and demo/side-by-side.png (reference: demo/video/reference.png, truth: demo/truth.png)"
