#!/usr/bin/env python3
"""Black-box tests of ma-gateway against the local stack's Kafka.

Each run starts its own ma-gateway on a free loopback port, with its own key
file and a topic prefix unique to the run, so runs never see each other's
records.  Groups (--group):

  main           every status code, the events on Kafka (counted with kcat),
                 logs free of identity numbers and keys, SIGTERM shutdown;
  keys           `ma-gateway keys` and the key file, keys added, revoked or
                 broken while the gateway runs (needs no Kafka);
  kafka-down     bootstrap address where nothing listens (127.0.0.1:1):
                 /ready and POST answer 503, never 201;
  kafka-stopped  stops the stack's Kafka while the gateway runs
                 (scripts/stack.sh stop-service kafka), expects 503, and
                 restarts Kafka at the end whatever happened.

Needs KAFKA_BOOTSTRAP_SERVERS (and for kafka-stopped MA_STACK_NAME and
MA_STATE_DIR): eval "$(MA_STACK_NAME=test scripts/stack.sh env)".
Prints one "ok"/"not ok" line per check and "N passed, N failed" last.
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SECRET = "gateway-test-pseudonym-secret"
# Valid-checksum test personnummer born in the 1940s-1970s, made up here.
PNR = ["194503121230", "196207082345", "197812243454"]
ORGNR_A = "5599001236"  # producer GWA in catalog.json
ORGNR_B = "5599004560"  # producer GWB
WITHHELD = "(identity number withheld)"


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, condition, name, detail=""):
        number = self.passed + self.failed + 1
        if condition:
            self.passed += 1
            print(f"ok {number} - {name}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {number} - {name}", flush=True)
            if detail:
                for line in str(detail).splitlines():
                    print(f"#   {line}", flush=True)
        return condition

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def event(index, typ="GWA.ANSOKAN.MOTTAGEN", pnr=None, **extra):
    body = {
        "kundhandelseId": f"gwtest-{index}",
        "part": {"kund": {"identifierare": pnr or PNR[index % len(PNR)],
                          "typ": "Personnummer"}},
        "rubrik": "Ansökan mottagen",
        "beskrivning": "Vi har tagit emot din ansökan.",
        "tidpunkt": "2026-12-01T10:00:00+01:00",
        "kundhandelseTyp": typ,
        "producentarendetKraverKundatgard": False,
        "producentarendetKlart": False,
        "sekvens": index + 1,
    }
    body.update(extra)
    return body


class Gateway:
    """One ma-gateway process with its key file, log and topics."""

    def __init__(self, args, workdir, brokers, ack_timeout="10s"):
        self.args = args
        self.workdir = workdir
        self.brokers = brokers
        self.port = free_port()
        self.key_file = os.path.join(workdir, "keys.jsonl")
        self.log_path = os.path.join(workdir, "gateway.log")
        self.topic_prefix = f"gwtest{os.getpid()}t{int(time.time())}."
        self.ack_timeout = ack_timeout
        self.process = None
        self.keys = []  # every key created, to look for in the log

    def topic(self, prefix):
        return f"{self.topic_prefix}kundhandelser.{prefix.lower()}"

    def keys_command(self, *words):
        return subprocess.run([self.args.gateway, "keys", *words,
                               "--file", self.key_file],
                              capture_output=True, text=True, timeout=30)

    def add_key(self, prefix):
        done = self.keys_command("add", "--producer", prefix,
                                 "--catalog", self.args.catalog)
        if done.returncode != 0:
            raise RuntimeError(f"keys add failed: {done.stderr}")
        key = done.stdout.strip()
        self.keys.append(key)
        return key

    def start(self):
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [self.args.gateway,
             "--listen.address=127.0.0.1", f"--listen.port={self.port}",
             f"--keys.file={self.key_file}",
             f"--catalog={self.args.catalog}",
             f"--schemas.dir={self.args.schemas}",
             f"--kafka.brokers={self.brokers}",
             f"--kafka.topic-prefix={self.topic_prefix}",
             f"--ack.timeout={self.ack_timeout}",
             "--body.limit=1MiB", "--ready.timeout=1s",
             "--shutdown.timeout=15s"],
            stdout=self.log, stderr=subprocess.STDOUT,
            env=dict(os.environ, MA_PSEUDONYM_SECRET=SECRET))
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("ma-gateway exited at start:\n"
                                   + self.log_text())
            try:
                status, _, _ = self.request("GET", "/health")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("ma-gateway did not answer /health in 20 s")

    def stop(self, timeout=60):
        """Sends SIGTERM and returns the exit code (None: killed)."""
        if self.process is None:
            return None
        try:
            if self.process.poll() is not None:
                return self.process.returncode
            self.process.send_signal(signal.SIGTERM)
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None
        finally:
            self.log.close()

    def log_text(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def request(self, method, path, body=None, headers=None, timeout=60):
        connection = http.client.HTTPConnection("127.0.0.1", self.port,
                                                timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            return response.status, dict(response.getheaders()), data
        finally:
            connection.close()

    def post(self, events, key, content_type="application/json"):
        headers = {"Content-Type": content_type}
        if key is not None:
            headers["X-API-Key"] = key
        body = events if isinstance(events, bytes) else \
            json.dumps(events).encode()
        status, headers, data = self.request("POST", "/kundhandelser", body,
                                             headers)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return status, parsed, data, headers


def create_topics(args, brokers, topics):
    done = subprocess.run([args.create_topic, brokers, *topics],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"could not create topics: {done.stderr}")


def kafka_count(brokers, topic, expected, wait_s=30):
    """Counts records on topic with kcat, polling until expected or wait_s."""
    deadline = time.time() + wait_s
    count = -1
    while True:
        done = subprocess.run(
            ["kcat", "-C", "-b", brokers, "-t", topic, "-e", "-q",
             "-f", "%k\n"], capture_output=True, text=True, timeout=60)
        keys = [line for line in done.stdout.splitlines() if line]
        count = len(keys)
        if count >= expected or time.time() > deadline:
            return count, keys
        time.sleep(0.5)


# ---- main ----------------------------------------------------------------


def check_probes(r, gw):
    status, _, data = gw.request("GET", "/health")
    r.check(status == 200, "health answers 200", data)
    status, _, data = gw.request("GET", "/ready")
    r.check(status == 200, "ready answers 200 with Kafka up", data)


def check_created(r, gw, key_a, brokers):
    events = [event(0), event(1, typ="GWA.ANSOKAN.BESLUT_FATTAT",
                             producentarendetKlart=True)]
    status, body, data, _ = gw.post(events, key_a)
    r.check(status == 201, "two events answer 201", data)
    r.check(body == {"antal": 2}, "201 body counts the events", data)
    count, keys = kafka_count(brokers, gw.topic("GWA"), 2)
    r.check(count == 2, "both events are on Kafka", f"kcat counted {count}")
    r.check(all(re.fullmatch(r"[0-9a-f]{32}", k) for k in keys),
            "Kafka keys are pseudonyms", keys)
    r.check(not any(p in "".join(keys) for p in PNR),
            "no identity number in Kafka keys", keys)


def check_invalid(r, gw, key_a, brokers):
    bad_pnr = PNR[1][:-1] + str((int(PNR[1][-1]) + 1) % 10)
    events = [event(10), event(11, pnr=bad_pnr), event(12)]
    status, body, data, _ = gw.post(events, key_a)
    r.check(status == 400, "invalid identity number answers 400", data)
    body = body or {}
    r.check(body.get("index") == 1, "400 names the index", data)
    r.check(body.get("field") == "part.kund.identifierare",
            "400 names the field", data)
    r.check(body.get("value") == WITHHELD, "400 withholds the identity number",
            data)
    r.check(bad_pnr.encode() not in data and bad_pnr[2:].encode() not in data,
            "400 body has no identity number", data)
    count, _ = kafka_count(brokers, gw.topic("GWA"), 3, wait_s=3)
    r.check(count == 2, "nothing of a 400 request is published",
            f"kcat counted {count}")

    events = [event(13), event(14), event(15, tidpunkt="igår")]
    status, body, data, _ = gw.post(events, key_a)
    body = body or {}
    r.check(status == 400 and body.get("index") == 2 and
            body.get("field") == "tidpunkt" and body.get("value") == "igår",
            "bad tidpunkt answers 400 with index, field and value", data)

    events = [event(16, rubrik=5)]
    status, body, data, _ = gw.post(events, key_a)
    body = body or {}
    r.check(status == 400 and body.get("index") == 0 and
            body.get("field") == "rubrik" and body.get("value") == 5,
            "wrong JSON type answers 400 with the value", data)

    events = [event(17, typ="GWA.ANSOKAN.OKAND")]
    status, body, data, _ = gw.post(events, key_a)
    r.check(status == 400 and (body or {}).get("field") == "kundhandelseTyp",
            "type missing from the catalog answers 400", data)

    events = [event(18, producentOrganisationsnummer="12345")]
    status, body, data, _ = gw.post(events, key_a)
    r.check(status == 400 and
            (body or {}).get("field") == "producentOrganisationsnummer",
            "malformed organisationsnummer answers 400", data)

    status, body, data, _ = gw.post([event(i) for i in range(1001)], key_a)
    r.check(status == 400, "1001 events answer 400", data)
    status, body, data, _ = gw.post([], key_a)
    r.check(status == 400, "empty array answers 400", data)
    status, body, data, _ = gw.post(b'[{"kundhandelseId": ', key_a)
    r.check(status == 400 and (body or {}).get("index") is None,
            "malformed JSON answers 400", data)
    status, body, data, _ = gw.post(b'{"a": 1}', key_a)
    r.check(status == 400, "object instead of array answers 400", data)


def check_auth(r, gw, key_a, key_b, key_revoked):
    status, _, data, _ = gw.post([event(20)], None)
    r.check(status == 401, "missing key answers 401", data)
    wrong = key_a[:-4] + ("AAAA" if not key_a.endswith("AAAA") else "BBBB")
    status, _, data, _ = gw.post([event(21)], wrong)
    r.check(status == 401, "wrong secret answers 401", data)
    status, _, data, _ = gw.post([event(22)], "not-a-key")
    r.check(status == 401, "malformed key answers 401", data)

    key_id = key_revoked.split(".")[0]
    status, _, data, _ = gw.post([event(23)], key_revoked)
    r.check(status == 201, "key answers 201 before revocation", data)
    done = gw.keys_command("revoke", key_id)
    r.check(done.returncode == 0, "keys revoke succeeds", done.stderr)
    listing = gw.keys_command("list").stdout
    r.check(re.search(rf"^{key_id}\s+GWA\s+\S+\s+\d{{4}}-", listing, re.M)
            is not None, "keys list shows the revocation", listing)
    time.sleep(1.3)  # the gateway looks at the key file once a second
    status, _, data, _ = gw.post([event(24)], key_revoked)
    r.check(status == 403, "revoked key answers 403", data)

    status, body, data, _ = gw.post([event(25)], key_b)
    body = body or {}
    r.check(status == 403 and body.get("field") == "kundhandelseTyp" and
            body.get("index") == 0,
            "foreign kundhandelseTyp prefix answers 403", data)
    events = [event(26, typ="GWB.ANSOKAN.MOTTAGEN"),
              event(27, typ="GWB.ANSOKAN.MOTTAGEN",
                    producentOrganisationsnummer=ORGNR_A)]
    status, body, data, _ = gw.post(events, key_b)
    body = body or {}
    r.check(status == 403 and body.get("index") == 1 and
            body.get("field") == "producentOrganisationsnummer",
            "foreign organisationsnummer answers 403", data)


def raw_request(port, head):
    """Sends only the header block and returns the status line and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                header, _, rest = data.partition(b"\r\n\r\n")
                match = re.search(rb"Content-Length: (\d+)", header, re.I)
                if match and len(rest) >= int(match.group(1)):
                    break
    return data


