#!/usr/bin/env bash
# The main job (`make demo`): replays the real case-event logs through the
# system on a local "demo" stack and prints what happened.
#
# Steps: set-up if needed, build, start the demo stack (Kafka, PostgreSQL,
# Mosquitto on their demo ports), create the producer topics, publish
#   - Exempelstads kommun (EXK): the building-permit log wabo-receipt.csv,
#   - Polismyndigheten (POL): the road-traffic fines log,
#   - Skatteverket (SKV) and Arbetsförmedlingen (AF): the hiring scenario,
# start the processor, wait until it applied every event, then print per
# input read, published, applied, rejected and skipped, and leave
# everything running.  `make stop` stops it.  Running it again replays the
# same events, which replace themselves (same kundhandelseId and sekvens).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DATA_DIR=${MA_DATA_DIR:-$ROOT/../shared/data}
GENERATOR=$(command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
export MA_STACK_NAME=demo

for file in "$DATA_DIR/wabo-receipt.csv" "$DATA_DIR/road-traffic-fines-100.csv"; do
        if [ ! -f "$file" ]; then
                echo "demo: input $file not found; set MA_DATA_DIR to the folder with the case-event logs" >&2
                exit 1
        fi
done

scripts/setup.sh
cmake -S . -B build -G "$GENERATOR" -DMA_WERROR=ON >/dev/null
cmake --build build

scripts/stack.sh start
eval "$(scripts/stack.sh env)"
STATE=$MA_STATE_DIR
mkdir -p "$STATE/secrets" "$STATE/reports" "$STATE/programs"
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

# The processor runs in the background and keeps consuming. Its pid file
# lets `make stop` and the next `make demo` find it.
processor_pid_file="$STATE/programs/ma-processor.pid"
if [ -f "$processor_pid_file" ] && kill -0 "$(cat "$processor_pid_file")" 2>/dev/null; then
        echo "demo: ma-processor already running (pid $(cat "$processor_pid_file"))"
else
        echo "demo: starting ma-processor (log: $STATE/logs/ma-processor.log)"
        MA_DATABASE_URL=$DATABASE_URL MA_KAFKA_BROKERS=$KAFKA_BOOTSTRAP_SERVERS \
                nohup build/processors/ma-processor --metrics.port 29100 \
                --schema.dir schemas --catalog.path schemas/catalog.json \
                --migrations.dir schemas/sql \
                >>"$STATE/logs/ma-processor.log" 2>&1 &
        echo $! >"$processor_pid_file"
fi

cat >"$ROOT/.run/demo.env" <<ENV
# Connection settings of the running demo: . .run/demo.env
export KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS
export DATABASE_URL=$DATABASE_URL
export MQTT_HOST=$MQTT_HOST
export MQTT_PORT=$MQTT_PORT
ENV

echo
python3 scripts/demo_report.py --reports "$STATE/reports" \
        --metrics-url http://127.0.0.1:29100/metrics \
        --processor-pid "$(cat "$processor_pid_file")" \
        --processor-log "$STATE/logs/ma-processor.log" \
        --wait "${MA_DEMO_WAIT_SECONDS:-300}"
echo
echo "Look at the events on Kafka and in the views:"
echo "  kcat -C -b $KAFKA_BOOTSTRAP_SERVERS -t ma.kundhandelser.exk -e -f '%k %h\\n' | head"
echo "  psql '$DATABASE_URL' -c 'SELECT kundhandelse_typ, count(*) FROM kundhandelse GROUP BY 1 ORDER BY 1'"
echo "Connection settings: .run/demo.env    Stop everything: make stop"
