#!/bin/sh
# Query API benchmark. It measures requests/s and p50/p99 latency of POST
# /kundhandelseFragaSynkron for a customer with 50 events who is also the
# user. The API runs at its maximum rate (wrk, closed loop) and at half of
# it (pace.py, open loop). The raw rate is pgbench running the API's two
# statements per question (count and page, api/src/api_query.c) with the
# same number of connections.
#
# Usage: bench/api/run.sh [BUILD_DIR]   (default build-apibench, Release)
# Needs DATABASE_URL of a stack (scripts/stack.sh env), wrk, pgbench, psql,
# python3.  Creates the database ma_apibench on that server, drops it first
# if it exists, and leaves it for inspection.  DURATION (s, default 20) and
# CONNS (default 4: wrk connections = ma-api http.threads = pgbench clients).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${1:-build-apibench}
DURATION=${DURATION:-20}
CONNS=${CONNS:-4}
EVENTS=${EVENTS:-1000000}
CUSTOMERS=${CUSTOMERS:-100000}
HOT=${HOT:-20}          # customers with 50 events and computed pseudonyms
SECRET=bench-api-pseudonym-secret-0123456789
: "${DATABASE_URL:?load the stack first: eval \"\$(scripts/stack.sh env)\"}"
DB=ma_apibench
URL=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/"+sys.argv[2]).geturl())' "$DATABASE_URL" "$DB")
TMP=$(mktemp -d /tmp/ma-apibench.XXXXXX)
API_PID=
cleanup() { [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM

psql -X -q -d "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
export MA_DATABASE_URL="$URL" MA_PSEUDONYM_SECRET="$SECRET" MA_MIGRATIONS_DIR="$PWD/schemas/sql"
"$BUILD/tools/ma-admin" migrate >/dev/null

# Hot customers are test personnummer born in January 1950 with a computed
# Luhn digit. Their pseudonyms follow lib/include/ma/pseudonym.h.
python3 - "$SECRET" "$HOT" >"$TMP/hot.tsv" <<'PY'
import hashlib, hmac, sys
secret, hot = sys.argv[1].encode(), int(sys.argv[2])
def luhn(nine):
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)

for n in range(hot):
    body = f"5001{n % 28 + 1:02d}{n // 28 + 100:03d}"
    personnummer = "19" + body + luhn(body)
    pseudonym = hmac.new(secret, f"Personnummer:{personnummer}".encode(),
                         hashlib.sha256).hexdigest()[:32]
    print(f"{personnummer}\t{pseudonym}")
PY
HOT_PSEUDO=$(cut -f2 "$TMP/hot.tsv" | sed "s/.*/'&'/" | paste -sd, -)
COLD=$((CUSTOMERS - HOT))
COLD_EVENTS=$((EVENTS - HOT * 50))

echo "filling kundhandelse: $EVENTS events, $CUSTOMERS customers ($HOT with 50 events)"
T0=$(date +%s)
psql -X -q -v ON_ERROR_STOP=1 -d "$URL" <<SQL
INSERT INTO kundhandelse (producent_organisationsnummer, kundhandelse_id,
    sekvens, kund_pseudonym, kund_typ, producent, rubrik, beskrivning, sprak,
    kundhandelse_typ, producentarendet_kraver_kundatgard,
    producentarendet_klart, version, tidpunkt, tidpunkt_offset_min, taggar,
    utokad_information, kafka_topic, kafka_partition, kafka_offset)
SELECT '2021000076', 'c-' || i, i, md5('cold-' || (i % $COLD)), 'Personnummer',
    'Polismyndigheten', 'Rubrik ' || i, 'Beskrivning av händelse ' || i, 'sv',
    'POL.TRAFIKBOT.BOT_UTFARDAD', false, false, '6.1',
    timestamptz '2025-01-01' + (i % 500000) * interval '1 minute', 60,
    '{}'::text[], '{"a": 1}'::jsonb, 'ma.kundhandelser.bench', i % 3, i
FROM generate_series(1, $COLD_EVENTS) AS i;
INSERT INTO kundhandelse (producent_organisationsnummer, kundhandelse_id,
    sekvens, kund_pseudonym, kund_typ, producent, rubrik, beskrivning, sprak,
    kundhandelse_typ, producentarendet_kraver_kundatgard,
    producentarendet_klart, version, tidpunkt, tidpunkt_offset_min, taggar,
    utokad_information, kafka_topic, kafka_partition, kafka_offset)
SELECT '2021000076', 'h-' || h.n || '-' || i, $COLD_EVENTS + h.n * 50 + i, h.p,
    'Personnummer', 'Polismyndigheten', 'Rubrik ' || i,
    'Beskrivning av händelse ' || i, 'sv', 'POL.TRAFIKBOT.BOT_UTFARDAD',
    false, false, '6.1',
    timestamptz '2025-01-01' + i * interval '1 day', 60, '{}'::text[],
    '{"a": 1}'::jsonb, 'ma.kundhandelser.bench', 0, $COLD_EVENTS + h.n * 50 + i
FROM unnest(ARRAY[$HOT_PSEUDO]) WITH ORDINALITY AS h(p, n),
     generate_series(1, 50) AS i;
VACUUM ANALYZE kundhandelse;
SQL
echo "filled in $(( $(date +%s) - T0 )) s: $(psql -X -At -d "$URL" -c "SELECT count(*) || ' events, ' || count(DISTINCT kund_pseudonym) || ' customers' FROM kundhandelse")"

"$BUILD/tools/ma-admin" consumer add --id bench --name Bench --kind public >/dev/null
"$BUILD/tools/ma-admin" scope add --consumer bench --scope fraga >/dev/null
KEY=$("$BUILD/tools/ma-admin" key add --consumer bench)

"$BUILD/api/ma-api" --listen.port=0 --http.threads="$CONNS" \
    --catalog.path="$PWD/schemas/catalog.json" \
    --migrations.dir="$PWD/schemas/sql" >"$TMP/api.log" 2>&1 &
API_PID=$!
PORT=
for _ in $(seq 100); do
    PORT=$(sed -n 's/.*msg=listening .*port=\([0-9]*\).*/\1/p' "$TMP/api.log" | head -n1)
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || { cat "$TMP/api.log"; exit 1; }

PNR=$(head -n1 "$TMP/hot.tsv" | cut -f1)
PSEUDO=$(head -n1 "$TMP/hot.tsv" | cut -f2)
printf '{"fraga":{"parter":[{"kund":{"identifierare":"%s","typ":"Personnummer"}}]},"anvandare":"%s"}' \
    "$PNR" "$PNR" >"$TMP/body.json"

# The API must find the customer's 50 events under the computed pseudonym.
python3 - "$PORT" "$KEY" "$TMP/body.json" <<'PY'
import http.client, json, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
conn.request("POST", "/kundhandelseFragaSynkron", open(sys.argv[3], "rb").read(),
             {"Content-Type": "application/json", "X-API-Key": sys.argv[2],
              "skv_client_correlation_id": "bench-check"})
resp = conn.getresponse()
part = json.loads(resp.read())["kundhandelser"][0]
returned = len(part["kundhandelserForPart"])
print(f"check: status {resp.status}, {part['totaltAntalKundhandelser']} events "
      f"in total, {returned} returned")
sys.exit(0 if resp.status == 200 and returned == 50 else 1)
PY

cat >"$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = [[$(cat "$TMP/body.json")]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "$KEY"
wrk.headers["skv_client_correlation_id"] = "bench-wrk"
LUA

# The API's two statements with the parameters of the question: $1 is the
# pseudonym, $10 offset 0, $11 limit 1000 (the default), the rest NULL. The
# order is the default one of api_order_by().
python3 - "$PSEUDO" >"$TMP/query.sql" <<'PY'
import re, sys
src = open("api/src/api_query.c").read()
def macro(name):
    m = re.search(r"#define " + name + r"\s+(.*?)\n\n", src, re.S)
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
where, cols = macro("API_WHERE"), macro("API_EVENT_COLUMNS")
# pgbench sends :p, :off and :lim (set with -D) as bound parameters in the
# extended and prepared modes, as PQexecParams() does.
params = {1: ":p", 10: ":off", 11: ":lim"}
def bind(sql):
    return re.sub(r"\$(\d+)", lambda m: params.get(int(m.group(1)), "NULL"), sql)
count = "SELECT count(*)" + where + " AND $10::bigint >= 0 AND $11::bigint > 0"
page = (cols + where + " ORDER BY tidpunkt DESC, producent_organisationsnummer,"
        " kundhandelse_id OFFSET $10::bigint LIMIT $11::bigint")
print(bind(count) + ";")
print(bind(page) + ";")
PY
[ "$(psql -X -At -v p="'$PSEUDO'" -v off=0 -v lim=1000 -d "$URL" -f "$TMP/query.sql" | wc -l)" -eq 51 ] ||
    { echo "query.sql does not return 1 + 50 rows"; exit 1; }

echo "ma-api at maximum rate: wrk -t2 -c$CONNS -d${DURATION}s"
wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$TMP/post.lua" \
    "http://127.0.0.1:$PORT/kundhandelseFragaSynkron" >"$TMP/wrk.txt"
cat "$TMP/wrk.txt"
API_RPS=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$TMP/wrk.txt")
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.2f", v / 1000; else if (v ~ /ms$/) printf "%.2f", v + 0; else printf "%.2f", v * 1000 }'; }
API_P50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$TMP/wrk.txt")")
API_P99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$TMP/wrk.txt")")
NON2XX=$(awk '/Non-2xx/ {print $NF}' "$TMP/wrk.txt")
[ -z "$NON2XX" ] || { echo "wrk saw $NON2XX non-2xx responses"; exit 1; }

