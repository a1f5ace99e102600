#!/usr/bin/env bash
# Black-box tests of ma-notifier and ma-mqtt-users against the stack's
# PostgreSQL and Mosquitto (DATABASE_URL, MQTT_PORT, MA_STATE_DIR and
# MA_STACK_NAME from `scripts/stack.sh env`).
#
# Usage: notifier_test.sh basic | faults [EVENTS] | e2e | process-log
#
# Events are applied with the processor's own SQL functions
# (ma_apply_kundhandelse, ma_apply_aterkallelse), so the outbox triggers run
# exactly as under ma-processor; the test uses its own producer and event
# types, named after the run, and leaves other rows alone.
#
# basic   two consumers, A and B, each with its own MQTT account, both
#         subscribed to '#'. Checks: every event notification arrives
#         (received ids equal the outbox's ids), A sees none of B's and B
#         none of A's, a stale replay (same sekvens) and a type without
#         notification add no rows, the CloudEvents properties, a case
#         closed by a later event and a retracted event lose their pending
#         reminders, the other reminders arrive when the notifier's clock is
#         moved 45 days ahead, a wrong password and an anonymous client
#         are refused, /metrics and /health answer, a PUBACK with a
#         failure reason code (a publish outside the ACL) leaves the row
#         pending until a later attempt succeeds, and switching a
#         subscription off cancels its pending notifications.
# faults  consumer A keeps a persistent session (clean start false, session
#         expiry 1 h) but is offline while EVENTS events (default 300) are
#         applied in waves; meanwhile the notifier is killed with SIGKILL and
#         restarted, Mosquitto is restarted, and PostgreSQL is restarted;
#         then the notifier gets SIGTERM while the broker is stopped and must
#         exit 0 within its drain timeout, leaving the unacknowledged rows
#         pending for the next notifier.
#         When A reconnects it must receive every notification id, and the
#         outbox must show all of them delivered.
# e2e     the whole pipeline in a database of its own: ma-produce publishes
#         JSON Lines to Kafka, ma-processor applies them, ma-notifier
#         publishes. An action and a decision arrive, a replayed record
#         (same sekvens) adds nothing, and the action's deadline reminders
#         wait in the outbox. First, in the same database, an upgrade from
#         0204: an outbox row with a random id gets its computed id from
#         0205 and still refuses a second copy. Needs PROC_BIN,
#         PRODUCE_BIN, TOPICS_BIN and KAFKA_BOOTSTRAP_SERVERS.
# process-log  acceptance: the real building-permit log (shared/data/
#         wabo-receipt.csv, or MA_WABO_LOG) published as EXK through the whole
#         pipeline; two consumers subscribed for two of its customers each
#         receive exactly the notifying events that process_log_expected.py
#         computes from the log, the mapping and the catalog. Same needs as
#         e2e; skipped (77) when the log is absent.
# shellcheck source=tests/integration/lib-ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib-ports.sh"
set -euo pipefail

mode="${1:?usage: notifier_test.sh basic | faults [EVENTS] | e2e | process-log}"
events="${2:-300}"
: "${NOTIFIER_BIN:?set NOTIFIER_BIN to the ma-notifier binary}"
: "${MQTT_USERS_BIN:?set MQTT_USERS_BIN to the ma-mqtt-users binary}"
: "${MA_SCHEMA_DIR:?set MA_SCHEMA_DIR to schemas/}"
for var in DATABASE_URL MQTT_PORT MA_STATE_DIR MA_STACK_NAME; do
	if [ -z "${!var:-}" ]; then
		echo "notifier_test: $var is not set: load the stack's environment with eval \"\$(scripts/stack.sh env)\"" >&2
		exit 1
	fi
done

repo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/notifier-test.XXXXXX")
run=$(date +%s%N | tail -c 9)
org="9${run}"
ca="ca-${run}"
cb="cb-${run}"
notifier_user="nt-${run}"
kund_a=$(printf 'a%.0s' {1..32})
kund_b=$(printf 'b%.0s' {1..32})
kund_a="${kund_a:0:24}${run}"
kund_b="${kund_b:0:24}${run}"
mosq_dir="$MA_STATE_DIR/mosquitto"
metrics_port=$(free_port)
pids=()
notifier_pid=""
e2e_admin_url=""

fail() {
	echo "FAIL: $*" >&2
	[ -f "$work/notifier.log" ] && tail -20 "$work/notifier.log" >&2
	exit 1
}
log() { echo "--- $*"; }

cleanup() {
	local pid
	if [ -n "$notifier_pid" ]; then kill -9 "$notifier_pid" 2>/dev/null || true; fi
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ -n "$e2e_admin_url" ]; then
		psql "$e2e_admin_url" -qX -c "DROP DATABASE IF EXISTS notif_e2e_${run} WITH (FORCE)" || true
	fi
	if [ "${KEEP_WORK:-0}" != 1 ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

sql() { psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -qAtX -c "$1"; }

# Applies a publish through the processor's function; prints its outcome.
# apply ID SEKVENS KUND ARENDE TYP KLART TIDPUNKT GILTIG ATGARD
apply() {
	local giltig="${8:-}" atgard="${9:-}"
	sql "SELECT ma_apply_kundhandelse('$org', '$1', $2, '$3', 'pnr',
	  'arende', '$4', 'Testmyndigheten', 'Rubrik $1', 'Beskrivning', 'sv',
	  '$5', $( [ "$6" = true ] && echo false || echo true ), $6, '1.0',
	  '$7'::timestamptz, 60, '{}', NULL, NULL,
	  $( [ -n "$giltig" ] && echo "'$giltig'::date" || echo NULL ),
	  $( [ -n "$atgard" ] && echo "'$atgard'::date" || echo NULL ),
	  NULL, 'test', 0, 0)"
}

