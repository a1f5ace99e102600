#!/usr/bin/env bash
# Benchmark of ma-notifier against the stack's PostgreSQL and Mosquitto (not
# a CTest test). Prints a Markdown table.
#
# Usage: bench.sh BUILD_DIR [SECONDS]
#
# latency  events are inserted into kundhandelse at 1000 and then 5000 per
#          second for SECONDS (default 10) each, in ten transactions per
#          second, with one matching subscription each, while ma-notifier
#          runs; a QoS 1 subscriber records when each notification arrives.
#          Latency is arrival (mosquitto_sub's receive timestamp) minus the
#          notification's CloudEvents time (now() of the inserting
#          transaction), so it includes the commit, the trigger, the wake-up,
#          the claim, the publish and the broker's forwarding.
# maximum  20 000 pending notifications are created while ma-notifier is
#          stopped; then it starts and the rate is the count divided by the
#          time from the first to the last arrival. The baseline sends
#          20 000 messages of the same size with mosquitto_pub -l (QoS 1)
#          to mosquitto_sub (QoS 1), timed the same way; messages column:
#          how many arrived.
#
# Rows are inserted directly into kundhandelse (no arende or kund_index
# refresh), so the numbers cover the notifier's path, not the processor's.
set -euo pipefail

build="${1:?usage: bench.sh BUILD_DIR [SECONDS]}"
seconds="${2:-10}"
ticks="${TICKS_PER_SECOND:-10}" # transactions per second
notifier="$build/notifier/ma-notifier"
users="$build/notifier/ma-mqtt-users"
for var in DATABASE_URL MQTT_PORT MA_STATE_DIR; do
	[ -n "${!var:-}" ] || {
		echo "bench: $var is not set: eval \"\$(scripts/stack.sh env)\"" >&2
		exit 1
	}
done
schema_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../schemas" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/notifier-bench.XXXXXX")
run=$(date +%s%N | tail -c 9)
org="8${run}"
consumer="bench-${run}"
kund="cccccccccccccccccccccccc${run}"
mosq_dir="$MA_STATE_DIR/mosquitto"
notifier_pid=""
sub_pid=""

cleanup() {
	if [ -n "$notifier_pid" ]; then kill "$notifier_pid" 2>/dev/null || true; fi
	if [ -n "$sub_pid" ]; then kill "$sub_pid" 2>/dev/null || true; fi
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

sql() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qAtX -c "$1"; }

"$users" add "$consumer" >"$work/consumer.pw"
"$users" add "nb-$run" --role notifier >"$work/notifier.pw"
"$users" sync --password-file "$mosq_dir/passwd" --acl-file "$mosq_dir/acl" \
	--base-password-file "$mosq_dir/stack.passwd" --base-acl-file "$mosq_dir/stack.acl" \
	--reload-pid-file "$MA_STATE_DIR/pids/mosquitto.pid" >/dev/null
sleep 1
sql "INSERT INTO kundhandelse_typ (namn, producent_organisationsnummer,
       arendetyp, beskrivning, customer_has_ball, case_finished,
       notification, reminder_days, retention_days)
     VALUES ('nb$run.beslut', '$org', 'a', 'x', false, true, 'decision', '{}', 30);
     INSERT INTO notifier_subscription (consumer_id, kund_pseudonym, consent_reference)
     VALUES ('$consumer', '$kund', 'bench');"

# insert_sql FIRST COUNT: one statement inserting COUNT events.
insert_sql() {
	printf "INSERT INTO kundhandelse (producent_organisationsnummer, kundhandelse_id, sekvens, kund_pseudonym, producent, rubrik, beskrivning, sprak, kundhandelse_typ, producentarendet_kraver_kundatgard, producentarendet_klart, version, tidpunkt, tidpunkt_offset_min, taggar, kafka_topic, kafka_partition, kafka_offset) SELECT '%s', 'e' || i, 1, '%s', 'Bench', 'Beslut', 'x', 'sv', 'nb%s.beslut', false, true, '1', now(), 60, '{}', 'bench', 0, i FROM generate_series(%d, %d) AS i;\n" \
		"$org" "$kund" "$run" "$1" "$(($1 + $2 - 1))"
}

start_subscriber() {
	mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -V mqttv5 -q 1 -u "$consumer" \
		-P "$(cat "$work/consumer.pw")" -i "sub-$run" -t '#' -F '%j' >"$1" &
	sub_pid=$!
	sleep 0.5
}

stop_subscriber() {
	kill "$sub_pid"
	wait "$sub_pid" 2>/dev/null || true
	sub_pid=""
}

