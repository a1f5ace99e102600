# Shared helpers of the producer integration tests; sourced by test_*.sh.
#
# Needs: KAFKA_BOOTSTRAP_SERVERS (the stack's env), MA_PRODUCE and
# MA_PRODUCER_CHECK (set by CTest to the built programs), kcat, jq, python3.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=${MA_SOURCE_DIR:-$(cd "$here/../../.." && pwd)}
fixtures="$here/fixtures"
# Test-only secret of the customer pseudonyms.
export MA_PSEUDONYM_SECRET=producer-integration-test-secret

fail() {
	printf 'FAIL %s: %s\n' "$(basename "$0")" "$*" >&2
	exit 1
}

for var in KAFKA_BOOTSTRAP_SERVERS MA_PRODUCE MA_PRODUCER_CHECK; do
	[[ -n ${!var:-} ]] ||
		fail "$var is not set; load the stack with eval \"\$(MA_STACK_NAME=test scripts/stack.sh env)\" and run through ctest"
done
bootstrap=$KAFKA_BOOTSTRAP_SERVERS

work=$(mktemp -d "${TMPDIR:-/tmp}/ma-producer-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A topic prefix no earlier run used, so tests never see old records.
unique_prefix() {
	printf 'it%s%s.' "$(date +%s)" "$RANDOM"
}

create_topic() {
	"$MA_PRODUCER_CHECK" create-topic "$bootstrap" "$@" ||
		fail "could not create topic $1 at $bootstrap"
}

# Runs ma-produce from the source directory (so the default catalog and
# schema paths work); stdout and stderr go to $work/out and $work/err, the
# exit status to $rc.
run_produce() {
	set +e
	(cd "$source_dir" && "$MA_PRODUCE" --bootstrap-servers "$bootstrap" \
		--progress never "$@") >"$work/out" 2>"$work/err"
	rc=$?
	set -e
}

# Prints every record of topic as one decoded JSON line (see producer_check).
consume() {
	local topic=$1
	kcat -C -b "$bootstrap" -t "$topic" -o beginning -e -q \
		-f '%k\n%h\n%S\n%s\n' >"$work/raw" ||
		fail "kcat could not read topic $topic"
	"$MA_PRODUCER_CHECK" decode "$source_dir/schemas" <"$work/raw" ||
		fail "could not decode records of $topic"
}

expect_rc() {
	[[ $rc -eq $1 ]] || {
		cat "$work/err" >&2
		fail "ma-produce exited with $rc, expected $1"
	}
}

# expect_json FILE JQ-FILTER EXPECTED: the filter's output must match.
expect_json() {
	local got
	got=$(jq -c "$2" "$1")
	[[ $got == "$3" ]] || fail "$2 in $(basename "$1") is $got, expected $3"
}

expect_stderr() {
	grep -qF -- "$1" "$work/err" || {
		cat "$work/err" >&2
		fail "stderr lacks \"$1\""
	}
}
