#!/usr/bin/env bash
# The element's speed on a CUDA machine: the paper and lite presets (untrained weights: the
# timings are the architecture's), 640x480 and 1920x1080, on CUDA, with the lite preset at
# 640x480 also on the machine's CPU; each case run by the benchmark binary of this build and,
# when given, by that of an earlier build (one whose bench takes the same arguments), back to back
# on the same card. On CUDA each case runs again with `--cuda-graph on`, which also times the
# chain without graphs in the same process (the "no-graph" column): whether ONNX Runtime's
# replays give the plain runs' outputs there (they did not on an H200 with 1.31.1).
#
#   cargo bench --bench element --no-run     # prints the binary: target/release/deps/element-*
#   scripts/gpu-bench.sh OUT BENCH [BENCH_BEFORE]
#
# Needs ONNX Runtime's CUDA build in ORT_DYLIB_PATH (with its CUDA and cuDNN libraries on
# LD_LIBRARY_PATH) and GStreamer with the plugin on its path. Writes OUT/<build>-<preset>-
# <size>-<provider>.json and the logs, and prints one table last: chain and element fps, the
# element's latency and the stage times, per case.
set -uo pipefail
out=${1:?usage: gpu-bench.sh OUT BENCH [BENCH_BEFORE]}
now=${2:?usage: gpu-bench.sh OUT BENCH [BENCH_BEFORE]}
before=${3:-}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$out/card.txt" 2>&1 || true

run() { # build binary preset size provider frames [extra arguments]
  local name=$1-$3-$4-$5${7:+-graph}
  timeout 240 "$2" --preset "$3" --size "$4" --provider "$5" --frames "$6" ${7:-} --json "$out/$name.json" > "$out/$name.log" 2>&1 ||
    echo "$name: exit $? (see $name.log)" | tee -a "$out/failed.txt"
}
for case in "lite 640x480 cuda 200" "lite 1920x1080 cuda 200" "paper 640x480 cuda 200" "paper 1920x1080 cuda 200" "lite 640x480 cpu 40"; do
  # shellcheck disable=SC2086
  [[ -n $before ]] && run before "$before" $case
  # shellcheck disable=SC2086
  run now "$now" $case
  # shellcheck disable=SC2086
  [[ $case == *cuda* ]] && run now "$now" $case "--cuda-graph on"
done

python3 - "$out" <<'TABLE'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print("card:", (out / "card.txt").read_text().strip())
print(f"{'case':38} {'chain fps':>9} {'element fps':>11} {'latency ms':>10} {'no-graph fps':>12}  stages ms")
for f in sorted(out.glob("*.json")):
    d = json.loads(f.read_text())
    for why in d.get("cuda_graph_refused", []):
        print(f"{f.stem}: without a CUDA graph: {why}")
    for r in d["runs"]:
        stages = " ".join(f"{k} {v['ms']:.2f}" for k, v in r["stages"].items())
        plain = r.get("without_cuda_graphs", {}).get("chain_fps")
        plain = f"{plain:12.1f}" if plain else f"{'-':>12}"
        print(f"{f.stem:38} {r['chain_fps']:9.1f} {r['element_fps']:11.1f} {r['latency_ms']:10.1f} {plain}  {stages}")
TABLE