def check_limits(r, gw, key_a):
    head = ("POST /kundhandelser HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"X-API-Key: {key_a}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {2 * 1024 * 1024}\r\n"
            "Expect: 100-continue\r\n\r\n")
    data = raw_request(gw.port, head)
    r.check(data.startswith(b"HTTP/1.1 413"),
            "declared length over the limit answers 413", data[:300])

    def chunks():
        piece = b" " * 65536
        for _ in range(20):  # 1.25 MiB, over the 1 MiB limit
            yield piece
    connection = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=60)
    try:
        connection.request("POST", "/kundhandelser", body=chunks(),
                           headers={"X-API-Key": key_a,
                                    "Content-Type": "application/json"},
                           encode_chunked=True)
        response = connection.getresponse()
        status, data = response.status, response.read()
    except OSError as error:
        status, data = None, str(error)
    finally:
        connection.close()
    r.check(status == 413, "chunked body over the limit answers 413", data)

    status, _, data, _ = gw.post([event(30)], key_a, "text/plain")
    r.check(status == 415, "text/plain answers 415", data)
    status, _, data, _ = gw.post([event(31)], key_a,
                                 "application/json; charset=utf-8")
    r.check(status == 201, "application/json with charset is accepted", data)


def check_routes(r, gw):
    status, _, data = gw.request("GET", "/nowhere")
    r.check(status == 404, "unknown path answers 404", data)
    status, headers, data = gw.request("GET", "/kundhandelser")
    r.check(status == 405 and headers.get("Allow") == "POST",
            "GET /kundhandelser answers 405 with Allow", data)
    status, _, data = gw.request("POST", "/health", b"{}",
                                 {"Content-Type": "application/json"})
    r.check(status == 405, "POST /health answers 405", data)
    status, _, data = gw.request("GET", f"/x/{PNR[0]}")
    r.check(status == 404 and PNR[0].encode() not in data,
            "404 does not echo an identity number", data)


