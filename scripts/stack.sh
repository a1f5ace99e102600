#!/usr/bin/env bash
# Local stack for development, tests and demos: a single-node KRaft Kafka
# broker, a private PostgreSQL 15 cluster and a Mosquitto 2 broker, all
# listening on 127.0.0.1 only, with data, logs and pid files under one state
# directory. Several stacks (dev, test, demo) run side by side on their own
# ports and state directories.
#
# Usage: scripts/stack.sh start | stop | status | env
#                         | restart-service NAME | stop-service NAME
#   NAME is kafka, postgres or mosquitto.
#
# start   starts what is not running and waits until each service responds
#         (Kafka: metadata request, PostgreSQL: pg_isready and the database
#         exists, Mosquitto: a QoS 1 publish). A service that does not respond
#         in time is stopped, its log tail printed, and start exits 1.
# stop    SIGTERM (PostgreSQL: SIGINT, its fast shutdown), waits, then
#         SIGKILL; removes the pid files. Data stays in the state directory.
# status  one line per service; exits 0 when all run, 3 otherwise.
# env     prints export lines for KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL,
#         MQTT_HOST, MQTT_PORT, MA_STATE_DIR and MA_STACK_NAME:
#         eval "$(MA_STACK_NAME=test scripts/stack.sh env)".
#
# Environment (each optional):
#   MA_STACK_NAME   dev (default), test or demo select default ports
#   MA_STATE_DIR    default <repo>/.run/<stack name>
#   MA_KAFKA_PORT, MA_KAFKA_CONTROLLER_PORT, MA_PG_PORT, MA_MQTT_PORT
#                   default: the ports of the last start in this state
#                   directory (<state>/stack.conf), else the stack's set
#   MA_KAFKA_HEAP_OPTS  JVM heap flags (default -Xms512m -Xmx512m)
#   MA_KAFKA_START_TIMEOUT (s, default 90), MA_START_TIMEOUT (s, default 30)
#
# A crash of this script leaves the services as they were; the next start
# or stop finds them through their pid files. Killing a service (kill -9)
# loses nothing committed: Kafka and PostgreSQL recover their logs on the
# next start.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$script_dir/.." && pwd)
# shellcheck source=scripts/lib-stack.sh
. "$script_dir/lib-stack.sh"

services=(postgres kafka mosquitto)

log() { printf 'stack: %s\n' "$*"; }
die() {
	printf 'stack: %s\n' "$*" >&2
	exit 1
}

# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

