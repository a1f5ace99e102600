#!/usr/bin/env bash
# Checks .run/demo.env against the running demo (`make demo`): every
# setting in it must work as the file states.  Run by hand; it is not a
# CTest test, because it needs the demo's stack and services.
#
#   tests/integration/demo/check_demo_env.sh [ENV_FILE]   (default .run/demo.env)
#
# 1. The gateway, the API and PostgreSQL answer at the addresses in the file.
# 2. Subscribes with mosquitto_sub (MQTT v5, QoS 1) as DEMO_MQTT_USERNAME to
#    DEMO_MQTT_TOPIC.
# 3. Publishes one DEMO_NOTIFYING_TYPE event for DEMO_SUBSCRIBED_CUSTOMER
#    through GATEWAY_URL with DEMO_PRODUCER_API_KEY (201 expected).  The
#    event has a fixed kundhandelseId and a sekvens of the current time in
#    milliseconds, so each run is a new version of one event: it is notified
#    again but never adds a row to the views.
# 4. Waits for the notification of that event on MQTT and fetches the
#    event with curl from API_URL at the notification's hamta.path, as the
#    customer, with DEMO_CONSUMER_API_KEY.
# 5. Checks that every type of DEMO_EVENT_TYPES belongs to
#    DEMO_PRODUCER_PREFIX in the catalog and that the question
#    (POST /kundhandelseFragaSynkron) returns the event.
# 6. Retracts the event through the gateway, so the demo's views hold what
#    the logs hold again.
#
# Exit status 0 when every step passed, 1 at the first failure (with a
# "check_demo_env: FAIL:" line).  The MQTT subscriber started here is
# stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../../.."
ENV_FILE=${1:-.run/demo.env}

fail() {
        echo "check_demo_env: FAIL: $*" >&2
        exit 1
}
ok() { echo "ok - $*"; }

[ -r "$ENV_FILE" ] || fail "$ENV_FILE not found; run make demo first"
# shellcheck disable=SC1090
. "$ENV_FILE"
for name in KAFKA_BOOTSTRAP_SERVERS DATABASE_URL MQTT_HOST MQTT_PORT API_URL \
        GATEWAY_URL DEMO_CONSUMER_API_KEY DEMO_PRODUCER_API_KEY \
        DEMO_PRODUCER_PREFIX DEMO_EVENT_TYPES DEMO_NOTIFYING_TYPE \
        DEMO_MQTT_USERNAME DEMO_MQTT_PASSWORD DEMO_MQTT_TOPIC \
        DEMO_SUBSCRIBED_CUSTOMER; do
        [ -n "${!name:-}" ] || fail "$name is not set in $ENV_FILE"
done
ok "$ENV_FILE sets every variable"

work=$(mktemp -d)
sub_pid=
cleanup() {
        if [ -n "$sub_pid" ]; then
                kill "$sub_pid" 2>/dev/null || true
                wait "$sub_pid" 2>/dev/null || true
        fi
        rm -rf "$work"
}
trap cleanup EXIT

# --- 1. addresses -----------------------------------------------------------
curl -fsS -o /dev/null --max-time 5 "$GATEWAY_URL/ready" || fail "the gateway at $GATEWAY_URL is not ready"
curl -fsS -o /dev/null --max-time 5 "$API_URL/ready" || fail "the API at $API_URL is not ready"
psql "$DATABASE_URL" -Atqc 'SELECT 1' >/dev/null || fail "PostgreSQL at $DATABASE_URL does not answer"
kcat -L -b "$KAFKA_BOOTSTRAP_SERVERS" -m 5 >/dev/null 2>&1 || fail "Kafka at $KAFKA_BOOTSTRAP_SERVERS does not answer"
ok "gateway, API, PostgreSQL and Kafka answer"

