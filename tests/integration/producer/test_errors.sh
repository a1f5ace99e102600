#!/usr/bin/env bash
# ma-produce's failure paths: rejected rows, an unknown producer, a missing
# topic, Kafka unreachable, records the broker refuses, a missing secret.
. "$(dirname "$0")/lib.sh"

# Rejected rows: exit 1, the valid rows published, one stderr line per
# rejected row with file:line and the field, no identity number shown.
topic_prefix=$(unique_prefix)
topic="${topic_prefix}kundhandelser.skv"
create_topic "$topic" 1
run_produce --producer SKV --input "$fixtures/skv-mixed.jsonl" \
	--topic-prefix "$topic_prefix" --summary-json "$work/summary.json"
expect_rc 1
expect_json "$work/summary.json" \
	'[.read, .published, .rejected, .skipped, .failed]' '[7,3,4,0,0]'
expect_json "$work/summary.json" .counts_add_up true
expect_stderr "skv-mixed.jsonl:2: rejected: invalid rubrik 12"
expect_stderr "skv-mixed.jsonl:3: kundhandelseId \"SKV-AG-3001\": rejected: kundhandelseTyp \"POL.PASS.ANSOKAN_MOTTAGEN\""
expect_stderr "skv-mixed.jsonl:4: rejected: invalid tidpunkt"
expect_stderr "skv-mixed.jsonl:5: kundhandelseId \"SKV-FS-3003\": rejected: part.kund.identifierare"
[[ $(grep -c 'rejected:' "$work/err") -eq 4 ]] ||
	fail "expected 4 rejection lines on stderr"
for number in $(jq -r '.part.kund.identifierare // empty' \
	"$fixtures/skv-mixed.jsonl" | sort -u); do
	if grep -qF -e "$number" -e "${number: -10}" "$work/err"; then
		fail "stderr shows an identity number of the input"
	fi
done
consume "$topic" >"$work/records.jsonl"
[[ $(wc -l <"$work/records.jsonl") -eq 3 ]] ||
	fail "expected 3 records on $topic, found $(wc -l <"$work/records.jsonl")"

# An unknown producer prefix is a usage error.
run_produce --producer XYZ --input "$fixtures/skv-valid.jsonl"
expect_rc 2
expect_stderr 'unknown producer "XYZ"'
expect_stderr "valid prefixes:"

# A topic that does not exist is a configuration error.
run_produce --producer SKV --input "$fixtures/skv-valid.jsonl" \
	--topic-prefix "$(unique_prefix)" --delivery-timeout 2s
expect_rc 2
expect_stderr "create it first"

# Kafka unreachable: a non-zero exit naming Kafka within the delivery
# timeout.  Port 9 (discard) has no Kafka on any test machine.
start=$(date +%s)
run_produce --producer SKV --input "$fixtures/skv-valid.jsonl" \
	--bootstrap-servers 127.0.0.1:9 --delivery-timeout 4s
elapsed=$(($(date +%s) - start))
expect_rc 1
expect_stderr "could not reach Kafka at 127.0.0.1:9"
[[ $elapsed -le 8 ]] || fail "took ${elapsed}s with a 4 s delivery timeout"

# Records the broker refuses (the topic takes at most 100 bytes per
# batch): each is a failed delivery named by file:line and kundhandelseId.
topic_prefix=$(unique_prefix)
topic="${topic_prefix}kundhandelser.skv"
create_topic "$topic" 1 max.message.bytes=100
run_produce --producer SKV --input "$fixtures/skv-valid.jsonl" \
	--topic-prefix "$topic_prefix" --summary-json "$work/summary.json" \
	--delivery-timeout 10s
expect_rc 1
expect_json "$work/summary.json" \
	'[.read, .published, .rejected, .skipped, .failed]' '[5,0,0,0,5]'
expect_json "$work/summary.json" .counts_add_up true
expect_json "$work/summary.json" \
	'[.failed_deliveries[] | "\(.line):\(.kundhandelseId)"] | sort' \
	'["1:SKV-FS-1001","2:SKV-FS-1001","3:SKV-AG-2001","4:SKV-AG-2002","5:SKV-AG-2002"]'
expect_stderr "skv-valid.jsonl:3: kundhandelseId \"SKV-AG-2001\": not published"
expect_stderr "not acknowledged by Kafka"

# Without a pseudonym secret nothing can be keyed.
(
	unset MA_PSEUDONYM_SECRET
	run_produce --producer SKV --input "$fixtures/skv-valid.jsonl" --dry-run
	expect_rc 2
	expect_stderr "pseudonym-secret"
)

# A secret shorter than 16 bytes is rejected without being echoed.
MA_PSEUDONYM_SECRET=short-secret run_produce --producer SKV \
	--input "$fixtures/skv-valid.jsonl" --dry-run
expect_rc 2
if grep -qF "short-secret" "$work/err"; then
	fail "stderr echoes the secret"
fi
echo "PASS $(basename "$0")"
