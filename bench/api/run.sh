#!/bin/sh
# Query API benchmark. It measures requests/s and p50/p99 latency of POST
# /kundhandelseFragaSynkron for a customer with 50 events who is also the
# user. The API runs at its maximum rate (wrk, closed loop) and at half of
# it (open loop: bench/api/pace.c, built here with cc).  PACER=python uses
# pace.py instead, whose four Python processes take about 0.5 ms of CPU per
# request against 0.08 ms for pace.c, on the same cores as the API and
# PostgreSQL. The raw rate is pgbench running the statement
# the API runs for the question (api_query_party() in api/src/api_query.c:
# the page with the total as a window count) with the same number of
# connections.
#
# Usage: bench/api/run.sh [BUILD_DIR]   (default build-release, Release)
# Needs DATABASE_URL of a stack (scripts/stack.sh env), wrk, pgbench, psql,
# python3.  Creates the database ma_apibench on that server, drops it first
# if it exists, and leaves it for inspection.  Progress goes to stderr and
# the result tables (markdown) to stdout.  Settings (environment):
#   DURATION  seconds per measurement (default 20)
#   HALF_DURATION  seconds of the two open-loop rows at half rate (60).
#             On the development machine all commits stall for about 70 ms
#             every 25 to 30 s, when the kernel writes back dirty pages
#             (docs/benchmarks.md, "Commit stalls").  A stall pushes about
#             170 requests over 10 ms.  In 20 s at 1,150/s the p99 thus
#             moved with the number of stalls in the window; 60 s
#             measures their steady share.
#   CONNS     wrk connections = ma-api http.threads = pgbench clients (4)
#   RUNS      rounds of measurements; the table gives medians (3)
#   BASELINE  another ma-api binary measured in the same rounds, alternating
#             with BUILD_DIR's, for a before/after comparison (none)
#   PACER     c or python: the open-loop client at half rate (c)
# With MA_STATE_DIR of the stack, each round also measures the CPU time per
# question of ma-api and of PostgreSQL, 1000 questions one at a time
# (bench/api/cpu.py).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${1:-build-release}
RUNS=${RUNS:-3}
PGDATA_DIR=
[ ! -f "${MA_STATE_DIR:-/nonexistent}/postgres/data/postmaster.pid" ] ||
    PGDATA_DIR=$MA_STATE_DIR/postgres/data
BASELINE=${BASELINE:-}
PACER=${PACER:-c}
DURATION=${DURATION:-20}
HALF_DURATION=${HALF_DURATION:-60}
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
log() { echo "$@" >&2; }
trap cleanup EXIT INT TERM
if [ "$PACER" = c ]; then
    ${CC:-cc} -O2 -std=c17 -pthread -o "$TMP/pace" bench/api/pace.c
    PACER_SOURCE=pace.c
else
    PACER=python PACER_SOURCE=pace.py
fi

psql -X -q -d "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
# A copy of the migrations, so that ma-admin and every start of ma-api
# apply the same files even while schemas/sql is being edited.
cp -r schemas/sql "$TMP/sql"
export MA_DATABASE_URL="$URL" MA_PSEUDONYM_SECRET="$SECRET" MA_MIGRATIONS_DIR="$TMP/sql"
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

echo >&2 "filling kundhandelse: $EVENTS events, $CUSTOMERS customers ($HOT with 50 events)"
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
# Write the fill's dirty pages out now, so that no checkpoint of the bulk
# load lands in the measurements.  CHECKPOINT needs a superuser: the local
# stack's "postgres" has one; elsewhere the step is skipped with a note.
SUPER_URL=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(netloc="postgres@" + p.netloc.split("@")[-1]).geturl())' "$URL")
psql -X -q -d "$SUPER_URL" -c CHECKPOINT 2>/dev/null ||
    echo >&2 "note: CHECKPOINT after the fill failed (needs a superuser); a checkpoint may fall into the first round"
echo >&2 "filled in $(( $(date +%s) - T0 )) s: $(psql -X -At -d "$URL" -c "SELECT count(*) || ' events, ' || count(DISTINCT kund_pseudonym) || ' customers' FROM kundhandelse")"

"$BUILD/tools/ma-admin" consumer add --id bench --name Bench --kind public >/dev/null
"$BUILD/tools/ma-admin" scope add --consumer bench --scope fraga >/dev/null
KEY=$("$BUILD/tools/ma-admin" key add --consumer bench)

PNR=$(head -n1 "$TMP/hot.tsv" | cut -f1)
PSEUDO=$(head -n1 "$TMP/hot.tsv" | cut -f2)
printf '{"fraga":{"parter":[{"kund":{"identifierare":"%s","typ":"Personnummer"}}]},"anvandare":"%s"}' \
    "$PNR" "$PNR" >"$TMP/body.json"

