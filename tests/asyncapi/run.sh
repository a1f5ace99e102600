#!/bin/sh
# Validates docs/asyncapi.yaml with the AsyncAPI CLI (the version pinned in
# tests/asyncapi/package-lock.json), including the Avro schemas it
# references, and checks that the CLI rejects two broken copies, so a
# validator that accepts everything cannot pass.
#
# The first run installs the CLI into tests/asyncapi/node_modules with
# `npm ci`, which needs node, npm and the npm registry.  The CLI's usage
# analytics are turned off (a private analytics file and CI=true), so a
# run sends nothing anywhere.
#
# Usage: tests/asyncapi/run.sh [WORK_DIR]   (WORK_DIR: scratch files)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${1:-$(mktemp -d)}
cli="$here/node_modules/.bin/asyncapi"

fail() {
	printf 'asyncapi.validate: FAIL: %s\n' "$*" >&2
	exit 1
}

if [ ! -x "$cli" ]; then
	command -v npm >/dev/null 2>&1 ||
		fail "npm not found; install node and npm (Debian: apt-get install npm) to validate docs/asyncapi.yaml"
	echo "asyncapi.validate: installing @asyncapi/cli into $here/node_modules"
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error) ||
		fail "npm ci in $here failed (output above); check that the npm registry is reachable"
fi

mkdir -p "$work"
printf '{"analyticsEnabled":"false","infoMessageShown":"true","userID":"00000000-0000-0000-0000-000000000000"}\n' \
	>"$work/analytics.json"
ASYNCAPI_METRICS_CONFIG_PATH="$work/analytics.json"
CI=true
SUPPRESS_NO_CONFIG_WARNING=1
export ASYNCAPI_METRICS_CONFIG_PATH CI SUPPRESS_NO_CONFIG_WARNING

# validate FILE NAME: runs the CLI on FILE and keeps its output in
# $work/NAME.out.
validate() {
	"$cli" validate "$1" --fail-severity error >"$work/$2.out" 2>&1
}

if validate "$repo/docs/asyncapi.yaml" docs; then
	echo "ok 1 - docs/asyncapi.yaml is valid AsyncAPI with valid Avro payload schemas"
else
	cat "$work/docs.out" >&2
	fail "docs/asyncapi.yaml is invalid (CLI output above)"
fi

# Broken copies keep the layout docs/ next to schemas/, because the
# document refers to ../schemas/<name>/v1.avsc.
make_copy() {
	rm -rf "$work/$1"
	mkdir -p "$work/$1/docs"
	cp -R "$repo/schemas" "$work/$1/"
	cp "$repo/docs/asyncapi.yaml" "$work/$1/docs/"
}

make_copy bad-avro
sed 's/"type": "record"/"type": "recordx"/' "$repo/schemas/kundhandelse/v1.avsc" \
	>"$work/bad-avro/schemas/kundhandelse/v1.avsc"
if validate "$work/bad-avro/docs/asyncapi.yaml" bad-avro; then
	fail "the CLI accepted an Avro schema of type \"recordx\"; it no longer checks Avro payloads, so ok 1 proves nothing about them"
fi
echo "ok 2 - a broken Avro schema is rejected"

make_copy bad-operation
sed '0,/action: send/s//action: transmit/' "$repo/docs/asyncapi.yaml" \
	>"$work/bad-operation/docs/asyncapi.yaml"
grep -q 'action: transmit' "$work/bad-operation/docs/asyncapi.yaml" ||
	fail "could not break the copy: docs/asyncapi.yaml has no operation with action: send"
if validate "$work/bad-operation/docs/asyncapi.yaml" bad-operation; then
	fail "the CLI accepted an operation with action \"transmit\""
fi
echo "ok 3 - an invalid operation is rejected"
echo "asyncapi.validate: 3 passed, 0 failed"