# --- 5a. event types --------------------------------------------------------
# shellcheck disable=SC2086 # the list is space-separated on purpose
python3 - "$DEMO_PRODUCER_PREFIX" "$DEMO_NOTIFYING_TYPE" $DEMO_EVENT_TYPES <<'EOF' || fail "the catalog does not match DEMO_EVENT_TYPES or DEMO_NOTIFYING_TYPE"
import json, sys
prefix, notifying, *types = sys.argv[1:]
catalog = json.load(open("schemas/catalog.json"))
producer = next(p for p in catalog["producers"] if p["prefix"] == prefix)
process_of = {t["name"]: (pr["name"], t["notification"])
              for pr in producer["processes"] for t in pr["event_types"]}
assert len(types) >= 3, "fewer than three types"
assert all(t in process_of for t in types), "a type of another producer"
assert len({process_of[t][0] for t in types}) >= 2, "fewer than two processes"
assert process_of[notifying][1] == "decision", "not a decision"
EOF
ok "DEMO_EVENT_TYPES are $DEMO_PRODUCER_PREFIX's, from two or more processes; $DEMO_NOTIFYING_TYPE notifies a decision"

# --- 2. subscriber ----------------------------------------------------------
mosquitto_sub -h "$MQTT_HOST" -p "$MQTT_PORT" -V mqttv5 -q 1 \
        -u "$DEMO_MQTT_USERNAME" -P "$DEMO_MQTT_PASSWORD" \
        -i "check-demo-env-$$" -t "$DEMO_MQTT_TOPIC" -F '%t %p' \
        >"$work/mqtt.out" 2>"$work/mqtt.err" &
sub_pid=$!
# mosquitto_sub prints nothing when its subscription is granted, so give it
# a moment and make sure it is still connected.
sleep 1
kill -0 "$sub_pid" 2>/dev/null || fail "mosquitto_sub as $DEMO_MQTT_USERNAME exited: $(cat "$work/mqtt.err")"
ok "mosquitto_sub subscribed to $DEMO_MQTT_TOPIC as $DEMO_MQTT_USERNAME"

# --- 3. publish -------------------------------------------------------------
event_id="demo-check-${DEMO_PRODUCER_PREFIX,,}-1"
sekvens=$(date +%s%3N)
now=$(date +%Y-%m-%dT%H:%M:%S%:z)
event() {
        local retract=$1
        python3 - "$event_id" "$DEMO_SUBSCRIBED_CUSTOMER" "$now" "$DEMO_NOTIFYING_TYPE" "$sekvens" "$retract" <<'EOF'
import json, sys
event_id, customer, now, typ, sekvens, retract = sys.argv[1:]
event = {"kundhandelseId": event_id,
         "part": {"kund": {"identifierare": customer, "typ": "Personnummer"},
                  "arende": {"identifierare": "DEMO-CHECK-1",
                             "typ": "Producentarendereferens"}},
         "rubrik": "Kontroll av demons inställningar",
         "beskrivning": "Skickad av tests/integration/demo/check_demo_env.sh.",
         "tidpunkt": now, "kundhandelseTyp": typ,
         "producentarendetKraverKundatgard": False,
         "producentarendetKlart": True, "sekvens": int(sekvens)}
if retract == "yes":
    event = {"aterkalla": True, "kundhandelseId": event_id,
             "part": event["part"], "tidpunkt": now, "sekvens": int(sekvens),
             "orsak": "Kontrollen är klar"}
print(json.dumps([event]))
EOF
}
status=$(event no | curl -sS -o "$work/publish.json" -w '%{http_code}' \
        "$GATEWAY_URL/kundhandelser" -H "X-API-Key: $DEMO_PRODUCER_API_KEY" \
        -H 'Content-Type: application/json' --data-binary @-)
[ "$status" = 201 ] || fail "POST $GATEWAY_URL/kundhandelser answered $status: $(cat "$work/publish.json")"
ok "published $DEMO_NOTIFYING_TYPE event $event_id (sekvens $sekvens) through the gateway"

