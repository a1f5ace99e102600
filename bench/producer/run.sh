#!/usr/bin/env bash
# Producer throughput: the producer library (bench_producer), the ma-produce
# command on a generated JSON Lines file, and librdkafka's own
# rdkafka_performance with the same value size, acks=all and idempotence as
# the baseline.  Prints a markdown table on standard output.
#
# Usage: bench/producer/run.sh [BUILD_DIR]
#   BUILD_DIR  a Release build of the project (default: build-release), with
#              the targets ma-produce and bench_producer built.
# Environment:
#   KAFKA_BOOTSTRAP_SERVERS  required; eval "$(scripts/stack.sh env)"
#   EVENTS                   events per run (default 100000)
#   REPEAT                   runs per measurement; the median is shown
#                            (default 3).  The runs are interleaved: run 1
#                            of every measurement, then run 2 of each, ...
#   BENCH_PRODUCER           path of bench_producer if not in BUILD_DIR
#
# Each run writes to new topics (prefix benchNNN.) with 3 partitions, so
# runs do not share partitions.  rdkafka_performance is compiled from the
# example in /usr/share/doc/librdkafka-dev/examples into BUILD_DIR and is
# never part of the repository.
# median_* and range_* are set through printf -v in summarize.
# shellcheck disable=SC2154
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$repo/build-release}" && pwd)
events=${EVENTS:-100000}
repeat=${REPEAT:-3}
bootstrap=${KAFKA_BOOTSTRAP_SERVERS:?set KAFKA_BOOTSTRAP_SERVERS, for example with eval \"\$(MA_STACK_NAME=test scripts/stack.sh env)\"}
bench=${BENCH_PRODUCER:-$build/bench/producer/bench_producer}
produce=$build/producers/ma-produce
example=/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c

die() {
	printf 'bench/producer/run.sh: %s\n' "$*" >&2
	exit 1
}

[[ -x $bench ]] || die "$bench not found: build the target bench_producer in a Release build"
[[ -x $produce ]] || die "$produce not found: build the target ma-produce"
[[ -f $example ]] || die "$example not found: install librdkafka-dev"

# rdkafka_performance, unchanged, against a shim for the two internal
# librdkafka headers it includes (see rd_shim.h).
perf_dir=$build/bench/producer/rdkafka_performance
mkdir -p "$perf_dir/include" "$perf_dir/src"
cp "$repo/bench/producer/rd_shim.h" "$perf_dir/src/rd.h"
cp "$repo/bench/producer/rd_shim.h" "$perf_dir/src/rdtime.h"
cc -O2 -w -I"$perf_dir/include" -I"$perf_dir/src" -I/usr/include/librdkafka \
	"$example" -o "$perf_dir/rdkafka_performance" -lrdkafka ||
	die "could not compile $example"

prefix="bench$(date +%s)."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$repo"
for topic in kundhandelser.skv perf.lz4 perf.none; do
	"$bench" create-topic "$bootstrap" "$prefix$topic" 3 >/dev/null ||
		die "could not create topic $prefix$topic at $bootstrap"
done

# field NAME LINE: the value of NAME=value in a bench_producer output line.
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

# Each measurement prints events per second.
library_rate() {
	local line
	line=$("$bench" publish "$bootstrap" "$prefix" "$events" "$1") ||
		die "bench_producer publish $1 failed"
	field rate "$line"
}

# The payload is the start of a generated event's JSON text, so that it
# compresses about as well as the Avro values (rdkafka_performance's own
# pattern repeats a 31-byte string).  Key and headers have the sizes of
# ours.  Every baseline message is identical, though, so lz4 compresses its
# batches far better than ours.  Its key is fixed, so partitioner=random
# spreads its messages over the 3 partitions as our distinct keys do;
# otherwise they would all go to one partition in larger batches.
headers=(-H ce_specversion=1.0 -H ce_id=SKV:BENCH-00000001:1796400000000
	-H ce_source=urn:minaarenden:producent:2021005448
	-H ce_type=se.minaarenden.kundhandelse.v1
	-H ce_time=2026-12-04T16:00:00+01:00 -H content-type=application/avro
	-H ce_subject=SKV.FSKATT.ANSOKAN_MOTTAGEN)
perf_rate() {
	local line
	line=$("$perf_dir/rdkafka_performance" -P -t "$prefix$1" -b "$bootstrap" \
		-s "$value_bytes" -m "$(head -n 1 "$work/events.jsonl")" \
		-k 0123456789abcdef0123456789abcdef "${headers[@]}" \
		-c "$events" -a -1 -X enable.idempotence=true \
		-X linger.ms=5 -X "compression.codec=$2" -X partitioner=random \
		-q 2>&1 |
		grep 'messages produced') || die "rdkafka_performance failed"
	sed -n 's/.* \([0-9]*\) msgs\/s.*/\1/p' <<<"$line"
}

# Wall-clock rate of ma-produce on the generated file, start-up included.
cli_rate() {
	local start seconds
	start=$(date +%s.%N)
	MA_PSEUDONYM_SECRET=benchmark-pseudonym-secret-0123 "$produce" \
		--producer SKV --input "$work/events.jsonl" \
		--bootstrap-servers "$bootstrap" --topic-prefix "$prefix" \
		--compression "$1" --progress never --log-level warn \
		2>"$work/err" || {
		cat "$work/err" >&2
		die "ma-produce failed"
	}
	seconds=$(echo "$(date +%s.%N) - $start" | bc -l)
	printf '%.0f\n' "$(echo "$events / $seconds" | bc -l)"
}

# The measurements, as NAME COMMAND...; each run goes through all of them
# in turn, so a change in the machine's load during the benchmark touches
# the library and the baseline alike instead of whichever ran at the time.
measurements=(
	"dry library_rate dry"
	"lib_lz4 library_rate lz4"
	"lib_none library_rate none"
	"cli_lz4 cli_rate lz4"
	"cli_none cli_rate none"
	"perf_lz4 perf_rate perf.lz4 lz4"
	"perf_none perf_rate perf.none none"
)

# summarize NAME: sets median_NAME and range_NAME ("min-max") from the
# rates in $work/rates.NAME.
summarize() {
	local name=$1 rates
	rates=$(sort -n "$work/rates.$name")
	printf -v "median_$name" '%s' "$(sed -n "$(((repeat + 1) / 2))p" <<<"$rates")"
	printf -v "range_$name" '%s-%s' "$(head -n 1 <<<"$rates")" \
		"$(tail -n 1 <<<"$rates")"
}

"$bench" jsonl "$events" >"$work/events.jsonl"
value_bytes=$(field value_bytes "$("$bench" publish "$bootstrap" "$prefix" 1000 dry)")
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$repeat"); do
	for measurement in "${measurements[@]}"; do
		read -r -a words <<<"$measurement"
		"${words[@]:1}" >>"$work/rates.${words[0]}"
	done
done
for measurement in "${measurements[@]}"; do
	summarize "${measurement%% *}"
done

# paired_ratio NAME BASELINE: the median over the runs of NAME's rate
# divided by BASELINE's rate in the same run, which a load change between
# runs disturbs less than the ratio of the two medians.
paired_ratio() {
	paste -d ' ' "$work/rates.$1" "$work/rates.$2" |
		awk '{ printf "%.4f\n", $1 / $2 }' | sort -n |
		sed -n "$(((repeat + 1) / 2))p" | xargs printf '%.2f'
}

# row LABEL COMPRESSION NAME [BASELINE]
row() {
	local median="median_$3" range="range_$3" against=-
	[[ -n ${4:-} ]] && against=$(paired_ratio "$3" "$4")
	printf '| %s | %s | %s | %s | %s |\n' "$1" "$2" "${!median}" \
		"${!range}" "$against"
}

printf '%s events per run, median of %s interleaved runs; %s value bytes (Avro), 3 partitions, acks=all, enable.idempotence=true, linger.ms=5; %s, librdkafka %s, %s CPUs, load average at the start %s, at the end %s\n\n' \
	"$events" "$repeat" "$value_bytes" "$(date -u +%Y-%m-%dT%H:%MZ)" \
	"$(pkg-config --modversion rdkafka)" "$(nproc)" "$load_start" \
	"$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| run | compression | events/s (median) | range | ratio to rdkafka_performance (median of per-run ratios) |\n'
printf '|---|---|---|---|---|\n'
row "library: validate + encode + key only (dry run)" - dry
row "library: ma_producer_publish()" lz4 lib_lz4 perf_lz4
row "library: ma_producer_publish()" none lib_none perf_none
row "ma-produce, JSON Lines file" lz4 cli_lz4 perf_lz4
row "ma-produce, JSON Lines file" none cli_none perf_none
row "rdkafka_performance -s $value_bytes, same key and header sizes" lz4 perf_lz4
row "rdkafka_performance -s $value_bytes, same key and header sizes" none perf_none
printf '\nlibrary / rdkafka_performance, no compression: %s (goal >= 0.8)\n' \
	"$(paired_ratio lib_none perf_none)"
