#!/bin/sh
# Cross-node fanout on Redis: two servers of one cluster, receivers spread over both, one
# sender on the first that broadcasts (its server delivers to its own receivers and
# publishes; the other server delivers the rest), waiting for its ack and every receiver
# before the next. Ours (examples/cluster_node) against Node (tests/interop/cluster/node.mjs,
# socket.io 4.8 with @socket.io/redis-adapter), rounds interleaved; both servers of a pair
# pinned to core 0, the loader to core 1, Redis wherever it runs (its CPU is not counted).
# Server CPU is summed over the two servers, per delivery.
#
#   bench/cluster.sh [--adapter classic|sharded] [--receivers N] [--rounds R] [--secs S]
set -eu
cd "$(dirname "$0")/.."
adapter=classic receivers=1000 rounds=3 secs=8
while [ $# -gt 0 ]; do
    case "$1" in
        --adapter) adapter=$2; shift 2 ;;
        --receivers) receivers=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --secs) secs=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
cargo build --release --locked -q --example cluster_node
cargo build --release --locked -q --manifest-path bench/load/Cargo.toml
[ -d tests/interop/node_modules ] || npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error
redis-cli -p 6379 ping >/dev/null || { echo "Redis must answer on 127.0.0.1:6379" >&2; exit 1; }
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$out"' EXIT

ready() {
    for _ in $(seq 200); do
        curl -fs "http://127.0.0.1:$1/socket.io/?EIO=4&transport=polling" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "server on port $1 did not start" >&2; exit 1
}

node_cmd() { # kind
    case "$1" in
        ours) echo "target/release/examples/cluster_node" ;;
        node) echo "node tests/interop/cluster/node.mjs" ;;
    esac
}

round() { # kind round
    key="bench-$$-$2-$1"
    PORT=4101 NODE_NAME=a ADAPTER=$adapter KEY=$key taskset -c 0 $(node_cmd "$1") 2>/dev/null &
    a=$!
    PORT=4102 NODE_NAME=b ADAPTER=$adapter KEY=$key taskset -c 0 $(node_cmd "$1") 2>/dev/null &
    b=$!
    ready 4101; ready 4102
    line=$(taskset -c 1 bench/load/target/release/sio-load fanout --port 4101 --pid $a \
        --also 4102:$b --receivers "$receivers" --secs "$secs")
    kill $a $b; wait $a $b 2>/dev/null || true
    printf '%-5s round %s: %s\n' "$1" "$2" "$line" | tee -a "$out/$1"
}

echo "cross-node fanout, $adapter adapter, $receivers receivers over two servers"
for r in $(seq "$rounds"); do
    round ours "$r"
    round node "$r"
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rate() { sed -n 's/.* \([0-9]*\) ops\/s.*/\1/p' "$1" | median; }
cpu() { sed -n 's/.*= *\([0-9.]*\) µs\/op.*/\1/p' "$1" | median; }
p99() { sed -n 's/.*p99 *\([0-9.]*\) µs.*/\1/p' "$1" | median; }
echo
for kind in ours node; do
    printf '%-5s median: %8.0f deliveries/s  server CPU %5.2f µs/delivery  p99 %6.0f µs\n' \
        "$kind" "$(rate "$out/$kind")" "$(cpu "$out/$kind")" "$(p99 "$out/$kind")"
done
printf 'ours / node, server CPU per delivery: x%.2f\n' \
    "$(echo "$(cpu "$out/ours") $(cpu "$out/node")" | awk '{ print $1 / $2 }')"
