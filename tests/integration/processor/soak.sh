#!/usr/bin/env bash
# Soak test of ma-processor: the kill test of processor_test.sh with 20
# SIGKILLs over 60000 records (override with SOAK_KILLS and SOAK_RECORDS).
# After each restart the processor drains about 1,500 records before its
# next kill.  So 20 kills need about 30,000 records to land while records
# are still being committed, and the test fails when one does not.
# Needs a build (BUILD_DIR, default build/) and a running stack whose
# KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL are in the environment, e.g.
#   eval "$(scripts/stack.sh env)"; tests/integration/processor/soak.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
build="${BUILD_DIR:-$repo/build}"
case "$build" in /*) ;; *) build="$repo/$build" ;; esac

export PROC_BIN="$build/processors/ma-processor"
export PUBLISH_BIN="$build/tests/integration/processor/proc_test_publish"
export MA_SCHEMA_DIR="$repo/schemas"
export PROC_CATALOG="$here/catalog.json"
export PROC_MIGRATIONS="$repo/schemas/sql"
for binary in "$PROC_BIN" "$PUBLISH_BIN"; do
	[ -x "$binary" ] || { echo "soak: $binary not built; run make first" >&2; exit 1; }
done
exec bash "$here/processor_test.sh" kill "${SOAK_KILLS:-20}" "${SOAK_RECORDS:-60000}"
