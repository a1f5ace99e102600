#!/usr/bin/env bash
# Black-box tests of ma-processor against a running Kafka and PostgreSQL.
#
# Usage: processor_test.sh basic
#        processor_test.sh kill KILLS [RECORDS]
#        processor_test.sh scale [RECORDS]
#        processor_test.sh pg-restart [RECORDS]
#        processor_test.sh pg-disconnect [RECORDS]
#        processor_test.sh cli
#        processor_test.sh retention [RECORDS]
#        processor_test.sh kafka-restart [RECORDS]
#        processor_test.sh partitions [RECORDS]
#        processor_test.sh set-equivalence [RECORDS]
#        processor_test.sh stop [RECORDS]
#
# basic  publishes the hand-written cases of proc_test_publish (replace by
#        sekvens, late older versions, retraction, tombstone, case state,
#        customer index, one bad record per dead-letter reason), starts the
#        processor, publishes to a second producer topic created after the
#        start, and checks every view row, the rejected_events rows, the
#        dead-letter topic's headers, the reconciled counters, the metrics
#        endpoints and a clean SIGTERM stop and restart.
# kill   publishes RECORDS random operations (default 6000), builds a
#        reference database with an undisturbed processor, then builds a
#        second one while killing the processor with SIGKILL KILLS times at
#        random moments, and compares a checksum over every view, the
#        rejected rows and the offsets.
# scale  publishes RECORDS (default 2000) four times while three instances
#        of one group apply them (C joins, A leaves with SIGTERM, B is
#        killed), then compares with a single processor's checksum.
# pg-restart  crashes the stack's PostgreSQL (SIGQUIT, immediate shutdown)
#        while the processor runs, then starts it again (scripts/stack.sh
#        restart-service postgres).  The processor must recover by itself
#        and end with the reference checksum.
# pg-disconnect  terminates the processor's database connection three
#        times while it runs; same expectations.
# cli    publishes JSON Lines with the producer CLI (MA_PRODUCE_BIN) and
#        checks the views and that their pseudonym is the record key.
# retention  applies RECORDS (default 2000) bulk records, then runs
#        retention with an injected "now": once (ma-processor
#        --retention.once) at an instant where nothing is due, then
#        scheduled in a running processor where the 30-day type
#        TSTA.ANSOKAN.KOMPLETTERING has expired and the others (365 and 730
#        days) have not, then once at an instant where everything has.
#        Checks what was deleted, what stayed, the metric, and that arende
#        and kund_index equal a recomputation from the remaining events.
# kafka-restart  restarts the stack's Kafka (scripts/stack.sh
#        restart-service kafka) while the processor runs, publishes more
#        afterwards, and compares with a fresh processor's checksum.
# partitions  raises the producer topics from 3 to 6 partitions
#        (MA_TOPICS_BIN) while the processor runs and publishes more; the
#        new partitions must be consumed, and an audit trigger proves that
#        within each partition no record was committed in an earlier
#        transaction than a record before it (the rows of one transaction
#        become visible together, so their order inside it is not
#        checked) and each kundhändelse's applied sekvens only grew.
# set-equivalence  applies RECORDS (default 6000) bulk records once one
#        statement per record (batch.apply=record) and once set-based in
#        batches of up to 2000 (so one kundhändelse often appears several
#        times in a batch; past 5000 records tidpunkt starts again from
#        2026-01-01, so cases also gain events older than their latest);
#        checksums and stale counts must be equal.
# stop   applies RECORDS (default 20000) bulk records one per batch
#        (batch.max=1, one Kafka commit request at most per second), far
#        behind the broker, sends SIGTERM after 15 s and expects exit 0
#        within kafka.close-timeout (5 s here) plus 5 s, with the message
#        that it left the group; a second processor then applies the rest,
#        and the checksum must equal a single undisturbed run's.
# PROC_TEST_TRACE=1 traces every command (set -x).
# PROC_ASSIGNMENT_STRATEGY (default cooperative-sticky) selects the
# rebalance protocol; "range" tests the eager one.
#
# Environment: KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (a postgresql://
# URI) name the servers; without them the test fails naming the variable.
# PROC_BIN, PUBLISH_BIN, MA_SCHEMA_DIR, PROC_CATALOG and PROC_MIGRATIONS are
# set by CTest. Each run uses its own topic prefix and databases, so runs do
# not see each other's data; the databases are dropped when the run passes.
# shellcheck source=tests/integration/lib-ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib-ports.sh"
set -euo pipefail
[ -n "${PROC_TEST_TRACE:-}" ] && set -x

mode="${1:-basic}"
if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ] || [ -z "${DATABASE_URL:-}" ]; then
	echo "processor_test: KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL must name the" \
		"stack: eval \"\$(scripts/stack.sh env)\"" >&2
	exit 1
fi
: "${PROC_BIN:?}" "${PUBLISH_BIN:?}" "${MA_SCHEMA_DIR:?}" "${PROC_CATALOG:?}"
: "${PROC_MIGRATIONS:?}"

run_id="$(date +%s)_$$"
topic_prefix="ma.t${run_id}."
workdir=$(mktemp -d)
export MA_PSEUDONYM_SECRET="processor-test-secret-0123456789"
failures=0
databases=()
processor_pid=""
ref_published=""
ref_sum=""
all_pids=()
# Extra flags for the next start_processor; scheduled retention is off
# unless a test turns it on, so it cannot change the checksums.
proc_extra_args=()

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

fail() {
	printf 'FAIL: %s\n' "$*"
	failures=$((failures + 1))
}

cleanup() {
	local db pid
	for pid in "${all_pids[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -9 "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	if [ "$failures" -eq 0 ]; then
		for db in "${databases[@]}"; do
			psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
		done
		rm -rf "$workdir"
	else
		echo "kept databases ${databases[*]} and logs in $workdir"
	fi
}
trap cleanup EXIT

# Prints DATABASE_URL with its database name replaced by $1.
db_url() {
	local base="${DATABASE_URL%%\?*}" query=""
	[ "$base" != "$DATABASE_URL" ] && query="?${DATABASE_URL#*\?}"
	printf '%s/%s%s' "${base%/*}" "$1" "$query"
}

create_db() {
	psql -q "$DATABASE_URL" -v ON_ERROR_STOP=1 -c "CREATE DATABASE $1" >/dev/null
	databases+=("$1")
}

sql() { psql -X -A -t -q -v ON_ERROR_STOP=1 "$1" -c "$2"; }

# check DB DESCRIPTION SQL EXPECTED
check() {
	local got
	got=$(sql "$1" "$3" 2>&1) || true
	if [ "$got" != "$4" ]; then
		fail "$2: expected '$4', got '$got'"
	else
		log "ok: $2"
	fi
}

