#!/usr/bin/env bash
# Interleaved rounds of our framing and the three WebSocket crates: server pinned to core 0, load on core 1.
#   bench/ws-crates/run.sh [rounds] [conns] [secs] [size] [binary]
set -euo pipefail
cd "$(dirname "$0")"
cargo build --release -q
rounds=${1:-3}; conns=${2:-50}; secs=${3:-8}; size=${4:-64}; kind=${5:-text}
port=3999
for round in $(seq "$rounds"); do
  for crate in ours tokio-websockets tungstenite fastwebsockets; do
    WORKERS=1 taskset -c 0 target/release/ws-echo "$crate" "$port" & pid=$!
    sleep 0.3
    printf '%-17s round %s echo: ' "$crate" "$round"
    taskset -c 1 target/release/ws-load echo "$port" "$pid" "$conns" "$secs" "$size" "$kind"
    if [ "$round" = 1 ]; then
      printf '%-17s hold: ' "$crate"
      taskset -c 1 target/release/ws-load hold "$port" "$pid" 10000
    fi
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
