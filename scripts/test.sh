#!/usr/bin/env bash
# The project's test command (`make test`, and `.ci/run` through it).
#
# On a fresh Debian 12 machine it installs what is missing, builds with
# warnings as errors, checks formatting and banned calls, runs the unit
# tests, runs them again under AddressSanitizer and UndefinedBehaviorSanitizer,
# checks schema compatibility, starts a private local stack (the "test"
# stack: its own ports and state directory), runs the integration tests
# against it, runs the decoder fuzzer briefly, and stops the stack again.
# Exits non-zero when any step fails; the last line sums up all tests.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

FUZZ_SECONDS=${MA_TEST_FUZZ_SECONDS:-60}
GENERATOR=$(command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
OUT="$ROOT/tests/out"
mkdir -p "$OUT"

passed=0
failed=0
failed_steps=()

# Adds the counts of a CTest run from its summary line to the totals.
count_ctest() {
        local log=$1 line total bad
        line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
        if [ -z "$line" ]; then
                return
        fi
        bad=$(sed -E 's/.*, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
        total=$(sed -E 's/.*failed out of ([0-9]+).*/\1/' <<<"$line")
        passed=$((passed + total - bad))
        failed=$((failed + bad))
}

# Runs one named step; a failing step is counted once unless it was a CTest
# run, whose own counts are used.
step() {
        local name=$1
        shift
        local log="$OUT/$name.log"
        echo "==> $name"
        "$@" 2>&1 | tee "$log"
        status=${PIPESTATUS[0]}
        if grep -qE 'tests passed, [0-9]+ tests? failed out of' "$log"; then
                count_ctest "$log"
        elif [ "$status" -eq 0 ]; then
                passed=$((passed + 1))
        else
                failed=$((failed + 1))
        fi
        if [ "$status" -ne 0 ]; then
                failed_steps+=("$name")
                echo "==> $name FAILED (exit $status, log: $log)"
        fi
        return 0
}

# Runs the integration tests while watching the stack: when a service dies
# during the run, the tests are stopped at once and the failure names the
# service, instead of every remaining test timing out one by one.  Fault
# tests restart services on purpose, so they run afterwards, unwatched.
integration_watched() {
        local status stopped name
        setsid bash -c "cd build && exec ctest -L integration -LE fault --output-on-failure --timeout 600" &
        local ctest_pid=$!
        while kill -0 "$ctest_pid" 2>/dev/null; do
                sleep 2
                if status=$(MA_STACK_NAME=test scripts/stack.sh status 2>&1); then
                        continue
                fi
                kill -0 "$ctest_pid" 2>/dev/null || break
                stopped=$(awk '$2 == "stopped" {print $1}' <<<"$status" | tr '\n' ' ')
                name=${stopped//kafka/Kafka}
                name=${name//postgres/PostgreSQL}
                name=${name//mosquitto/Mosquitto}
                echo "test: ${name% } stopped while the integration tests ran (stack \"test\", $MA_STATE_DIR); stopping the tests"
                echo "${name% }" >"$OUT/stack-service-died"
                kill -TERM -- "-$ctest_pid" 2>/dev/null
                wait "$ctest_pid" 2>/dev/null
                return 1
        done
        wait "$ctest_pid"
}

stop_stack() {
        MA_STACK_NAME=test scripts/stack.sh stop >/dev/null 2>&1 || true
}

if ! scripts/setup.sh; then
        echo "test: set-up failed; see the messages above" >&2
        exit 1
fi

step format-check scripts/check-format.sh
step banned-calls scripts/check-banned.sh
step build bash -c "cmake -S . -B build -G '$GENERATOR' -DMA_WERROR=ON >/dev/null && cmake --build build"
step unit bash -c "cd build && ctest -L unit --output-on-failure"
step build-sanitizers bash -c "cmake -S . -B build-asan -G '$GENERATOR' -DMA_WERROR=ON -DMA_SANITIZE=ON >/dev/null && cmake --build build-asan"
step unit-sanitizers bash -c "cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest -L unit --output-on-failure"

trap stop_stack EXIT
if MA_STACK_NAME=test scripts/stack.sh start; then
        eval "$(MA_STACK_NAME=test scripts/stack.sh env)"
        export KAFKA_BOOTSTRAP_SERVERS DATABASE_URL MQTT_HOST MQTT_PORT MA_STATE_DIR
        rm -f "$OUT/stack-service-died"
        step integration integration_watched
        if [ -f "$OUT/stack-service-died" ]; then
                echo "test: fault tests skipped: $(cat "$OUT/stack-service-died") is not running"
        else
                step integration-faults bash -c "cd build && ctest -L fault --output-on-failure --timeout 600"
        fi
else
        failed=$((failed + 1))
        failed_steps+=("stack-start")
fi
stop_stack
trap - EXIT

step fuzz-short scripts/fuzz.sh "$FUZZ_SECONDS"

echo
if [ "${#failed_steps[@]}" -ne 0 ]; then
        echo "test: failed steps: ${failed_steps[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "${#failed_steps[@]}" -eq 0 ]