# start_processor DB_URL GROUP LOG [METRICS_PORT]
start_processor() {
	"$PROC_BIN" --kafka.brokers="$KAFKA_BOOTSTRAP_SERVERS" \
		--kafka.group="$2" --kafka.topic-prefix="$topic_prefix" \
		--kafka.metadata-refresh=2s --kafka.session-timeout=6s \
		--kafka.assignment-strategy="${PROC_ASSIGNMENT_STRATEGY:-cooperative-sticky}" \
		--database.url="$1" \
		--schema.dir="$MA_SCHEMA_DIR" --catalog.path="$PROC_CATALOG" \
		--migrations.dir="$PROC_MIGRATIONS" --dlq.partitions=1 \
		--batch.max="${PROC_BATCH_MAX:-100}" --batch.linger=50ms \
		--metrics.port="${4:-0}" --retention.interval=0 \
		${proc_extra_args[@]+"${proc_extra_args[@]}"} >>"$3" 2>&1 &
	processor_pid=$!
	all_pids+=("$processor_pid")
}

stop_processor() {
	local rc=0
	kill -TERM "$processor_pid"
	wait "$processor_pid" || rc=$?
	processor_pid=""
	return "$rc"
}

consumed() {
	sql "$1" "SELECT coalesce(sum(consumed_count), 0) FROM consumer_offsets
	          WHERE consumer_group = '$2'" 2>/dev/null || echo 0
}

# wait_consumed DB_URL GROUP COUNT TIMEOUT_S: waits until COUNT records of
# GROUP are committed; fails when the processor died or time ran out.
wait_consumed() {
	local deadline=$((SECONDS + $4)) n
	while [ $SECONDS -lt "$deadline" ]; do
		n=$(consumed "$1" "$2")
		[ "$n" = "$3" ] && return 0
		if [ "$n" -gt "$3" ]; then
			fail "$n records consumed, more than the $3 published: some were applied twice"
			return 1
		fi
		if ! kill -0 "$processor_pid" 2>/dev/null; then
			fail "processor exited before consuming $3 records (at $n)"
			return 1
		fi
		sleep 0.5
	done
	fail "only $(consumed "$1" "$2") of $3 records consumed within $4 s"
	return 1
}

# wait_progress DB_URL GROUP COUNT: waits until at least COUNT records of
# GROUP are committed (at most 300 s).
wait_progress() {
	local deadline=$((SECONDS + 300))
	while [ $SECONDS -lt "$deadline" ]; do
		[ "$(consumed "$1" "$2")" -ge "$3" ] && return 0
		if ! kill -0 "$processor_pid" 2>/dev/null; then
			fail "processor exited before consuming $3 records"
			return 1
		fi
		sleep 0.1
	done
	fail "fewer than $3 records consumed within 300 s"
	return 1
}

# publish SCENARIO ARGS...: prints how many records were published.  When
# publishing fails (Kafka down, say) the whole test stops at once: callers
# run this in a command substitution, so it signals the main shell instead
# of returning an empty count that later checks would misread.
publish() {
	local out
	if ! out=$("$PUBLISH_BIN" "$KAFKA_BOOTSTRAP_SERVERS" "$topic_prefix" \
		"$MA_SCHEMA_DIR" "$MA_PSEUDONYM_SECRET" "$@"); then
		printf 'FAIL: could not publish test records to Kafka at %s (see above)\n' \
			"$KAFKA_BOOTSTRAP_SERVERS" >&2
		kill -TERM $$
		exit 1
	fi
	sed -n 's/^published //p' <<<"$out"
}

# Prints one checksum over every table the processor derives. Columns that
# depend on wall-clock time or the consumer group are left out.
checksum() {
	sql "$1" "
	SELECT md5(string_agg(t, E'\n' ORDER BY t)) FROM (
	  SELECT 'k|' || row(producent_organisationsnummer, kundhandelse_id,
	         sekvens, kund_pseudonym, kund_typ, arende_typ,
	         arende_identifierare, producent, rubrik, beskrivning,
	         kundhandelse_typ, producentarendet_kraver_kundatgard,
	         producentarendet_klart, tidpunkt, tidpunkt_offset_min, taggar,
	         utokad_information, referenser, giltig_till, atgard_senast,
	         kafka_topic, kafka_partition, kafka_offset)::text AS t
	    FROM kundhandelse
	  UNION ALL SELECT 'a|' || row(a.*)::text FROM arende a
	  UNION ALL SELECT 'i|' || row(i.*)::text FROM kund_index i
	  UNION ALL SELECT 'v|' || row(producent_organisationsnummer,
	         kundhandelse_id, sekvens, retracted)::text FROM kundhandelse_version
	  UNION ALL SELECT 'r|' || row(topic, kafka_partition, kafka_offset, reason,
	         detail, md5(record_value), record_key, headers)::text
	    FROM rejected_events
	  UNION ALL SELECT 'o|' || row(topic, kafka_partition, last_offset,
	         consumed_count, applied_count, rejected_count)::text
	    FROM consumer_offsets) s"
}