# --- 4. notification and fetch ----------------------------------------------
path=
for _ in $(seq 1 60); do
        path=$(python3 - "$work/mqtt.out" "$event_id" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    topic, _, payload = line.partition(" ")
    try:
        message = json.loads(payload)
    except ValueError:
        continue
    if message.get("kundhandelseId") == sys.argv[2]:
        print(message["hamta"]["path"])
EOF
)
        [ -n "$path" ] && break
        kill -0 "$sub_pid" 2>/dev/null || fail "mosquitto_sub exited: $(cat "$work/mqtt.err")"
        sleep 0.5
done
[ -n "$path" ] || fail "no notification of $event_id on $DEMO_MQTT_TOPIC within 30 s; see .run/demo/logs/ma-notifier.log and ma-processor.log"
path=$(printf '%s\n' "$path" | tail -n 1)
ok "notification of $event_id received on MQTT (hamta.path $path)"

status=$(curl -sS -o "$work/event.json" -w '%{http_code}' "$API_URL$path" \
        -H "X-API-Key: $DEMO_CONSUMER_API_KEY" -H "X-Anvandare: $DEMO_SUBSCRIBED_CUSTOMER" \
        -H 'skv_client_correlation_id: check-demo-env')
[ "$status" = 200 ] || fail "GET $API_URL$path answered $status: $(cat "$work/event.json")"
python3 - "$work/event.json" "$event_id" "$DEMO_NOTIFYING_TYPE" <<'EOF' || fail "GET $API_URL$path returned another event: $(cat "$work/event.json")"
import json, sys
event = json.load(open(sys.argv[1]))["kundhandelse"]
assert event["kundhandelseId"] == sys.argv[2]
assert event["kundhandelseTyp"] == sys.argv[3]
EOF
ok "GET $path returned the event"

# --- 5b. the question -------------------------------------------------------
question=$(printf '{"fraga":{"parter":[{"kund":{"identifierare":"%s","typ":"Personnummer"}}],"kundhandelseTyper":["%s"]},"anvandare":"%s"}' \
        "$DEMO_SUBSCRIBED_CUSTOMER" "$DEMO_NOTIFYING_TYPE" "$DEMO_SUBSCRIBED_CUSTOMER")
status=$(curl -sS -o "$work/answer.json" -w '%{http_code}' "$API_URL/kundhandelseFragaSynkron" \
        -H "X-API-Key: $DEMO_CONSUMER_API_KEY" -H 'skv_client_correlation_id: check-demo-env' \
        -H 'Content-Type: application/json' -d "$question")
[ "$status" = 200 ] || fail "POST $API_URL/kundhandelseFragaSynkron answered $status: $(cat "$work/answer.json")"
python3 - "$work/answer.json" "$event_id" <<'EOF' || fail "the question's answer lacks $event_id"
import json, sys
answer = json.load(open(sys.argv[1]))
ids = [e["kundhandelseId"] for p in answer["kundhandelser"]
       for e in p["kundhandelserForPart"]]
assert sys.argv[2] in ids
EOF
ok "POST /kundhandelseFragaSynkron returned the event"

# --- 6. retract -------------------------------------------------------------
sekvens=$((sekvens + 1))
status=$(event yes | curl -sS -o "$work/retract.json" -w '%{http_code}' \
        "$GATEWAY_URL/kundhandelser" -H "X-API-Key: $DEMO_PRODUCER_API_KEY" \
        -H 'Content-Type: application/json' --data-binary @-)
[ "$status" = 201 ] || fail "retracting $event_id answered $status: $(cat "$work/retract.json")"
for _ in $(seq 1 60); do
        rows=$(psql "$DATABASE_URL" -Atqc "SELECT count(*) FROM kundhandelse WHERE kundhandelse_id = '$event_id'")
        [ "$rows" = 0 ] && break
        sleep 0.5
done
[ "$rows" = 0 ] || fail "$event_id is still in the view 30 s after its retraction"
ok "retracted $event_id; the views hold the logs' events only"
echo "check_demo_env: all checks passed"
