#!/usr/bin/env bash
# The synthetic try-on world in one command: writes a small dataset in the VITON-HD layout,
# with the true result of every garment transfer, to demo/synth/, and a contact sheet of it to
# demo/contact-sheet.png (columns: image, garment in shop, parsing, dense pose, reference B,
# the person wearing B's garment).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release -q -p garment-training
rm -rf demo/synth
./target/release/garment-train synth --out demo/synth --count 24 --size 192x256 --seed 7
./target/release/garment-train contact-sheet demo/synth --out demo/contact-sheet.png --rows 6 --cell 256
echo "open demo/contact-sheet.png"