# Fails when any text the processor stored (outside the original record
# bytes) contains a test personnummer.
check_no_identity_numbers() {
	local dump
	dump=$(sql "$1" "
	  SELECT row_to_json(k)::text FROM kundhandelse k
	  UNION ALL SELECT row_to_json(a)::text FROM arende a
	  UNION ALL SELECT row_to_json(i)::text FROM kund_index i
	  UNION ALL SELECT row_to_json(v)::text FROM kundhandelse_version v
	  UNION ALL SELECT detail || headers::text || coalesce(encode(record_key, 'escape'), '')
	    FROM rejected_events")
	if grep -Eq '19800101[0-9]{4}' <<<"$dump"; then
		fail "$2: an identity number is stored in a view or rejected row"
	else
		log "ok: $2"
	fi
}

# ---------------------------------------------------------------------------

test_basic() {
	local db="proc_basic_${run_id}" url group="basic" port published_a published_b
	local total dlq metrics
	create_db "$db"
	url=$(db_url "$db")
	port=$(free_port)

	published_a=$(publish basic-a)
	[ "$published_a" = "17" ] || fail "basic-a published '$published_a' records, expected 17"
	start_processor "$url" "$group" "$workdir/basic.log" "$port"
	wait_consumed "$url" "$group" "$published_a" 60 || return 0
	# Simulates another instance that inserted b-1 a moment earlier (the
	# same event published under a second key): the row exists, but this
	# instance's lookup of the register does not see it. Copying b-1 as new
	# then fails on the primary key, so the batch must be applied again
	# record by record.
	sql "$url" "INSERT INTO kundhandelse (producent_organisationsnummer,
	    kundhandelse_id, sekvens, arende_typ, arende_identifierare, producent,
	    rubrik, beskrivning, sprak, kundhandelse_typ,
	    producentarendet_kraver_kundatgard, producentarendet_klart, version,
	    tidpunkt, tidpunkt_offset_min, taggar, kafka_topic, kafka_partition,
	    kafka_offset)
	  VALUES ('5566778899', 'b-1', 0, 'Diarienummer', 'T-1', 'Testmyndighet B',
	    'Inserted by another instance', '-', 'sv', 'TSTB.TILLSTAND.MOTTAGEN',
	    false, false, '6.1', '2026-01-01T00:00:00Z', 0, '{}', 'other', 0, 0)" \
		>/dev/null
	# A producer topic created while the processor runs is found by the
	# pattern subscription without a restart.
	published_b=$(publish basic-b)
	total=$((published_a + published_b))
	wait_consumed "$url" "$group" "$total" 60 || return 0

	check "$url" "current events" "SELECT count(*) FROM kundhandelse" "6"
	check "$url" "an event inserted meanwhile is replaced" \
		"SELECT sekvens || '/' || rubrik FROM kundhandelse WHERE kundhandelse_id = 'b-1'" "1/Mottagen"
	if grep -q 'retrying record by record' "$workdir/basic.log"; then
		log "ok: a failed copy of new events is applied record by record"
	else
		fail "the copy of b-1 did not fail over to the per-record path"
	fi
	check "$url" "newest sekvens replaces older" \
		"SELECT rubrik || '/' || sekvens FROM kundhandelse WHERE kundhandelse_id = 'a-replace'" "v3/3"
	check "$url" "content stored" \
		"SELECT tidpunkt AT TIME ZONE 'UTC' || '|' || tidpunkt_offset_min || '|' ||
		        taggar::text || '|' || (utokad_information->>'steg') || '|' || kund_typ
		   FROM kundhandelse WHERE kundhandelse_id = 'a-replace'" \
		'2026-01-01 00:12:00|60|{test,"tagg med \"citat\"","tagg med \\ och {}"}|1|Personnummer'
	check "$url" "tab, line break and backslash stored" \
		"SELECT beskrivning = E'Beskrivning av händelsen.\\nRad två\\tmed tabb och \\\\.'
		   FROM kundhandelse WHERE kundhandelse_id = 'a-replace'" "t"
	check "$url" "retraction deletes, late publish stays out" \
		"SELECT count(*) FROM kundhandelse WHERE kundhandelse_id = 'a-retract'" "0"
	check "$url" "retraction tombstone kept" \
		"SELECT sekvens || '/' || retracted FROM kundhandelse_version WHERE kundhandelse_id = 'a-retract'" "2/true"
	check "$url" "retraction before publish blocks older publish" \
		"SELECT count(*) || '/' || (SELECT sekvens FROM kundhandelse_version WHERE kundhandelse_id = 'a-tomb')
		   FROM kundhandelse WHERE kundhandelse_id = 'a-tomb'" "0/5"
	check "$url" "finished case state" \
		"SELECT latest_kundhandelse_id || '|' || event_count || '|' || finished || '|' ||
		        customer_has_ball || '|' || coalesce(next_deadline::text, '-') || '|' ||
		        opened_at AT TIME ZONE 'UTC' || '|' || updated_at AT TIME ZONE 'UTC'
		   FROM arende WHERE arende_identifierare = 'D-100'" \
		"a-case-2|2|true|false|-|2026-01-01 00:30:00|2026-01-01 00:40:00"
	check "$url" "case without customer waits for the customer" \
		"SELECT customer_has_ball || '|' || next_deadline || '|' || (kund_pseudonym IS NULL)
		   FROM arende WHERE arende_identifierare = 'D-200'" "true|2026-02-16|true"
	check "$url" "cases" "SELECT count(*) FROM arende" "4"
	check "$url" "customer index per producer" \
		"SELECT string_agg(p.prefix || ':' || event_count, ',' ORDER BY p.prefix, event_count)
		   FROM kund_index k JOIN producent p ON p.organisationsnummer = k.producent_organisationsnummer" \
		"TSTA:3,TSTB:1,TSTB:1"
	check "$url" "customer pseudonyms are 32 hex digits" \
		"SELECT count(*) FROM kund_index WHERE kund_pseudonym !~ '^[0-9a-f]{32}$'" "0"
	check "$url" "one rejected row per reason" \
		"SELECT string_agg(reason, ',' ORDER BY reason) FROM rejected_events" \
		"DECODE,FINGERPRINT,FOREIGN_PREFIX,UNKNOWN_PRODUCER,UNKNOWN_TYPE,VALIDATION"
	check "$url" "rejected record bytes kept" \
		"SELECT convert_from(record_value, 'UTF8') || '|' || convert_from(record_key, 'UTF8')
		   FROM rejected_events WHERE reason = 'DECODE'" "this is not Avro|bad-decode"
	check "$url" "rejected headers kept" \
		"SELECT headers->0->>'name' || '=' || (headers->0->>'value')
		   FROM rejected_events WHERE reason = 'DECODE'" "ce_specversion=1.0"
	check "$url" "validation detail names the field" \
		"SELECT detail ~ 'kund' FROM rejected_events WHERE reason = 'VALIDATION'" "t"
	check "$url" "counters reconcile" \
		"SELECT sum(consumed_count) || '=' || sum(applied_count) || '+' || sum(rejected_count) ||
		        ' stale ' || sum(stale_count) || ' rows ' || (SELECT count(*) FROM rejected_events)
		   FROM consumer_offsets" "19=13+6 stale 3 rows 6"
	check "$url" "catalog loaded" "SELECT count(*) FROM kundhandelse_typ WHERE in_catalog" "5"
	check "$url" "migration recorded" "SELECT string_agg(version, ',') FROM schema_migrations" \
		"$(cd "$PROC_MIGRATIONS" && ls [0-9]*_*.sql | paste -sd,)"
	check_no_identity_numbers "$url" "no identity numbers stored"

	if command -v kcat >/dev/null 2>&1; then
		dlq=$(kcat -C -b "$KAFKA_BOOTSTRAP_SERVERS" -t "${topic_prefix}deadletter" \
			-e -q -f '%h\n' 2>/dev/null || true)
		got=$(grep -o 'ma_dlq_reason=[A-Z_]*' <<<"$dlq" | sort -u | paste -sd, || true)
		expected="ma_dlq_reason=DECODE,ma_dlq_reason=FINGERPRINT,ma_dlq_reason=FOREIGN_PREFIX,ma_dlq_reason=UNKNOWN_PRODUCER,ma_dlq_reason=UNKNOWN_TYPE,ma_dlq_reason=VALIDATION"
		if [ "$got" = "$expected" ]; then log "ok: dead letters carry every reason"; else fail "dead-letter reasons: got '$got'"; fi
		if grep -q "ma_dlq_topic=${topic_prefix}kundhandelser.tsta" <<<"$dlq" &&
			grep -q 'ma_dlq_offset=' <<<"$dlq" && grep -q 'ce_specversion=1.0' <<<"$dlq"; then
			log "ok: dead letters carry source and original headers"
		else
			fail "dead letters lack ma_dlq_topic, ma_dlq_offset or the original headers"
		fi
		if grep -Eq '19800101[0-9]{4}' <<<"$dlq"; then fail "a dead-letter header holds an identity number"; fi
	else
		log "kcat not installed: dead-letter topic not read"
	fi

	if command -v curl >/dev/null 2>&1; then
		metrics=$(curl -sf "http://127.0.0.1:$port/metrics" || true)
		grep -q '^ma_processor_records_consumed_total 19$' <<<"$metrics" &&
			grep -q '^ma_processor_records_rejected_total{reason="FINGERPRINT"} 1$' <<<"$metrics" &&
			grep -q '^ma_processor_records_applied_total{outcome="stale"} 3$' <<<"$metrics" &&
			log "ok: metrics count records" || fail "metrics do not count the records: $(head -c 600 <<<"$metrics")"
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ready")" = "200" ] &&
			log "ok: ready" || fail "/ready is not 200"
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = "200" ] &&
			log "ok: health" || fail "/health is not 200"
	fi

	if stop_processor; then log "ok: SIGTERM stops with exit 0"; else fail "SIGTERM exit status $?"; fi
	# A restart resumes from PostgreSQL's offsets: nothing is applied again.
	start_processor "$url" "$group" "$workdir/basic.log"
	sleep 6
	check "$url" "restart reprocesses nothing" \
		"SELECT sum(consumed_count) || '/' || (SELECT count(*) FROM rejected_events) FROM consumer_offsets" "19/6"
	stop_processor || fail "second SIGTERM stop failed"
	if grep -Eq '19800101[0-9]{4}' "$workdir/basic.log"; then fail "the log holds an identity number"; fi
}