cat >"$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = [[$(cat "$TMP/body.json")]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "$KEY"
wrk.headers["skv_client_correlation_id"] = "bench-wrk"
LUA

# Starts the ma-api binary $1 and sets API_PID and PORT.
api_start() {
    "$1" --listen.port=0 --http.threads="$CONNS" \
        --catalog.path="$PWD/schemas/catalog.json" \
        --migrations.dir="$TMP/sql" >"$TMP/api.log" 2>&1 &
    API_PID=$!
    PORT=
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*msg=listening .*port=\([0-9]*\).*/\1/p' "$TMP/api.log" | head -n1)
        [ -n "$PORT" ] && break
        sleep 0.1
    done
    [ -n "$PORT" ] || { cat "$TMP/api.log" >&2; exit 1; }
    # The API must find the customer's 50 events under the computed
    # pseudonym.
    python3 - "$PORT" "$KEY" "$TMP/body.json" >&2 <<'PY'
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
}

api_stop() {
    kill "$API_PID"
    wait "$API_PID" || true
    API_PID=
}

to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.2f", v / 1000; else if (v ~ /ms$/) printf "%.2f", v + 0; else printf "%.2f", v * 1000 }'; }

# Measures ma-api binary $2 at maximum and at half rate; appends
# "label rps p50 p99 half_asked half_rps half_p50 half_p99" to results.
api_measure() {
    label=$1
    api_start "$2"
    log "$label: maximum rate, wrk -t2 -c$CONNS -d${DURATION}s"
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$TMP/post.lua" \
        "http://127.0.0.1:$PORT/kundhandelseFragaSynkron" >"$TMP/wrk.txt"
    cat "$TMP/wrk.txt" >&2
    rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$TMP/wrk.txt")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$TMP/wrk.txt")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$TMP/wrk.txt")")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$TMP/wrk.txt")
    [ -z "$non2xx" ] || { log "wrk saw $non2xx non-2xx responses"; exit 1; }
    half=$((rps / 2))
    log "$label: half rate, $half requests/s, open loop"
    if [ "$PACER" = c ]; then
        set -- $("$TMP/pace" "$PORT" "$KEY" "$TMP/body.json" "$half" "$HALF_DURATION" "$CONNS")
    else
        set -- $(python3 bench/api/pace.py "$PORT" "$KEY" "$TMP/body.json" "$half" "$HALF_DURATION" "$CONNS")
    fi
    [ "$1" -eq "$2" ] || { log "half rate: $2 of $1 answered 200"; exit 1; }
    echo "$label $rps $p50 $p99 $half $3 $4 $5" >>"$TMP/results"
    api_stop
}

# The statement of api_query_party() for the question: the filter on the
# customer ($1, the pseudonym), $10 offset 0, $11 limit 1000 (the
# default), and the default order of api_order_by().
python3 - "$PSEUDO" >"$TMP/query.sql" <<'PY'
import re, sys
src = open("api/src/api_query.c").read()
def macro(name):
    m = re.search(r"#define " + name + r"\s+(.*?)\n\n", src, re.S)
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
# The API leaves out the filters whose parameters are NULL: only the
# customer's applies here.
kund = re.search(r'\{0, ("(?:[^"\\]|\\.)*")\}', src).group(1)
where = macro("API_FROM") + "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', kund))
cols = macro("API_EVENT_COLUMNS")
fmt = re.search(r'snprintf\(page_sql, sizeof\(page_sql\),\s*((?:"(?:[^"\\]|\\.)*"\s*)+)',
                src).group(1)
fmt = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', fmt))
order = "tidpunkt DESC, producent_organisationsnummer, kundhandelse_id"
page = fmt.replace("%s", "{}").format(cols, where, order, order)
# pgbench sends :p, :off and :lim (set with -D) as bound parameters in the
# extended and prepared modes, as the API does.
params = {1: ":p", 10: ":off", 11: ":lim"}
print(re.sub(r"\$(\d+)", lambda m: params.get(int(m.group(1)), "NULL"), page) + ";")
PY
[ "$(psql -X -At -v p="'$PSEUDO'" -v off=0 -v lim=1000 -d "$URL" -f "$TMP/query.sql" | wc -l)" -eq 50 ] ||
    { log "query.sql does not return 50 rows"; exit 1; }

