#!/usr/bin/env bash
# CI's smoke of the benchmark suite: builds the load generator and runs every scenario
# briefly against our bench_server (debug build, from `cargo test`), failing on any error
# the loader detects. Figures from here mean nothing; bench/run.sh measures.
set -eu
cd "$(dirname "$0")/.."
cargo build --locked -q --example bench_server
cargo build --locked -q --manifest-path bench/load/Cargo.toml
load=bench/load/target/debug/sio-load
port=3977
PORT=$port WORKERS=1 target/debug/examples/bench_server &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
i=0
until (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
run() { echo "smoke: $*"; $load "$@" --port $port --pid $server --secs 1 --warmup 0.2; }
run echo --conns 10
run echo --conns 10 --binary --size 4096
run fanout --receivers 50
run poll-echo --conns 5
run connect --conns 200