# reference_checksum RECORDS SEED: publishes the bulk records and applies
# them with one undisturbed processor into a new database. Sets
# ref_published and ref_sum; returns 1 when the reference run failed.
reference_checksum() {
	local ref_url
	create_db "proc_ref_${run_id}"
	ref_url=$(db_url "proc_ref_${run_id}")
	ref_published=$(publish bulk "$1" "$2")
	log "published $ref_published records"
	start_processor "$ref_url" ref "$workdir/ref.log"
	wait_consumed "$ref_url" ref "$ref_published" 300 || return 1
	stop_processor || fail "reference processor did not stop cleanly"
	ref_sum=$(checksum "$ref_url")
	[ -n "$ref_sum" ] || { fail "no reference checksum"; return 1; }
}

# wait_log FILE PATTERN: waits until FILE has a line matching PATTERN (at
# most 60 s).
wait_log() {
	local deadline=$((SECONDS + 60))
	while [ $SECONDS -lt "$deadline" ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	fail "no line matching '$2' in $(basename "$1") within 60 s"
	return 1
}

# Several instances in one group while records keep arriving: A and B
# share the partitions, C joins, A leaves with SIGTERM, B is killed. The
# result must equal a single undisturbed processor's over the same records.
test_scale() {
	local records="${1:-2000}" published=0 n url ref_url pid_a pid_b pid_c
	local scale_sum phase
	create_db "proc_scale_${run_id}"
	url=$(db_url "proc_scale_${run_id}")

	n=$(publish bulk "$records" 43)
	published=$((published + n))
	start_processor "$url" scale "$workdir/scale-a.log"
	pid_a=$processor_pid
	start_processor "$url" scale "$workdir/scale-b.log"
	pid_b=$processor_pid
	wait_log "$workdir/scale-a.log" 'partition assigned' || return 0
	wait_log "$workdir/scale-b.log" 'partition assigned' || return 0
	log "A and B share the partitions"

	for phase in 44 45 46; do
		n=$(publish bulk "$records" "$phase")
		published=$((published + n))
		case "$phase" in
		44)
			start_processor "$url" scale "$workdir/scale-c.log"
			pid_c=$processor_pid
			wait_log "$workdir/scale-c.log" 'partition assigned' || return 0
			log "C joined at $(consumed "$url" scale) of $published records"
			;;
		45)
			kill -TERM "$pid_a"
			wait "$pid_a" || fail "instance A did not stop cleanly"
			log "A left at $(consumed "$url" scale) of $published records"
			;;
		46)
			kill -9 "$pid_b"
			wait "$pid_b" 2>/dev/null || true
			log "B killed at $(consumed "$url" scale) of $published records"
			;;
		esac
	done
	processor_pid=$pid_c
	wait_consumed "$url" scale "$published" 300 || return 0
	stop_processor || fail "instance C did not stop cleanly"
	scale_sum=$(checksum "$url")
	grep -q 'partition revoked' "$workdir/scale-a.log" ||
		fail "A did not give up its partitions when it left"

	create_db "proc_ref_${run_id}"
	ref_url=$(db_url "proc_ref_${run_id}")
	start_processor "$ref_url" ref "$workdir/ref.log"
	wait_consumed "$ref_url" ref "$published" 300 || return 0
	stop_processor || fail "reference processor did not stop cleanly"
	if [ -n "$scale_sum" ] && [ "$(checksum "$ref_url")" = "$scale_sum" ]; then
		log "ok: three instances, a leave and a kill give the reference checksum"
	else
		fail "checksum with several instances differs from the reference"
	fi
}

# PostgreSQL crashes (immediate shutdown: no checkpoint, and the commits
# not yet flushed from the WAL buffers are lost, which the processor's
# default synchronous_commit = off allows) while the processor applies
# records, and is started again: the processor must reconnect by itself,
# rewind to the offsets that survived, and end with the reference
# checksum.
test_pg_restart() {
	local records="${1:-6000}" published url pid repo_dir pg_pid i
	repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
	: "${MA_STATE_DIR:?MA_STATE_DIR is not set: eval \"\$(scripts/stack.sh env)\"}"
	reference_checksum "$records" 47 || return 0
	published=$ref_published
	create_db "proc_pgrestart_${run_id}"
	url=$(db_url "proc_pgrestart_${run_id}")

	start_processor "$url" pgrestart "$workdir/pgrestart.log"
	pid=$processor_pid
	wait_progress "$url" pgrestart $((published / 3)) || return 0
	log "crashing PostgreSQL at $(consumed "$url" pgrestart) of $published records"
	pg_pid=$(head -n 1 "$MA_STATE_DIR/postgres/data/postmaster.pid")
	kill -QUIT "$pg_pid" # immediate shutdown
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pg_pid" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$pg_pid" 2>/dev/null || { fail "PostgreSQL did not stop after SIGQUIT"; return 0; }
	"$repo_dir/scripts/stack.sh" restart-service postgres >"$workdir/restart.log" 2>&1 ||
		{ fail "scripts/stack.sh restart-service postgres failed"; return 0; }
	grep -q "database system was interrupted\|not properly shut down" \
		"$MA_STATE_DIR/logs/postgres.log" ||
		log "note: PostgreSQL's log shows no crash recovery"
	wait_consumed "$url" pgrestart "$published" 300 || return 0
	[ "$processor_pid" = "$pid" ] && kill -0 "$pid" 2>/dev/null ||
		fail "the processor did not survive the restart"
	grep -q 'batch rolled back' "$workdir/pgrestart.log" ||
		log "note: no batch was in flight during the restart"
	stop_processor || fail "processor did not stop cleanly after the restart"
	if [ "$(checksum "$url")" = "$ref_sum" ]; then
		log "ok: checksum after a PostgreSQL crash equals the reference"
	else
		fail "checksum after a PostgreSQL crash differs from the reference"
	fi
}