# The API's whole database work for one question, as one pgbench
# transaction: the key, consumer and scope lookup of api_auth_consumer(),
# the question's statement, and the audit row of api_audit_insert() with
# the 50 disclosed [producent, kundhandelseId] pairs, committed before the
# response as the API does.  The statements are copied from the sources.
python3 - "$PSEUDO" "$TMP/query.sql" >"$TMP/txn.sql" <<'PY'
import json, re, sys
pseudo, query = sys.argv[1], open(sys.argv[2]).read().strip()
def constant(path, anchor):
    src = open(path).read()
    m = re.search(re.escape(anchor) + r"\s*=\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+);", src)
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
auth = constant("api/src/api_auth.c", "static const char sql[]")
audit = [c for c in re.findall(r'static const char sql\[\]\s*=\s*((?:"(?:[^"\\]|\\.)*"\s*)+);',
                                 open("api/src/api_query.c").read())
         if "INSERT INTO api_audit" in c][0]
audit = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', audit))
auth = auth.replace("$1", ":kid").replace("$2", "'fraga'")
values = {1: "'bench-pgbench'", 2: "'/kundhandelseFragaSynkron'", 3: "'bench'",
          4: ":kid", 5: ":p", 6: ":kunder", 7: ":question", 8: ":disclosed",
          9: "'allowed'", 10: "200", 11: "NULL"}
audit = re.sub(r"\$(\d+)", lambda m: values[int(m.group(1))], audit)
print("BEGIN;")
print(auth + ";")
print(query)
print(audit + ";")
print("COMMIT;")
PY
KEY_ID=$(printf %s "$KEY" | cut -c5-20)
KUNDER="[\"$PSEUDO\"]"
QUESTION=$(python3 -c 'import json,sys; q=json.load(sys.stdin)["fraga"]; print(json.dumps(q, separators=(",", ":")))' <"$TMP/body.json")
DISCLOSED=$(psql -X -At -d "$URL" -c "SELECT json_agg(json_build_array(producent_organisationsnummer, kundhandelse_id)) FROM kundhandelse WHERE kund_pseudonym = '$PSEUDO'")

# Mode prepared plans per connection as the API's prepared statements do
# (PostgreSQL still plans each execution while its generic plan costs
# more); mode extended parses every execution.  Appends
# "pgbench-<mode> tps p50 p99" to results.
pgbench_run() {
    mode=$1
    log "pgbench: the API's statement, -c$CONNS -j2 -M $mode"
    rm -f "$TMP"/pgb.*
    (cd "$TMP" && pgbench -n -M "$mode" -c "$CONNS" -j 2 -T "$DURATION" -l \
        --log-prefix=pgb -D p="$PSEUDO" -D off=0 -D lim=1000 -f query.sql \
        "$URL" >pgbench.txt 2>&1) || { cat "$TMP/pgbench.txt" >&2; exit 1; }
    cat "$TMP/pgbench.txt" >&2
    tps=$(awk '/^tps/ {printf "%.0f", $3}' "$TMP/pgbench.txt")
    echo "pgbench-$mode $tps $(python3 bench/api/pct.py "$TMP"/pgb.*)" >>"$TMP/results"
}

# The whole transaction of txn.sql, prepared; appends "pgbench-txn tps p50
# p99" to results.  With RATE, the same runs open loop (pgbench -R) and
# appends "pgbench-txn-half ..." instead.  Its latency then counts from the
# scheduled start, as the pacer's does, so that row shows the p99 that
# PostgreSQL and the machine give at the pacer's rate without the API.
pgbench_txn() {
    label=pgbench-txn
    throttle=
    seconds=$DURATION
    if [ -n "${1:-}" ]; then
        label=pgbench-txn-half
        throttle="-R $1"
        seconds=$HALF_DURATION
        log "pgbench: the API's whole transaction, open loop at $1/s"
    else
        log "pgbench: the API's whole transaction, -c$CONNS -j2 -M prepared"
    fi
    rm -f "$TMP"/pgb.*
    # shellcheck disable=SC2086 # throttle is empty or "-R RATE"
    (cd "$TMP" && pgbench -n -M prepared -c "$CONNS" -j 2 -T "$seconds" $throttle -l \
        --log-prefix=pgb -D p="$PSEUDO" -D off=0 -D lim=1000 -D kid="$KEY_ID" \
        -D kunder="$KUNDER" -D question="$QUESTION" -D disclosed="$DISCLOSED" \
        -f txn.sql "$URL" >pgbench.txt 2>&1) || { cat "$TMP/pgbench.txt" >&2; exit 1; }
    cat "$TMP/pgbench.txt" >&2
    tps=$(awk '/^tps/ {printf "%.0f", $3}' "$TMP/pgbench.txt")
    echo "$label $tps $(python3 bench/api/pct.py "$TMP"/pgb.*)" >>"$TMP/results"
}

