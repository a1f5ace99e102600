#!/usr/bin/env bash
# Runs the benchmarks (`make bench`) on a private "bench" stack with a
# Release build, keeps each table in tests/out/bench/, and then rewrites
# the "Latest make bench run" part of docs/benchmarks.md (machine, figures
# against their goals, each table with its command) and the plot
# docs/benchmarks.svg through scripts/bench_report.py.
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

# bench NAME COMMAND...: runs one benchmark, keeps its table as
# OUT/NAME.md and its command line as OUT/NAME.cmd for the report.  A
# failing benchmark is reported and the others still run.
failed=()
bench() {
        local name=$1
        shift
        echo "bench: $name: $*"
        printf '%s\n' "$*" >"$OUT/$name.cmd"
        if ! "$@" | tee "$OUT/$name.md"; then
                echo "bench: $name failed; its table is incomplete" >&2
                failed+=("$name")
        fi
}

rm -f "$OUT"/*.md "$OUT"/*.cmd
bench producer bench/producer/run.sh build-release
bench gateway python3 bench/gateway/bench_gateway.py \
        --gateway build-release/producers/ma-gateway \
        --create-topic build-release/tests/integration/gateway/gw_create_topic \
        --requests 60 --clients 1,2,4
bench processor bench/processor/run.sh build-release
bench api bench/api/run.sh build-release
if [ -x bench/notifier/run.sh ]; then
        bench notifier bench/notifier/run.sh build-release 10 3
else
        bench notifier tests/integration/notifier/bench.sh build-release 10
fi

python3 scripts/bench_report.py --out "$OUT" --doc docs/benchmarks.md \
        --plot docs/benchmarks.svg
if [ ${#failed[@]} -gt 0 ]; then
        echo "bench: failed: ${failed[*]}" >&2
        exit 1
fi