# The processor's PostgreSQL connection is terminated (pg_terminate_backend)
# three times while it applies records: it must reconnect, rewind the
# partitions and end with the reference checksum, in the same process.
test_pg_disconnect() {
	local records="${1:-6000}" published url pid i
	reference_checksum "$records" 48 || return 0
	published=$ref_published
	create_db "proc_pgdisc_${run_id}"
	url=$(db_url "proc_pgdisc_${run_id}")

	start_processor "$url" pgdisc "$workdir/pgdisc.log"
	pid=$processor_pid
	for i in 1 2 3; do
		wait_progress "$url" pgdisc $((published * i / 4)) || return 0
		log "terminating the processor's connection at $(consumed "$url" pgdisc) records"
		sql "$DATABASE_URL" "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		     WHERE application_name = 'ma-processor'
		       AND datname = 'proc_pgdisc_${run_id}'" >/dev/null
	done
	wait_consumed "$url" pgdisc "$published" 300 || return 0
	[ "$processor_pid" = "$pid" ] && kill -0 "$pid" 2>/dev/null ||
		fail "the processor did not survive losing its connection"
	grep -q 'batch rolled back' "$workdir/pgdisc.log" ||
		log "note: no batch was in flight when the connection was terminated"
	stop_processor || fail "processor did not stop cleanly after the disconnects"
	if [ "$(checksum "$url")" = "$ref_sum" ]; then
		log "ok: checksum after three lost connections equals the reference"
	else
		fail "checksum after lost connections differs from the reference"
	fi
}

# Records published by the producer CLI (ma-produce, JSON Lines) are read
# by the processor: same topics, same Avro, and the customer pseudonym in
# the views equals the record key the producer computed with the same
# secret, so a lookup by identity number finds the views.
test_cli() {
	local db="proc_cli_${run_id}" url input keys pseudonym
	: "${MA_PRODUCE_BIN:?MA_PRODUCE_BIN is not set (ma-produce not built)}"
	create_db "$db"
	url=$(db_url "$db")
	input="$workdir/cli.jsonl"
	cat >"$input" <<'JSONL'
{"kundhandelseId": "cli-1", "part": {"kund": {"identifierare": "198001010001", "typ": "Personnummer"}, "arende": {"identifierare": "CLI-100", "typ": "Diarienummer"}}, "rubrik": "Mottagen", "beskrivning": "Vi har tagit emot ansökan.", "tidpunkt": "2026-03-02T09:15:00+01:00", "kundhandelseTyp": "TSTA.ANSOKAN.MOTTAGEN", "producentarendetKraverKundatgard": false, "producentarendetKlart": false, "sekvens": 1}
{"kundhandelseId": "cli-1", "part": {"kund": {"identifierare": "198001010001", "typ": "Personnummer"}, "arende": {"identifierare": "CLI-100", "typ": "Diarienummer"}}, "rubrik": "Mottagen igen", "beskrivning": "Vi har tagit emot ansökan.", "tidpunkt": "2026-03-02T09:16:00+01:00", "kundhandelseTyp": "TSTA.ANSOKAN.MOTTAGEN", "producentarendetKraverKundatgard": false, "producentarendetKlart": false, "sekvens": 2, "taggar": ["cli"]}
{"kundhandelseId": "cli-2", "part": {"kund": {"identifierare": "198001010019", "typ": "Personnummer"}}, "rubrik": "Komplettera", "beskrivning": "Skicka in intyget.", "tidpunkt": "2026-03-03T08:00:00+01:00", "kundhandelseTyp": "TSTA.ANSOKAN.KOMPLETTERING", "producentarendetKraverKundatgard": true, "producentarendetKlart": false, "sekvens": 1, "atgardSenast": "2026-04-01"}
{"aterkalla": true, "kundhandelseId": "cli-2", "part": {"kund": {"identifierare": "198001010019", "typ": "Personnummer"}}, "tidpunkt": "2026-03-03T10:00:00+01:00", "sekvens": 5, "orsak": "Fel kund"}
{"kundhandelseId": "cli-3", "part": {"kund": {"identifierare": "198001010001", "typ": "Personnummer"}, "arende": {"identifierare": "CLI-100", "typ": "Diarienummer"}}, "rubrik": "Beslut", "beskrivning": "Ansökan är beviljad.", "tidpunkt": "2026-03-29 03:30:00", "kundhandelseTyp": "TSTA.ANSOKAN.BESLUT", "producentarendetKraverKundatgard": false, "producentarendetKlart": true, "sekvens": 1}
JSONL
	# The producer CLI does not create topics.
	publish topics >/dev/null
	if ! "$MA_PRODUCE_BIN" --producer TSTA --input "$input" --catalog "$PROC_CATALOG" \
		--schemas "$MA_SCHEMA_DIR" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" \
		--topic-prefix "$topic_prefix" >"$workdir/cli-produce.log" 2>&1; then
		fail "ma-produce failed: $(tail -3 "$workdir/cli-produce.log")"
		return 0
	fi
	start_processor "$url" cli "$workdir/cli.log"
	wait_consumed "$url" cli 5 60 || return 0
	stop_processor || fail "processor did not stop cleanly"

	check "$url" "CLI events replaced and retracted" \
		"SELECT string_agg(kundhandelse_id || ':' || rubrik || ':' || sekvens, ',' ORDER BY kundhandelse_id)
		   FROM kundhandelse" "cli-1:Mottagen igen:2,cli-3:Beslut:1"
	check "$url" "Swedish local time kept with its offset" \
		"SELECT tidpunkt AT TIME ZONE 'UTC' || '|' || tidpunkt_offset_min
		   FROM kundhandelse WHERE kundhandelse_id = 'cli-3'" "2026-03-29 01:30:00|120"
	check "$url" "CLI case state" \
		"SELECT latest_kundhandelse_id || '|' || event_count || '|' || finished
		   FROM arende WHERE arende_identifierare = 'CLI-100'" "cli-3|2|true"
	check "$url" "CLI counters" \
		"SELECT sum(applied_count) || '+' || sum(rejected_count) FROM consumer_offsets" "5+0"
	check_no_identity_numbers "$url" "no identity numbers stored from CLI records"
	if command -v kcat >/dev/null 2>&1; then
		pseudonym=$(sql "$url" "SELECT kund_pseudonym FROM kund_index")
		keys=$(kcat -C -b "$KAFKA_BOOTSTRAP_SERVERS" -t "${topic_prefix}kundhandelser.tsta" \
			-e -q -f '%k\n' 2>/dev/null || true)
		if [ -n "$pseudonym" ] && grep -qx "$pseudonym" <<<"$keys"; then
			log "ok: view pseudonym equals the producer's record key"
		else
			fail "pseudonym '$pseudonym' is not among the record keys"
		fi
	fi
}

