#!/usr/bin/env bash
# Stops everything this checkout started (`make stop`): first the project's
# service processes of each stack (pid files .run/<stack>/programs/*.pid,
# written by scripts/demo.sh), then each local stack under .run/ (Kafka,
# PostgreSQL, Mosquitto, through scripts/stack.sh stop).  Safe to run when
# nothing runs.
#
# Usage: scripts/stop.sh [STACK...]
#   With stack names (the folder names under .run/), only those stacks and
#   their programs are stopped; without, every stack.
#
# A program gets SIGTERM and up to MA_STOP_TIMEOUT seconds (default 40,
# longer than the services' own drain and shutdown time-outs) to finish,
# then SIGKILL.  A pid file whose process is gone, or whose pid now belongs
# to another program, is removed without signalling anything.  Exit status
# 0 when everything stopped, 1 when a process or a stack could not be
# stopped.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
STOP_TIMEOUT=${MA_STOP_TIMEOUT:-40}
status=0

# Upstream first, so nothing is fed to a program that has already stopped:
# the gateway's clients, then the processor, then the readers of the views.
PROGRAM_ORDER=(ma-gateway ma-processor ma-notifier ma-api)

# pid_alive PID: the process exists and is not a zombie.
pid_alive() {
        local state
        [ -r "/proc/$1/stat" ] || return 1
        state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
        [ -n "$state" ] && [ "$state" != Z ]
}

# pid_is_program PID NAME: the process runs the program the pid file NAME
# is named after: the file name of its executable (the first command-line
# word) is NAME or starts NAME, as in ma-processor-2.pid for a second
# ma-processor.  A reused pid of another program is left alone.
pid_is_program() {
        local first program
        first=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n 1) || return 1
        program=${first##*/}
        [ -n "$program" ] && [[ $2 == "$program" || $2 == "$program"[-.]* ]]
}

# wait_gone PID SECONDS: waits until PID has exited; fails on time-out.
wait_gone() {
        local deadline=$((SECONDS + $2))
        while pid_alive "$1"; do
                [ "$SECONDS" -lt "$deadline" ] || return 1
                sleep 0.2
        done
}

stop_pid_file() {
        local file=$1 stack=$2 pid name
        name=$(basename "$file" .pid)
        pid=$(cat "$file" 2>/dev/null) || return 0
        if ! [[ $pid =~ ^[0-9]+$ ]] || ! pid_alive "$pid"; then
                rm -f "$file"
                return 0
        fi
        if ! pid_is_program "$pid" "$name"; then
                echo "stop: $stack/$name: pid $pid now belongs to another program; leaving it alone"
                rm -f "$file"
                return 0
        fi
        kill -TERM "$pid" 2>/dev/null
        if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
                echo "stop: $stack/$name (pid $pid) did not stop within $STOP_TIMEOUT s; sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null
                if ! wait_gone "$pid" 10; then
                        echo "stop: $stack/$name (pid $pid) is still running after SIGKILL" >&2
                        status=1
                        return 0
                fi
        fi
        echo "stop: $stack/$name stopped (pid $pid)"
        rm -f "$file"
}

stop_programs() {
        local state=$1 stack name file
        stack=$(basename "$state")
        for name in "${PROGRAM_ORDER[@]}"; do
                [ -f "$state/programs/$name.pid" ] &&
                        stop_pid_file "$state/programs/$name.pid" "$stack"
        done
        # Pid files of programs not named above, in name order.
        for file in "$state"/programs/*.pid; do
                [ -f "$file" ] && stop_pid_file "$file" "$stack"
        done
}

shopt -s nullglob
states=()
if [ $# -gt 0 ]; then
        for stack in "$@"; do
                if [ ! -d "$ROOT/.run/$stack" ]; then
                        echo "stop: no stack \"$stack\" under $ROOT/.run; nothing to stop there"
                        continue
                fi
                states+=("$ROOT/.run/$stack")
        done
else
        for state in "$ROOT"/.run/*/; do
                states+=("${state%/}")
        done
fi

# Every stack's programs before any stack, because a program of one stack
# may still use another stack's services.
for state in "${states[@]}"; do
        stop_programs "$state"
done
for state in "${states[@]}"; do
        [ -f "$state/stack.conf" ] || continue
        name=$(sed -n 's/^name=//p' "$state/stack.conf")
        MA_STACK_NAME=${name:-$(basename "$state")} MA_STATE_DIR=$state \
                scripts/stack.sh stop || status=1
done
exit "$status"
