#!/usr/bin/env bash
# Notifier benchmark: the whole path from the producer's send to a QoS 1
# MQTT subscriber, and the notifier's maximum rate against raw Mosquitto.
# Prints a Markdown table for docs/benchmarks.md.
#
# Usage: bench/notifier/run.sh BUILD_DIR [SECONDS] [REPEATS]
#   SECONDS  duration of each latency run (default 10)
#   REPEATS  rounds; the table shows medians over them (default 3)
# Environment:
#   BENCH_VARIANTS  space-separated LABEL=NOTIFIER_BINARY[,LINGER[,PROCESSOR]]
#                   (default: BUILD_DIR's ma-notifier with ma-processor's
#                   default --batch.linger of 200ms, and with 10ms;
#                   PROCESSOR defaults to BUILD_DIR's ma-processor).  Every round
#                   runs each variant's measurements and then the baseline,
#                   so a change in the machine's load touches all of them;
#                   the ratio column is the median of the per-round ratios
#                   of a variant's maximum to that round's baseline.
#   NOTIFIER_ARGS   extra ma-notifier flags for every variant.
#   PROCESSOR_ARGS  extra ma-processor flags for every variant.
#   PRODUCE_ARGS    extra ma-produce flags.
#   BENCH_RATES     latency rates in events/s (default "1000 5000").
#   BENCH_MAXIMUM   0 skips the maximum and the baseline (default 1).
#   KEEP_WORK       1 keeps the work folder with every run's arrivals.
#
# latency  pace_jsonl.py writes events of a type whose notification is
#          "decision" at 1000 and then 5000 per second for SECONDS on a
#          fixed schedule into ma-produce (stdin, JSON Lines) → Kafka →
#          ma-processor (PostgreSQL; the outbox trigger) → ma-notifier →
#          Mosquitto → mosquitto_sub (QoS 1, clean session).  Every event
#          notifies: 20 customers, each with one subscription of one
#          consumer.  Latency is the subscriber's receive time minus the
#          event's scheduled send time, which its kundhandelseId carries.
#          Parts: up to the start of the processor's transaction (the
#          outbox row's created_at), from there to the notifier's first
#          claim (first_sent_at) and on to the subscriber; with
#          track_commit_timestamp on in PostgreSQL also up to the
#          transaction's commit.
# maximum  20 000 notifications are made pending through the same pipeline
#          while ma-notifier is stopped; then it starts, and the rate is the
#          count over the time from the first to the last arrival.
# baseline mosquitto_pub -l sends 20 000 messages of the notifications'
#          size with QoS 1 to the same QoS 1 subscriber on the same broker,
#          timed the same way.  Mosquitto drops QoS 1 messages beyond the
#          subscriber's max_queued_messages when mosquitto_pub outpaces it,
#          so fewer may arrive; the rate counts those that did.
#
# Needs DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, MQTT_PORT and MA_STATE_DIR
# (eval "$(scripts/stack.sh env)").  Works in a database of its own
# (bench_notif_*), which it drops at the end; adds MQTT accounts to the
# stack's Mosquitto (nb-*); its Kafka topic stays.
set -euo pipefail

