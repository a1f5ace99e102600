#!/usr/bin/env bash
# The main job (`make demo`): the whole system on the real case-event logs,
# on a local "demo" stack, left running in the background.
#
# Steps (each one idempotent, so a second run restarts what is not running
# and replays the same input, which replaces itself):
#  1. set-up if needed, build into build/, start the demo stack (Kafka,
#     PostgreSQL, Mosquitto on the demo ports), create the producer topics;
#  2. choose the demo persons and register the actors (scripts/demo_actors.py):
#     consumers mina-sidor (public) and foretagsappen (private, with a demo
#     identity provider), a mandate, a company representative, a reading
#     agent, MQTT accounts, a gateway API key;
#  3. start ma-api, ma-gateway and ma-notifier, then create mina-sidor's
#     subscriptions through the API, before any event is applied, so that
#     the outbox produces notifications for them;
#  4. publish the building-permit log (EXK), the road-traffic fines log
#     (POL) and the hiring scenario (SKV, AF) with ma-produce;
#  5. start ma-processor, wait until every event is applied and every due
#     notification delivered, print the report and where to look, write
#     .run/demo.env and check the ready-made question with curl.
#
# Every program's pid file is .run/demo/programs/<name>.pid and its log
# .run/demo/logs/<name>.log.  `make stop` stops them and the stack.  Start
# over with `make stop && rm -rf .run/demo`.
#
# Ports (fixed per MA_DEMO_PORT_BASE, so .run/demo.env and the report can
# name them):
#   29100 ma-processor metrics, 29101 ma-notifier metrics,
#   29102 ma-gateway, 29103 ma-api (MA_DEMO_PORT_BASE moves the four).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DATA_DIR=${MA_DATA_DIR:-$ROOT/../shared/data}
GENERATOR=$(command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
export MA_STACK_NAME=demo

# The programs' ports; MA_DEMO_PORT_BASE moves all four (base to base+3).
PORT_BASE=${MA_DEMO_PORT_BASE:-29100}
PROCESSOR_METRICS_PORT=$PORT_BASE
NOTIFIER_METRICS_PORT=$((PORT_BASE + 1))
GATEWAY_PORT=$((PORT_BASE + 2))
API_PORT=$((PORT_BASE + 3))
API_URL=http://127.0.0.1:$API_PORT
GATEWAY_URL=http://127.0.0.1:$GATEWAY_PORT

for file in "$DATA_DIR/wabo-receipt.csv" "$DATA_DIR/road-traffic-fines-100.csv"; do
        if [ ! -f "$file" ]; then
                echo "demo: input $file not found; set MA_DATA_DIR to the folder with the case-event logs" >&2
                exit 1
        fi
done

# MA_DEMO_BUILD=0 skips set-up and build and runs the programs already in
# build/, for example while the source tree does not compile.
if [ "${MA_DEMO_BUILD:-1}" != 0 ]; then
        scripts/setup.sh
        cmake -S . -B build -G "$GENERATOR" -DMA_WERROR=ON >/dev/null
        cmake --build build --parallel "${MA_BUILD_JOBS:-2}"
fi

scripts/stack.sh start
eval "$(scripts/stack.sh env)"
STATE=$MA_STATE_DIR
mkdir -p "$STATE/secrets" "$STATE/reports" "$STATE/programs" "$STATE/logs"
chmod 700 "$STATE/secrets"

# The pseudonym secret is made once per demo state directory and kept, so
# replays produce the same keys.
secret_file="$STATE/secrets/pseudonym-secret"
if [ ! -s "$secret_file" ]; then
        (umask 077 && openssl rand -hex 32 >"$secret_file")
fi
export MA_PSEUDONYM_SECRET
MA_PSEUDONYM_SECRET=$(cat "$secret_file")
export MA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS

build/tools/ma-topics --all --partitions 3

# ---------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------

# program_pid NAME: prints the pid of the running program NAME and succeeds,
# or fails when its pid file is missing or names a process that is gone or
# is another program (a reused pid).
program_pid() {
        local file="$STATE/programs/$1.pid" pid
        pid=$(cat "$file" 2>/dev/null) || return 1
        [[ $pid =~ ^[0-9]+$ ]] || return 1
        [ -r "/proc/$pid/cmdline" ] || return 1
        # A zombie keeps its pid but has no command line.
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "/$1 " || return 1
        printf '%s\n' "$pid"
}

# start_program NAME URL COMMAND...: starts COMMAND in the background unless
# NAME runs, then waits until URL (its /ready) returns 200.
start_program() {
        local name=$1 ready_url=$2 pid log="$STATE/logs/$1.log"
        shift 2
        if pid=$(program_pid "$name"); then
                echo "demo: $name already running (pid $pid)"
        else
                echo "demo: starting $name (log: $log)"
                printf '=== %s demo.sh starts %s\n' "$(date -u +%FT%TZ)" "$name" >>"$log"
                nohup "$@" >>"$log" 2>&1 </dev/null &
                pid=$!
                echo "$pid" >"$STATE/programs/$name.pid"
        fi
        for _ in $(seq 1 120); do
                if curl -fsS -o /dev/null --max-time 2 "$ready_url" 2>/dev/null; then
                        return 0
                fi
                if ! kill -0 "$pid" 2>/dev/null; then
                        echo "demo: $name (pid $pid) exited; the end of $log:" >&2
                        tail -n 15 "$log" | sed 's/^/  /' >&2
                        exit 1
                fi
                sleep 0.5
        done
        echo "demo: $name (pid $pid) is not ready at $ready_url after 60 s; see $log" >&2
        exit 1
}

python3 scripts/demo_actors.py prepare --state "$STATE" --data-dir "$DATA_DIR"
python3 scripts/demo_actors.py register --state "$STATE"

# The overview page's options exist only in builds that have the page.
api_ui_options=()
api_help=$(build/api/ma-api --help 2>&1 || true)
if grep -q -- '--ui.consumer' <<<"$api_help" && grep -q -- '--ui.demo-users' <<<"$api_help"; then
        api_ui_options=(--ui.consumer mina-sidor --ui.demo-users "$STATE/ui-users.json")
fi
start_program ma-api "$API_URL/ready" \
        env MA_DATABASE_URL="$DATABASE_URL" \
        build/api/ma-api --listen.port "$API_PORT" \
        --catalog.path schemas/catalog.json --migrations.dir schemas/sql \
        "${api_ui_options[@]}"
start_program ma-gateway "$GATEWAY_URL/health" \
        build/producers/ma-gateway --listen.port "$GATEWAY_PORT" \
        --keys.file "$STATE/secrets/gateway-keys.jsonl" \
        --kafka.brokers "$KAFKA_BOOTSTRAP_SERVERS" \
        --catalog schemas/catalog.json --schemas.dir schemas
MA_MQTT_PASSWORD=$(cat "$STATE/secrets/mqtt-ma-notifier.password") \
        start_program ma-notifier "http://127.0.0.1:$NOTIFIER_METRICS_PORT/ready" \
        env MA_DATABASE_URL="$DATABASE_URL" \
        build/notifier/ma-notifier --mqtt.host "$MQTT_HOST" --mqtt.port "$MQTT_PORT" \
        --mqtt.username ma-notifier --mqtt.client-id ma-notifier-demo \
        --migrations.dir schemas/sql --metrics.port "$NOTIFIER_METRICS_PORT"

# Subscriptions before the processor applies anything: the outbox is
# written by triggers when an event is applied, for the subscriptions that
# exist then.
python3 scripts/demo_actors.py subscribe --state "$STATE" --api-url "$API_URL"

# ---------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------

# publish NAME PRODUCER ARGS...: one ma-produce run with a JSON summary.
publish() {
        local name=$1 producer=$2
        shift 2
        echo "demo: publishing $name as $producer"
        build/producers/ma-produce --producer "$producer" --progress never \
                --summary-json "$STATE/reports/$name.json" "$@"
}

publish wabo-receipt EXK --input "$DATA_DIR/wabo-receipt.csv" \
        --mapping producers/mappings/wabo-receipt.json
publish road-traffic-fines POL --input "$DATA_DIR/road-traffic-fines-100.csv" \
        --mapping producers/mappings/road-traffic-fines.json
publish hiring-skv SKV --input producers/fixtures/hiring-skv.jsonl
publish hiring-af AF --input producers/fixtures/hiring-af.jsonl

# Retention is off: the logs are from 2005 and 2011, older than every
# retention period of the catalog, so a retention run would delete them.
start_program ma-processor "http://127.0.0.1:$PROCESSOR_METRICS_PORT/health" \
        env MA_DATABASE_URL="$DATABASE_URL" \
        build/processors/ma-processor --kafka.brokers "$KAFKA_BOOTSTRAP_SERVERS" \
        --metrics.port "$PROCESSOR_METRICS_PORT" --retention.interval 0 \
        --schema.dir schemas --catalog.path schemas/catalog.json \
        --migrations.dir schemas/sql

# ---------------------------------------------------------------------------
# demo.env, report
# ---------------------------------------------------------------------------

subscribed_customer=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bo"]["identitet"])' "$STATE/actors.json")
consumer_key=$(cat "$STATE/secrets/mina-sidor.api-key")
mqtt_password=$(cat "$STATE/secrets/mqtt-mina-sidor.password")
(
        umask 077
        cat >"$ROOT/.run/demo.env.tmp" <<ENV
# Settings of the running demo (scripts/demo.sh): . .run/demo.env
# Secrets are made once per demo state directory ($STATE) and kept.
export KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS
export DATABASE_URL=$DATABASE_URL
export MQTT_HOST=$MQTT_HOST
export MQTT_PORT=$MQTT_PORT
export API_URL=$API_URL
export GATEWAY_URL=$GATEWAY_URL
export DEMO_CONSUMER_API_KEY=$consumer_key
export DEMO_PRODUCER_API_KEY=$(cat "$STATE/secrets/gateway-POL.key")
export DEMO_PRODUCER_PREFIX=POL
export DEMO_EVENT_TYPES="POL.TRAFIKBOT.BOT_UTFARDAD POL.TRAFIKBOT.OVERLAMNAD_FOR_INDRIVNING POL.PASS.ANSOKAN_MOTTAGEN POL.PASS.KLART_FOR_UTHAMTNING"
export DEMO_NOTIFYING_TYPE=POL.TRAFIKBOT.OVERLAMNAD_FOR_INDRIVNING
export DEMO_MQTT_USERNAME=mina-sidor
export DEMO_MQTT_PASSWORD=$mqtt_password
export DEMO_MQTT_TOPIC='ma/v1/mina-sidor/#'
export DEMO_SUBSCRIBED_CUSTOMER=$subscribed_customer
ENV
        mv "$ROOT/.run/demo.env.tmp" "$ROOT/.run/demo.env"
)

echo
python3 scripts/demo_report.py --reports "$STATE/reports" \
        --metrics-url "http://127.0.0.1:$PROCESSOR_METRICS_PORT/metrics" \
        --notifier-metrics-url "http://127.0.0.1:$NOTIFIER_METRICS_PORT/metrics" \
        --processor-pid "$(program_pid ma-processor)" \
        --processor-log "$STATE/logs/ma-processor.log" \
        --wait "${MA_DEMO_WAIT_SECONDS:-300}"

# The question of the report's curl command, run once here as a check.
question=$(printf '{"fraga":{"parter":[{"kund":{"identifierare":"%s","typ":"Personnummer"}}]},"anvandare":"%s"}' \
        "$subscribed_customer" "$subscribed_customer")
curl_command="curl -sS $API_URL/kundhandelseFragaSynkron -H 'X-API-Key: $consumer_key' -H 'skv_client_correlation_id: demo-1' -H 'Content-Type: application/json' -d '$question'"
answer=$(eval "$curl_command -w '\n%{http_code}'")
status=${answer##*$'\n'}
count=$(printf '%s' "${answer%$'\n'*}" | python3 -c 'import json,sys; print(sum(len(p["kundhandelserForPart"]) for p in json.load(sys.stdin)["kundhandelser"]))' 2>/dev/null || echo 0)
if [ "$status" != 200 ] || [ "$count" -eq 0 ]; then
        echo "demo: the question for the subscribed customer answered HTTP $status with $count events; see $STATE/logs/ma-api.log" >&2
        exit 1
fi

cat <<EOF

Where to look. The commands read the keys and passwords from .run/demo.env,
so load it first in your shell:  . .run/demo.env
  Overview page:  $API_URL/mina-arenden/   (sign in as Anna: permit log,
                  Bo: fines log, Cecilia: Anna's mandate, David: company
                  representative; their numbers: .run/demo/ui-users.json)
  Views:          psql "\$DATABASE_URL" -c 'SELECT kundhandelse_typ, count(*) FROM kundhandelse GROUP BY 1 ORDER BY 1'
  Outbox:         psql "\$DATABASE_URL" -c 'SELECT consumer_id, state, count(*) FROM notifier_notification GROUP BY 1, 2'
  Notifications:  mosquitto_sub -h "\$MQTT_HOST" -p "\$MQTT_PORT" -V mqttv5 -u "\$DEMO_MQTT_USERNAME" -P "\$DEMO_MQTT_PASSWORD" -q 1 -v -t "\$DEMO_MQTT_TOPIC"
  The question for Bo, the subscribed customer (checked: HTTP $status, $count events):
    curl -sS "\$API_URL/kundhandelseFragaSynkron" -H "X-API-Key: \$DEMO_CONSUMER_API_KEY" -H 'skv_client_correlation_id: demo-1' -H 'Content-Type: application/json' -d "{\\"fraga\\":{\\"parter\\":[{\\"kund\\":{\\"identifierare\\":\\"\$DEMO_SUBSCRIBED_CUSTOMER\\",\\"typ\\":\\"Personnummer\\"}}]},\\"anvandare\\":\\"\$DEMO_SUBSCRIBED_CUSTOMER\\"}"
  A user token of the private consumer foretagsappen:  scripts/demo_token.sh david
  Kafka:          kcat -C -b "\$KAFKA_BOOTSTRAP_SERVERS" -t ma.kundhandelser.exk -e -f '%k %h\\n' | head
  Logs:           $STATE/logs/    Check: tests/integration/demo/check_demo_env.sh
  Stop everything: make stop
EOF
