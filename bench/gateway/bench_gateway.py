#!/usr/bin/env python3
"""Measures ma-gateway throughput: events/s with batches of 1000 events.

Starts its own ma-gateway on a free loopback port against the Kafka in
KAFKA_BOOTSTRAP_SERVERS, with a fresh key and a topic prefix of its own,
then sends --requests POST /kundhandelser requests of --batch events from
--clients threads (one keep-alive connection each).  Every answer must be
201; the run reports events/s, requests/s and latency percentiles.

Bounded: at most --requests requests and --max-seconds of sending; it
stops the gateway (SIGTERM) before it exits.

Example (test stack running, build in build/):
  eval "$(MA_STACK_NAME=test scripts/stack.sh env)"
  bench/gateway/bench_gateway.py \
      --gateway build/producers/ma-gateway \
      --create-topic build/tests/integration/gateway/gw_create_topic \
      --requests 60 --clients 1,2,4
"""

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CATALOG = os.path.join(ROOT, "tests", "integration", "gateway",
                       "catalog.json")
SECRET = "gateway-bench-pseudonym-secret"
# Valid-checksum test personnummer made up for the tests (1940s-1970s).
PNR = ["194503121230", "196207082345", "197812243454"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def batch_body(run, request, size):
    events = []
    for i in range(size):
        events.append({
            "kundhandelseId": f"bench-{run}-{request}-{i}",
            "part": {"kund": {"identifierare": PNR[i % len(PNR)],
                              "typ": "Personnummer"}},
            "rubrik": "Ansökan mottagen",
            "beskrivning": "Vi har tagit emot din ansökan och börjar "
                           "handlägga den inom två veckor.",
            "tidpunkt": "2026-12-01T10:00:00+01:00",
            "kundhandelseTyp": "GWA.ANSOKAN.MOTTAGEN",
            "producentarendetKraverKundatgard": False,
            "producentarendetKlart": False,
            "sekvens": 1,
        })
    return json.dumps(events).encode()


def client(port, key, bodies, deadline, latencies, failures, lock):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    try:
        while time.time() < deadline:
            with lock:
                if not bodies:
                    return
                body = bodies.pop()
            started = time.perf_counter()
            connection.request("POST", "/kundhandelser", body, headers)
            response = connection.getresponse()
            data = response.read()
            elapsed = time.perf_counter() - started
            with lock:
                if response.status == 201:
                    latencies.append(elapsed)
                else:
                    failures.append((response.status, data[:200]))
    finally:
        connection.close()


def run_level(port, key, run, clients, requests, batch, max_seconds):
    bodies = [batch_body(run, r, batch) for r in range(requests)]
    latencies, failures = [], []
    lock = threading.Lock()
    deadline = time.time() + max_seconds
    threads = [threading.Thread(target=client,
                                args=(port, key, bodies, deadline, latencies,
                                      failures, lock))
               for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    done = len(latencies)
    latencies.sort()
    return {
        "clients": clients,
        "requests": done,
        "failed": len(failures),
        "events_per_s": done * batch / wall if wall else 0.0,
        "requests_per_s": done / wall if wall else 0.0,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else 0,
        "p99_ms": 1000 * latencies[min(done - 1, int(done * 0.99))]
        if latencies else 0,
        "failures": failures[:3],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--create-topic", required=True)
    parser.add_argument("--requests", type=int, default=60,
                        help="requests per concurrency level")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", default="1,2,4",
                        help="comma-separated concurrency levels")
    parser.add_argument("--max-seconds", type=float, default=120,
                        help="sending time limit per level")
    args = parser.parse_args()
    brokers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not brokers:
        sys.exit('KAFKA_BOOTSTRAP_SERVERS is not set: eval "$(MA_STACK_NAME='
                 'test scripts/stack.sh env)"')
    run = f"{os.getpid()}t{int(time.time())}"
    prefix = f"gwbench{run}."
    with tempfile.TemporaryDirectory(prefix="ma-gateway-bench-") as workdir:
        keys = os.path.join(workdir, "keys.jsonl")
        key = subprocess.run([args.gateway, "keys", "add", "--producer",
                              "GWA", "--file", keys], check=True,
                             capture_output=True, text=True).stdout.strip()
        subprocess.run([args.create_topic, brokers,
                        f"{prefix}kundhandelser.gwa"], check=True)
        port = free_port()
        log = open(os.path.join(workdir, "gateway.log"), "w")
        gateway = subprocess.Popen(
            [args.gateway, f"--listen.port={port}", f"--keys.file={keys}",
             f"--catalog={CATALOG}",
             f"--schemas.dir={os.path.join(ROOT, 'schemas')}",
             f"--kafka.brokers={brokers}", f"--kafka.topic-prefix={prefix}",
             "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, MA_PSEUDONYM_SECRET=SECRET))
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            # One warm-up request creates the Kafka producer.
            run_level(port, key, run + "w", 1, 2, args.batch, 60)
            print(f"batch={args.batch} requests_per_level={args.requests}")
            print("clients  requests  failed  events/s  requests/s  "
                  "p50_ms  p99_ms")
            for level in [int(c) for c in args.clients.split(",")]:
                result = run_level(port, key, f"{run}c{level}", level,
                                   args.requests, args.batch,
                                   args.max_seconds)
                print(f"{result['clients']:7d}  {result['requests']:8d}  "
                      f"{result['failed']:6d}  {result['events_per_s']:8.0f}"
                      f"  {result['requests_per_s']:10.1f}  "
                      f"{result['p50_ms']:6.0f}  {result['p99_ms']:6.0f}",
                      flush=True)
                for failure in result["failures"]:
                    print(f"  failure: {failure}")
        finally:
            gateway.send_signal(signal.SIGTERM)
            try:
                gateway.wait(timeout=60)
            except subprocess.TimeoutExpired:
                gateway.kill()
            log.close()


if __name__ == "__main__":
    main()
