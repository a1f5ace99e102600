#!/usr/bin/env bash
# Kills the local stack's Kafka broker (kill -9 of the pid in its pid file)
# while kafka_compat runs, and checks that kafka_compat then fails within
# 60 s with a message naming Kafka. Kafka is restarted afterwards with
# scripts/stack.sh restart-service kafka, pass or fail.
#
# Usage: kafka_killed_midrun.sh PATH/TO/kafka_compat
# Needs the stack's settings in the environment:
#   eval "$(MA_STACK_NAME=test scripts/stack.sh env)"
set -uo pipefail

compat="${1:?usage: kafka_killed_midrun.sh PATH/TO/kafka_compat}"
repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${MA_STATE_DIR:?MA_STATE_DIR is not set. Load the stack settings: eval \"\$(scripts/stack.sh env)\"}"
: "${KAFKA_BOOTSTRAP_SERVERS:?KAFKA_BOOTSTRAP_SERVERS is not set. Load the stack settings: eval \"\$(scripts/stack.sh env)\"}"

pid_file="$MA_STATE_DIR/pids/kafka.pid"
limit_s=60
passed=0
failed=0

check() {
	if [ "$1" = ok ]; then
		passed=$((passed + 1))
		printf 'ok %d - %s\n' $((passed + failed)) "$2"
	else
		failed=$((failed + 1))
		printf 'not ok %d - %s\n' $((passed + failed)) "$2"
	fi
}

finish() {
	printf 'kafka_killed_midrun: %d passed, %d failed\n' "$passed" "$failed"
	[ "$failed" -eq 0 ]
	exit
}

restart_kafka() {
	echo "# restarting Kafka"
	if "$repo_dir/scripts/stack.sh" restart-service kafka; then
		check ok "Kafka restarted after the kill"
	else
		check fail "Kafka restarted after the kill"
	fi
}

kafka_pid=$(tr -d ' \n' <"$pid_file" 2>/dev/null)
if [[ ! $kafka_pid =~ ^[0-9]+$ ]] || ! grep -q kafka.Kafka "/proc/$kafka_pid/cmdline" 2>/dev/null; then
	echo "kafka_killed_midrun: Kafka is not running (no live kafka.Kafka pid in $pid_file). Start the stack first: scripts/stack.sh start" >&2
	check fail "Kafka running before the test"
	finish
fi

output=$(mktemp)
trap 'rm -f "$output"' EXIT

# About 12 s of producing (400 messages, 30 ms apart) leaves time to kill
# the broker while messages are in flight. timeout(1) guards this script.
MA_KAFKA_COMPAT_MESSAGES=400 MA_KAFKA_COMPAT_DELAY_MS=30 \
	timeout 120 "$compat" >"$output" 2>&1 &
compat_pid=$!

sleep 4
if ! kill -0 "$compat_pid" 2>/dev/null; then
	cat "$output"
	check fail "kafka_compat still running when Kafka is killed"
	restart_kafka
	finish
fi
echo "# kill -9 Kafka (pid $kafka_pid)"
kill -9 "$kafka_pid"
killed_at=$SECONDS

wait "$compat_pid"
status=$?
elapsed=$((SECONDS - killed_at))
sed 's/^/# /' "$output"

if [ "$status" -ne 0 ] && [ "$status" -ne 124 ]; then
	check ok "kafka_compat fails (exit $status) after the kill"
else
	check fail "kafka_compat fails after the kill (exit $status)"
fi
if [ "$elapsed" -le "$limit_s" ] && [ "$status" -ne 124 ]; then
	check ok "kafka_compat failed ${elapsed} s after the kill (limit ${limit_s} s)"
else
	check fail "kafka_compat failed within ${limit_s} s (took ${elapsed} s)"
fi
if grep -q 'FAIL: Kafka' "$output"; then
	check ok "failure message names Kafka"
else
	check fail "failure message names Kafka"
fi

restart_kafka
finish