setup_catalog() {
	sql "INSERT INTO producent (organisationsnummer, namn, prefix, kind,
	       retention_days) VALUES ('$org', 'Testmyndigheten', 'nt$run', 'myndighet', 365);
	     INSERT INTO kundhandelse_typ (namn, producent_organisationsnummer,
	       arendetyp, beskrivning, customer_has_ball, case_finished,
	       notification, reminder_days, retention_days) VALUES
	     ('nt$run.beslut', '$org', 'arende', 'x', false, true, 'decision', '{}', 365),
	     ('nt$run.komplettera', '$org', 'arende', 'x', true, false, 'action_required', '{14,3}', 365),
	     ('nt$run.giltighet', '$org', 'arende', 'x', false, false, 'expiring', '{30,7}', 365),
	     ('nt$run.info', '$org', 'arende', 'x', false, false, 'none', '{}', 365);"
}

# Creates the accounts, writes Mosquitto's files and reloads it.
setup_accounts() {
	"$MQTT_USERS_BIN" add "$ca" >"$work/$ca.pw"
	"$MQTT_USERS_BIN" add "$cb" >"$work/$cb.pw"
	"$MQTT_USERS_BIN" add "$notifier_user" --role notifier >"$work/nt.pw"
	"$MQTT_USERS_BIN" sync --password-file "$mosq_dir/passwd" \
		--acl-file "$mosq_dir/acl" --base-password-file "$mosq_dir/stack.passwd" \
		--base-acl-file "$mosq_dir/stack.acl" \
		--reload-pid-file "$MA_STATE_DIR/pids/mosquitto.pid" >/dev/null
	grep -q "^user $ca\$" "$mosq_dir/acl" || fail "ACL has no section for $ca"
	grep -q "^topic read ma/v1/$ca/#\$" "$mosq_dir/acl" || fail "ACL does not limit $ca to its topics"
	# Mosquitto handles SIGHUP asynchronously: wait until the new accounts
	# log in. A publish outside a consumer's ACL is dropped by the broker
	# but still acknowledged, so only a refused login fails here.
	local i name
	for name in "$ca" "$cb"; do
		for ((i = 0; i < 50; i++)); do
			mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -u "$name" \
				-P "$(cat "$work/$name.pw")" -t "ma/v1/$name/login" -m x 2>/dev/null && break
			sleep 0.2
		done
		((i < 50)) || fail "$name cannot log in 10 s after the reload"
	done
}

# subscribe NAME CLIENT_ID OUTPUT [extra mosquitto_sub flags]
subscribe() {
	local name="$1" id="$2" out="$3"
	shift 3
	mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -V mqttv5 -q 1 \
		-u "$name" -P "$(cat "$work/$name.pw")" -i "$id" -t '#' \
		-F '%j' "$@" >>"$out" 2>>"$work/sub.err" &
	pids+=("$!")
	echo "$!"
}

start_notifier() {
	"$NOTIFIER_BIN" --mqtt.port="$MQTT_PORT" --mqtt.username="$notifier_user" \
		--mqtt.password="$(cat "$work/nt.pw")" --mqtt.client-id="nt$run" \
		--migrations.dir="$MA_SCHEMA_DIR/sql" --metrics.port="$metrics_port" \
		--notify.retry-initial=2s --notify.retry-max=5s \
		--notify.poll-interval=500ms --mqtt.message-expiry=1h "$@" >>"$work/notifier.log" 2>&1 &
	notifier_pid=$!
}

stop_notifier() {
	kill -TERM "$notifier_pid"
	wait "$notifier_pid" || fail "ma-notifier exited $? after SIGTERM"
	notifier_pid=""
}

# Notification ids found in a mosquitto_sub -F %j file.
received_ids() {
	jq -r '.payload | fromjson | .notificationId' "$1" 2>/dev/null | sort -u
}

expected_ids() { sql "SELECT notification_id FROM notifier_notification WHERE $1 ORDER BY 1"; }

# wait_for FILE QUERY SECONDS: until FILE holds every id QUERY selects.
wait_for() {
	local file="$1" where="$2" timeout="$3" i
	expected_ids "$where" >"$work/expected"
	for ((i = 0; i < timeout * 5; i++)); do
		received_ids "$file" >"$work/received"
		if [ -z "$(comm -23 "$work/expected" "$work/received")" ]; then
			return 0
		fi
		sleep 0.2
	done
	echo "missing ids:" >&2
	comm -23 "$work/expected" "$work/received" | head >&2
	fail "not every notification arrived within $timeout s ($(wc -l <"$work/received") of $(wc -l <"$work/expected"))"
}

day() { date -u -d "+$1 days" +%F; }