test_kill() {
	local kills="${1:-3}" records="${2:-12000}" published kill_url kill_sum i
	local target done_before at_kill midway=0
	reference_checksum "$records" 42 || return 0
	published=$ref_published
	create_db "proc_kill_${run_id}"
	kill_url=$(db_url "proc_kill_${run_id}")

	start_processor "$kill_url" kill "$workdir/kill.log"
	for i in $(seq 1 "$kills"); do
		# Kill i lands after about i/(kills+1) of the records, and only
		# once a batch has committed since the last restart. Otherwise a
		# target already passed would kill a processor that is still
		# joining the group. The random pause is short so that the
		# records last for all kills.
		target=$((published * i / (kills + 1)))
		done_before=$(consumed "$kill_url" kill)
		[ "$target" -gt "$done_before" ] || target=$((done_before + 1))
		[ "$target" -le "$published" ] || target=$published
		wait_progress "$kill_url" kill "$target" || return 0
		sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", (r % 10) / 100 }')"
		at_kill=$(consumed "$kill_url" kill)
		[ "$at_kill" -ge "$published" ] || midway=$((midway + 1))
		log "kill -9 $i/$kills at $at_kill of $published records"
		kill -9 "$processor_pid"
		wait "$processor_pid" 2>/dev/null || true
		start_processor "$kill_url" kill "$workdir/kill.log"
	done
	wait_consumed "$kill_url" kill "$published" 300 || return 0
	stop_processor || fail "processor did not stop cleanly after the kills"
	# A kill after the last record was committed interrupts no work.
	if [ "$midway" -eq "$kills" ]; then
		log "ok: all $kills kills landed before the last record was committed"
	else
		fail "only $midway of $kills kills landed before the last record was committed; publish more records"
	fi
	kill_sum=$(checksum "$kill_url")

	if [ -n "$ref_sum" ] && [ "$ref_sum" = "$kill_sum" ]; then
		log "ok: checksum after $kills kills equals the reference ($ref_sum)"
	else
		fail "checksum after kills '$kill_sum' differs from reference '$ref_sum'"
	fi
	check "$kill_url" "rejected rows match counters" \
		"SELECT (SELECT count(*) FROM rejected_events) = sum(rejected_count) FROM consumer_offsets" "t"
	check "$kill_url" "every record counted once" \
		"SELECT bool_and(consumed_count = last_offset + 1) FROM consumer_offsets" "t"
}

# sym_diff URL QUERY_A QUERY_B: prints the number of rows in one result but
# not the other.
sym_diff() {
	sql "$1" "SELECT (SELECT count(*) FROM (($2) EXCEPT ($3)) x) +
	                 (SELECT count(*) FROM (($3) EXCEPT ($2)) y)"
}

