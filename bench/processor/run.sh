#!/usr/bin/env bash
# Processor benchmark: one backlog of COUNT records, drained several ways in
# one run, printed as a Markdown table for docs/benchmarks.md.
#
# Usage: bench/processor/run.sh [BUILD_DIR] [COUNT] [SUBSET]
#   BUILD_DIR  build with ma-processor (default $MA_BUILD_DIR, else build);
#              a relative path is taken from the repository root
#   COUNT      records published and drained (default 200000)
#   SUBSET     records drained by the slow variants (default 20000)
#
# 1. publish COUNT records (bench_processor_publish) to two producer topics
#    of 6 partitions each, created with ma-topics;
# 2. processor: ma-processor (set-based batches: new events copied into
#    their tables, the other records through the staging table) drains
#    the backlog into an empty database, under /usr/bin/time -v for its
#    peak resident memory, with its resident memory sampled at each poll;
# 3. the same with database.synchronous-commit=true (the default is false);
# 4. optionally an older build (BENCH_BEFORE_BIN, with its migrations in
#    BENCH_BEFORE_MIGRATIONS) on the same backlog;
# 5. COPY: the tables the processor wrote are exported with COPY TO and
#    loaded with COPY FROM into an empty database in one transaction;
# 6. raw consumption: kcat reads both topics from the beginning to the end
#    into /dev/null, the two topics at the same time;
# 7. per-record: ma-processor with batch.apply=record (one statement per
#    record, batches of 500), SUBSET records;
# 8. naive: ma-processor with batch.apply=record and batch.max=1, so one
#    function call and one COMMIT per event, SUBSET records.
# Rates are records committed per second between the first poll of
# consumer_offsets (every 0.2 s) that sees a commit and the one that sees
# the target, counting only the records committed in between (start-up,
# group join and the first batch are left out); the processor's rate from
# its start is printed too.  The processor and COPY run BENCH_ROUNDS times
# (default 3), alternating, and their medians are compared.  BENCH_BATCH_MAX
# sets batch.max (default: the processor's default).
#
# Needs KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (eval "$(scripts/stack.sh
# env)"), kcat, psql and a build.  Creates topics with a fresh prefix and
# databases bench_proc_*, which it drops at the end (the topics stay; delete
# them or let retention remove them).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="${MA_BUILD_DIR:-$repo/build}"
case "${1:-}" in
'' | *[!0-9]*)
	[ -n "${1:-}" ] && build="$1" && shift
	;;