test_basic() {
	local n i rows out
	setup_accounts # also applies the migrations
	setup_catalog
	sql "INSERT INTO notifier_subscription (consumer_id, kund_pseudonym, consent_reference)
	     VALUES ('$ca', '$kund_a', 'samtycke-a');
	     INSERT INTO notifier_subscription (consumer_id, kund_pseudonym, consent_reference)
	     VALUES ('$cb', '$kund_b', 'samtycke-b');
	     INSERT INTO notifier_subscription (consumer_id, kund_pseudonym, producers, consent_reference)
	     VALUES ('$ca', '$kund_a', '{0000000000}', 'filtrerad');
	     INSERT INTO notifier_subscription (consumer_id, kund_pseudonym, type_prefixes, kinds, consent_reference)
	     VALUES ('$ca', '$kund_a', '{nt$run.ingen}', '{decision}', 'prefix');"
	subscribe "$ca" "sub-$ca" "$work/a.json" >/dev/null
	subscribe "$cb" "sub-$cb" "$work/b.json" >/dev/null

	log "wrong password and anonymous client are refused"
	if mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -V mqttv5 -u "$ca" -P wrong-password \
		-t '#' -C 1 -W 3 >/dev/null 2>"$work/wrong.err"; then
		fail "a wrong password was accepted"
	fi
	grep -qi "not authori" "$work/wrong.err" || fail "wrong password: unexpected error: $(cat "$work/wrong.err")"
	if mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -V mqttv5 -q 1 -t "ma/v1/$ca/x" -m x 2>/dev/null; then
		fail "an anonymous client was accepted"
	fi

	log "apply events"
	n=20
	for ((i = 1; i <= n; i++)); do
		out=$(apply "d$i" 1 "$kund_a" "ca$i" "nt$run.beslut" true "2026-11-01T10:00:00Z")
		[ "$out" = inserted ] || fail "apply d$i returned $out"
	done
	for ((i = 1; i <= 5; i++)); do
		apply "b$i" 1 "$kund_b" "cb$i" "nt$run.beslut" true "2026-11-01T10:00:00Z" >/dev/null
	done
	apply info1 1 "$kund_a" ci "nt$run.info" false "2026-11-01T10:00:00Z" >/dev/null
	apply komp1 1 "$kund_a" ck "nt$run.komplettera" false "2026-11-01T10:00:00Z" "" "$(day 20)" >/dev/null
	apply gilt1 1 "$kund_a" cg "nt$run.giltighet" false "2026-11-01T10:00:00Z" "$(day 40)" >/dev/null
	apply gilt2 1 "$kund_a" cr "nt$run.giltighet" false "2026-11-01T10:00:00Z" "$(day 40)" >/dev/null

	log "stale replay and a type without notification add nothing"
	out=$(apply d1 1 "$kund_a" ca1 "nt$run.beslut" true "2026-11-01T10:00:00Z")
	[ "$out" = stale ] || fail "replay of d1 returned $out, expected stale"
	rows=$(sql "SELECT count(*) FROM notifier_notification WHERE kundhandelse_id = 'd1' AND producent_organisationsnummer = '$org'")
	[ "$rows" = 1 ] || fail "d1 has $rows notifications after a stale replay, expected 1"
	rows=$(sql "SELECT count(*) FROM notifier_notification WHERE kundhandelse_id = 'info1' AND producent_organisationsnummer = '$org'")
	[ "$rows" = 0 ] || fail "a type with notification none got $rows notifications"
	rows=$(sql "SELECT count(*) FROM notifier_notification n JOIN notifier_subscription s USING (subscription_id) WHERE s.consent_reference IN ('filtrerad', 'prefix')")
	[ "$rows" = 0 ] || fail "filtered subscriptions got $rows notifications"
	rows=$(sql "SELECT count(*) FROM notifier_notification WHERE producent_organisationsnummer = '$org' AND reason = 'reminder' AND state = 'pending'")
	[ "$rows" = 6 ] || fail "expected 6 pending reminders (2 deadline, 4 expiry), found $rows"

	log "every event notification arrives, to its own consumer only"
	start_notifier
	wait_for "$work/a.json" "consumer_id = '$ca' AND reason = 'event'" 30
	wait_for "$work/b.json" "consumer_id = '$cb' AND reason = 'event'" 30
	[ "$(received_ids "$work/a.json" | wc -l)" = $((n + 3)) ] || fail "A received $(received_ids "$work/a.json" | wc -l) ids, expected $((n + 3))"
	if grep -q "ma/v1/$cb/" "$work/a.json"; then fail "A received a message of B"; fi
	if grep -q "ma/v1/$ca/" "$work/b.json"; then fail "B received a message of A"; fi
	[ -z "$(comm -12 <(received_ids "$work/a.json") <(expected_ids "consumer_id = '$cb'"))" ] ||
		fail "A received an id of B"
	# Delivered is recorded after the PUBACK; allow the main loop a moment.
	sleep 1
	rows=$(sql "SELECT count(*) FROM notifier_notification WHERE producent_organisationsnummer = '$org' AND reason = 'event' AND state <> 'delivered'")
	[ "$rows" = 0 ] || fail "$rows event notifications are not marked delivered"

	log "payload and CloudEvents properties"
	jq -e --arg t "ma/v1/$ca/aviseringar/" 'select(.topic | startswith($t))' "$work/a.json" >/dev/null ||
		fail "topic is not ma/v1/<consumer>/aviseringar/<subscription>"
	jq -se 'all(.[]; .properties["content-type"] == "application/json"
		and (.properties["message-expiry-interval"] | . > 3500 and . <= 3600)
		and (.properties["user-properties"] | keys
		     == ["id", "source", "specversion", "time", "type"])
		and .properties["user-properties"].specversion == "1.0")' "$work/a.json" >/dev/null ||
		fail "missing CloudEvents properties: $(head -c 600 "$work/a.json")"
	jq -se 'all(.[]; (.payload | fromjson) as $p
		| .properties["user-properties"].id == $p.notificationId
		and ($p.hamta.path | startswith("/v1/kundhandelser/"))
		and ($p.kind | IN("decision", "action_required", "expiring")))' "$work/a.json" >/dev/null ||
		fail "payload does not match its properties"
	if grep -q "$kund_a" "$work/a.json"; then fail "a payload contains the customer pseudonym"; fi

	log "closing a case and retracting an event cancel their reminders"
	apply komp2 1 "$kund_a" ck "nt$run.beslut" true "2026-11-02T10:00:00Z" >/dev/null
	out=$(sql "SELECT ma_apply_aterkallelse('$org', 'gilt2', 2)")
	[ "$out" = retracted ] || fail "retraction returned $out"
	rows=$(sql "SELECT string_agg(kundhandelse_id || ':' || state, ',' ORDER BY kundhandelse_id, reminder_days) FROM notifier_notification WHERE producent_organisationsnummer = '$org' AND reason = 'reminder'")
	[ "$rows" = "gilt1:pending,gilt1:pending,gilt2:cancelled,gilt2:cancelled,komp1:cancelled,komp1:cancelled" ] ||
		fail "reminder states after close and retraction: $rows"
	wait_for "$work/a.json" "consumer_id = '$ca' AND reason = 'event'" 30

	log "reminders arrive when the clock is 45 days ahead"
	stop_notifier
	start_notifier --clock.offset=45d
	wait_for "$work/a.json" "consumer_id = '$ca' AND state <> 'cancelled'" 30
	[ "$(jq -r '.payload | fromjson | select(.reason == "reminder") | .reminderDaysBefore' "$work/a.json" | sort -n | tr '\n' ' ')" = "7 30 " ] ||
		fail "expected reminders 7 and 30 days before, got: $(jq -c '.payload | fromjson | select(.reason == "reminder")' "$work/a.json")"

	log "metrics and health"
	curl -sf "http://127.0.0.1:$metrics_port/health" >/dev/null || fail "/health did not answer"
	curl -sf "http://127.0.0.1:$metrics_port/ready" >/dev/null || fail "/ready is not ready"
	# PUBACKs are counted when they are recorded, up to
	# notify.record-interval after the subscriber has the message.
	for ((i = 0; i < 50; i++)); do
		curl -sf "http://127.0.0.1:$metrics_port/metrics" >"$work/metrics"
		grep -q '^ma_notifier_acknowledged_total [1-9]' "$work/metrics" && break
		sleep 0.1
	done
	grep -q '^ma_notifier_acknowledged_total [1-9]' "$work/metrics" || fail "no acknowledged count in /metrics"
	grep -q '^ma_notifier_delivery_lag_seconds_count [1-9]' "$work/metrics" || fail "no lag histogram in /metrics"
	stop_notifier

	log "a PUBACK with a failure reason code leaves the row pending"
	apply b6 1 "$kund_b" cb6 "nt$run.beslut" true "2026-11-04T10:00:00Z" >/dev/null
	# A consumer's account may not write, so the broker answers 0x87.
	"$NOTIFIER_BIN" --mqtt.port="$MQTT_PORT" --mqtt.username="$ca" \
		--mqtt.password="$(cat "$work/$ca.pw")" --mqtt.client-id="nt$run" \
		--migrations.apply=false --metrics.port="$metrics_port" \
		--notify.retry-initial=30s >>"$work/notifier.log" 2>&1 &
	notifier_pid=$!
	for ((i = 0; i < 50; i++)); do
		curl -sf "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null |
			grep -q '^ma_notifier_rejected_total [1-9]' && break
		sleep 0.2
	done
	((i < 50)) || fail "no rejected PUBACK counted for a publish outside the notifier's ACL"
	stop_notifier
	rows=$(sql "SELECT state || ':' || (attempts > 0) FROM notifier_notification WHERE kundhandelse_id = 'b6' AND producent_organisationsnummer = '$org'")
	[ "$rows" = "pending:true" ] || fail "after a rejected PUBACK the row is $rows, expected pending:true"
	# With the notifier's own account it is delivered once its wait passes.
	start_notifier --clock.offset=1min
	wait_for "$work/b.json" "consumer_id = '$cb' AND kundhandelse_id = 'b6'" 30
	stop_notifier

	log "switching a subscription off cancels what it has pending"
	apply gilt3 1 "$kund_a" c3 "nt$run.giltighet" false "2026-11-03T10:00:00Z" "$(day 40)" >/dev/null
	sql "UPDATE notifier_subscription SET active = false WHERE consent_reference = 'samtycke-a' AND consumer_id = '$ca'"
	rows=$(sql "SELECT string_agg(reason || ':' || state, ',' ORDER BY reminder_days) FROM notifier_notification WHERE kundhandelse_id = 'gilt3' AND producent_organisationsnummer = '$org'")
	[ "$rows" = "event:cancelled,reminder:cancelled,reminder:cancelled" ] ||
		fail "after switching the subscription off: $rows"
	echo "PASS basic"
}

