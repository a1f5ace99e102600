#!/usr/bin/env bash
# Stops everything this checkout started: the project's programs (pid files
# in .run/<stack>/programs/) and then every local stack under .run/.
# Safe to run when nothing runs.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

stop_pid_file() {
        local file=$1 pid name
        pid=$(cat "$file" 2>/dev/null) || return 0
        name=$(basename "$file" .pid)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
                kill -TERM "$pid" 2>/dev/null
                for _ in $(seq 1 100); do
                        kill -0 "$pid" 2>/dev/null || break
                        sleep 0.1
                done
                if kill -0 "$pid" 2>/dev/null; then
                        echo "stop: $name (pid $pid) did not stop in 10 s; sending SIGKILL"
                        kill -KILL "$pid" 2>/dev/null
                fi
                echo "stop: $name stopped"
        fi
        rm -f "$file"
}

shopt -s nullglob
for state in "$ROOT"/.run/*/; do
        state=${state%/}
        for file in "$state"/programs/*.pid; do
                stop_pid_file "$file"
        done
        if [ -f "$state/stack.conf" ]; then
                name=$(basename "$state")
                MA_STACK_NAME=$name MA_STATE_DIR=$state scripts/stack.sh stop
        fi
done