esac
case "$build" in /*) ;; *) build="$repo/$build" ;; esac
count="${1:-200000}"
subset="${2:-20000}"
: "${KAFKA_BOOTSTRAP_SERVERS:?set it: eval \"\$(scripts/stack.sh env)\"}"
: "${DATABASE_URL:?set it: eval \"\$(scripts/stack.sh env)\"}"
proc_bin="$build/processors/ma-processor"
pub_bin="$build/bench/processor/bench_processor_publish"
topics_bin="$build/tools/ma-topics"
catalog="$repo/tests/integration/processor/catalog.json"
for f in "$proc_bin" "$pub_bin" "$topics_bin"; do
	[ -x "$f" ] || { echo "run.sh: $f is not built (MA_BUILD_DIR=$build)" >&2; exit 1; }
done
command -v kcat >/dev/null || { echo "run.sh: kcat is not installed" >&2; exit 1; }

id="$(date +%s)_$$"
prefix="ma.bench${id}."
work=$(mktemp -d)
export MA_PSEUDONYM_SECRET="processor-bench-secret-0123456789"
databases=()
pids=()

cleanup() {
	local pid db
	for pid in "${pids[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM $(pgrep -P "$pid") 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	for db in "${databases[@]}"; do
		psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
sql() { psql -X -A -t -q -v ON_ERROR_STOP=1 "$1" -c "$2"; }
db_url() {
	local base="${DATABASE_URL%%\?*}" query=""
	[ "$base" != "$DATABASE_URL" ] && query="?${DATABASE_URL#*\?}"
	printf '%s/%s%s' "${base%/*}" "$1" "$query"
}
# The local stack's superuser, for CHECKPOINT.
super_url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(netloc="postgres@" + p.netloc.split("@")[-1]).geturl())' "$DATABASE_URL")
# new_db NAME: creates the database and records it for cleanup (not in a
# command substitution, whose subshell would lose the record).  A
# CHECKPOINT then writes out the previous measurement's dirty pages, so no
# checkpoint that the previous one caused lands in the next.  Without a
# superuser it is skipped with a note.
new_db() {
	psql -q "$DATABASE_URL" -v ON_ERROR_STOP=1 -c "CREATE DATABASE $1" >/dev/null
	databases+=("$1")
	psql -qX "$super_url" -c CHECKPOINT >/dev/null 2>&1 ||
		log "note: CHECKPOINT failed (needs a superuser); a checkpoint may fall into the next measurement"
}
# drop_db NAME: drops a measured database at once, so that its autovacuum
# and dirty pages stay out of the next measurement.
drop_db() {
	psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $1" >/dev/null
}
# proc_default SETTING: prints the default value that ma-processor --help
# gives for SETTING.
proc_default() {
	# awk reads to the end: leaving early could kill ma-processor with
	# SIGPIPE, which pipefail and set -e would turn into the script's exit.
	"$proc_bin" --help 2>&1 | awk -v k="--$1=" 'index($1, k) == 1 { f = 1; next }
		f && !done && /default:/ { sub(/.*default: "/, ""); sub(/".*/, ""); print; done = 1 }'
}
# The drain loop polls the committed count through one psql session (a
# coprocess). Starting psql and a server process five times a second took
# about 7 % of the two cores from the processor being measured, and COPY,
# measured in one session, paid no such cost.
poll_open() {
	coproc POLL { psql -X -A -t -q "$1" 2>/dev/null; }
}
# poll_consumed: sets polled to the records committed so far (0 before the
# processor has created its tables).
poll_consumed() {
	local line
	polled=0
	printf '%s\n' "SELECT coalesce(sum(consumed_count), 0) FROM consumer_offsets;" \
		'\echo __end__' >&"${POLL[1]}"
	while :; do
		IFS= read -r line <&"${POLL[0]}" ||
			{ echo "run.sh: the psql session polling consumer_offsets exited; check that PostgreSQL is running" >&2; exit 1; }
		[ "$line" = __end__ ] && break
		polled=$line
	done
}
poll_close() {
	local coproc_pid=$POLL_PID
	eval "exec ${POLL[1]}>&-"
	wait "$coproc_pid" 2>/dev/null || true
}
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# drain URL TARGET LOGNAME ARGS...: runs ma-processor on URL until TARGET
# records are committed; sets drain_start, drain_first (first poll that saw
# a commit, with drain_first_n records), drain_end and drain_count (records
# committed between the two), and leaves /usr/bin/time's report in
# $work/LOGNAME.time.
drain() {
	local url="$1" target="$2" name="$3" n pid child rss quarter=1
	shift 3
	drain_start=$(now)
	drain_first=""
	drain_rss=""
	/usr/bin/time -v -o "$work/$name.time" "${drain_bin:-$proc_bin}" \
		--kafka.brokers="$KAFKA_BOOTSTRAP_SERVERS" --kafka.group="bench-$name" \
		--kafka.topic-prefix="$prefix" --database.url="$url" \
		--catalog.path="$catalog" --metrics.port=0 --retention.interval=0 \
		--kafka.metadata-refresh=2s "$@" >"$work/$name.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	poll_open "$url"
	while :; do
		poll_consumed
		n=$polled
		if [ -z "$drain_first" ] && [ "$n" -gt 0 ]; then
			drain_first=$(now)
			drain_first_n=$n
		fi
		# Resident memory when a quarter, a half, three quarters of the
		# backlog are committed.
		while [ "$quarter" -le 3 ] && [ "$n" -ge $((target * quarter / 4)) ]; do
			child=$(pgrep -P "$pid" | head -1)
			rss=$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$child/status" 2>/dev/null || true)
			drain_rss="$drain_rss${drain_rss:+ / }${rss:-?}"
			quarter=$((quarter + 1))
		done
		[ "$n" -ge "$target" ] && break
		kill -0 "$pid" 2>/dev/null || { echo "run.sh: ma-processor ($name) exited; see below" >&2; tail -5 "$work/$name.log" >&2; exit 1; }
		sleep 0.2
	done
	drain_end=$(now)
	poll_close
	drain_count=$((n - drain_first_n))
	drain_pg_cpu=$(backend_cpu "$url")
	# $pid is /usr/bin/time; it reports once its child has exited.
	drain_stop_start=$(now)
	kill -TERM $(pgrep -P "$pid") 2>/dev/null || true
	for n in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "run.sh: ma-processor ($name) did not stop within 60 s of SIGTERM; killing it" >&2
		kill -KILL $(pgrep -P "$pid") 2>/dev/null || true
	fi
	wait "$pid" || true
	drain_stop_secs=$(secs "$drain_stop_start" "$(now)")
}