test_faults() {
	local i per_wave sub mosq_pid claimed
	setup_accounts # also applies the migrations
	setup_catalog
	sql "INSERT INTO notifier_subscription (consumer_id, kund_pseudonym, consent_reference)
	     VALUES ('$ca', '$kund_a', 'samtycke-a');"
	# Registers the persistent session, then goes offline.
	sub=$(subscribe "$ca" "persist-$ca" "$work/a.json" -c -x 3600)
	sleep 1
	kill "$sub"
	wait "$sub" 2>/dev/null || true

	per_wave=$((events / 4))
	apply_wave() {
		for ((i = $1 * per_wave + 1; i <= ($1 + 1) * per_wave; i++)); do
			apply "f$i" 1 "$kund_a" "cf$i" "nt$run.beslut" true "2026-11-01T10:00:00Z" >/dev/null
		done
	}
	delivered() { sql "SELECT count(*) FROM notifier_notification WHERE consumer_id = '$ca' AND state = 'delivered'"; }

	start_notifier
	log "wave 1 published while the broker is stopped (SIGSTOP), then the notifier is killed with SIGKILL"
	apply_wave 0
	mosq_pid=$(tr -d ' \n' <"$MA_STATE_DIR/pids/mosquitto.pid")
	kill -STOP "$mosq_pid"
	apply_wave 1
	for ((i = 0; i < 50; i++)); do
		claimed=$(sql "SELECT count(*) FROM notifier_notification WHERE consumer_id = '$ca' AND state = 'pending' AND attempts > 0")
		[ "$claimed" -gt 0 ] && break
		sleep 0.1
	done
	kill -9 "$notifier_pid"
	wait "$notifier_pid" 2>/dev/null || true
	notifier_pid=""
	kill -CONT "$mosq_pid"
	[ "$claimed" -gt 0 ] || fail "no notification was published without its PUBACK before the kill"
	log "at the kill: $(delivered) delivered, $claimed published without PUBACK"
	start_notifier

	log "wave 3 around a Mosquitto restart"
	apply_wave 2 &
	(cd "$repo_dir" && scripts/stack.sh restart-service mosquitto >/dev/null 2>&1) ||
		fail "could not restart Mosquitto"
	wait $!

	log "wave 4 around a PostgreSQL restart"
	(cd "$repo_dir" && scripts/stack.sh restart-service postgres >/dev/null 2>&1) ||
		fail "could not restart PostgreSQL"
	apply_wave 3
	for ((i = 0; i < 150; i++)); do
		[ "$(delivered)" = $((4 * per_wave)) ] && break
		sleep 0.2
	done
	[ "$(delivered)" = $((4 * per_wave)) ] || fail "only $(delivered) of $((4 * per_wave)) marked delivered"
	kill -0 "$notifier_pid" || fail "ma-notifier did not survive the restarts"

	log "SIGTERM while the broker does not answer: exit 0 within the drain timeout, nothing lost"
	stop_notifier
	start_notifier --notify.drain-timeout=1s
	for ((i = 0; i < 100; i++)); do
		curl -sf "http://127.0.0.1:$metrics_port/ready" >/dev/null 2>&1 && break
		sleep 0.1
	done
	((i < 100)) || fail "the restarted ma-notifier is not ready after 10 s"
	mosq_pid=$(tr -d ' \n' <"$MA_STATE_DIR/pids/mosquitto.pid")
	kill -STOP "$mosq_pid"
	for ((i = 1; i <= 20; i++)); do
		apply "g$i" 1 "$kund_a" "cg$i" "nt$run.beslut" true "2026-11-01T10:00:00Z" >/dev/null
	done
	for ((i = 0; i < 50; i++)); do
		claimed=$(sql "SELECT count(*) FROM notifier_notification WHERE consumer_id = '$ca' AND kundhandelse_id LIKE 'g%' AND attempts > 0")
		[ "$claimed" -gt 0 ] && break
		sleep 0.1
	done
	[ "$claimed" -gt 0 ] || { kill -CONT "$mosq_pid"; fail "nothing was published while the broker was stopped"; }
	kill -TERM "$notifier_pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$notifier_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$notifier_pid" 2>/dev/null; then
		kill -CONT "$mosq_pid"
		fail "ma-notifier still runs 10 s after SIGTERM with a drain timeout of 1 s"
	fi
	wait "$notifier_pid" || { kill -CONT "$mosq_pid"; fail "ma-notifier exited $? after SIGTERM"; }
	notifier_pid=""
	kill -CONT "$mosq_pid"
	rows=$(sql "SELECT count(*) FROM notifier_notification WHERE consumer_id = '$ca' AND kundhandelse_id LIKE 'g%' AND state = 'pending'")
	[ "$rows" = 20 ] || fail "after SIGTERM without PUBACKs $rows of 20 rows are pending, expected all"
	# Their leases (2 s) pass; the next notifier publishes them again.
	start_notifier
	for ((i = 0; i < 150; i++)); do
		[ "$(delivered)" = $((4 * per_wave + 20)) ] && break
		sleep 0.2
	done
	[ "$(delivered)" = $((4 * per_wave + 20)) ] || fail "only $(delivered) of $((4 * per_wave + 20)) marked delivered after the drain"

	log "the offline consumer reconnects and receives everything"
	subscribe "$ca" "persist-$ca" "$work/a.json" -c -x 3600 >/dev/null
	wait_for "$work/a.json" "consumer_id = '$ca'" 60
	log "received $(received_ids "$work/a.json" | wc -l) distinct ids in $(wc -l <"$work/a.json") messages"
	stop_notifier
	echo "PASS faults"
}