stack_name="${MA_STACK_NAME:-dev}"
state_dir="${MA_STATE_DIR:-$repo_dir/.run/$stack_name}"
case "$state_dir" in
/*) ;;
*) state_dir="$PWD/$state_dir" ;;
esac

# Each start records the stack's name and ports in the state directory, so
# later commands given only MA_STATE_DIR address the same stack and ports.
# Precedence: MA_* variables, then this record, then the name's defaults.
conf_file="$state_dir/stack.conf"
declare -A recorded=()
if [ -f "$conf_file" ]; then
	while IFS='=' read -r key value; do
		case "$key" in
		name | kafka_port | controller_port | pg_port | mqtt_port) recorded[$key]="$value" ;;
		esac
	done <"$conf_file"
fi
if [ -n "${recorded[name]:-}" ]; then
	if [ -n "${MA_STACK_NAME:-}" ] && [ "$MA_STACK_NAME" != "${recorded[name]}" ]; then
		die "state directory $state_dir belongs to stack \"${recorded[name]}\", not \"$MA_STACK_NAME\". Unset MA_STATE_DIR (left by an earlier eval of stack.sh env?) or set it to the state directory of \"$MA_STACK_NAME\"."
	fi
	stack_name="${recorded[name]}"
fi
[[ $stack_name =~ ^[A-Za-z0-9_-]+$ ]] ||
	die "invalid MA_STACK_NAME \"$stack_name\": use letters, digits, '-' and '_' only"

# Port sets per stack, so test and demo stacks never meet each other or the
# system's own PostgreSQL (5432) and Mosquitto (1883).
case "$stack_name" in
test) default_ports=(19092 19093 15432 11883) ;;
demo) default_ports=(29092 29093 25432 21883) ;;
*) default_ports=(9092 9093 5433 1884) ;;
esac
kafka_port="${MA_KAFKA_PORT:-${recorded[kafka_port]:-${default_ports[0]}}}"
controller_port="${MA_KAFKA_CONTROLLER_PORT:-${recorded[controller_port]:-${default_ports[1]}}}"
pg_port="${MA_PG_PORT:-${recorded[pg_port]:-${default_ports[2]}}}"
mqtt_port="${MA_MQTT_PORT:-${recorded[mqtt_port]:-${default_ports[3]}}}"
for port in "$kafka_port" "$controller_port" "$pg_port" "$mqtt_port"; do
	if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
		die "invalid port \"$port\": expected a number from 1 to 65535"
	fi
done

kafka_heap_opts="${MA_KAFKA_HEAP_OPTS:--Xms512m -Xmx512m}"
kafka_start_timeout="${MA_KAFKA_START_TIMEOUT:-90}"
start_timeout="${MA_START_TIMEOUT:-30}"

pg_database=mina_arenden
pg_role=mina_arenden

# PostgreSQL refuses to run as root, so a root-started stack runs it as the
# "postgres" user of Debian's package; anyone else runs it as themselves.
if [ "$(id -u)" -eq 0 ]; then
	pg_os_user="${MA_PG_OS_USER:-postgres}"
else
	pg_os_user=""
fi

# ---------------------------------------------------------------------------
# Process helpers
# ---------------------------------------------------------------------------

pid_file() { printf '%s/pids/%s.pid\n' "$state_dir" "$1"; }
log_file() { printf '%s/logs/%s.log\n' "$state_dir" "$1"; }

# Returns 0 when the pid exists and is not a zombie. A zombie counts as gone
# because where init reaps orphans late, a stopped service lingers as one.
pid_alive() {
	local state
	[ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$state" != "Z" ] && [ -n "$state" ]
}

# The string that the command line of this stack's process of a service
# contains, so a pid reused by another program is never taken for ours.
service_marker() {
	case "$1" in
	kafka) printf '%s\n' "$state_dir/kafka/server.properties" ;;
	postgres) printf '%s\n' "$(pg_root)/data" ;;
	mosquitto) printf '%s\n' "$state_dir/mosquitto/mosquitto.conf" ;;
	esac
}

# Prints the pid of the running service and returns 0, or returns 1.
service_pid() {
	local file pid cmdline
	file=$(pid_file "$1")
	[ -f "$file" ] || return 1
	# Mosquitto writes this file too, without a final newline.
	pid=$(tr -d ' \n' <"$file" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	pid_alive "$pid" || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *"$(service_marker "$1")"* ]] || return 1
	printf '%s\n' "$pid"
}

service_port() {
	case "$1" in
	kafka) printf '%s\n' "$kafka_port" ;;
	postgres) printf '%s\n' "$pg_port" ;;
	mosquitto) printf '%s\n' "$mqtt_port" ;;
	esac
}

# Fails when a program listens on the TCP port, or when an outgoing
# connection uses it as the local port that the kernel handed out, because
# that also makes the service's bind fail. Other sockets on the port (TIME-WAIT from
# this service's previous run) do not block a restart, since all three
# services bind with SO_REUSEADDR.
require_port_free() {
	local service="$1" port="$2" states range
	# TIME-WAIT sockets left by this service's previous run do not block a
	# bind with SO_REUSEADDR, so they are not counted.
	states=$(ss -Htan "sport = :$port" 2>/dev/null | awk '$1 != "TIME-WAIT" {print $1}' | sort -u | tr '\n' ' ')
	[ -z "$states" ] && return 0
	if [[ $states == *LISTEN* ]]; then
		die "$service cannot start: TCP port $port is already in use. Stop what listens there (ss -ltnp 'sport = :$port') or choose another port with the MA_*_PORT variables."
	fi
	range=$(ephemeral_range)
	if [ "$port" -ge "${range%-*}" ] && [ "$port" -le "${range#*-}" ]; then
		die "$service cannot start: TCP port $port is the local port of an outgoing connection (state ${states% }). Ports in $range are handed out to such connections; choose a port below that range with the MA_*_PORT variables."
	fi
}

ephemeral_range() {
	tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo "32768-60999"
}

# Warns about ports that the kernel may hand out to outgoing connections,
# since such a connection can hold the port when the service starts.
warn_ephemeral_ports() {
	local range low high port
	range=$(ephemeral_range)
	low=${range%-*}
	high=${range#*-}
	for port in "$kafka_port" "$controller_port" "$pg_port" "$mqtt_port"; do
		if [ "$port" -ge "$low" ] && [ "$port" -le "$high" ]; then
			log "warning: port $port lies in the ephemeral port range $range, so a start may fail while an outgoing connection holds it; prefer ports below $low"
		fi
	done
}

# Replaces @NAME@ placeholders: render TEMPLATE OUTPUT NAME=VALUE...
render() {
	local template="$1" output="$2" pair name value text
	shift 2
	text=$(<"$template")
	for pair in "$@"; do
		name="${pair%%=*}"
		value="${pair#*=}"
		text="${text//@"$name"@/$value}"
	done
	printf '%s\n' "$text" >"$output.tmp"
	mv "$output.tmp" "$output"
}

# Starts a command detached from this shell: own session, stdin from
# /dev/null, output appended to the service log, no inherited lock fd.
# Prints the pid, which is the command's own pid because setsid and setpriv
# exec it.
launch() {
	local service="$1" workdir="$2" log
	shift 2
	log=$(log_file "$service")
	printf '=== %s: stack %s starting %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		"$stack_name" "$service" >>"$log"
	(cd "$workdir" && exec setsid "$@") </dev/null >>"$log" 2>&1 9>&- &
	printf '%s\n' "$!"
}

# Reports a failed start: stops what is left of the service, prints the tail
# of its log and exits 1.
fail_start() {
	local service="$1" reason="$2" pid
	if pid=$(service_pid "$service"); then
		signal_and_wait "$service" "$pid" KILL 10 || true
	fi
	rm -f "$(pid_file "$service")"
	{
		printf 'stack: %s failed to start: %s\n' "$service" "$reason"
		printf 'stack: last 30 lines of %s:\n' "$(log_file "$service")"
		tail -n 30 "$(log_file "$service")" 2>/dev/null || true
	} >&2
	exit 1
}

# Sends a signal and waits up to TIMEOUT seconds for the process and the rest
# of its session (PostgreSQL's backends) to exit. Returns 1 on time-out.
signal_and_wait() {
	local service="$1" pid="$2" signal="$3" timeout="$4" deadline member
	kill -s "$signal" "$pid" 2>/dev/null || true
	deadline=$((SECONDS + timeout))
	while pid_alive "$pid"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
	# Each service leads its own session (setsid), so its session id is its
	# pid; children that outlive it are ended here.
	for member in $(ps -o pid= -s "$pid" 2>/dev/null); do
		kill -s KILL "$member" 2>/dev/null || true
	done
	return 0
}

# Waits until CHECK succeeds, the process dies or TIMEOUT passes:
# wait_ready SERVICE PID TIMEOUT CHECK...
wait_ready() {
	local service="$1" pid="$2" timeout="$3" deadline
	shift 3
	deadline=$((SECONDS + timeout))
	while :; do
		pid_alive "$pid" || fail_start "$service" "the process (pid $pid) exited"
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		[ "$SECONDS" -lt "$deadline" ] ||
			fail_start "$service" "no response on 127.0.0.1:$(service_port "$service") within $timeout s"
		sleep 1
	done
}

# ---------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------

# The JVM command line shared by the broker and the storage tool, without the
# main class: kafka_java_cmd fills the array kafka_cmd.
kafka_java_cmd() {
	local java="java"
	[ -n "${JAVA_HOME:-}" ] && java="$JAVA_HOME/bin/java"
	# shellcheck disable=SC2206 # the heap options are a list of flags
	kafka_cmd=("$java" $kafka_heap_opts -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError
		-Djava.awt.headless=true
		-Dlog4j2.configurationFile="$script_dir/kafka/log4j2.xml"
		-cp "$MA_KAFKA_HOME/libs/*")
}

kafka_responds() {
	kcat -L -b "127.0.0.1:$kafka_port" -m 3 2>/dev/null | grep -q ' 1 brokers:'
}

start_kafka() {
	local dir="$state_dir/kafka" pid cluster_id output
	[ -f "$MA_KAFKA_MARKER" ] ||
		die "cannot start kafka: Kafka $MA_KAFKA_VERSION is not installed in $MA_KAFKA_HOME. Run scripts/setup.sh first."
	command -v kcat >/dev/null 2>&1 ||
		die "cannot start kafka: kcat not found; start uses it to check that the broker responds. Run scripts/setup.sh first."
	require_port_free kafka "$kafka_port"
	require_port_free kafka "$controller_port"

	mkdir -p "$dir/data"
	kafka_java_cmd
	render "$script_dir/kafka/server.properties.in" "$dir/server.properties" \
		KAFKA_PORT="$kafka_port" CONTROLLER_PORT="$controller_port" \
		DATA_DIR="$dir/data"

	# The log directory is formatted once; meta.properties marks it done.
	if [ ! -f "$dir/data/meta.properties" ]; then
		# The tool's log lines share standard output with the id, which is
		# the last line: 22 characters of base64url.
		output=$("${kafka_cmd[@]}" kafka.tools.StorageTool random-uuid </dev/null 2>&1) || true
		printf '%s\n' "$output" >>"$(log_file kafka)"
		cluster_id=$(printf '%s\n' "$output" | tail -n 1)
		[[ $cluster_id =~ ^[A-Za-z0-9_-]{22}$ ]] ||
			fail_start kafka "kafka.tools.StorageTool random-uuid printed no cluster id"
		log "formatting the Kafka log directory $dir/data (cluster id $cluster_id)"
		"${kafka_cmd[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
			-c "$dir/server.properties" </dev/null >>"$(log_file kafka)" 2>&1 ||
			fail_start kafka "kafka.tools.StorageTool format failed"
		printf '%s\n' "$cluster_id" >"$dir/cluster-id"
	fi

	pid=$(launch kafka "$dir" "${kafka_cmd[@]}" kafka.Kafka "$dir/server.properties")
	printf '%s\n' "$pid" >"$(pid_file kafka)"
	log "kafka starting (pid $pid), waiting up to $kafka_start_timeout s for 127.0.0.1:$kafka_port"
	wait_ready kafka "$pid" "$kafka_start_timeout" kafka_responds
	log "kafka ready on 127.0.0.1:$kafka_port"
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

# The cluster's folder: <state>/postgres, unless the stack runs as root and
# the postgres user cannot reach the state directory (a clone under /root,
# say); then a folder under /var/lib/mina-arenden, linked from the state dir.
pg_root() {
	local link="$state_dir/postgres"
	if [ -L "$link" ]; then
		readlink -f "$link"
	else
		printf '%s\n' "$link"
	fi
}

pg_run() {
	if [ -n "$pg_os_user" ]; then
		setpriv --reuid="$pg_os_user" --regid="$pg_os_user" --init-groups -- "$@"
	else
		"$@"
	fi
}

pg_prepare_root() {
	local root fallback
	[ -e "$state_dir/postgres" ] && return 0
	if [ -n "$pg_os_user" ] && ! pg_run test -x "$state_dir" 2>/dev/null; then
		fallback="/var/lib/mina-arenden/postgres/$stack_name-$(printf '%s' "$state_dir" | cksum | cut -d' ' -f1)"
		log "user $pg_os_user cannot reach $state_dir; the PostgreSQL cluster goes to $fallback"
		mkdir -p "$fallback"
		ln -s "$fallback" "$state_dir/postgres"
	else
		mkdir -p "$state_dir/postgres"
	fi
	root=$(pg_root)
	mkdir -p "$root/socket"
	if [ -n "$pg_os_user" ]; then
		chown -R "$pg_os_user:" "$root"
	fi
	chmod 755 "$root" "$root/socket"
}

pg_psql() {
	PGCONNECT_TIMEOUT=5 "$MA_PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$pg_port" -U postgres "$@"
}

pg_responds() {
	"$MA_PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -t 2
}

pg_init_cluster() {
	local data="$1"
	[ -f "$data/PG_VERSION" ] && return 0
	log "creating the PostgreSQL cluster in $data"
	(cd "$(pg_root)" && pg_run "$MA_PG_BINDIR/initdb" -D "$data" -U postgres \
		--auth=trust --encoding=UTF8 --locale=C) >>"$(log_file postgres)" 2>&1 ||
		fail_start postgres "initdb failed"
	# Trust, but only over this cluster's socket and the loopback address.
	pg_run sh -c "cat > '$data/pg_hba.conf'" <<'EOF'
# Written by scripts/stack.sh: a development cluster reachable only through
# its own socket directory and 127.0.0.1, where every local user is trusted.
local all all trust
host  all all 127.0.0.1/32 trust
EOF
}

pg_create_database() {
	if [ "$(pg_psql -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$pg_role'")" != "1" ]; then
		log "creating role $pg_role"
		pg_psql -d postgres -c "CREATE ROLE $pg_role LOGIN CREATEDB" ||
			fail_start postgres "could not create role $pg_role"
	fi
	if [ "$(pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$pg_database'")" != "1" ]; then
		log "creating database $pg_database"
		pg_psql -d postgres -c "CREATE DATABASE $pg_database OWNER $pg_role" ||
			fail_start postgres "could not create database $pg_database"
	fi
}

# Removes the lock files (postmaster.pid and the socket's .lock) that a
# killed server leaves. PostgreSQL would take the old pid for a running
# server when it lingers as an unreaped zombie.
pg_remove_stale_locks() {
	local root="$1" lock old_pid
	for lock in "$root/data/postmaster.pid" "$root"/socket/.s.PGSQL.*.lock; do
		[ -f "$lock" ] || continue
		old_pid=$(head -n 1 "$lock" 2>/dev/null | tr -d ' ')
		if [[ $old_pid =~ ^[0-9]+$ ]] && pid_alive "$old_pid"; then
			continue
		fi
		log "removing stale $lock (pid ${old_pid:-unknown} is gone)"
		rm -f "$lock" "${lock%.lock}"
	done
}

start_postgres() {
	local root data pid
	[ -x "$MA_PG_BINDIR/postgres" ] ||
		die "cannot start postgres: $MA_PG_BINDIR/postgres not found. Run scripts/setup.sh first."
	require_port_free postgres "$pg_port"
	pg_prepare_root
	root=$(pg_root)
	data="$root/data"
	# A Unix socket path is limited to 107 bytes.
	[ "${#root}" -le 80 ] ||
		die "cannot start postgres: the socket directory $root/socket is too long for a Unix socket path; set a shorter MA_STATE_DIR"
	pg_init_cluster "$data"
	pg_remove_stale_locks "$root"

	if [ -n "$pg_os_user" ]; then
		pid=$(launch postgres "$root" setpriv --reuid="$pg_os_user" --regid="$pg_os_user" \
			--init-groups -- "$MA_PG_BINDIR/postgres" -D "$data" \
			-c listen_addresses=127.0.0.1 -c port="$pg_port" \
			-c unix_socket_directories="$root/socket")
	else
		pid=$(launch postgres "$root" "$MA_PG_BINDIR/postgres" -D "$data" \
			-c listen_addresses=127.0.0.1 -c port="$pg_port" \
			-c unix_socket_directories="$root/socket")
	fi
	printf '%s\n' "$pid" >"$(pid_file postgres)"
	log "postgres starting (pid $pid), waiting up to $start_timeout s for 127.0.0.1:$pg_port"
	wait_ready postgres "$pid" "$start_timeout" pg_responds
	pg_create_database
	log "postgres ready on 127.0.0.1:$pg_port, database $pg_database"
}

# ---------------------------------------------------------------------------
# Mosquitto
# ---------------------------------------------------------------------------

# The readiness probe logs in as its own account, since anonymous clients
# are refused. Its password is generated once per state directory.
mqtt_probe_user=ma-stack-probe

mosquitto_responds() {
	timeout 5 mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" -q 1 \
		-u "$mqtt_probe_user" -P "$(cat "$state_dir/mosquitto/probe.secret")" \
		-i "ma-stack-probe-$$" -t ma-stack/probe -m ready
}

# Writes the stack's base accounts (stack.passwd, stack.acl: the probe) and
# creates passwd and acl from them when missing. An existing passwd (written
# by ma-mqtt-users sync) keeps its accounts; only the probe's line is
# renewed. Pass stack.passwd and stack.acl to `ma-mqtt-users sync` as
# --base-password-file and --base-acl-file so the probe stays.
mosquitto_write_accounts() {
	local dir="$1" secret
	if [ ! -s "$dir/probe.secret" ]; then
		(umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$dir/probe.secret")
	fi
	secret=$(cat "$dir/probe.secret")
	(umask 077 && : >"$dir/stack.passwd.tmp")
	mosquitto_passwd -b "$dir/stack.passwd.tmp" "$mqtt_probe_user" "$secret"
	mv "$dir/stack.passwd.tmp" "$dir/stack.passwd"
	printf 'user %s\ntopic readwrite ma-stack/#\n' "$mqtt_probe_user" >"$dir/stack.acl"
	if [ -s "$dir/passwd" ]; then
		mosquitto_passwd -b "$dir/passwd" "$mqtt_probe_user" "$secret"
	else
		(umask 077 && cp "$dir/stack.passwd" "$dir/passwd")
	fi
	[ -s "$dir/acl" ] || cp "$dir/stack.acl" "$dir/acl"
}

start_mosquitto() {
	local dir="$state_dir/mosquitto" pid
	command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] ||
		die "cannot start mosquitto: mosquitto not found. Run scripts/setup.sh first."
	require_port_free mosquitto "$mqtt_port"
	mkdir -p "$dir/data"
	mosquitto_write_accounts "$dir"
	render "$script_dir/mosquitto/mosquitto.conf.in" "$dir/mosquitto.conf" \
		MQTT_PORT="$mqtt_port" DATA_DIR="$dir/data" \
		LOG_FILE="$(log_file mosquitto)" PID_FILE="$(pid_file mosquitto)" \
		PASSWORD_FILE="$dir/passwd" ACL_FILE="$dir/acl" \
		USER="$(id -un)"

	pid=$(launch mosquitto "$dir" "$(command -v mosquitto || echo /usr/sbin/mosquitto)" \
		-c "$dir/mosquitto.conf")
	printf '%s\n' "$pid" >"$(pid_file mosquitto)"
	log "mosquitto starting (pid $pid), waiting up to $start_timeout s for 127.0.0.1:$mqtt_port"
	wait_ready mosquitto "$pid" "$start_timeout" mosquitto_responds
	log "mosquitto ready on 127.0.0.1:$mqtt_port"
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

# Serializes start and stop of one stack; the fd is closed in every service.
take_lock() {
	mkdir -p "$state_dir/pids" "$state_dir/logs"
	exec 9>"$state_dir/stack.lock"
	flock -w 300 9 || die "could not lock $state_dir/stack.lock within 300 s: another stack.sh start or stop is still running"
}

write_stack_conf() {
	printf 'name=%s\nkafka_port=%s\ncontroller_port=%s\npg_port=%s\nmqtt_port=%s\n' \
		"$stack_name" "$kafka_port" "$controller_port" "$pg_port" "$mqtt_port" \
		>"$conf_file.tmp"
	mv "$conf_file.tmp" "$conf_file"
}

start_service() {
	local pid
	if pid=$(service_pid "$1"); then
		log "$1 already running (pid $pid)"
		return 0
	fi
	rm -f "$(pid_file "$1")"
	"start_$1"
}

stop_service() {
	local service="$1" pid signal timeout
	if ! pid=$(service_pid "$service"); then
		rm -f "$(pid_file "$service")"
		log "$service not running"
		return 0
	fi
	case "$service" in
	postgres) signal=INT timeout=30 ;; # fast shutdown: ends sessions, checkpoints
	kafka) signal=TERM timeout=60 ;;
	*) signal=TERM timeout=15 ;;
	esac
	log "stopping $service (pid $pid, SIG$signal)"
	if ! signal_and_wait "$service" "$pid" "$signal" "$timeout"; then
		log "$service did not stop within $timeout s, sending SIGKILL"
		signal_and_wait "$service" "$pid" KILL 10 ||
			die "$service (pid $pid) is still running after SIGKILL"
	fi
	rm -f "$(pid_file "$service")"
}

require_service_name() {
	case "${1:-}" in
	kafka | postgres | mosquitto) ;;
	*) die "unknown service \"${1:-}\": expected kafka, postgres or mosquitto" ;;
	esac
}

cmd_status() {
	local service pid all_running=0
	printf 'stack %s, state %s\n' "$stack_name" "$state_dir"
	for service in "${services[@]}"; do
		if pid=$(service_pid "$service"); then
			printf '%-10s running  pid %-8s 127.0.0.1:%s\n' "$service" "$pid" "$(service_port "$service")"
		else
			printf '%-10s stopped\n' "$service"
			all_running=3
		fi
	done
	return "$all_running"
}

cmd_env() {
	printf 'export KAFKA_BOOTSTRAP_SERVERS=%q\n' "127.0.0.1:$kafka_port"
	printf 'export DATABASE_URL=%q\n' "postgresql://$pg_role@127.0.0.1:$pg_port/$pg_database"
	printf 'export MQTT_HOST=%q\n' "127.0.0.1"
	printf 'export MQTT_PORT=%q\n' "$mqtt_port"
	printf 'export MA_STATE_DIR=%q\n' "$state_dir"
	printf 'export MA_STACK_NAME=%q\n' "$stack_name"
}

usage() {
	cat >&2 <<'EOF'
usage: scripts/stack.sh start | stop | status | env | restart-service NAME | stop-service NAME
  NAME: kafka, postgres or mosquitto. MA_STACK_NAME selects the stack (dev, test, demo).
EOF
	exit 2
}

main() {
	local service i
	case "${1:-}" in
	start)
		take_lock
		log "starting stack $stack_name in $state_dir"
		warn_ephemeral_ports
		write_stack_conf
		for service in "${services[@]}"; do
			start_service "$service"
		done
		log "stack $stack_name is up"
		;;
	stop)
		take_lock
		for ((i = ${#services[@]} - 1; i >= 0; i--)); do
			stop_service "${services[i]}"
		done
		log "stack $stack_name stopped"
		;;
	restart-service)
		require_service_name "${2:-}"
		take_lock
		stop_service "$2"
		start_service "$2"
		;;
	stop-service)
		require_service_name "${2:-}"
		take_lock
		stop_service "$2"
		;;
	status) cmd_status ;;
	env) cmd_env ;;
	*) usage ;;
	esac
}

main "$@"