# backend_cpu URL: CPU seconds (user + system) used so far by the other
# sessions of URL's database, from /proc (the stack runs on this machine);
# "n/a" when /proc has none of them.
backend_cpu() {
	local pid ticks=0 found=0 t
	for pid in $(sql "$1" "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"); do
		t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || continue
		ticks=$((ticks + t))
		found=1
	done
	if [ "$found" = 1 ]; then
		awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }'
	else
		echo "n/a"
	fi
}

cpu_secs() {
	awk -F': ' '/User time|System time/ { t += $2 } END { printf "%.1f", t }' "$1"
}

peak_rss_mib() {
	awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"
}

log "creating topics ${prefix}kundhandelser.{tsta,tstb} with 6 partitions"
"$topics_bin" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" --catalog "$catalog" \
	--topic-prefix "$prefix" --partitions 6 TSTA TSTB >"$work/topics.log" 2>&1
log "publishing $count records"
t0=$(now)
published=$("$pub_bin" "$KAFKA_BOOTSTRAP_SERVERS" "$prefix" "$repo/schemas" \
	"$MA_PSEUDONYM_SECRET" "$count" | sed -n 's/^published //p')
t1=$(now)
[ "$published" = "$count" ] || { echo "run.sh: published '$published' of $count" >&2; exit 1; }
log "published in $(secs "$t0" "$t1") s"

# 2. and 5. The processor and COPY, in alternating rounds.
# median N...: prints the middle value (the lower middle one of an even
# count).
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
tables="kundhandelse kundhandelse_version consumer_offsets"
# copy_round N: loads the exported rows with COPY FROM into a new database
# in one transaction, and sets copy_secs, copy_rate and copy_pg_cpu.
copy_round() {
	local copy_url t
	new_db "bench_proc_copy${1}_${id}"
	copy_url=$(db_url "bench_proc_copy${1}_${id}")
	"$proc_bin" --retention.once --database.url="$copy_url" --catalog.path="$catalog" \
		--metrics.port=0 >"$work/copy-migrate.log" 2>&1
	{
		echo "SELECT pg_backend_pid() AS backend_pid \\gset"
		echo "\\setenv MA_BENCH_BACKEND :backend_pid"
		echo "BEGIN;"
		for t in $tables; do echo "\\copy $t FROM '$work/$t.copy'"; done
		echo "COMMIT;"
		# The backend's CPU seconds, read before the session ends.
		echo "\\! awk -v hz=\"\$(getconf CLK_TCK)\" '{ printf \"%.1f\", (\$14 + \$15) / hz }' /proc/\$MA_BENCH_BACKEND/stat >'$work/copy.cpu' 2>/dev/null || echo n/a >'$work/copy.cpu'"
	} >"$work/copy.sql"
	t0=$(now)
	psql -X -q -v ON_ERROR_STOP=1 "$copy_url" -f "$work/copy.sql"
	t1=$(now)
	copy_secs=$(secs "$t0" "$t1")
	copy_rate=$(rate "$count" "$copy_secs")
	copy_pg_cpu=$(cat "$work/copy.cpu" 2>/dev/null || echo n/a)
	drop_db "bench_proc_copy${1}_${id}"
}

