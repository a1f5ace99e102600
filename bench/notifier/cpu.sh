#!/usr/bin/env bash
# Where the notifier's maximum rate goes: N notifications are made pending
# by one INSERT into kundhandelse (the outbox trigger runs, the processor
# does not), then ma-notifier starts and a QoS 1 mosquitto_sub receives
# them. Prints the rate (first to last arrival) and the CPU time per
# message of ma-notifier (/usr/bin/time), of the stack's PostgreSQL
# backends (children of its postmaster, from /proc) and of Mosquitto.
#
# Usage: bench/notifier/cpu.sh BUILD_DIR N [ma-notifier flags...]
# Needs DATABASE_URL, MQTT_PORT and MA_STATE_DIR (eval "$(scripts/stack.sh
# env)"). Works in the stack's database with a producer and customer of
# its own, and rewrites the stack's Mosquitto password and ACL files from
# that database, so it must not run beside bench/notifier/run.sh.
set -euo pipefail
build=$(cd "${1:?usage: cpu.sh BUILD_DIR N [flags]}" && pwd)
N=${2:?usage: cpu.sh BUILD_DIR N [flags]}
shift 2
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
run=$(date +%s%N | tail -c 9); org="7${run}"; consumer="mx-${run}"; kund="dddddddddddddddddddddddd${run}"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; mosq_dir="$MA_STATE_DIR/mosquitto"
sql() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qAtX -c "$1"; }
"$build/notifier/ma-mqtt-users" add "$consumer" >"$work/c.pw"
"$build/notifier/ma-mqtt-users" add "nm-$run" --role notifier >"$work/n.pw"
"$build/notifier/ma-mqtt-users" sync --password-file "$mosq_dir/passwd" --acl-file "$mosq_dir/acl" --base-password-file "$mosq_dir/stack.passwd" --base-acl-file "$mosq_dir/stack.acl" --reload-pid-file "$MA_STATE_DIR/pids/mosquitto.pid" >/dev/null
sleep 1
sql "INSERT INTO kundhandelse_typ (namn, producent_organisationsnummer, arendetyp, beskrivning, customer_has_ball, case_finished, notification, reminder_days, retention_days) VALUES ('nm$run.beslut', '$org', 'a', 'x', false, true, 'decision', '{}', 30);
     INSERT INTO notifier_subscription (consumer_id, kund_pseudonym, consent_reference) VALUES ('$consumer', '$kund', 'bench');"
sql "INSERT INTO kundhandelse (producent_organisationsnummer, kundhandelse_id, sekvens, kund_pseudonym, producent, rubrik, beskrivning, sprak, kundhandelse_typ, producentarendet_kraver_kundatgard, producentarendet_klart, version, tidpunkt, tidpunkt_offset_min, taggar, kafka_topic, kafka_partition, kafka_offset) SELECT '$org', 'e' || i, 1, '$kund', 'Bench', 'Beslut', 'x', 'sv', 'nm$run.beslut', false, true, '1', now(), 60, '{}', 'bench', 0, i FROM generate_series(1, $N) AS i"
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -V mqttv5 -q 1 -u "$consumer" -P "$(cat "$work/c.pw")" -i "s$run" -t '#' -F '%U' >"$work/recv" &
sub=$!
sleep 0.5
# CPU ticks (1/100 s) of the PostgreSQL backends and of Mosquitto.
pgcpu() {
	local t=0 p
	for p in $(pgrep -P "$(tr -d ' \n' <"$MA_STATE_DIR/pids/postgres.pid")"); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
mq=$(tr -d ' \n' <"$MA_STATE_DIR/pids/mosquitto.pid")
mqcpu() { awk '{ print $14 + $15 }' "/proc/$mq/stat"; }
pg0=$(pgcpu); mq0=$(mqcpu)
/usr/bin/time -f "%U %S" -o "$work/time" "$build/notifier/ma-notifier" --mqtt.port="$MQTT_PORT" --mqtt.username="nm-$run" --mqtt.password="$(cat "$work/n.pw")" --mqtt.client-id="nm$run" --migrations.apply=false --metrics.port=0 --log.level=warn "$@" &
np=$!
for ((i=0;i<1200;i++)); do [ "$(wc -l <"$work/recv")" -ge "$N" ] && break; sleep 0.1; done
sleep 0.3
pg1=$(pgcpu); mq1=$(mqcpu)
kill -TERM "$(pgrep -P "$np")"
wait "$np" || true
kill $sub; wait $sub 2>/dev/null || true
python3 - "$work/recv" "$work/time" $((pg1-pg0)) $((mq1-mq0)) $N <<'PY'
import sys
t=[float(l) for l in open(sys.argv[1])]
u,s=map(float,open(sys.argv[2]).read().split()[-2:])
n=int(sys.argv[5])
print("received %d, %.0f/s; CPU per message: ma-notifier %.1f us, PostgreSQL %.1f us, Mosquitto %.1f us" % (len(t), len(t)/(max(t)-min(t)), (u+s)/n*1e6, int(sys.argv[3])*10000/n, int(sys.argv[4])*10000/n))
PY
rm -rf "$work"
