#!/usr/bin/env bash
# ma-topics on the running Kafka, on topics of a prefix of its own:
#   - a new topic gets the partitions asked and the catalog's retention
#     (the longest retention_days of the producer and its event types);
#   - a second run changes nothing;
#   - a larger --partitions grows the topic, a longer --retention raises
#     retention.ms and keeps the topic's other settings;
#   - a shorter --retention is left alone (only raised, never lowered);
#   - an unreadable --retention and an unknown prefix fail with a message.
# Usage: test_topics.sh MA_TOPICS CATALOG   (needs KAFKA_BOOTSTRAP_SERVERS)
set -uo pipefail
topics=$1
catalog=$2
: "${KAFKA_BOOTSTRAP_SERVERS:?load the stack first: eval \"\$(scripts/stack.sh env)\"}"
prefix="t$(date +%s)$$."
failures=0

fail() {
        echo "FAIL: $*"
        failures=$((failures + 1))
}

# expect_line DESCRIPTION EXPECTED ARGS...: runs ma-topics and compares
# its one line of output.
expect_line() {
        local description=$1 expected=$2 output
        shift 2
        output=$("$topics" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" \
                --catalog "$catalog" --topic-prefix "$prefix" "$@" 2>&1)
        if [ "$output" = "$expected" ]; then
                echo "ok: $description"
        else
                fail "$description: expected \"$expected\", got \"$output\""
        fi
}

# The catalog's value for POL, computed here from the catalog itself.
days=$(python3 - "$catalog" <<'PY'
import json, sys
for producer in json.load(open(sys.argv[1]))["producers"]:
    if producer["prefix"] == "POL":
        values = [producer.get("retention_days", 0)]
        for process in producer["processes"]:
            values += [t.get("retention_days", 0) for t in process["event_types"]]
        print(max(values))
PY
)
topic="${prefix}kundhandelser.pol"

expect_line "new topic with the catalog's retention" \
        "$topic created partitions=2 retention=${days}d (set)" --partitions 2 POL
expect_line "second run changes nothing" \
        "$topic unchanged partitions=2 retention=${days}d (unchanged)" --partitions 2 POL
expect_line "partitions grow, longer retention is set" \
        "$topic grown partitions=4 retention=$((days + 1))d (set)" \
        --partitions 4 --retention $((days + 1)) POL
expect_line "a shorter retention is not applied" \
        "$topic unchanged partitions=4 retention=1d (unchanged)" --retention 1 POL
expect_line "forever replaces a limited retention" \
        "$topic unchanged partitions=4 retention=forever (set)" --retention forever POL
expect_line "broker leaves the setting alone" \
        "$topic unchanged partitions=4" --retention broker POL

if "$topics" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" --catalog "$catalog" \
        --topic-prefix "$prefix" --retention soon POL >/dev/null 2>&1; then
        fail "--retention soon was accepted"
else
        echo "ok: --retention soon rejected"
fi
message=$("$topics" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" \
        --catalog "$catalog" --topic-prefix "$prefix" NOPE 2>&1)
status=$?
if [ "$status" -ne 2 ] || ! grep -q 'NOPE' <<<"$message"; then
        fail "unknown prefix: exit $status, message \"$message\""
else
        echo "ok: unknown prefix rejected naming it"
fi

# Other topic settings survive a raised retention: Kafka's own tool sets
# one, ma-topics raises the retention, the tool reads both back.
kafka_libs=$(ls -d /opt/mina-arenden/kafka-*/libs 2>/dev/null | head -n 1)
if [ -n "$kafka_libs" ] && command -v java >/dev/null; then
        config_tool() {
                java -cp "$kafka_libs/*" kafka.admin.ConfigCommand \
                        --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" \
                        --entity-type topics --entity-name "$topic" "$@" 2>/dev/null
        }
        other="${prefix}kundhandelser.skv"
        topic=$other
        "$topics" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" --catalog "$catalog" \
                --topic-prefix "$prefix" --retention 10 SKV >/dev/null
        config_tool --alter --add-config max.message.bytes=200000 >/dev/null
        "$topics" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" --catalog "$catalog" \
                --topic-prefix "$prefix" --retention 20 SKV >/dev/null
        described=$(config_tool --describe)
        if grep -q 'max.message.bytes=200000' <<<"$described" &&
                grep -q 'retention.ms=1728000000' <<<"$described"; then
                echo "ok: other settings kept when the retention is raised"
        else
                fail "settings after raising the retention: $described"
        fi
else
        fail "Kafka's jars under /opt/mina-arenden or java not found"
fi

echo "$failures failed"
[ "$failures" -eq 0 ]