def check_batch(r, gw, key_a, brokers, before):
    events = [event(1000 + i) for i in range(1000)]
    started = time.time()
    status, body, data, _ = gw.post(events, key_a)
    elapsed = time.time() - started
    r.check(status == 201 and body == {"antal": 1000},
            "1000 events answer 201", data[:300])
    count, _ = kafka_count(brokers, gw.topic("GWA"), before + 1000)
    r.check(count == before + 1000, "all 1000 events are on Kafka",
            f"kcat counted {count}, expected {before + 1000}")
    print(f"# 1000 events answered in {elapsed:.2f} s", flush=True)


def check_metrics(r, gw):
    status, headers, data = gw.request("GET", "/metrics")
    text = data.decode()
    r.check(status == 200 and headers.get("Content-Type", "")
            .startswith("text/plain"), "metrics answers Prometheus text")

    def value(name):
        match = re.search(rf"^{re.escape(name)} (\d+)$", text, re.M)
        return int(match.group(1)) if match else None
    r.check((value('ma_gateway_requests_total{code="201"}') or 0) >= 4,
            "metrics count 201 requests", text)
    r.check((value('ma_gateway_requests_total{code="401"}') or 0) >= 3,
            "metrics count 401 requests", text)
    r.check((value("ma_gateway_events_accepted_total") or 0) >= 1004,
            "metrics count accepted events", text)