# Events through the whole pipeline: ma-produce → Kafka → ma-processor →
# PostgreSQL (outbox trigger) → ma-notifier → Mosquitto → consumer.
test_e2e() {
	local db url prefix rows i f legacy secret=notifier-e2e-secret-0123456789
	: "${PROC_BIN:?set PROC_BIN to the ma-processor binary}"
	: "${PRODUCE_BIN:?set PRODUCE_BIN to the ma-produce binary}"
	: "${TOPICS_BIN:?set TOPICS_BIN to the ma-topics binary}"
	: "${KAFKA_BOOTSTRAP_SERVERS:?load the environment of scripts/stack.sh}"
	catalog="$(dirname "${BASH_SOURCE[0]}")/catalog.json"
	db="notif_e2e_${run}"
	psql "$DATABASE_URL" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db"
	e2e_admin_url=$DATABASE_URL
	url="${DATABASE_URL%/*}/$db"
	export DATABASE_URL="$url"
	# An outbox row from before 0204, when ids were random, must get its
	# computed id from 0205, which drops the UNIQUE constraint: an event
	# applied again must still meet it on the primary key.
	log "upgrade: 0205 gives a row with a random id its computed id"
	mkdir "$work/sql-0204"
	for f in "$MA_SCHEMA_DIR"/sql/*.sql; do
		if [[ "$(basename "$f")" < 0205 ]]; then ln -s "$f" "$work/sql-0204/"; fi
	done
	"$MQTT_USERS_BIN" --migrations.dir="$work/sql-0204" list >/dev/null
	sql "INSERT INTO notifier_subscription (subscription_id, consumer_id,
	       kund_pseudonym, consent_reference)
	     VALUES ('00000000-0000-4000-8000-000000000205', '$ca', '$kund_a', 'upgrade')"
	legacy="INSERT INTO notifier_notification (subscription_id, consumer_id,
	       reason, kind, reminder_days, producent_organisationsnummer,
	       kundhandelse_id, sekvens, producent, kundhandelse_typ, rubrik,
	       tidpunkt, due_at, state, next_attempt_at)
	     VALUES ('00000000-0000-4000-8000-000000000205', '$ca', 'event',
	       'decision', 0, '$org', 'upgrade-1', 1, 'Testmyndigheten', 'T.X',
	       'Rubrik', now(), now(), 'delivered', now())
	     ON CONFLICT DO NOTHING"
	sql "$legacy"
	sql "UPDATE notifier_notification SET notification_id = gen_random_uuid()"
	"$MQTT_USERS_BIN" list >/dev/null # applies 0205 and the rest
	[ "$(sql "SELECT count(*) FROM notifier_notification WHERE notification_id =
		notifier_notification_id(producent_organisationsnummer, kundhandelse_id,
		sekvens, subscription_id, reminder_days)")" = 1 ] ||
		fail "0205 did not give the row with a random id its computed id"
	[ "$(sql "SELECT count(*) FROM pg_constraint WHERE contype = 'u'
		AND conrelid = 'notifier_notification'::regclass")" = 0 ] ||
		fail "0205 left the UNIQUE constraint of notifier_notification"
	sql "$legacy"
	[ "$(sql "SELECT count(*) FROM notifier_notification")" = 1 ] ||
		fail "the same notification was inserted twice after 0205"
	sql "DELETE FROM notifier_subscription"
	setup_accounts # also applies the migrations
	prefix="ma.n${run}."
	"$TOPICS_BIN" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" --catalog "$catalog" \
		--topic-prefix "$prefix" --all >/dev/null
	"$PROC_BIN" --kafka.brokers="$KAFKA_BOOTSTRAP_SERVERS" --kafka.group="notif-e2e-$run" \
		--kafka.topic-prefix="$prefix" --kafka.metadata-refresh=2s \
		--database.url="$url" --schema.dir="$MA_SCHEMA_DIR" --catalog.path="$catalog" \
		--migrations.dir="$MA_SCHEMA_DIR/sql" --pseudonym.secret="$secret" \
		--dlq.partitions=1 --batch.linger=50ms --metrics.port=0 --retention.interval=0 \
		>>"$work/processor.log" 2>&1 &
	pids+=("$!")

	# 197503141231 is a test personnummer with a valid check digit.
	produce() {
		"$PRODUCE_BIN" --producer NTFA --input "$1" --catalog "$catalog" \
			--schemas "$MA_SCHEMA_DIR" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" \
			--topic-prefix "$prefix" --pseudonym-secret "$secret" >>"$work/produce.log" 2>&1 ||
			fail "ma-produce failed: $(tail -3 "$work/produce.log")"
	}
	consumed() { sql "SELECT coalesce(sum(consumed_count), 0) FROM consumer_offsets"; }
	cat >"$work/e1.jsonl" <<'JSONL'
{"kundhandelseId": "e2e-1", "part": {"kund": {"identifierare": "197503141231", "typ": "Personnummer"}, "arende": {"identifierare": "E2E-1", "typ": "Diarienummer"}}, "rubrik": "Mottagen", "beskrivning": "Vi har tagit emot ansökan.", "tidpunkt": "2026-11-02T09:15:00+01:00", "kundhandelseTyp": "NTFA.ANSOKAN.MOTTAGEN", "producentarendetKraverKundatgard": false, "producentarendetKlart": false, "sekvens": 1}
JSONL
	log "e2e: the first event (no notification) gives the customer's pseudonym"
	produce "$work/e1.jsonl"
	for ((i = 0; i < 300; i++)); do
		[ "$(consumed)" -ge 1 ] && break
		sleep 0.2
	done
	[ "$(consumed)" -ge 1 ] || fail "ma-processor did not apply the first event: $(tail -5 "$work/processor.log")"
	kund_a=$(sql "SELECT kund_pseudonym FROM kundhandelse WHERE kundhandelse_id = 'e2e-1'")
	sql "INSERT INTO notifier_subscription (consumer_id, kund_pseudonym, consent_reference)
	     VALUES ('$ca', '$kund_a', 'e2e')"
	subscribe "$ca" "sub-$ca" "$work/a.json" >/dev/null
	start_notifier

	log "e2e: an action, a decision and a replay of the decision"
	cat >"$work/e2.jsonl" <<JSONL
{"kundhandelseId": "e2e-2", "part": {"kund": {"identifierare": "197503141231", "typ": "Personnummer"}, "arende": {"identifierare": "E2E-1", "typ": "Diarienummer"}}, "rubrik": "Komplettera", "beskrivning": "Skicka in intyget.", "tidpunkt": "2026-11-03T08:00:00+01:00", "kundhandelseTyp": "NTFA.ANSOKAN.KOMPLETTERING", "producentarendetKraverKundatgard": true, "producentarendetKlart": false, "sekvens": 1, "atgardSenast": "$(day 20)"}
{"kundhandelseId": "e2e-3", "part": {"kund": {"identifierare": "197503141231", "typ": "Personnummer"}, "arende": {"identifierare": "E2E-2", "typ": "Diarienummer"}}, "rubrik": "Beslut", "beskrivning": "Ansökan är beviljad.", "tidpunkt": "2026-11-03T09:00:00+01:00", "kundhandelseTyp": "NTFA.ANSOKAN.BESLUT", "producentarendetKraverKundatgard": false, "producentarendetKlart": true, "sekvens": 1}
{"kundhandelseId": "e2e-3", "part": {"kund": {"identifierare": "197503141231", "typ": "Personnummer"}, "arende": {"identifierare": "E2E-2", "typ": "Diarienummer"}}, "rubrik": "Beslut", "beskrivning": "Ansökan är beviljad.", "tidpunkt": "2026-11-03T09:00:00+01:00", "kundhandelseTyp": "NTFA.ANSOKAN.BESLUT", "producentarendetKraverKundatgard": false, "producentarendetKlart": true, "sekvens": 1}
JSONL
	produce "$work/e2.jsonl"
	for ((i = 0; i < 300; i++)); do
		[ "$(consumed)" -ge 4 ] && break
		sleep 0.2
	done
	[ "$(consumed)" -ge 4 ] || fail "ma-processor applied $(consumed) of 4 records"
	wait_for "$work/a.json" "reason = 'event'" 30
	# Delivered is recorded up to notify.record-interval after the PUBACK.
	expected_rows="e2e-2:event:0:delivered,e2e-2:reminder:3:pending,e2e-2:reminder:14:pending,e2e-3:event:0:delivered"
	for ((i = 0; i < 50; i++)); do
		rows=$(sql "SELECT string_agg(kundhandelse_id || ':' || reason || ':' || reminder_days || ':' || state, ',' ORDER BY kundhandelse_id, reminder_days) FROM notifier_notification")
		[ "$rows" = "$expected_rows" ] && break
		sleep 0.1
	done
	[ "$rows" = "$expected_rows" ] || fail "outbox after the pipeline: $rows"
	[ "$(received_ids "$work/a.json" | wc -l)" = 2 ] || fail "the consumer received $(received_ids "$work/a.json" | wc -l) ids, expected 2"
	stop_notifier
	echo "PASS e2e"
}

# Acceptance test: the real building-permit log through the whole
# pipeline. Two customers of the log are chosen by process_log_expected.py,
# which also computes, from the log, the mapping and the catalog alone,
# which of their events notify and their pseudonyms. Consumer A subscribes
# for the first, B for the second, before the processor applies the log;
# A must receive exactly its customer's notifying events (each under one
# notification id, repeats allowed) and B exactly its own.
test_process_log() {
	local db url prefix i secret=notifier-wabo-secret-0123456789 seed="notif-$run"
	local log_csv="${MA_WABO_LOG:-${MA_DATA_DIR:-$repo_dir/../shared/data}/wabo-receipt.csv}"
	local mapping="$repo_dir/producers/mappings/wabo-receipt.json"
	local catalog="$repo_dir/schemas/catalog.json" name kund
	: "${PROC_BIN:?set PROC_BIN to the ma-processor binary}"
	: "${PRODUCE_BIN:?set PRODUCE_BIN to the ma-produce binary}"
	: "${TOPICS_BIN:?set TOPICS_BIN to the ma-topics binary}"
	: "${KAFKA_BOOTSTRAP_SERVERS:?load the environment of scripts/stack.sh}"
	if [ ! -f "$log_csv" ]; then
		echo "SKIP: $log_csv is absent (set MA_WABO_LOG)"
		exit 77
	fi
	db="notif_e2e_${run}"
	psql "$DATABASE_URL" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db"
	e2e_admin_url=$DATABASE_URL
	url="${DATABASE_URL%/*}/$db"
	export DATABASE_URL="$url"
	setup_accounts # also applies the migrations

	log "expected notifications, from the log, the mapping and the catalog"
	for name in a b; do
		python3 "$(dirname "${BASH_SOURCE[0]}")/process_log_expected.py" "$log_csv" \
			"$mapping" "$catalog" "$seed" "$secret" $([ "$name" = a ] && echo 0 || echo 1) \
			>"$work/expected-$name.txt" || fail "process_log_expected.py failed"
		awk '$1 == "event" { print $2 }' "$work/expected-$name.txt" | sort >"$work/expected-$name.ids"
		kund=$(awk '$1 == "pseudonym" { print $2 }' "$work/expected-$name.txt")
		log "customer $name: $(awk '$1 == "cases" { print $2 }' "$work/expected-$name.txt") cases, notifying events: $(awk '$1 == "event" { printf "%s (%s) ", $2, $4 }' "$work/expected-$name.txt")"
		[ -s "$work/expected-$name.ids" ] || fail "customer $name has no notifying event"
		sql "INSERT INTO notifier_subscription (consumer_id, kund_pseudonym, consent_reference)
		     VALUES ('$([ "$name" = a ] && echo "$ca" || echo "$cb")', '$kund', 'acceptance')"
	done
	[ "$(awk '$1 == "event"' "$work/expected-a.txt" | wc -l)" -ge 2 ] ||
		fail "the chosen customer has fewer than two notifying events"
	[ "$(awk '$1 == "event" { print $4 }' "$work/expected-a.txt" | sort -u | wc -l)" -ge 2 ] ||
		fail "the chosen customer's events have only one notification kind"

	subscribe "$ca" "sub-$ca" "$work/a.json" >/dev/null
	subscribe "$cb" "sub-$cb" "$work/b.json" >/dev/null
	start_notifier
	prefix="ma.n${run}."
	"$TOPICS_BIN" --bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" --catalog "$catalog" \
		--topic-prefix "$prefix" EXK >/dev/null
	"$PROC_BIN" --kafka.brokers="$KAFKA_BOOTSTRAP_SERVERS" --kafka.group="notif-wabo-$run" \
		--kafka.topic-prefix="$prefix" --kafka.metadata-refresh=2s \
		--database.url="$url" --schema.dir="$MA_SCHEMA_DIR" --catalog.path="$catalog" \
		--migrations.dir="$MA_SCHEMA_DIR/sql" --pseudonym.secret="$secret" \
		--dlq.partitions=1 --metrics.port=0 --retention.interval=0 \
		>>"$work/processor.log" 2>&1 &
	pids+=("$!")

	log "publishing the log as EXK"
	"$PRODUCE_BIN" --producer EXK --input "$log_csv" --mapping "$mapping" --seed "$seed" \
		--catalog "$catalog" --schemas "$MA_SCHEMA_DIR" \
		--bootstrap-servers "$KAFKA_BOOTSTRAP_SERVERS" --topic-prefix "$prefix" \
		--pseudonym-secret "$secret" --progress never --summary-json "$work/summary.json" \
		>>"$work/produce.log" 2>&1 || fail "ma-produce failed: $(tail -3 "$work/produce.log")"
	published=$(jq -r '.published' "$work/summary.json")
	[ "$published" -gt 0 ] || fail "ma-produce published nothing: $(cat "$work/summary.json")"
	consumed() { sql "SELECT coalesce(sum(consumed_count), 0) FROM consumer_offsets"; }
	for ((i = 0; i < 600; i++)); do
		[ "$(consumed)" -ge "$published" ] && break
		sleep 0.2
	done
	[ "$(consumed)" -ge "$published" ] ||
		fail "ma-processor applied $(consumed) of $published records: $(tail -5 "$work/processor.log")"

	log "each consumer receives exactly its customer's notifying events"
	for name in a b; do
		for ((i = 0; i < 150; i++)); do
			jq -r '.payload | fromjson | .kundhandelseId' "$work/$name.json" 2>/dev/null |
				sort -u >"$work/received-$name.ids"
			cmp -s "$work/expected-$name.ids" "$work/received-$name.ids" && break
			sleep 0.2
		done
		# Anything late or extra would show here.
		sleep 1
		jq -r '.payload | fromjson | .kundhandelseId' "$work/$name.json" | sort -u >"$work/received-$name.ids"
		cmp -s "$work/expected-$name.ids" "$work/received-$name.ids" ||
			fail "consumer $name: expected events and received differ:$(printf '\n')$(diff "$work/expected-$name.ids" "$work/received-$name.ids")"
		# One notification id per event: a repeat must carry the same id.
		[ "$(jq -r '.payload | fromjson | [.kundhandelseId, .notificationId] | @tsv' "$work/$name.json" | sort -u | wc -l)" = \
			"$(wc -l <"$work/expected-$name.ids")" ] ||
			fail "consumer $name: an event arrived under more than one notification id"
		jq -se 'all(.[]; (.payload | fromjson) as $p
			| .properties["user-properties"].id == $p.notificationId
			and $p.kundhandelsetyp != null and $p.kind != null)' "$work/$name.json" >/dev/null ||
			fail "consumer $name: payload and properties disagree"
		# The kinds received are the catalog's kinds of the expected types.
		diff <(awk '$1 == "event" { print $2, $3, $4 }' "$work/expected-$name.txt" | sort) \
			<(jq -r '.payload | fromjson | "\(.kundhandelseId) \(.kundhandelsetyp) \(.kind)"' "$work/$name.json" | sort -u) ||
			fail "consumer $name: event types or kinds differ from the catalog's"
		log "consumer $name: $(wc -l <"$work/received-$name.ids") events in $(wc -l <"$work/$name.json") messages"
	done
	if grep -q "ma/v1/$cb/" "$work/a.json"; then fail "A received a message of B"; fi
	if grep -q "ma/v1/$ca/" "$work/b.json"; then fail "B received a message of A"; fi
	# Ids are derived from what is notified, so a replay after a restore
	# repeats them: every outbox id is its derived id, and the received ids
	# are exactly the outbox's.
	[ "$(sql "SELECT count(*) FROM notifier_notification WHERE notification_id <>
		notifier_notification_id(producent_organisationsnummer, kundhandelse_id,
		sekvens, subscription_id, reminder_days)")" = 0 ] ||
		fail "an outbox id is not derived from its notification"
	diff <(sql "SELECT notification_id FROM notifier_notification WHERE reason = 'event'
		AND consumer_id IN ('$ca', '$cb') ORDER BY 1") \
		<(jq -r '.payload | fromjson | .notificationId' "$work/a.json" "$work/b.json" | sort -u) ||
		fail "received notification ids differ from the outbox's"
	stop_notifier
	echo "PASS process-log"
}

case "$mode" in
basic) test_basic ;;
process-log) test_process_log ;;
faults) test_faults ;;
e2e) test_e2e ;;
*) fail "unknown mode $mode" ;;
esac
