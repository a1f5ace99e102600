#!/usr/bin/env bash
# Fails when C sources call functions that are easy to misuse: unbounded
# string copies and formatting, and number parsing without error reporting.
# strncpy leaves no NUL when the source fills the buffer.  Use snprintf,
# memcpy with an explicit length, and strtol/strtoll instead.
set -euo pipefail
cd "$(dirname "$0")/.."

pattern='\b(sprintf|vsprintf|strcpy|strncpy|strcat|gets|atoi|atol|atoll|atof|strtok)[[:space:]]*\('
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.c' '*.h')
if [ "${#files[@]}" -eq 0 ]; then
        echo "banned: no C files"
        exit 0
fi
if grep -nE "$pattern" "${files[@]}" | grep -v 'banned-ok'; then
        echo "banned: the calls above are not allowed; see scripts/check-banned.sh for the replacements" >&2
        exit 1
fi
echo "banned: ${#files[@]} files checked, none calls a banned function"