def check_logs(r, gw):
    text = gw.log_text()
    leaked = [p for p in PNR if p in text or p[2:] in text]
    r.check(not leaked, "log has no identity numbers", leaked)
    secrets = [k for k in gw.keys if k.split(".", 1)[1] in text]
    r.check(not secrets, "log has no API keys")
    r.check(SECRET not in text, "log has no pseudonym secret")
    r.check(re.search(r"msg=request .*status=201 events=1000", text)
            is not None, "log has a line per request with counts")


def run_main(args, r, workdir):
    brokers = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    gw = Gateway(args, workdir, brokers)
    key_a = gw.add_key("GWA")
    key_b = gw.add_key("GWB")
    key_revoked = gw.add_key("GWA")
    create_topics(args, brokers, [gw.topic("GWA"), gw.topic("GWB")])
    gw.start()
    try:
        check_probes(r, gw)
        check_created(r, gw, key_a, brokers)
        check_invalid(r, gw, key_a, brokers)
        check_auth(r, gw, key_a, key_b, key_revoked)
        check_limits(r, gw, key_a)
        check_routes(r, gw)
        before, _ = kafka_count(brokers, gw.topic("GWA"), 4)
        check_batch(r, gw, key_a, brokers, before)
        check_metrics(r, gw)
    finally:
        code = gw.stop()
    r.check(code == 0, "SIGTERM stops the gateway with exit code 0",
            f"exit code {code}")
    r.check("msg=stopped" in gw.log_text(), "shutdown is logged")
    check_logs(r, gw)


# ---- Kafka unreachable ---------------------------------------------------