# Fails unless arende and kund_index equal a recomputation from the
# current events.
check_derived() {
	local url="$1" what="$2" got
	got=$(sym_diff "$url" "
	  WITH k AS (SELECT * FROM kundhandelse WHERE arende_identifierare IS NOT NULL),
	  agg AS (SELECT producent_organisationsnummer o, arende_typ t,
	                 arende_identifierare i, count(*)::integer n,
	                 min(tidpunkt) f, max(tidpunkt) l
	            FROM k GROUP BY 1, 2, 3),
	  latest AS (SELECT DISTINCT ON (producent_organisationsnummer, arende_typ,
	                                 arende_identifierare)
	                    producent_organisationsnummer o, arende_typ t,
	                    arende_identifierare i, kundhandelse_id,
	                    producentarendet_klart klart,
	                    CASE WHEN producentarendet_klart THEN NULL
	                         ELSE atgard_senast END dl
	               FROM k ORDER BY 1, 2, 3, tidpunkt DESC, sekvens DESC,
	                        kundhandelse_id DESC)
	  SELECT o, t, i, n, f, l, kundhandelse_id, klart, dl
	    FROM agg JOIN latest USING (o, t, i)" "
	  SELECT producent_organisationsnummer, arende_typ, arende_identifierare,
	         event_count, opened_at, updated_at, latest_kundhandelse_id,
	         finished, next_deadline FROM arende")
	[ "$got" = "0" ] && log "ok: $what: arende equals a recomputation" ||
		fail "$what: arende differs from a recomputation in $got rows"
	got=$(sym_diff "$url" "
	  SELECT kund_pseudonym, producent_organisationsnummer, count(*)::integer,
	         min(tidpunkt), max(tidpunkt)
	    FROM kundhandelse WHERE kund_pseudonym IS NOT NULL GROUP BY 1, 2" "
	  SELECT kund_pseudonym, producent_organisationsnummer, event_count,
	         first_seen, last_seen FROM kund_index")
	[ "$got" = "0" ] && log "ok: $what: kund_index equals a recomputation" ||
		fail "$what: kund_index differs from a recomputation in $got rows"
}

# retention_once URL NOW LOG: runs ma-processor --retention.once.
retention_once() {
	"$PROC_BIN" --retention.once --retention.now="$2" --database.url="$1" \
		--schema.dir="$MA_SCHEMA_DIR" --catalog.path="$PROC_CATALOG" \
		--migrations.dir="$PROC_MIGRATIONS" --metrics.port=0 \
		--retention.batch=100 >>"$3" 2>&1
}

test_retention() {
	local records="${1:-2000}" db="proc_ret_${run_id}" url published port
	local short="TSTA.ANSOKAN.KOMPLETTERING" short_before other_before
	local versions_before metrics
	create_db "$db"
	url=$(db_url "$db")
	port=$(free_port)
	published=$(publish bulk "$records" 49)
	start_processor "$url" retention "$workdir/retention.log"
	wait_consumed "$url" retention "$published" 300 || return 0
	stop_processor || fail "processor did not stop cleanly"
	short_before=$(sql "$url" "SELECT count(*) FROM kundhandelse WHERE kundhandelse_typ = '$short'")
	other_before=$(sql "$url" "SELECT count(*) FROM kundhandelse WHERE kundhandelse_typ <> '$short'")
	versions_before=$(sql "$url" "SELECT count(*) FROM kundhandelse_version")
	log "$short_before events of the 30-day type, $other_before of others"
	[ "$short_before" -gt 0 ] && [ "$other_before" -gt 0 ] ||
		{ fail "the bulk records hold no events of both kinds"; return 0; }
	check_derived "$url" "before retention"

	# The events' tidpunkt lie in 2026-01-01..04: nothing is due on 01-20.
	retention_once "$url" "2026-01-20T00:00:00Z" "$workdir/retention-once.log" ||
		fail "ma-processor --retention.once exited $?"
	check "$url" "nothing expired on 2026-01-20" \
		"SELECT count(*) FROM kundhandelse" "$((short_before + other_before))"
	grep -q 'kundhandelse_deleted=0' "$workdir/retention-once.log" &&
		log "ok: once-run logs zero deletions" || fail "once-run did not log kundhandelse_deleted=0"

	# Scheduled, in a running processor, several transactions of 100.
	proc_extra_args=(--retention.interval=1s --retention.now=2026-03-01T00:00:00Z
		--retention.batch=100)
	start_processor "$url" retention "$workdir/retention.log" "$port"
	proc_extra_args=()
	local deadline=$((SECONDS + 60))
	while [ $SECONDS -lt "$deadline" ] &&
		[ "$(sql "$url" "SELECT count(*) FROM kundhandelse WHERE kundhandelse_typ = '$short'")" != "0" ]; do
		sleep 0.5
	done
	sleep 1.5
	metrics=$(curl -sf "http://127.0.0.1:$port/metrics" || true)
	stop_processor || fail "processor with retention did not stop cleanly"
	check "$url" "30-day events deleted on 2026-03-01" \
		"SELECT count(*) FROM kundhandelse WHERE kundhandelse_typ = '$short'" "0"
	check "$url" "365- and 730-day events kept" \
		"SELECT count(*) FROM kundhandelse" "$other_before"
	check "$url" "their version rows deleted, tombstones kept" \
		"SELECT count(*) FROM kundhandelse_version" "$((versions_before - short_before))"
	check "$url" "no version row of a published event without the event" \
		"SELECT count(*) FROM kundhandelse_version v WHERE NOT retracted AND NOT EXISTS (
		   SELECT 1 FROM kundhandelse k WHERE k.producent_organisationsnummer =
		   v.producent_organisationsnummer AND k.kundhandelse_id = v.kundhandelse_id)" "0"
	if grep -q "^ma_retention_deleted_total{table=\"kundhandelse\"} $short_before\$" <<<"$metrics"; then
		log "ok: ma_retention_deleted_total counts $short_before events"
	else
		fail "metric: $(grep ma_retention_deleted_total <<<"$metrics" | head -4 | paste -sd' ')"
	fi
	grep -q "retention run finished.*kundhandelse_deleted=$short_before" "$workdir/retention.log" &&
		log "ok: the run's log line counts $short_before events" ||
		fail "no retention log line with kundhandelse_deleted=$short_before"
	check_derived "$url" "after the 30-day retention"
	check "$url" "counters untouched by retention" \
		"SELECT sum(consumed_count) FROM consumer_offsets" "$published"

	retention_once "$url" "2026-03-01T00:00:00Z" "$workdir/retention-once.log" ||
		fail "second --retention.once exited $?"
	check "$url" "a second run on the same instant deletes nothing" \
		"SELECT count(*) FROM kundhandelse" "$other_before"
	retention_once "$url" "2030-01-01T00:00:00Z" "$workdir/retention-once.log" ||
		fail "third --retention.once exited $?"
	check "$url" "everything expired by 2030" \
		"SELECT (SELECT count(*) FROM kundhandelse) + (SELECT count(*) FROM arende) +
		        (SELECT count(*) FROM kund_index)" "0"
	check "$url" "only tombstones remain" \
		"SELECT count(*) FROM kundhandelse_version WHERE NOT retracted" "0"
}

# Kafka restarted while the processor applies records: it must carry on by
# itself, and records published after the restart must be applied too.
test_kafka_restart() {
	local records="${1:-4000}" published=0 n url ref_url pid repo_dir kafka_sum
	repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
	: "${MA_STATE_DIR:?MA_STATE_DIR is not set: eval \"\$(scripts/stack.sh env)\"}"
	create_db "proc_kafkarestart_${run_id}"
	url=$(db_url "proc_kafkarestart_${run_id}")
	n=$(publish bulk "$records" 50)
	published=$((published + n))
	start_processor "$url" kafkarestart "$workdir/kafkarestart.log"
	pid=$processor_pid
	wait_progress "$url" kafkarestart $((published / 3)) || return 0
	log "restarting Kafka at $(consumed "$url" kafkarestart) of $published records"
	"$repo_dir/scripts/stack.sh" restart-service kafka >"$workdir/restart.log" 2>&1 ||
		{ fail "scripts/stack.sh restart-service kafka failed: $(tail -3 "$workdir/restart.log")"; return 0; }
	n=$(publish bulk "$records" 51)
	published=$((published + n))
	log "published $n more after the restart"
	wait_consumed "$url" kafkarestart "$published" 300 || return 0
	[ "$processor_pid" = "$pid" ] && kill -0 "$pid" 2>/dev/null ||
		fail "the processor did not survive the Kafka restart"
	stop_processor || fail "processor did not stop cleanly after the Kafka restart"
	kafka_sum=$(checksum "$url")

	create_db "proc_ref_${run_id}"
	ref_url=$(db_url "proc_ref_${run_id}")
	start_processor "$ref_url" ref "$workdir/ref.log"
	wait_consumed "$ref_url" ref "$published" 300 || return 0
	stop_processor || fail "reference processor did not stop cleanly"
	if [ -n "$kafka_sum" ] && [ "$(checksum "$ref_url")" = "$kafka_sum" ]; then
		log "ok: checksum after a Kafka restart equals the reference"
	else
		fail "checksum after a Kafka restart differs from the reference"
	fi
}

# Partitions added to the producer topics while the processor runs.
test_partitions() {
	local records="${1:-3000}" published=0 n url ref_url part_sum
	: "${MA_TOPICS_BIN:?MA_TOPICS_BIN is not set (ma-topics not built)}"
	create_db "proc_parts_${run_id}"
	url=$(db_url "proc_parts_${run_id}")
	# Tables first (a run with nothing due), then an audit of every insert
	# into kundhandelse with the transaction that made it.
	retention_once "$url" "2026-01-01T00:00:00Z" "$workdir/partitions.log" ||
		{ fail "could not prepare the database"; return 0; }
	sql "$url" "
	  CREATE TABLE apply_log (n bigserial PRIMARY KEY, org text, id text,
	    kund text, sekvens bigint, topic text, part integer, off bigint,
	    tx bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint);
	  CREATE FUNCTION apply_log_add() RETURNS trigger LANGUAGE plpgsql AS \$\$
	  BEGIN
	    INSERT INTO apply_log (org, id, kund, sekvens, topic, part, off)
	    VALUES (NEW.producent_organisationsnummer, NEW.kundhandelse_id,
	            NEW.kund_pseudonym, NEW.sekvens, NEW.kafka_topic,
	            NEW.kafka_partition, NEW.kafka_offset);
	    RETURN NEW;
	  END \$\$;
	  CREATE TRIGGER apply_log AFTER INSERT ON kundhandelse
	    FOR EACH ROW EXECUTE FUNCTION apply_log_add();" >/dev/null

	n=$(publish bulk "$records" 52)
	published=$((published + n))
	start_processor "$url" parts "$workdir/partitions.log"
	wait_progress "$url" parts $((published / 2)) || return 0
	"$MA_TOPICS_BIN" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" \
		--catalog "$PROC_CATALOG" --topic-prefix "$topic_prefix" \
		--partitions 6 TSTA TSTB >>"$workdir/partitions.log" 2>&1 ||
		{ fail "ma-topics could not raise the partitions"; return 0; }
	log "raised to 6 partitions at $(consumed "$url" parts) of $published records"
	n=$(publish bulk "$records" 53)
	published=$((published + n))
	wait_consumed "$url" parts "$published" 300 || return 0
	stop_processor || fail "processor did not stop cleanly"

	check "$url" "the new partitions were consumed" \
		"SELECT count(*) FROM consumer_offsets WHERE kafka_partition >= 3 AND consumed_count > 0" "6"
	check "$url" "within a partition, committed in offset order" \
		"SELECT count(*) FROM (SELECT tx < lag(tx) OVER (PARTITION BY topic, part ORDER BY off) AS back
		   FROM apply_log) s WHERE back" "0"
	check "$url" "per kundhändelse, applied sekvens only grows" \
		"SELECT count(*) FROM (SELECT sekvens <= lag(sekvens) OVER (PARTITION BY org, id ORDER BY n) AS back
		   FROM apply_log) s WHERE back" "0"
	check "$url" "per customer within a partition, commit order is publication order" \
		"SELECT count(*) FROM (SELECT tx < lag(tx) OVER (PARTITION BY kund, topic, part ORDER BY off) AS back
		   FROM apply_log WHERE kund IS NOT NULL) s WHERE back" "0"
	log "customers whose events are in two partitions since the increase: $(sql "$url" "
	  SELECT count(*) FROM (SELECT kund FROM apply_log WHERE kund IS NOT NULL
	   GROUP BY kund, topic HAVING count(DISTINCT part) > 1) s")"
	part_sum=$(checksum "$url")

	create_db "proc_ref_${run_id}"
	ref_url=$(db_url "proc_ref_${run_id}")
	start_processor "$ref_url" ref "$workdir/ref.log"
	wait_consumed "$ref_url" ref "$published" 300 || return 0
	stop_processor || fail "reference processor did not stop cleanly"
	if [ -n "$part_sum" ] && [ "$(checksum "$ref_url")" = "$part_sum" ]; then
		log "ok: checksum across the partition increase equals the reference"
	else
		fail "checksum across the partition increase differs from the reference"
	fi
}

