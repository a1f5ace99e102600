#!/usr/bin/env bash
# Kafka stops while ma-produce publishes: the run must end with exit 1
# within the delivery timeout (plus the drain margin), name Kafka, and its
# summary must still add up.  Stops the loaded stack's Kafka and restarts it
# afterwards, pass or fail, so CTest runs it alone (label "fault").
. "$(dirname "$0")/lib.sh"

: "${MA_STATE_DIR:?MA_STATE_DIR is not set; load the stack with eval \"\$(MA_STACK_NAME=test scripts/stack.sh env)\"}"
stack="$source_dir/scripts/stack.sh"
restart_kafka() {
	"$stack" restart-service kafka >/dev/null ||
		echo "WARNING: could not restart Kafka; run scripts/stack.sh start" >&2
}

topic_prefix=$(unique_prefix)
create_topic "${topic_prefix}kundhandelser.skv" 3

# Enough events that the run is still going when Kafka stops: every line
# is the valid fixture's first event under a new kundhandelseId.
first=$(head -n 1 "$fixtures/skv-valid.jsonl")
for i in $(seq 1 200000); do
	printf '%s\n' "${first/SKV-FS-1001/SKV-FS-M$i}"
done >"$work/many.jsonl"

timeout_s=10
(cd "$source_dir" && exec "$MA_PRODUCE" --producer SKV \
	--input "$work/many.jsonl" --bootstrap-servers "$bootstrap" \
	--topic-prefix "$topic_prefix" --progress never \
	--kafka-option queue.buffering.max.messages=2000 \
	--delivery-timeout "${timeout_s}s" --summary-json "$work/summary.json") \
	>"$work/out" 2>"$work/err" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; restart_kafka; rm -rf "$work"' EXIT

sleep 2
kill -0 "$pid" 2>/dev/null || fail "ma-produce ended before Kafka was stopped; the input is too small"
"$stack" stop-service kafka >/dev/null || fail "could not stop Kafka"
stopped=$(date +%s)

set +e
wait "$pid"
rc=$?
set -e
elapsed=$(($(date +%s) - stopped))

expect_rc 1
expect_stderr "not acknowledged by Kafka at $bootstrap"
expect_json "$work/summary.json" .counts_add_up true
expect_json "$work/summary.json" '.failed > 0' true
# librdkafka fails queued records after message.timeout.ms; the program
# drains for at most the delivery timeout plus 5 s more.
limit=$((2 * timeout_s + 10))
[[ $elapsed -le $limit ]] ||
	fail "ma-produce took ${elapsed}s after Kafka stopped (limit ${limit}s)"
echo "PASS $(basename "$0") (ended ${elapsed}s after Kafka stopped)"