: >"$TMP/results"
for run in $(seq "$RUNS"); do
    log "round $run of $RUNS"
    api_measure ma-api "$BUILD/api/ma-api"
    [ -z "$BASELINE" ] || api_measure baseline "$BASELINE"
    pgbench_run prepared
    pgbench_run extended
    pgbench_txn
    # The rate the pacer requested of ma-api in this round.
    pgbench_txn "$(awk '$1 == "ma-api" {r = $5} END {print r}' "$TMP/results")"
    if [ -n "$PGDATA_DIR" ]; then
        echo "cpu-ma-api $(python3 bench/api/cpu.py "$BUILD/api/ma-api" "$PGDATA_DIR" "$KEY" "$TMP/body.json" 1000 "$TMP/sql")" >>"$TMP/results"
        [ -z "$BASELINE" ] ||
            echo "cpu-baseline $(python3 bench/api/cpu.py "$BASELINE" "$PGDATA_DIR" "$KEY" "$TMP/body.json" 1000 "$TMP/sql")" >>"$TMP/results"
    fi
done

# Median of column $2 of the rows labelled $1.
median() {
    awk -v l="$1" -v c="$2" '$1 == l {print $c}' "$TMP/results" | sort -g |
        awk '{v[NR] = $1} END {printf "%s", v[int((NR + 1) / 2)]}'
}
# All values of column $2 of the rows labelled $1, comma-separated.
values() {
    awk -v l="$1" -v c="$2" '$1 == l {print $c}' "$TMP/results" | paste -sd, - | sed 's/,/, /g'
}

row_api() {
    echo "| $2, maximum rate (wrk -c$CONNS) | $(median "$1" 2) ($(values "$1" 2)) | $(median "$1" 3) | $(median "$1" 4) |"
    echo "| $2, half of maximum (open loop, $PACER_SOURCE; $(values "$1" 5)/s asked) | $(median "$1" 6) | $(median "$1" 7) | $(median "$1" 8) ($(values "$1" 8)) |"
}

echo "$EVENTS events, $CUSTOMERS customers, the asked customer has 50 events (limit 1000); $CONNS connections, http.threads=$CONNS; ${DURATION} s per row, ${HALF_DURATION} s for the two open-loop rows at half rate; medians of $RUNS rounds (each round's value in brackets); $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | requests/s | p50 ms | p99 ms |"
echo "|---|---|---|---|"
row_api ma-api "ma-api ($BUILD)"
[ -z "$BASELINE" ] || row_api baseline "ma-api baseline ($BASELINE)"
echo "| pgbench, the API's statement (-c$CONNS, -M prepared, as the API) | $(median pgbench-prepared 2) ($(values pgbench-prepared 2)) | $(median pgbench-prepared 3) | $(median pgbench-prepared 4) |"
echo "| pgbench, the same (-c$CONNS, -M extended) | $(median pgbench-extended 2) ($(values pgbench-extended 2)) | $(median pgbench-extended 3) | $(median pgbench-extended 4) |"
echo "| pgbench, the API's whole transaction: key lookup, the statement, audit insert, commit (-c$CONNS, -M prepared) | $(median pgbench-txn 2) ($(values pgbench-txn 2)) | $(median pgbench-txn 3) | $(median pgbench-txn 4) |"
echo "| pgbench, the same transaction, open loop at the pacer's rate of the round (-R) | $(median pgbench-txn-half 2) ($(values pgbench-txn-half 2)) | $(median pgbench-txn-half 3) | $(median pgbench-txn-half 4) ($(values pgbench-txn-half 4)) |"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "ma-api / pgbench of the API's whole transaction: $(ratio "$(median ma-api 2)" "$(median pgbench-txn 2)") (goal >= 0.5); p99 at half rate: $(median ma-api 8) ms (goal <= 10 ms)"
echo
echo "ma-api / pgbench of the statement alone (-M prepared, no audit row or commit): $(ratio "$(median ma-api 2)" "$(median pgbench-prepared 2)")"
if [ -n "$BASELINE" ]; then
    echo "baseline / pgbench -M prepared rate: $(ratio "$(median baseline 2)" "$(median pgbench-prepared 2)"); p99 at half rate: $(median baseline 8) ms"
fi
if [ -n "$PGDATA_DIR" ]; then
    echo
    echo "CPU time per question, one question at a time (bench/api/cpu.py, 1000 questions, medians of $RUNS):"
    echo
    echo "| binary | ma-api us | PostgreSQL us | wall us |"
    echo "|---|---|---|---|"
    echo "| ma-api ($BUILD) | $(median cpu-ma-api 2) ($(values cpu-ma-api 2)) | $(median cpu-ma-api 3) ($(values cpu-ma-api 3)) | $(median cpu-ma-api 4) |"
    [ -z "$BASELINE" ] ||
        echo "| baseline ($BASELINE) | $(median cpu-baseline 2) ($(values cpu-baseline 2)) | $(median cpu-baseline 3) ($(values cpu-baseline 3)) | $(median cpu-baseline 4) |"
fi
