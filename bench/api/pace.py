#!/usr/bin/env python3
"""Send ma-api's synchronous question at a fixed rate (open loop).

Usage: pace.py PORT KEY BODYFILE RATE SECONDS CONNECTIONS

Each of CONNECTIONS processes keeps one keep-alive connection and sends at
RATE/CONNECTIONS per second on a fixed schedule. Latency counts from the
scheduled send time, so a late send adds to it (no coordinated omission).
Processes rather than threads, so that reading one 23 KB response does not
hold up the other connections behind Python's global interpreter lock.
Output is one line: sent, ok (status 200), ok/s, p50 ms, p99 ms, max ms.
"""
import http.client
import multiprocessing
import sys
import time

port, key, bodyfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rate, seconds, connections = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
body = open(bodyfile, "rb").read()


def worker(n, start, results):
    interval = connections / rate
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "X-API-Key": key,
               "skv_client_correlation_id": f"bench-pace-{n}"}
    local, i = [], 0
    nok = nbad = 0
    while True:
        due = start + n * interval / connections + i * interval
        if due >= start + seconds:
            break
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        try:
            conn.request("POST", "/kundhandelseFragaSynkron", body, headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 0
        local.append(time.monotonic() - due)
        if status == 200:
            nok += 1
        else:
            nbad += 1
        i += 1
    results.put((local, nok, nbad))


# time.monotonic() is one clock for every process of the machine (Linux
# CLOCK_MONOTONIC), so the workers share the schedule's start.
start = time.monotonic() + 0.5
results = multiprocessing.Queue()
workers = [multiprocessing.Process(target=worker, args=(n, start, results))
           for n in range(connections)]
for w in workers:
    w.start()
latencies, ok, bad = [], [0], [0]
for _ in workers:
    local, nok, nbad = results.get()
    latencies.extend(local)
    ok[0] += nok
    bad[0] += nbad
for w in workers:
    w.join()
elapsed = time.monotonic() - start
latencies.sort()


def pct(p):
    return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")


print(f"{len(latencies)} {ok[0]} {ok[0] / elapsed:.0f} {pct(0.5):.2f} {pct(0.99):.2f} "
      f"{latencies[-1] * 1000 if latencies else float('nan'):.2f}")