def run_kafka_down(args, r, workdir):
    gw = Gateway(args, workdir, "127.0.0.1:1", ack_timeout="2s")
    key_a = gw.add_key("GWA")
    gw.start()
    try:
        status, _, data = gw.request("GET", "/ready")
        r.check(status == 503, "ready answers 503 without Kafka", data)
        status, _, data = gw.request("GET", "/health")
        r.check(status == 200, "health answers 200 without Kafka", data)
        started = time.time()
        status, body, data, headers = gw.post([event(0), event(1)], key_a)
        elapsed = time.time() - started
        r.check(status == 503, "POST answers 503 without Kafka", data)
        r.check(elapsed < 10, "503 comes within the ack timeout",
                f"{elapsed:.1f} s")
        r.check(headers.get("Retry-After") is not None,
                "503 carries Retry-After", headers)
        r.check((body or {}).get("bekraftade") == 0,
                "503 body says nothing was acknowledged", data)
        statuses = [gw.post([event(2 + i)], key_a)[0] for i in range(3)]
        r.check(201 not in statuses and set(statuses) == {503},
                "repeated POSTs never answer 201", statuses)
        status, _, data = gw.request("GET", "/metrics")
        match = re.search(rb"^ma_gateway_events_failed_total (\d+)$", data,
                          re.M)
        r.check(match is not None and int(match.group(1)) == 5,
                "metrics count the failed events", data)
        check_drain(r, gw, key_a)
    finally:
        code = gw.stop()
    r.check(code == 0, "gateway without Kafka stops on SIGTERM",
            f"exit code {code}")


def check_drain(r, gw, key_a):
    """SIGTERM while a request waits for Kafka: the request still gets its
    answer (here 503, since nothing listens) before the gateway exits."""
    answer = {}

    def post():
        try:
            answer["status"] = gw.post([event(90)], key_a)[0]
        except OSError as error:
            answer["error"] = repr(error)
    thread = threading.Thread(target=post)
    thread.start()
    time.sleep(0.7)  # the request now waits up to ack.timeout (2 s)
    gw.process.send_signal(signal.SIGTERM)
    thread.join(30)
    r.check(answer.get("status") == 503,
            "request in flight at SIGTERM still gets its answer", answer)
    try:
        code = gw.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        code = None
    r.check(code == 0, "gateway exits 0 after draining", f"exit code {code}")


# ---- API keys -------------------------------------------------------------