# Each round drains the whole backlog into a new database with ma-processor
# (its default batch.max unless BENCH_BATCH_MAX is set).  Then COPY loads
# the same rows into another.  The first round's database is the one
# exported for COPY, and its details (memory, CPU, rows) are printed.
rounds="${BENCH_ROUNDS:-3}"
batch_args=()
[ -n "${BENCH_BATCH_MAX:-}" ] && batch_args=(--batch.max="$BENCH_BATCH_MAX")
batch_label="batch.max=${BENCH_BATCH_MAX:-$(proc_default batch.max)}"
proc_rates=()
copy_rates=()
round_notes=""
for round in $(seq 1 "$rounds"); do
	new_db "bench_proc_set${round}_${id}"
	url=$(db_url "bench_proc_set${round}_${id}")
	log "round $round: processor (set-based, $batch_label) draining $count records"
	drain "$url" "$count" "set$round" ${batch_args[@]+"${batch_args[@]}"} --batch.linger=200ms
	r_secs=$(secs "$drain_first" "$drain_end")
	r_rate=$(rate "$drain_count" "$r_secs")
	proc_rates+=("$r_rate")
	if [ "$round" = 1 ]; then
		proc_secs=$r_secs
		proc_total_secs=$(secs "$drain_start" "$drain_end")
		proc_n=$drain_count
		proc_total_rate=$(rate "$count" "$proc_total_secs")
		proc_rss=$(peak_rss_mib "$work/set1.time")
		proc_cpu=$(cpu_secs "$work/set1.time")
		proc_rss_quarters=$drain_rss
		proc_pg_cpu=$drain_pg_cpu
		proc_stop_secs=$drain_stop_secs
		rows=$(sql "$url" "SELECT (SELECT count(*) FROM kundhandelse) || ' kundhandelse, ' ||
			(SELECT count(*) FROM arende) || ' arende, ' || (SELECT count(*) FROM kund_index) ||
			' kund_index'")
		for t in $tables; do
			psql -X -q -v ON_ERROR_STOP=1 "$url" -c "\\copy $t TO '$work/$t.copy'"
		done
	fi
	drop_db "bench_proc_set${round}_${id}"
	log "round $round: processor $r_rate records/s ($r_secs s)"
	copy_round "$round"
	copy_rates+=("$copy_rate")
	[ "$round" = 1 ] && first_copy_pg_cpu=$copy_pg_cpu
	log "round $round: COPY FROM $copy_rate records/s ($copy_secs s)"
	round_notes="$round_notes${round_notes:+; }$r_rate / $copy_rate"
done
proc_rate=$(median "${proc_rates[@]}")
copy_rate=$(median "${copy_rates[@]}")
copy_pg_cpu=$first_copy_pg_cpu
log "processor: median $proc_rate records/s, COPY median $copy_rate records/s; $rows"

# 3. The same, waiting for each commit's WAL flush.
new_db "bench_proc_sync_${id}"
sync_url=$(db_url "bench_proc_sync_${id}")
log "processor, synchronous commit on, draining $count records"
drain "$sync_url" "$count" sync ${batch_args[@]+"${batch_args[@]}"} --batch.linger=200ms \
	--database.synchronous-commit=true
sync_secs=$(secs "$drain_first" "$drain_end")
sync_n=$drain_count
sync_rate=$(rate "$drain_count" "$sync_secs")
log "processor, synchronous commit on: $sync_rate records/s ($sync_secs s)"

# 4. An older build on the same backlog, for before/after figures.
before_row=""
if [ -n "${BENCH_BEFORE_BIN:-}" ]; then
	new_db "bench_proc_before_${id}"
	before_url=$(db_url "bench_proc_before_${id}")
	log "older build $BENCH_BEFORE_BIN draining $count records"
	drain_bin="$BENCH_BEFORE_BIN" drain "$before_url" "$count" before \
		${batch_args[@]+"${batch_args[@]}"} --batch.linger=200ms \
		--migrations.dir="${BENCH_BEFORE_MIGRATIONS:?set it with BENCH_BEFORE_BIN}"
	before_rate=$(rate "$drain_count" "$(secs "$drain_first" "$drain_end")")
	before_row="| older build (BENCH_BEFORE_BIN), $batch_label, first to last commit | $drain_count | $(secs "$drain_first" "$drain_end") | $before_rate |"
	log "older build: $before_rate records/s"
fi

# 6. Raw consumption with kcat, both topics at once.
t0=$(now)
kcat -C -b "$KAFKA_BOOTSTRAP_SERVERS" -t "${prefix}kundhandelser.tsta" -o beginning -e -q >/dev/null &
k1=$!
kcat -C -b "$KAFKA_BOOTSTRAP_SERVERS" -t "${prefix}kundhandelser.tstb" -o beginning -e -q >/dev/null &
k2=$!
wait "$k1" "$k2"
t1=$(now)
kcat_secs=$(secs "$t0" "$t1")
kcat_rate=$(rate "$count" "$kcat_secs")
log "kcat: $kcat_rate records/s ($kcat_secs s)"

# 7. One statement per record, batches of 500 (the design before).
new_db "bench_proc_rec_${id}"
rec_url=$(db_url "bench_proc_rec_${id}")
log "per-record batches draining $subset records"
drain "$rec_url" "$subset" rec --batch.apply=record --batch.max=500 --batch.linger=200ms
rec_secs=$(secs "$drain_first" "$drain_end")
rec_n=$drain_count
rec_rate=$(rate "$drain_count" "$rec_secs")
log "per-record: $rec_rate records/s"

# 8. Naive: one call and one COMMIT per event.
new_db "bench_proc_naive_${id}"
naive_url=$(db_url "bench_proc_naive_${id}")
log "naive (batch.max=1) draining $subset records"
drain "$naive_url" "$subset" naive --batch.apply=record --batch.max=1 --batch.linger=0
naive_secs=$(secs "$drain_first" "$drain_end")
naive_n=$drain_count
naive_rate=$(rate "$drain_count" "$naive_secs")
naive_stop_secs=$drain_stop_secs
log "naive: $naive_rate records/s"

lower=$copy_rate
[ "$kcat_rate" -lt "$lower" ] && lower=$kcat_rate
cat <<EOF
| measurement | records | seconds | records/s |
| --- | ---: | ---: | ---: |
| ma-processor, set-based batches ($batch_label), first to last commit, median of $rounds rounds | | | $proc_rate |
| ma-processor, first round, first to last commit | $proc_n | $proc_secs | $(rate "$proc_n" "$proc_secs") |
| ma-processor, first round, from process start | $count | $proc_total_secs | $proc_total_rate |
| ma-processor, database.synchronous-commit=true, first to last commit | $sync_n | $sync_secs | $sync_rate |
EOF
[ -z "$before_row" ] || echo "$before_row"
cat <<EOF
| COPY FROM of the processor's rows into empty tables (one transaction), median of $rounds rounds | $count | | $copy_rate |
| kcat, raw consumption of both topics to /dev/null | $count | $kcat_secs | $kcat_rate |
| ma-processor, one statement per record (batch.apply=record, batch.max=500) | $rec_n | $rec_secs | $rec_rate |
| naive: one call and one COMMIT per event (batch.apply=record, batch.max=1) | $naive_n | $naive_secs | $naive_rate |

- records/s in each round, processor / COPY: $round_notes
- rows written: $rows
- peak resident memory of ma-processor draining the backlog: $proc_rss MiB; at a quarter / half / three quarters of it: $proc_rss_quarters MiB
- time from SIGTERM to exit: $proc_stop_secs s (set-based run), $naive_stop_secs s (naive run, batch.max=1)
- CPU time of ma-processor itself (user + system) in that run: $proc_cpu s of $proc_total_secs s
- CPU time of its PostgreSQL backend (migrations and start-up included): $proc_pg_cpu s; of the COPY backend: $copy_pg_cpu s
- CPU-time ratio, COPY backend / (processor + its backend), what the rates would approach with a core each and nothing else running: $(awk -v c="$copy_pg_cpu" -v p="$proc_cpu" -v g="$proc_pg_cpu" 'BEGIN { if (c + 0 > 0 && g + 0 > 0) printf "%.2f", c / (p + g); else printf "n/a" }')
- processor / min(COPY, kcat): $(awk -v a="$proc_rate" -v b="$lower" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }') (goal >= 0.7)
- processor with synchronous commit on / min(COPY, kcat): $(awk -v a="$sync_rate" -v b="$lower" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }')
- processor / naive: $(awk -v a="$proc_rate" -v b="$naive_rate" 'BEGIN { if (b > 0) printf "%.1f", a / b; else printf "n/a" }') x (goal >= 10)
- processor / per-record batches: $(awk -v a="$proc_rate" -v b="$rec_rate" 'BEGIN { if (b > 0) printf "%.1f", a / b; else printf "n/a" }') x
EOF
