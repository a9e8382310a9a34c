#!/usr/bin/env bash
# Issue 13's side-by-side benchmark on Node 20 (the `node` on PATH) and Node 24, in one command:
#
#   bash bench/side-by-side.sh [options of bench/side-by-side.ts, e.g. --runs 7]
#
# Builds dist/hermes.js from this checkout, installs Node 24 from the npm registry into a temp dir
# outside the project (as .ci/run does; or set NODE24=/path/to/node to reuse one), and runs
# bench/side-by-side.ts once per Node with every target on that Node. The benchmark itself runs on
# the `node` on PATH both times. The Markdown tables go to stdout, progress to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >&2
node24="${NODE24:-}"
if [ -z "$node24" ]; then
  prefix=$(mktemp -d)
  trap 'rm -rf "$prefix"' EXIT
  npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error node@24 >&2
  node24="$prefix/node_modules/node/bin/node"
fi
for target_node in "$(command -v node)" "$node24"; do
  node --import tsx bench/side-by-side.ts --node "$target_node" "$@"
  echo
done
