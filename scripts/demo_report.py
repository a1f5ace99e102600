#!/usr/bin/env python3
"""Waits until the processor has applied every published event of the demo
and read every record on the producer topics, and until the notifier has
delivered every notification that is due, then prints per input what was
read, published, applied, rejected and skipped, and the notifications per
consumer.

The producers' JSON summaries (ma-produce --summary-json) give read,
published, rejected and skipped; the views give applied (events per topic
in the kundhandelse table) and the processor's rejections (rows per topic
in rejected_events).  Event ids are deterministic, so a replay publishes the
same ids and the expected count per topic is the sum of distinct events
published to it, which equals the published count of the latest run.
Notifications come from the notifier's outbox (notifier_notification):
delivered means the broker acknowledged them; reminders due later stay
pending.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import time
import urllib.request


def query_counts(database_url, table):
    """Returns {topic: rows} of table, or None while the table is missing."""
    column = "kafka_topic" if table == "kundhandelse" else "topic"
    result = subprocess.run(
        ["psql", database_url, "-Atqc",
         f"SELECT {column}, count(*) FROM {table} GROUP BY 1"],
        capture_output=True, text=True)
    if result.returncode != 0:
        return None
    counts = {}
    for line in result.stdout.splitlines():
        topic, _, count = line.partition("|")
        counts[topic] = int(count)
    return counts


def total_lag(metrics_url):
    """Returns the processor's summed partition lag, or None if unknown."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    lags = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("ma_processor_partition_lag{")]
    return sum(lags) if lags else None


def due_notifications(database_url):
    """Returns how many notifications are due and not yet delivered, or None
    while the outbox table is missing."""
    result = subprocess.run(
        ["psql", database_url, "-Atqc",
         "SELECT count(*) FROM notifier_notification "
         "WHERE state = 'pending' AND due_at <= now()"],
        capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return int(result.stdout.strip())


def notification_counts(database_url):
    """Returns [(consumer, delivered, pending, cancelled)] of the outbox."""
    result = subprocess.run(
        ["psql", database_url, "-AtqF", "|", "-c",
         "SELECT consumer_id, count(*) FILTER (WHERE state = 'delivered'), "
         "count(*) FILTER (WHERE state = 'pending'), "
         "count(*) FILTER (WHERE state = 'cancelled') "
         "FROM notifier_notification GROUP BY 1 ORDER BY 1"],
        capture_output=True, text=True)
    if result.returncode != 0:
        return []
    return [tuple(line.split("|")) for line in result.stdout.splitlines()]


def metric_sum(metrics_url, name):
    """Returns the sum of a metric's samples, or None when the endpoint
    cannot be reached."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    # A counter without samples has not counted anything yet.
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def process_alive(pid):
    """Returns whether pid runs and is not a zombie."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", required=True,
                        help="folder of ma-produce JSON summaries")
    parser.add_argument("--wait", type=int, default=300,
                        help="seconds to wait for the processor")
    parser.add_argument("--metrics-url", required=True,
                        help="the processor's Prometheus endpoint")
    parser.add_argument("--notifier-metrics-url",
                        help="the notifier's Prometheus endpoint")
    parser.add_argument("--processor-pid", type=int, required=True,
                        help="pid of ma-processor, to stop waiting if it exits")
    parser.add_argument("--processor-log", required=True,
                        help="the processor's log, shown if it exits")
    args = parser.parse_args()
    database_url = os.environ["DATABASE_URL"]

    reports = []
    for path in sorted(pathlib.Path(args.reports).glob("*.json")):
        reports.append((path.stem, json.loads(path.read_text())))
    expected = {}
    for _, summary in reports:
        expected[summary["topic"]] = (expected.get(summary["topic"], 0)
                                      + summary["published"])

    deadline = time.monotonic() + args.wait
    applied = {}
    while True:
        applied = query_counts(database_url, "kundhandelse") or {}
        missing = {t: n - applied.get(t, 0) for t, n in expected.items()
                   if applied.get(t, 0) < n}
        # A replay leaves the counts as they were, so the lag tells when
        # the processor has also read the replayed records.
        lag = total_lag(args.metrics_url)
        due = due_notifications(database_url)
        if not missing and lag == 0 and due == 0:
            break
        if not process_alive(args.processor_pid):
            print(f"demo: ma-processor (pid {args.processor_pid}) exited "
                  f"before applying every event; the end of its log "
                  f"{args.processor_log}:", file=sys.stderr)
            lines = pathlib.Path(args.processor_log).read_text(
                errors="replace").splitlines()
            for line in lines[-10:]:
                print(f"  {line}", file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            print(f"demo: timed out after {args.wait} s waiting for the "
                  f"processor and the notifier; events still missing per "
                  f"topic: {missing}, "
                  f"partition lag {lag}, notifications due and not "
                  f"delivered {due}; see the logs under .run/demo/logs/",
                  file=sys.stderr)
            return 1
        time.sleep(1)
    rejected = query_counts(database_url, "rejected_events") or {}

    header = (f"{'input':<20} {'topic':<24} {'read':>6} {'published':>9} "
              f"{'applied':>7} {'rejected':>8} {'skipped':>7}")
    print("demo: report (applied = the input's events now in the views, so "
          "a replay shows the same figure; rejected = by the producer + by "
          "the processor)")
    print(header)
    for name, s in reports:
        topic = s["topic"]
        print(f"{name:<20} {topic:<24} {s['read']:>6} {s['published']:>9} "
              f"{applied.get(topic, 0):>7} "
              f"{s['rejected'] + rejected.get(topic, 0):>8} {s['skipped']:>7}")
    print()
    print("demo: notifications in the outbox (delivered = acknowledged by "
          "the broker; pending = reminders due later)")
    print(f"{'consumer':<20} {'delivered':>9} {'pending':>7} {'cancelled':>9}")
    for consumer, delivered, pending, cancelled in notification_counts(
            database_url):
        print(f"{consumer:<20} {delivered:>9} {pending:>7} {cancelled:>9}")
    if args.notifier_metrics_url:
        acknowledged = metric_sum(args.notifier_metrics_url,
                                  "ma_notifier_acknowledged_total")
        if acknowledged is not None:
            print(f"ma-notifier acknowledged since it started: "
                  f"{int(acknowledged)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
