#!/bin/sh
# Runs the Python interop check (interop.py) against ma-avro-cat.
# Usage: run.sh MA_AVRO_CAT SCHEMA_DIR
# Creates tests/interop/.venv with the pinned avro package on first use;
# that needs the Python package index, later runs do not.
set -eu

AVRO_VERSION=1.12.2
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"

if [ $# -ne 2 ]; then
        echo "usage: run.sh MA_AVRO_CAT SCHEMA_DIR" >&2
        exit 2
fi
if ! "$venv/bin/python" -c "import avro, sys; sys.exit(avro.__version__ != '$AVRO_VERSION')" 2>/dev/null; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet "avro==$AVRO_VERSION"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" "$here/interop.py" "$1" "$2" "$work"
