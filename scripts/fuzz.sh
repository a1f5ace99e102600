#!/usr/bin/env bash
# Builds the libFuzzer harness of the Avro decoder with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs it for SECONDS (default 600) on a
# copy of the committed seed corpus.  Exits non-zero on a crash, leak or
# timeout; the failing input is kept under tests/out/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_TO_RUN=${1:-600}
GENERATOR=$(command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")

CC=clang cmake -S . -B build-fuzz -G "$GENERATOR" -DMA_FUZZ=ON >/dev/null
cmake --build build-fuzz --target fuzz_decode

work="$ROOT/tests/out/fuzz"
rm -rf "$work/corpus"
mkdir -p "$work/corpus"
cp "$ROOT"/tests/fuzz/corpus/decode/* "$work/corpus/"

echo "fuzz: running fuzz_decode for ${SECONDS_TO_RUN}s"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        build-fuzz/tests/fuzz/fuzz_decode -max_total_time="$SECONDS_TO_RUN" \
        -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -artifact_prefix="$work/" -print_final_stats=1 \
        "$work/corpus"
echo "fuzz: no crash, leak or timeout in ${SECONDS_TO_RUN}s"