def check_key_commands(r, gw):
    done = gw.keys_command("add", "--producer", "skv")
    r.check(done.returncode != 0 and "invalid producer prefix" in done.stderr,
            "keys add rejects a lower-case prefix", done.stderr)
    done = gw.keys_command("add")
    r.check(done.returncode == 2, "keys add without producer is a usage error",
            done.stderr)
    done = gw.keys_command("add", "--producer", "NOPE", "--catalog",
                           gw.args.catalog)
    r.check(done.returncode != 0 and "not in the catalog" in done.stderr,
            "keys add rejects a prefix missing from the catalog", done.stderr)

    key = gw.add_key("GWA")
    r.check(re.fullmatch(r"[0-9a-f]{16}\.[A-Za-z0-9_-]{43}", key) is not None,
            "key is key_id and 43 base64url characters", key)
    r.check(os.stat(gw.key_file).st_mode & 0o777 == 0o600,
            "key file has mode 0600", oct(os.stat(gw.key_file).st_mode))
    with open(gw.key_file, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    record = records[-1] if records else {}
    key_id, secret = key.split(".", 1)
    r.check(record.get("key_id") == key_id and record.get("prefix") == "GWA"
            and record.get("revoked") is None,
            "key file records id, producer and no revocation", record)
    expected = hashlib.sha256(
        f"{record.get('salt')}:{key}".encode()).hexdigest()
    r.check(record.get("sha256") == expected,
            "key file stores SHA-256 of salt and key", record)
    with open(gw.key_file, encoding="utf-8") as f:
        text = f.read()
    r.check(secret not in text and key not in text,
            "key file does not contain the key")
    second = gw.add_key("GWA")
    r.check(second.split(".")[0] != key_id, "two keys get different ids")

    done = gw.keys_command("revoke", "0123456789abcdef")
    r.check(done.returncode == 1 and "not found" in done.stderr,
            "revoking an unknown key fails", done.stderr)
    gw.keys_command("revoke", second.split(".")[0])
    first_time = gw.keys_command("list").stdout
    time.sleep(1.1)
    gw.keys_command("revoke", second.split(".")[0])
    r.check(gw.keys_command("list").stdout == first_time,
            "revoking twice keeps the first time", first_time)
    return key


def run_keys(args, r, workdir):
    gw = Gateway(args, workdir, "127.0.0.1:1", ack_timeout="1s")
    key = check_key_commands(r, gw)
    gw.start()
    try:
        # An empty array answers 400 after authentication, without Kafka.
        status, _, data, _ = gw.post([], key)
        r.check(status == 400, "stored key is accepted", data)
        late = gw.add_key("GWB")
        time.sleep(1.3)
        status, _, data, _ = gw.post([], late)
        r.check(status == 400, "key added while running is accepted", data)
        with open(gw.key_file, "a", encoding="utf-8") as f:
            f.write("not json\n")
        time.sleep(1.3)
        status, _, data, _ = gw.post([], key)
        r.check(status == 400, "broken key file keeps the loaded keys", data)
        r.check("could not reload key file" in gw.log_text(),
                "broken key file is logged", gw.log_text()[-2000:])
    finally:
        code = gw.stop()
    r.check(code == 0, "gateway stops on SIGTERM", f"exit code {code}")
    text = gw.log_text()
    r.check(not any(k.split(".", 1)[1] in text for k in gw.keys),
            "log has no API keys")


# ---- Kafka stopped mid-way -----------------------------------------------


def stack(args, *words):
    script = os.path.join(args.repo, "scripts", "stack.sh")
    return subprocess.run([script, *words], capture_output=True, text=True,
                          timeout=300)


def broker_answers(brokers):
    host, port = brokers.split(",")[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return True
    except OSError:
        return False


def run_kafka_stopped(args, r, workdir):
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "MA_STACK_NAME", "MA_STATE_DIR"):
        if not os.environ.get(name):
            r.check(False, f"{name} is set",
                    'load the stack settings: eval "$(MA_STACK_NAME=test '
                    'scripts/stack.sh env)"')
            return
    brokers = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
    status = stack(args, "status").stdout
    if not r.check(re.search(r"^kafka\s+running", status, re.M) is not None,
                   "the stack's Kafka runs before the test", status):
        return
    gw = Gateway(args, workdir, brokers, ack_timeout="3s")
    key_a = gw.add_key("GWA")
    create_topics(args, brokers, [gw.topic("GWA")])
    gw.start()
    stopped = False
    try:
        status, _, data, _ = gw.post([event(0)], key_a)
        r.check(status == 201, "201 while Kafka runs", data)
        done = stack(args, "stop-service", "kafka")
        stopped = True
        r.check(done.returncode == 0, "Kafka stopped", done.stdout +
                done.stderr)
        r.check(not broker_answers(brokers),
                "nothing listens at the broker address any more",
                f"{brokers} still accepts connections: it is not this "
                "stack's Kafka")
        statuses = [gw.post([event(1 + i), event(50 + i)], key_a)[0]
                    for i in range(3)]
        r.check(set(statuses) == {503},
                "POSTs answer 503 while Kafka is stopped", statuses)
        status, _, data = gw.request("GET", "/ready")
        r.check(status == 503, "ready answers 503 while Kafka is stopped",
                data)
    finally:
        if stopped:
            done = stack(args, "restart-service", "kafka")
            r.check(done.returncode == 0, "Kafka restarted",
                    done.stdout + done.stderr)
    try:
        deadline = time.time() + 90
        status = None
        while time.time() < deadline:
            status, _, data, _ = gw.post([event(100)], key_a)
            if status == 201:
                break
            time.sleep(1)
        r.check(status == 201, "201 again after Kafka is back",
                f"last status {status}")
    finally:
        code = gw.stop()
    r.check(code == 0, "gateway stops on SIGTERM", f"exit code {code}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--create-topic", required=True)
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--schemas", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--group", default="main",
                        choices=["main", "keys", "kafka-down",
                                 "kafka-stopped"])
    args = parser.parse_args()
    r = Results()
    if args.group in ("main", "kafka-stopped") and not os.environ.get(
            "KAFKA_BOOTSTRAP_SERVERS"):
        r.check(False, "KAFKA_BOOTSTRAP_SERVERS is set",
                'load the stack settings: eval "$(MA_STACK_NAME=test '
                'scripts/stack.sh env)"')
        return r.summary()
    with tempfile.TemporaryDirectory(prefix="ma-gateway-test-") as workdir:
        try:
            {"main": run_main, "keys": run_keys,
             "kafka-down": run_kafka_down,
             "kafka-stopped": run_kafka_stopped}[args.group](args, r, workdir)
        except Exception as error:  # report, then fail the run
            r.check(False, f"{args.group} ran to the end", repr(error))
            log = os.path.join(workdir, "gateway.log")
            if os.path.exists(log):
                with open(log, encoding="utf-8", errors="replace") as f:
                    print("# gateway log tail:")
                    for line in f.read().splitlines()[-30:]:
                        print(f"#   {line}")
    return r.summary()


if __name__ == "__main__":
    sys.exit(main())
