#!/usr/bin/env python3
"""CPU time per question of ma-api and of PostgreSQL, one request at a time.

Usage: cpu.py MA_API PGDATA KEY BODYFILE COUNT [MIGRATIONS_DIR]

Starts the ma-api binary MA_API with one HTTP thread (MA_DATABASE_URL and
MA_PSEUDONYM_SECRET from the environment), sends 20 warm-up questions and
then COUNT questions (BODYFILE) on one keep-alive connection, and prints the
CPU time per question of ma-api and of the PostgreSQL cluster whose data
directory is PGDATA: its postmaster with the children it has reaped, and
the children still running. CPU time is less sensitive to other load on
the machine than rates, but the cluster's share includes its background
processes (WAL writer, autovacuum) during the run.
"""
import http.client
import os
import re
import subprocess
import sys
import tempfile
import time

binary, pgdata, key, bodyfile = sys.argv[1:5]
count = int(sys.argv[5])
migrations = sys.argv[6] if len(sys.argv) > 6 else os.path.join(
    os.getcwd(), "schemas", "sql")
TICK = os.sysconf("SC_CLK_TCK")


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def process_cpu(pid):
    try:
        fields = stat(pid)
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def cluster_cpu():
    with open(os.path.join(pgdata, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    # utime, stime, cutime, cstime: reaped children count in the last two.
    total = sum(int(x) for x in stat(postmaster)[11:15]) / TICK
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if int(stat(name)[1]) == postmaster:
                total += process_cpu(name)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def main():
    log = tempfile.NamedTemporaryFile("w+", prefix="ma-api-cpu-", delete=False)
    api = subprocess.Popen(
        [binary, "--listen.port=0", "--http.threads=1",
         f"--catalog.path={os.getcwd()}/schemas/catalog.json",
         f"--migrations.dir={migrations}"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        port = None
        for _ in range(200):
            with open(log.name) as f:
                found = re.search(r"msg=listening .*port=(\d+)", f.read())
            if found:
                port = int(found.group(1))
                break
            if api.poll() is not None:
                break
            time.sleep(0.1)
        if port is None:
            sys.exit("ma-api did not start: " + open(log.name).read())
        body = open(bodyfile, "rb").read()
        headers = {"Content-Type": "application/json", "X-API-Key": key,
                   "skv_client_correlation_id": "bench-cpu"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def ask():
            conn.request("POST", "/kundhandelseFragaSynkron", body, headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                sys.exit(f"question answered {response.status}")

        for _ in range(20):
            ask()
        api0, pg0, t0 = process_cpu(api.pid), cluster_cpu(), time.time()
        for _ in range(count):
            ask()
        api1, pg1, t1 = process_cpu(api.pid), cluster_cpu(), time.time()
    finally:
        api.terminate()
        api.wait()
        os.unlink(log.name)
    print(f"{1e6 * (api1 - api0) / count:.0f} {1e6 * (pg1 - pg0) / count:.0f} "
          f"{1e6 * (t1 - t0) / count:.0f}")


if __name__ == "__main__":
    main()