# The set-based batch (ma_apply_batch) must give what one statement per
# record gives, also when a kundhändelse occurs several times in a batch.
test_set_equivalence() {
	local records="${1:-6000}" published rec_url set_url rec_sum set_sum largest
	create_db "proc_rec_${run_id}"
	rec_url=$(db_url "proc_rec_${run_id}")
	create_db "proc_set_${run_id}"
	set_url=$(db_url "proc_set_${run_id}")
	published=$(publish bulk "$records" 54)
	proc_extra_args=(--batch.apply=record)
	start_processor "$rec_url" rec "$workdir/rec.log"
	wait_consumed "$rec_url" rec "$published" 300 || return 0
	stop_processor || fail "per-record processor did not stop cleanly"
	proc_extra_args=(--batch.apply=set --batch.max=2000 --batch.linger=2s --log.level=debug)
	start_processor "$set_url" set "$workdir/set.log"
	proc_extra_args=()
	wait_consumed "$set_url" set "$published" 300 || return 0
	stop_processor || fail "set-based processor did not stop cleanly"
	rec_sum=$(checksum "$rec_url")
	set_sum=$(checksum "$set_url")
	# bulk spreads the records over records/4 ids, so a batch larger than
	# that holds some kundhändelse more than once.
	largest=$(grep 'batch committed' "$workdir/set.log" | grep -o ' records=[0-9]*' |
		sed 's/.*=//' | sort -n | tail -1 || true)
	if [ "${largest:-0}" -gt $((records / 4)) ]; then
		log "ok: largest set-based batch $largest records over $((records / 4)) ids"
	else
		fail "largest set-based batch '${largest:-}' is too small to repeat an id"
	fi
	if [ -n "$rec_sum" ] && [ "$rec_sum" = "$set_sum" ]; then
		log "ok: set-based batches give the per-record checksum"
	else
		fail "set-based checksum '$set_sum' differs from per-record '$rec_sum'"
	fi
	check "$set_url" "stale counts equal" \
		"SELECT sum(stale_count) FROM consumer_offsets" \
		"$(sql "$rec_url" "SELECT sum(stale_count) FROM consumer_offsets")"
	check_derived "$set_url" "set-based"
}

# A stop while far behind the broker with one record per batch, which
# made rd_kafka_consumer_close wait for more than a minute before.
test_stop() {
	local records="${1:-20000}" url started elapsed rc=0
	reference_checksum "$records" 55 || return 0
	create_db "proc_stop_${run_id}"
	url=$(db_url "proc_stop_${run_id}")
	proc_extra_args=(--batch.apply=record --batch.max=1 --batch.linger=0
		--kafka.close-timeout=5s)
	start_processor "$url" stop "$workdir/stop.log"
	sleep 15
	started=$SECONDS
	kill -TERM "$processor_pid"
	while kill -0 "$processor_pid" 2>/dev/null && [ $((SECONDS - started)) -lt 30 ]; do
		sleep 0.2
	done
	elapsed=$((SECONDS - started))
	if kill -0 "$processor_pid" 2>/dev/null; then
		fail "processor still running 30 s after SIGTERM"
		kill -9 "$processor_pid"
	fi
	wait "$processor_pid" || rc=$?
	processor_pid=""
	if [ "$rc" -eq 0 ] && [ "$elapsed" -le 10 ]; then
		log "ok: stopped with exit 0 after ${elapsed} s at $(consumed "$url" stop) records"
	else
		fail "stop took ${elapsed} s with exit status $rc (expected 0 within 10 s)"
	fi
	if grep -q 'left the consumer group' "$workdir/stop.log"; then
		log "ok: left the consumer group"
	else
		fail "no 'left the consumer group' line in the log"
	fi
	proc_extra_args=(--batch.max=500)
	start_processor "$url" stop "$workdir/stop.log"
	proc_extra_args=()
	wait_consumed "$url" stop "$ref_published" 300 || return 0
	stop_processor || fail "second processor did not stop cleanly"
	if [ "$(checksum "$url")" = "$ref_sum" ]; then
		log "ok: checksum after the stop equals the reference"
	else
		fail "checksum after the stop differs from the reference"
	fi
}

case "$mode" in
basic) test_basic ;;
kill) test_kill "${2:-3}" "${3:-12000}" ;;
scale) test_scale "${2:-2000}" ;;
pg-restart) test_pg_restart "${2:-6000}" ;;
pg-disconnect) test_pg_disconnect "${2:-6000}" ;;
cli) test_cli ;;
retention) test_retention "${2:-2000}" ;;
kafka-restart) test_kafka_restart "${2:-4000}" ;;
partitions) test_partitions "${2:-3000}" ;;
set-equivalence) test_set_equivalence "${2:-6000}" ;;
stop) test_stop "${2:-20000}" ;;
*)
	echo "usage: $0 basic | kill KILLS [RECORDS] | scale [RECORDS] | pg-restart [RECORDS] | pg-disconnect [RECORDS] | cli | retention [RECORDS] | kafka-restart [RECORDS] | partitions [RECORDS] | set-equivalence [RECORDS] | stop [RECORDS]" >&2
	exit 2
	;;
esac

if [ "$failures" -eq 0 ]; then
	echo "processor $mode: 0 failures"
	exit 0
fi
echo "processor $mode: $failures failures"
exit 1
