#!/bin/sh
# The benchmark suite: builds every peer, then runs one scenario against all of them in
# interleaved rounds (servers pinned to core 0 with WORKERS=1, the loader on core 1), and
# prints per-round figures, medians, spread and ratios. See bench/README.md.
#
#   bench/run.sh echo                         # 64 B text echo, 50 clients
#   bench/run.sh echo --binary --size 4096    # 4 KiB binary echo
#   bench/run.sh fanout --receivers 1000
#   bench/run.sh connect --conns 10000
#   bench/run.sh poll-echo
#   bench/run.sh echo --servers ours,floor    # any subset; `floor` = raw WebSocket echo
set -eu
cd "$(dirname "$0")/.."
scenario="${1:?scenario: echo | fanout | connect | poll-echo}"
shift
servers="ours,socketioxide,node"
if [ "$scenario" = echo ] && ! printf '%s\n' "$@" | grep -q -- --binary; then
    servers="ours,socketioxide,node,floor"
fi
cargo build --release --locked --example bench_server -q
cargo build --release --locked -q --manifest-path bench/load/Cargo.toml
cargo build --release --locked -q --manifest-path bench/peers/socketioxide/Cargo.toml
cargo build --release --locked -q --manifest-path bench/ws-crates/Cargo.toml --bin ws-echo
[ -d bench/peers/node/node_modules ] || npm ci --prefix bench/peers/node --no-audit --no-fund
exec taskset -c 1 bench/load/target/release/sio-load suite "$scenario" --servers "$servers" "$@"
