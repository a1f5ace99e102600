#!/usr/bin/env bash
# Runs the benchmarks (`make bench`) on a private "bench" stack with a
# Release build, and writes each table to tests/out/bench/.  The figures
# and commands that docs/benchmarks.md quotes come from these scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
GENERATOR=$(command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
OUT="$ROOT/tests/out/bench"
mkdir -p "$OUT"

export MA_STACK_NAME=bench
export MA_KAFKA_PORT=${MA_KAFKA_PORT:-17092}
export MA_KAFKA_CONTROLLER_PORT=${MA_KAFKA_CONTROLLER_PORT:-17093}
export MA_PG_PORT=${MA_PG_PORT:-17432}
export MA_MQTT_PORT=${MA_MQTT_PORT:-17883}

cmake -S . -B build-release -G "$GENERATOR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release

scripts/stack.sh start
trap 'scripts/stack.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(scripts/stack.sh env)"

echo "bench: producer"
bench/producer/run.sh build-release | tee "$OUT/producer.md"

echo "bench: gateway"
python3 bench/gateway/bench_gateway.py \
        --gateway build-release/producers/ma-gateway \
        --create-topic build-release/tests/integration/gateway/gw_create_topic \
        --requests 60 --clients 1,2,4 | tee "$OUT/gateway.md"

if [ -x bench/processor/run.sh ]; then
        echo "bench: processor"
        bench/processor/run.sh build-release | tee "$OUT/processor.md"
fi
echo "bench: tables written to $OUT"
