#!/usr/bin/env bash
# The main job (`make demo`): replays the real case-event logs through the
# system on a local "demo" stack and prints what happened.
#
# Steps: set-up if needed, build, start the demo stack (Kafka, PostgreSQL,
# Mosquitto on their demo ports), create the producer topics, publish
#   - Exempelstads kommun (EXK): the building-permit log wabo-receipt.csv,
#   - Polismyndigheten (POL): the road-traffic fines log,
#   - Skatteverket (SKV) and Arbetsförmedlingen (AF): the hiring scenario,
# then print per producer read, published, rejected and skipped, and leave
# everything running.  `make stop` stops it.  Running it again replays the
# same events, which replace themselves (same kundhandelseId and sekvens).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DATA_DIR=${MA_DATA_DIR:-$ROOT/../shared/data}
GENERATOR=$(command -v ninja >/dev/null 2>&1 && echo Ninja || echo "Unix Makefiles")
export MA_STACK_NAME=demo

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

for file in "$DATA_DIR/wabo-receipt.csv" "$DATA_DIR/road-traffic-fines-100.csv"; do
        if [ ! -f "$file" ]; then
                echo "demo: input $file not found; set MA_DATA_DIR to the folder with the case-event logs" >&2
                exit 1
        fi
done

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

cat >"$ROOT/.run/demo.env" <<ENV
# Connection settings of the running demo; source this file.
KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS
DATABASE_URL=$DATABASE_URL
MQTT_HOST=$MQTT_HOST
MQTT_PORT=$MQTT_PORT
ENV

echo
echo "demo: report"
python3 - "$STATE/reports" <<'PY'
import json, pathlib, sys
rows = []
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    s = json.loads(path.read_text())
    rows.append((path.stem, s["topic"], s["read"], s["published"],
                 s["rejected"], s["skipped"], s["failed"]))
print(f"{'input':<20} {'topic':<24} {'read':>6} {'published':>9} "
      f"{'rejected':>8} {'skipped':>7} {'failed':>6}")
for r in rows:
    print(f"{r[0]:<20} {r[1]:<24} {r[2]:>6} {r[3]:>9} {r[4]:>8} {r[5]:>7} {r[6]:>6}")
PY
echo
echo "Look at the events on Kafka:"
echo "  kcat -C -b $KAFKA_BOOTSTRAP_SERVERS -t ma.kundhandelser.exk -e -f '%k %h\\n' | head"
echo "Connection settings: .run/demo.env    Stop everything: make stop"
