#!/bin/bash
# Runs on the GPU machine (copied to .device/run.sh by scripts/device/bundle.sh): every issue-6
# measurement in one go, each as one JSON line in $OUT/bench.jsonl, stderr in $OUT/bench.log.
# A failing case is logged and skipped, so one bad shape does not cost the others.
set -u
d=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out}; mkdir -p "$out"
run() {
  echo "# $*" >> "$out/bench.log"
  if [ -f "$d/gpu-env.sh" ]; then
    timeout -s KILL "${CASE_TIMEOUT:-120}" bash "$d/gpu-env.sh" node "$d/cli/main.mjs" "$@" >> "$out/bench.jsonl" 2>> "$out/bench.log"
  else
    timeout -s KILL "${CASE_TIMEOUT:-120}" node "$d/cli/main.mjs" "$@" >> "$out/bench.jsonl" 2>> "$out/bench.log"
  fi
  echo "# exit $?" >> "$out/bench.log"
}
# Correctness first: the engine against PyTorch on every fixture, in the kernels the device gets
# (subgroup reductions on a GPU) and in the portable ones.
for f in "$d"/fixtures/*/; do
  [ -d "$f" ] || continue
  run check-reference "$f"
  [ "${SMOKE:-0}" = 1 ] || LORA_STUDIO_SUBGROUPS=0 run check-reference "$f"
done
if [ "${SMOKE:-0}" = 1 ]; then
  # The same script on SwiftShader (tiny shapes), to check the bundle before spending GPU time.
  run bench --matmul 64 64 64
  run bench --model tiny --batch 1 --seq 16 --rank 4 --quant int4 --steps 2 --json
  run bench --generate --model tiny --quant int4 --prompt 8 --tokens 4
  exit 0
fi
run bench --matmul 4096 4096 4096 --reps 20
run bench --matmul 4096 4096 4096 --quant int4 --reps 20
run bench --matmul 2048 8192 2048 --quant int4 --reps 20
for m in smollm2-135m qwen2.5-0.5b llama-3.2-1b; do
  run bench --model "$m" --batch 4 --seq 512 --rank 16 --quant int4 --steps 6 --json
done
run bench --model llama-3.2-1b --batch 4 --seq 512 --rank 16 --quant int4 --checkpointing --steps 4 --json
run bench --model smollm2-135m --batch 4 --seq 512 --rank 16 --quant int4 --steps 6 --json --no-subgroups
run bench --matmul 4096 4096 4096 --reps 20 --tile 64
for m in smollm2-135m llama-3.2-1b; do
  run bench --generate --model "$m" --quant int4 --prompt 128 --tokens 64
done
# Policy sweeps (src/engine/kernels/policy.ts), to tune from the per-kernel tables: the 64 tile
# everywhere, the 128 tile from 64 tiles up, and no split-K at all.
t="--batch 4 --seq 512 --rank 16 --quant int4 --steps 4 --json"
run bench --model llama-3.2-1b $t --policy tile128MinTiles=1000000000
run bench --model smollm2-135m $t --policy tile128MinTiles=64
run bench --model smollm2-135m $t --policy matmulSplitMinWorkgroups=1,loraSplitTargetWorkgroups=1
cat "$out/bench.jsonl"
