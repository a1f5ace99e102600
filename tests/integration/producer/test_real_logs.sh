#!/usr/bin/env bash
# ma-produce publishes the real case-event logs with the shipped mappings:
# nothing is rejected, the counts add up, Kafka holds exactly the published
# records, and the Apache Avro Python library decodes every one of them to
# the log's cases, activities and times (real_logs_check.py).
. "$(dirname "$0")/lib.sh"

data_dir=${MA_DATA_DIR:-$source_dir/../shared/data}
venv_python="$source_dir/tests/interop/.venv/bin/python"
if [[ ! -d $data_dir ]]; then
	echo "SKIP $(basename "$0"): no real logs in $data_dir (set MA_DATA_DIR)"
	exit 0
fi
# The interop test creates the virtual environment with the pinned avro
# package; create it here too when this test runs first.
if ! "$venv_python" -c 'import avro' 2>/dev/null; then
	python3 -m venv "$source_dir/tests/interop/.venv"
	"$source_dir/tests/interop/.venv/bin/pip" install --quiet avro==1.12.2 ||
		fail "could not install the avro package into tests/interop/.venv"
fi

# check_log CSV MAPPING PRODUCER ORGNR
check_log() {
	local csv=$1 mapping=$2 producer=$3 orgnr=$4 topic_prefix topic
	topic_prefix=$(unique_prefix)
	topic="${topic_prefix}kundhandelser.$(tr 'A-Z' 'a-z' <<<"$producer")"
	create_topic "$topic" 3
	run_produce --producer "$producer" --input "$csv" --mapping "$mapping" \
		--topic-prefix "$topic_prefix" --summary-json "$work/summary.json"
	expect_rc 0
	expect_json "$work/summary.json" .rejected 0
	expect_json "$work/summary.json" .failed 0
	expect_json "$work/summary.json" \
		'.read == .published + .rejected + .skipped + .failed' true
	kcat -C -b "$bootstrap" -t "$topic" -o beginning -e -q \
		-f '%k\n%h\n%S\n%s\n' >"$work/raw" ||
		fail "kcat could not read topic $topic"
	"$venv_python" "$here/real_logs_check.py" "$csv" "$mapping" \
		"$work/summary.json" "$work/raw" "$source_dir/schemas" "$orgnr" ||
		fail "records of $topic do not match $(basename "$csv")"
}

check_log "$data_dir/wabo-receipt.csv" \
	"$source_dir/producers/mappings/wabo-receipt.json" EXK 2120009994
check_log "$data_dir/road-traffic-fines-100.csv" \
	"$source_dir/producers/mappings/road-traffic-fines.json" POL 2021000076
echo "PASS $(basename "$0")"
