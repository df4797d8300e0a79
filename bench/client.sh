#!/bin/sh
# The client benchmark (bench/clients/README.md): our client, the official JavaScript
# client in Node and rust_socketio 0.6, against one server (our bench_server on core 0,
# WORKERS=1), each client on core 1, in interleaved rounds; prints each round, the
# medians and the ratios to rust_socketio.
#
#   bench/client.sh ack                      # 50 clients, closed loops of emit-with-ack
#   bench/client.sh receive --clients 1000   # broadcast reception
#   bench/client.sh idle --clients 10000     # memory per connected client
#   bench/client.sh ack --rounds 5 --secs 5
set -eu
cd "$(dirname "$0")/.."
scenario="${1:?scenario: ack | receive | idle}"
shift
rounds=3
args=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        *) args="$args $1"; shift ;;
    esac
done
cargo build --release --locked -q --example bench_server --example client_bench
cargo build --release --locked -q --manifest-path bench/clients/rust_socketio/Cargo.toml
[ -d bench/clients/node/node_modules ] || npm ci --prefix bench/clients/node --no-audit --no-fund

port=3977
PORT=$port WORKERS=1 taskset -c 0 target/release/examples/bench_server >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT INT TERM
sleep 0.5
url="http://127.0.0.1:$port"

run() {
    case "$1" in
        ours) taskset -c 1 target/release/examples/client_bench "$scenario" --url "$url" $args ;;
        node) taskset -c 1 node bench/clients/node/client.mjs "$scenario" --url "$url" $args ;;
        rust_socketio) taskset -c 1 bench/clients/rust_socketio/target/release/rust-socketio-bench "$scenario" --url "$url" $args ;;
    esac
}

results=$(mktemp)
i=1
while [ $i -le "$rounds" ]; do
    for client in ours node rust_socketio; do
        line=$(run $client | tail -n 1)
        echo "round $i $client $line"
        echo "$client $line" >> "$results"
        sleep 0.5
    done
    i=$((i + 1))
done

python3 - "$scenario" "$results" <<'EOF'
import json, statistics, sys
scenario, path = sys.argv[1], sys.argv[2]
rows = {}
for line in open(path):
    client, data = line.split(" ", 1)
    rows.setdefault(client, []).append(json.loads(data))
def median(values):
    return statistics.median(values)
if scenario == "idle":
    print(f"\n{'client':15} {'clients':>8} {'KB/client':>10} {'connects/s':>11}")
    per = {}
    for client, runs in rows.items():
        kb = median([(r["rss_after_kib"] - r["rss_before_kib"]) * 1.024 / r["clients"] for r in runs])
        rate = median([r["clients"] / r["connect_secs"] for r in runs])
        per[client] = kb
        print(f"{client:15} {runs[0]['clients']:>8} {kb:>10.2f} {rate:>11.0f}")
    base = per.get("rust_socketio")
    if base:
        print("\nmemory per client / rust_socketio: " + ", ".join(f"{c} x{v / base:.2f}" for c, v in per.items()))
else:
    print(f"\n{'client':15} {'ops/s':>9} {'user us/op':>11} {'sys us/op':>10} {'total us/op':>12}")
    total = {}
    for client, runs in rows.items():
        user = median([r["user_us"] / r["ops"] for r in runs])
        sys_ = median([r["sys_us"] / r["ops"] for r in runs])
        tot = median([(r["user_us"] + r["sys_us"]) / r["ops"] for r in runs])
        rate = median([r["ops"] / r["secs"] for r in runs])
        total[client] = tot
        print(f"{client:15} {rate:>9.0f} {user:>11.2f} {sys_:>10.2f} {tot:>12.2f}")
    base = total.get("rust_socketio")
    if base:
        print("\nclient CPU per op / rust_socketio: " + ", ".join(f"{c} x{v / base:.2f}" for c, v in total.items()))
EOF
rm -f "$results"
