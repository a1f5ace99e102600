#!/usr/bin/env bash
# Fails when a tracked or new C file differs from the committed .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.c' '*.h')
bad=0
for file in "${files[@]}"; do
        [ -f "$file" ] || continue
        if ! clang-format --dry-run --Werror "$file" >/dev/null 2>&1; then
                echo "format: $file differs from .clang-format; run: clang-format -i $file" >&2
                bad=$((bad + 1))
        fi
done
if [ "$bad" -ne 0 ]; then
        echo "format: $bad file(s) need formatting" >&2
        exit 1
fi
echo "format: ${#files[@]} files match .clang-format"
