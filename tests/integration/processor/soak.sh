#!/usr/bin/env bash
# Soak test of ma-processor: the kill test of processor_test.sh with 20
# SIGKILLs over 60000 records (override with SOAK_KILLS and SOAK_RECORDS).
# In test runs the restarted processor drained 1,000 to 3,000 records
# before its next kill, so 20 kills need well over 20,000 records.  The
# test fails when a kill lands after the last record was committed.
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