start_notifier() {
	"$notifier" --mqtt.port="$MQTT_PORT" --mqtt.username="nb-$run" \
		--mqtt.password="$(cat "$work/notifier.pw")" --mqtt.client-id="nb$run" \
		--migrations.dir="$schema_dir/sql" --metrics.port=0 --log.level=warn \
		>>"$work/notifier.log" 2>&1 &
	notifier_pid=$!
}

# wait_count FILE N: until FILE has N lines (at most 120 s).
wait_count() {
	local i
	for ((i = 0; i < 1200; i++)); do
		[ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	echo "bench: only $(wc -l <"$1") of $2 messages arrived" >&2
	exit 1
}

# Latency percentiles in ms from a mosquitto_sub -F %j file.
percentiles() {
	python3 - "$1" <<'EOF'
import json, sys
from datetime import datetime
lags = []
sent_times = []
for line in open(sys.argv[1]):
    m = json.loads(line)
    received = datetime.strptime(m["tst"].replace("Z+0000", ""), "%Y-%m-%dT%H:%M:%S.%f")
    sent = datetime.strptime(m["properties"]["user-properties"]["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    lags.append((received - sent).total_seconds() * 1000)
    sent_times.append(sent)
lags.sort()
span = (max(sent_times) - min(sent_times)).total_seconds()
pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]
print(f"{len(lags)} {pick(0.5):.1f} {pick(0.99):.1f} {lags[-1]:.1f} {len(lags) / span:.0f}")
EOF
}

# Rate in messages/s from the first to the last receive timestamp.
rate() {
	python3 - "$1" <<'EOF'
import json, sys
from datetime import datetime
t = [datetime.strptime(json.loads(l)["tst"].replace("Z+0000", ""), "%Y-%m-%dT%H:%M:%S.%f") for l in open(sys.argv[1])]
span = (max(t) - min(t)).total_seconds()
print(f"{len(t)} {len(t) / span:.0f}")
EOF
}

echo "| measurement | messages | p50 ms | p99 ms | max ms | rate /s |"
echo "|---|---|---|---|---|---|"
next=1
start_notifier
for per_second in 1000 5000; do
	start_subscriber "$work/lat$per_second.json"
	per_tick=$((per_second / ticks))
	{
		for ((tick = 0; tick < seconds * ticks; tick++)); do
			insert_sql $((next + tick * per_tick)) "$per_tick"
			echo "\\! sleep $(awk -v t="$ticks" 'BEGIN { print 1 / t }')"
		done
	} | psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qAtX >/dev/null
	# The loop above ran in a subshell of the pipe.
	next=$((next + seconds * per_second))
	wait_count "$work/lat$per_second.json" $((seconds * per_second))
	stop_subscriber
	read -r count p50 p99 max inserted <<<"$(percentiles "$work/lat$per_second.json")"
	echo "| latency, $per_second events/s offered for $seconds s (rate: events inserted) | $count | $p50 | $p99 | $max | $inserted |"
done
kill "$notifier_pid"
wait "$notifier_pid" || true
notifier_pid=""

max_count=20000
insert_sql "$next" "$max_count" | psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qAtX >/dev/null
start_subscriber "$work/max.json"
start_notifier
wait_count "$work/max.json" "$max_count"
stop_subscriber
read -r count per_s <<<"$(rate "$work/max.json")"
echo "| ma-notifier, $max_count pending at start | $count | | | | $per_s |"
kill "$notifier_pid"
wait "$notifier_pid" || true
notifier_pid=""

# Baseline: the same number of messages of the same size, QoS 1 both ways.
size=$(head -1 "$work/max.json" | jq -r '.payloadlen')
start_subscriber "$work/base.json"
python3 -c "import sys; sys.stdout.write(('x' * $size + '\n') * $max_count)" |
	mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -V mqttv5 -q 1 -u "nb-$run" \
		-P "$(cat "$work/notifier.pw")" -t "ma/v1/$consumer/aviseringar/base" -l
# The broker drops QoS 1 messages beyond max_queued_messages (100,000 in
# the stack's configuration) when mosquitto_pub outpaces the subscriber,
# so this waits until nothing more arrives instead of for every message.
previous=-1
while [ "$(wc -l <"$work/base.json")" != "$previous" ]; do
	previous=$(wc -l <"$work/base.json")
	sleep 2
done
stop_subscriber
read -r count per_s <<<"$(rate "$work/base.json")"
echo "| baseline mosquitto_pub -l → mosquitto_sub, QoS 1, $size bytes ($max_count sent) | $count | | | | $per_s |"
