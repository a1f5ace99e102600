#!/usr/bin/env bash
# ma-produce reads standard input, and --dry-run validates and encodes
# without contacting Kafka.
. "$(dirname "$0")/lib.sh"

# A dry run needs no Kafka: port 9 has none.
set +e
(cd "$source_dir" && "$MA_PRODUCE" --producer SKV --input - --dry-run \
	--bootstrap-servers 127.0.0.1:9 --progress never --summary-json - \
	<"$fixtures/skv-valid.jsonl") >"$work/summary.json" 2>"$work/err"
rc=$?
set -e
expect_rc 0
expect_json "$work/summary.json" .input '"stdin"'
expect_json "$work/summary.json" .dry_run true
expect_json "$work/summary.json" \
	'[.read, .published, .rejected, .skipped, .failed]' '[5,5,0,0,0]'
expect_stderr "summary (dry run, nothing sent)"

# A dry run with invalid rows still exits 1, so it can gate a pipeline.
set +e
(cd "$source_dir" && "$MA_PRODUCE" --producer SKV --input - --dry-run \
	--progress never --summary-json - <"$fixtures/skv-mixed.jsonl") \
	>"$work/summary.json" 2>"$work/err"
rc=$?
set -e
expect_rc 1
expect_json "$work/summary.json" '[.read, .published, .rejected]' '[7,3,4]'
expect_stderr "stdin:4: rejected: invalid tidpunkt"

# Published through a pipe: the records arrive as from a file.
topic_prefix=$(unique_prefix)
topic="${topic_prefix}kundhandelser.skv"
create_topic "$topic" 2
set +e
(cd "$source_dir" && "$MA_PRODUCE" --producer SKV --input - \
	--bootstrap-servers "$bootstrap" --topic-prefix "$topic_prefix" \
	--progress never <"$fixtures/skv-valid.jsonl") >"$work/out" 2>"$work/err"
rc=$?
set -e
expect_rc 0
consume "$topic" >"$work/records.jsonl"
python3 "$here/compare_records.py" "$fixtures/skv-valid.jsonl" \
	"$work/records.jsonl" SKV 2021005448 Skatteverket ||
	fail "records of $topic differ from skv-valid.jsonl"
echo "PASS $(basename "$0")"