build="${1:?usage: bench/notifier/run.sh BUILD_DIR [SECONDS] [REPEATS]}"
seconds="${2:-10}"
repeats="${3:-3}"
rates="${BENCH_RATES:-1000 5000}"
maximum="${BENCH_MAXIMUM:-1}"
build=$(cd "$build" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$repo/bench/notifier"
for var in DATABASE_URL KAFKA_BOOTSTRAP_SERVERS MQTT_PORT MA_STATE_DIR; do
	[ -n "${!var:-}" ] || {
		echo "run.sh: $var is not set: eval \"\$(scripts/stack.sh env)\"" >&2
		exit 1
	}
done
variants="${BENCH_VARIANTS:-linger-200ms=$build/notifier/ma-notifier,200ms linger-10ms=$build/notifier/ma-notifier,10ms}"
users="$build/notifier/ma-mqtt-users"
proc="$build/processors/ma-processor"
produce="$build/producers/ma-produce"
topics="$build/tools/ma-topics"
catalog="$repo/tests/integration/notifier/catalog.json"
for f in "$users" "$proc" "$produce" "$topics"; do
	[ -x "$f" ] || { echo "run.sh: $f is not built" >&2; exit 1; }
done

run="nb$(date +%s%N | tail -c 9)"
work=$(mktemp -d "${TMPDIR:-/tmp}/notifier-bench.XXXXXX")
secret="notifier-bench-secret-0123456789"
consumer="bench-$run"
customers=20
mosq_dir="$MA_STATE_DIR/mosquitto"
db="bench_notif_$run"
admin_url=$DATABASE_URL
url="${DATABASE_URL%/*}/$db"
prefix="ma.$run."
notifier_pid=""
proc_pid=""
sub_pid=""
next_group=0

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
stop_pid() { # stop_pid PID: SIGTERM, wait
	if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
	fi
}
cleanup() {
	stop_pid "$sub_pid"
	stop_pid "$notifier_pid"
	stop_pid "$proc_pid"
	psql "$admin_url" -qX -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	if [ "${KEEP_WORK:-0}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
sql() { psql "$url" -v ON_ERROR_STOP=1 -qAtX -c "$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

psql "$admin_url" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db" >/dev/null
export DATABASE_URL="$url"
"$users" --migrations.dir="$repo/schemas/sql" add "$consumer" >"$work/consumer.pw"
"$users" add "nb-$run" --role notifier >"$work/notifier.pw"
"$users" sync --password-file "$mosq_dir/passwd" --acl-file "$mosq_dir/acl" \
	--base-password-file "$mosq_dir/stack.passwd" --base-acl-file "$mosq_dir/stack.acl" \
	--reload-pid-file "$MA_STATE_DIR/pids/mosquitto.pid" >/dev/null
python3 "$here/pace_jsonl.py" pseudonyms "$secret" "$customers" |
	while read -r kund; do
		echo "INSERT INTO notifier_subscription (consumer_id, kund_pseudonym, consent_reference) VALUES ('$consumer', '$kund', 'bench');"
	done | psql "$url" -v ON_ERROR_STOP=1 -qAtX >/dev/null
"$topics" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" --catalog "$catalog" \
	--topic-prefix "$prefix" --partitions 6 NTFA >/dev/null
for ((i = 0; i < 50; i++)); do
	mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -u "$consumer" -P "$(cat "$work/consumer.pw")" \
		-t "ma/v1/$consumer/login" -m x 2>/dev/null && break
	sleep 0.2
done

start_processor() { # start_processor LINGER [BINARY]
	# shellcheck disable=SC2086
	"${2:-$proc}" --kafka.brokers="$KAFKA_BOOTSTRAP_SERVERS" --kafka.group="$run" \
		--kafka.topic-prefix="$prefix" --kafka.metadata-refresh=2s \
		--database.url="$url" --schema.dir="$repo/schemas" --catalog.path="$catalog" \
		--migrations.dir="$repo/schemas/sql" --pseudonym.secret="$secret" \
		--dlq.partitions=1 --metrics.port=0 --retention.interval=0 \
		--batch.linger="$1" --log.level=warn ${PROCESSOR_ARGS:-} >>"$work/processor.log" 2>&1 &
	proc_pid=$!
}
start_notifier() { # start_notifier BINARY
	# shellcheck disable=SC2086
	"$1" --mqtt.port="$MQTT_PORT" --mqtt.username="nb-$run" \
		--mqtt.password="$(cat "$work/notifier.pw")" --mqtt.client-id="$run" \
		--migrations.apply=false --metrics.port=0 --log.level=warn \
		${NOTIFIER_ARGS:-} >>"$work/notifier.log" 2>&1 &
	notifier_pid=$!
}
start_subscriber() { # start_subscriber FILE
	: >"$1"
	mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -V mqttv5 -q 1 -u "$consumer" \
		-P "$(cat "$work/consumer.pw")" -i "sub-$run" -t '#' -F '%U %p' >"$1" &
	sub_pid=$!
	sleep 0.5
}
stop_subscriber() { stop_pid "$sub_pid"; sub_pid=""; }
# send RATE SECONDS: paced events into ma-produce; one group of ids each.
send() {
	next_group=$((next_group + 1))
	# shellcheck disable=SC2086
	python3 "$here/pace_jsonl.py" send "$run-$next_group" "$1" "$2" "$customers" |
		"$produce" --producer NTFA --catalog "$catalog" --schemas "$repo/schemas" \
			--bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" --topic-prefix "$prefix" \
			--pseudonym-secret "$secret" --progress never --log-level warn ${PRODUCE_ARGS:-} \
			>>"$work/produce.log" 2>&1
}
# wait_lines FILE N: until FILE has N lines, at most 120 s; 1 if not.
wait_lines() {
	local i
	for ((i = 0; i < 1200; i++)); do
		[ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	log "only $(wc -l <"$1") of $2 arrived"
	return 1
}
pending() { sql "SELECT count(*) FROM notifier_notification WHERE state = 'pending'"; }

max_count=20000
# measure_latency LABEL RATE: one latency run; appends to $work/LABEL.RATE.*
measure_latency() {
	local label="$1" per_second="$2" count p50 p99 max b50 b99 a50 a99 c50 c99 d50 d99 e50 e99 f50 f99
	local commit_time="NULL::numeric"
	if [ "$(sql "SHOW track_commit_timestamp")" = on ]; then
		commit_time="(SELECT extract(epoch FROM pg_xact_commit_timestamp(k.xmin)) FROM kundhandelse k WHERE k.producent_organisationsnummer = n.producent_organisationsnummer AND k.kundhandelse_id = n.kundhandelse_id)"
	fi
	start_subscriber "$work/lat.txt"
	send "$per_second" "$seconds"
	wait_lines "$work/lat.txt" $((seconds * per_second)) || true
	stop_subscriber
	sql "SELECT n.kundhandelse_id, extract(epoch FROM n.created_at), extract(epoch FROM n.first_sent_at), $commit_time FROM notifier_notification n WHERE n.kundhandelse_id LIKE '$run-$next_group-%'" |
		tr '|' ' ' >"$work/outbox.txt"
	read -r count p50 p99 max b50 b99 a50 a99 c50 c99 d50 d99 e50 e99 f50 f99 <<<"$(python3 "$here/pace_jsonl.py" latency "$work/lat.txt" "$work/outbox.txt")"
	log "$label $per_second/s: $count messages, p50 $p50 p99 $p99 max $max ms; send → processor transaction p50 $b50 p99 $b99; transaction → subscriber p50 $a50 p99 $a99 (→ notifier's claim p50 $c50 p99 $c99; claim → subscriber p50 $d50 p99 $d99)${e50:+; transaction → its commit p50 $e50 p99 $e99; commit → claim p50 $f50 p99 $f99}"
	cp "$work/lat.txt" "$work/lat.$label.$per_second.$next_group.txt"
	cp "$work/outbox.txt" "$work/outbox.$label.$per_second.$next_group.txt"
	for v in count p50 p99 max b50 b99 a50 a99 c50 c99 d50 d99 e50 e99 f50 f99; do
		if [ -n "${!v}" ]; then echo "${!v}" >>"$work/$label.$per_second.$v"; fi
	done
}
# measure_max LABEL BINARY: 20 000 pending, then the notifier starts.
measure_max() {
	local label="$1" count per_s i
	stop_pid "$notifier_pid"
	notifier_pid=""
	send 20000 1
	for ((i = 0; i < 1200; i++)); do
		[ "$(pending)" -ge "$max_count" ] && break
		sleep 0.1
	done
	start_subscriber "$work/max.txt"
	start_notifier "$2"
	wait_lines "$work/max.txt" "$max_count" || true
	stop_subscriber
	read -r count per_s <<<"$(python3 "$here/pace_jsonl.py" rate "$work/max.txt")"
	log "$label maximum: $count messages, $per_s /s"
	echo "$count" >>"$work/$label.max.count"
	echo "$per_s" >>"$work/$label.max.rate"
}
measure_baseline() {
	local count per_s previous
	start_subscriber "$work/base.txt"
	python3 -c "import sys; sys.stdout.write(('x' * $size + '\n') * $max_count)" |
		mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -V mqttv5 -q 1 -u "nb-$run" \
			-P "$(cat "$work/notifier.pw")" -t "ma/v1/$consumer/aviseringar/base" -l
	previous=-1
	while [ "$(wc -l <"$work/base.txt")" != "$previous" ]; do
		previous=$(wc -l <"$work/base.txt")
		sleep 2
	done
	stop_subscriber
	read -r count per_s <<<"$(python3 "$here/pace_jsonl.py" rate "$work/base.txt")"
	log "baseline: $count messages, $per_s /s"
	echo "$count" >>"$work/base.count"
	echo "$per_s" >>"$work/base.rate"
}

size=0
for ((r = 1; r <= repeats; r++)); do
	for variant in $variants; do
		label="${variant%%=*}"
		rest="${variant#*=}"
		bin="${rest%%,*}"
		linger="10ms"
		[ "$rest" != "$bin" ] && linger="${rest#*,}"
		proc_bin="$proc"
		if [ "$linger" != "${linger#*,}" ]; then
			proc_bin="${linger#*,}"
			linger="${linger%%,*}"
		fi
		log "round $r, variant $label: $bin, $proc_bin --batch.linger=$linger"
		start_processor "$linger" "$proc_bin"
		# measure_max stops it at once; stopped before its exec, the
		# background shell would run this script's EXIT trap.
		[ -z "${rates// /}" ] || start_notifier "$bin"
		for per_second in $rates; do
			measure_latency "$label" "$per_second"
		done
		if [ "$maximum" = 1 ]; then
			measure_max "$label" "$bin"
			# Payload size of a notification, for the baseline.
			size=$(head -1 "$work/max.txt" | cut -d' ' -f2- | tr -d '\n' | wc -c)
		fi
		stop_pid "$notifier_pid"
		notifier_pid=""
		stop_pid "$proc_pid"
		proc_pid=""
	done
	[ "$maximum" = 1 ] || continue
	measure_baseline
	for variant in $variants; do
		label="${variant%%=*}"
		awk -v a="$(tail -1 "$work/$label.max.rate")" -v b="$(tail -1 "$work/base.rate")" \
			'BEGIN { printf "%.2f\n", (b > 0 ? a / b : 0) }' >>"$work/$label.max.ratio"
	done
done

m() { if [ -f "$work/$1" ]; then median <"$work/$1"; else echo -; fi; }
echo "| variant | measurement | messages | p50 ms | p99 ms | max ms | rate /s | ratio to baseline |"
echo "|---|---|---|---|---|---|---|---|"
for variant in $variants; do
	label="${variant%%=*}"
	for per_second in $rates; do
		l="$label.$per_second"
		echo "| $label | latency at $per_second events/s for $seconds s: producer's send → subscriber | $(m "$l.count") | $(m "$l.p50") | $(m "$l.p99") | $(m "$l.max") | | |"
		echo "| $label | ↳ part: send → start of the processor's transaction | | $(m "$l.b50") | $(m "$l.b99") | | | |"
		echo "| $label | ↳ part: start of that transaction → subscriber | | $(m "$l.a50") | $(m "$l.a99") | | | |"
		echo "| $label | ↳ ↳ of it: start of that transaction → the notifier's claim | | $(m "$l.c50") | $(m "$l.c99") | | | |"
		echo "| $label | ↳ ↳ of it: the notifier's claim → subscriber | | $(m "$l.d50") | $(m "$l.d99") | | | |"
		if [ -f "$work/$l.e50" ]; then
			echo "| $label | ↳ ↳ of it: start of that transaction → its commit | | $(m "$l.e50") | $(m "$l.e99") | | | |"
			echo "| $label | ↳ ↳ of it: the commit → the notifier's claim | | $(m "$l.f50") | $(m "$l.f99") | | | |"
		fi
	done
	if [ "$maximum" = 1 ]; then
		echo "| $label | maximum: $max_count pending at start | $(m "$label.max.count") | | | | $(m "$label.max.rate") | $(m "$label.max.ratio") |"
	fi
done
if [ "$maximum" = 1 ]; then echo "| mosquitto_pub -l → mosquitto_sub | baseline: QoS 1, $size bytes, $max_count sent | $(m base.count) | | | | $(m base.rate) | 1 |"; fi
echo
echo "Medians of $repeats rounds."
echo
# The figures with goals, one line per variant, for scripts/bench_report.py.
for variant in $variants; do
	label="${variant%%=*}"
	line="$label, p99 at 1000 events/s: $(m "$label.1000.p99") ms (goal <= 50 ms)"
	if [ "$maximum" = 1 ]; then line="$line; $label, maximum / raw rate: $(m "$label.max.ratio") (goal >= 0.5)"; fi
	echo "$line"
done
