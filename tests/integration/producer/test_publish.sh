#!/usr/bin/env bash
# ma-produce publishes JSON Lines files; read back with kcat, every record
# carries the input's fields, the CloudEvents headers and a pseudonymous key.
. "$(dirname "$0")/lib.sh"

# publish_and_compare FILE PREFIX ORGNR NAME: all lines must be published.
publish_and_compare() {
	local file=$1 producer=$2 orgnr=$3 name=$4
	local topic_prefix lower topic lines
	topic_prefix=$(unique_prefix)
	lower=$(printf '%s' "$producer" | tr 'A-Z' 'a-z')
	topic="${topic_prefix}kundhandelser.$lower"
	lines=$(grep -c . "$file")
	create_topic "$topic" 3

	run_produce --producer "$producer" --input "$file" \
		--topic-prefix "$topic_prefix" --summary-json "$work/summary.json"
	expect_rc 0
	expect_json "$work/summary.json" .topic "\"$topic\""
	expect_json "$work/summary.json" \
		'[.read, .published, .rejected, .skipped, .failed]' \
		"[$lines,$lines,0,0,0]"
	expect_json "$work/summary.json" .counts_add_up true

	consume "$topic" >"$work/records.jsonl"
	python3 "$here/compare_records.py" "$file" "$work/records.jsonl" \
		"$producer" "$orgnr" "$name" ||
		fail "records of $topic differ from $(basename "$file")"
}

publish_and_compare "$fixtures/skv-valid.jsonl" SKV 2021005448 Skatteverket

# The process-log fixtures' JSON Lines counterparts, when present.
for pair in "hiring-skv.jsonl SKV 2021005448 Skatteverket" \
	"hiring-af.jsonl AF 2021002114 Arbetsförmedlingen"; do
	read -r file producer orgnr name <<<"$pair"
	path="$source_dir/producers/fixtures/$file"
	[[ -f $path ]] || continue
	publish_and_compare "$path" "$producer" "$orgnr" "$name"
done
# A process log through its mapping: unmapped activities are skipped by
# reason, and every published record arrives.
xes="$source_dir/producers/fixtures/wabo-receipt-25.xes"
mapping="$source_dir/producers/mappings/wabo-receipt.json"
if [[ -f $xes && -f $mapping ]]; then
	topic_prefix=$(unique_prefix)
	create_topic "${topic_prefix}kundhandelser.exk" 3
	run_produce --producer EXK --input "$xes" --mapping "$mapping" \
		--topic-prefix "$topic_prefix" --summary-json "$work/summary.json"
	expect_rc 0
	expect_json "$work/summary.json" .counts_add_up true
	expect_json "$work/summary.json" '.skipped == ([.skipped_by_reason[]] | add)' true
	published=$(jq .published "$work/summary.json")
	[[ $published -gt 0 ]] || fail "no event of $(basename "$xes") was published"
	consume "${topic_prefix}kundhandelser.exk" >"$work/records.jsonl"
	[[ $(wc -l <"$work/records.jsonl") -eq $published ]] ||
		fail "expected $published records from $(basename "$xes")"
	sources=$(jq -s -c '[.[].headers.ce_source] | unique' "$work/records.jsonl")
	[[ $sources == '["urn:minaarenden:producent:2120009994"]' ]] ||
		fail "ce_source of the process-log records is $sources"
fi
echo "PASS $(basename "$0")"
