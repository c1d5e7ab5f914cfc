#!/bin/sh
# Runs the benchmark scenarios against Parcours and the reference y-websocket server
# (@y/websocket-server on Node.js, installed here from bench/js/package-lock.json) in the same
# run, with the same load generator, and prints our/their ratios. Arguments go to parcours-bench,
# e.g. `bench/compare.sh --scenarios fanout,hot --seconds 10`.
set -eu
cd "$(dirname "$0")/.."
(cd bench/js && npm ci --no-audit --no-fund --loglevel=error)
cargo build --release --locked -p parcours-bench
exec target/release/parcours-bench --servers parcours,reference "$@"