HALF=$((API_RPS / 2))
echo "ma-api at half rate: $HALF requests/s, open loop"
set -- $(python3 bench/api/pace.py "$PORT" "$KEY" "$TMP/body.json" "$HALF" "$DURATION" "$CONNS")
HALF_SENT=$1 HALF_OK=$2 HALF_RPS=$3 HALF_P50=$4 HALF_P99=$5 HALF_MAX=$6
[ "$HALF_SENT" -eq "$HALF_OK" ] || { echo "half rate: $HALF_OK of $HALF_SENT answered 200"; exit 1; }

# Mode extended sends unnamed statements, parsed and planned on every
# execution as with the API's PQexecParams(). Mode prepared plans once per
# connection.
pgbench_run() {
    mode=$1
    echo "pgbench: the same two statements, -c$CONNS -j2 -M $mode"
    rm -f "$TMP"/pgb.*
    (cd "$TMP" && pgbench -n -M "$mode" -c "$CONNS" -j 2 -T "$DURATION" -l \
        --log-prefix=pgb -D p="$PSEUDO" -D off=0 -D lim=1000 -f query.sql \
        "$URL" >pgbench.txt 2>&1) || { cat "$TMP/pgbench.txt"; exit 1; }
    cat "$TMP/pgbench.txt"
    PG_TPS=$(awk '/^tps/ {printf "%.0f", $3}' "$TMP/pgbench.txt")
    set -- $(python3 bench/api/pct.py "$TMP"/pgb.*)
    PG_P50=$1 PG_P99=$2
}
pgbench_run prepared
PR_TPS=$PG_TPS PR_P50=$PG_P50 PR_P99=$PG_P99
pgbench_run extended

RATIO=$(awk -v a="$API_RPS" -v b="$PG_TPS" 'BEGIN {printf "%.2f", a / b}')
echo
echo "$EVENTS events, $CUSTOMERS customers, the asked customer has 50 events (limit 1000); $CONNS connections; ${DURATION} s each; $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | requests/s | p50 ms | p99 ms |"
echo "|---|---|---|---|"
echo "| ma-api, maximum rate (wrk -c$CONNS, http.threads=$CONNS) | $API_RPS | $API_P50 | $API_P99 |"
echo "| ma-api, half of maximum ($HALF/s asked, open loop) | $HALF_RPS | $HALF_P50 | $HALF_P99 |"
echo "| pgbench, the API's count + page statements (-c$CONNS, -M extended, as the API) | $PG_TPS | $PG_P50 | $PG_P99 |"
echo "| pgbench, the same (-c$CONNS, -M prepared) | $PR_TPS | $PR_P50 | $PR_P99 |"
echo
echo "API / pgbench (extended) rate: $RATIO (goal >= 0.5); p99 at half rate: $HALF_P99 ms (goal <= 10 ms)"
