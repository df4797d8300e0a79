#!/bin/sh
# Connection state recovery at scale: official socket.io-client instances (in several Node
# processes) each break their TCP connection about every CUT_MS while the server
# broadcasts every TICK_MS for DURATION seconds; prints delivered/sent, duplicates and delivery
# delays. The same harness as the CI churn test (tests/recovery_churn.rs), scaled up.
#
#   bench/churn.sh                 # 10 000 clients, 60 s, a broadcast every 200 ms
#   CLIENTS=2000 DURATION=30 bench/churn.sh
set -eu
cd "$(dirname "$0")/.."
[ -d tests/interop/node_modules ] || npm ci --prefix tests/interop --no-audit --no-fund
CHURN_CLIENTS="${CLIENTS:-10000}" \
CHURN_SECONDS="${DURATION:-60}" \
CHURN_TICK_MS="${TICK_MS:-200}" \
CHURN_SELF_CUT_MS="${CUT_MS:-15000}" \
CHURN_PROCESSES="${PROCESSES:-4}" \
    cargo test --release --locked --test recovery_churn -- --nocapture 2>&1 | grep -E "^churn:|panicked|left|right"
