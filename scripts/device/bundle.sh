#!/bin/bash
# Prepares .device/ (git-ignored) for a GPU machine that has no node, no node_modules and no
# network: node and the Vulkan loader (../shared/device/prepare.sh), the CLI bundled into plain ES
# modules (.device/cli/), the `webgpu` package's JS and its linux-x64 dawn.node, the reference
# fixtures, and run.sh.
# Then, with the device tool: command `bash .device/run.sh`, carry [".device"].
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
if [ -f ../shared/device/prepare.sh ]; then bash ../shared/device/prepare.sh; else mkdir -p .device; fi
npx vite build -c scripts/device/vite.config.ts
w=.device/node_modules/webgpu
mkdir -p "$w/dist/linux-x64"
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$w/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$w/dist/linux-x64/"
cp scripts/device/run.sh .device/run.sh
# The reference fixtures (a few MB): check-reference runs first on the GPU, with its subgroup kernels.
rm -rf .device/fixtures && mkdir -p .device/fixtures
for f in ../shared/fixtures/reference/tiny-*; do [ -d "$f" ] && cp -r "$f" .device/fixtures/; done
du -sh .device
