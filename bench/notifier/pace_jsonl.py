#!/usr/bin/env python3
"""Paced kundhändelser for the notifier benchmark, and their analysis.

pace_jsonl.py send RUN RATE SECONDS CUSTOMERS
    Writes RATE*SECONDS JSON Lines events of type NTFA.ANSOKAN.BESLUT
    (notification "decision", tests/integration/notifier/catalog.json) to
    standard output on a fixed schedule, for ma-produce to read.  Event i is
    due at start + i/RATE; its kundhandelseId "<RUN>-<i>-<due µs>" carries
    that scheduled send time, so a late write adds to the latency (no
    coordinated omission).  Customer i % CUSTOMERS, each case its own.
pace_jsonl.py pseudonyms SECRET CUSTOMERS
    Prints the customers' pseudonyms, one a line (HMAC-SHA-256(SECRET,
    "Personnummer:<number>"), the first 16 bytes as hex).
pace_jsonl.py latency FILE [OUTBOX]
    Reads mosquitto_sub -F '%U %p' output and prints "count p50 p99 max"
    (ms, receive time minus scheduled send time), counting each
    kundhandelseId once (its first arrival).  With OUTBOX, lines
    "<kundhandelseId> <epoch s of created_at> [<epoch s of first_sent_at>
    [<epoch s of the processor's commit>]]" from notifier_notification, it
    also prints the p50 and p99 of the part before the outbox row's
    transaction began (send → processor transaction) and after it; with
    first_sent_at (now() of the notifier's first claim of the row) also of
    the parts from the processor's transaction to that claim and from the
    claim to the subscriber; with the commit time (PostgreSQL's
    track_commit_timestamp) also from the transaction's start to its
    commit and from the commit to the claim.
pace_jsonl.py rate FILE
    Prints "count rate": messages over the time from the first to the last
    arrival.
The identity numbers are test personnummer born on 1961-01-01 with a
computed Luhn digit.
"""
import hashlib
import hmac
import json
import sys
import time


def personnummer(n):
    ten = "610101%03d" % (n % 1000)
    total = 0
    for i, ch in enumerate(ten):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return "19" + ten + str((10 - total % 10) % 10)


def send(run, rate, seconds, customers):
    count = int(rate * seconds)
    out = sys.stdout
    start = time.time() + 0.2
    i = 0
    while i < count:
        now = time.time()
        lines = []
        while i < count and start + i / rate <= now:
            due_us = int((start + i / rate) * 1e6)
            lines.append(json.dumps({
                "kundhandelseId": "%s-%d-%d" % (run, i, due_us),
                "part": {"kund": {"identifierare": personnummer(i % customers),
                                  "typ": "Personnummer"},
                         "arende": {"identifierare": "B-%s-%d" % (run, i),
                                    "typ": "Diarienummer"}},
                "rubrik": "Beslut", "beskrivning": "Ansökan är beviljad.",
                "tidpunkt": time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                                          time.gmtime(due_us / 1e6)),
                "kundhandelseTyp": "NTFA.ANSOKAN.BESLUT",
                "producentarendetKraverKundatgard": False,
                "producentarendetKlart": True, "sekvens": 1}))
            i += 1
        if lines:
            out.write("\n".join(lines) + "\n")
            out.flush()
        else:
            time.sleep(min(0.001, max(0.0, start + i / rate - now)))


def arrivals(path):
    seen = {}
    for line in open(path, encoding="utf-8"):
        stamp, _, payload = line.partition(" ")
        try:
            kid = json.loads(payload)["kundhandelseId"]
        except ValueError:
            continue
        seen.setdefault(kid, float(stamp))
    return seen


def main():
    mode = sys.argv[1]
    if mode == "send":
        send(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]),
             int(sys.argv[5]))
    elif mode == "pseudonyms":
        for n in range(int(sys.argv[3])):
            print(hmac.new(sys.argv[2].encode(),
                           b"Personnummer:" + personnummer(n).encode(),
                           hashlib.sha256).hexdigest()[:32])
    elif mode == "latency":
        seen = arrivals(sys.argv[2])
        lags = sorted((t - int(k.rsplit("-", 1)[1]) / 1e6) * 1000
                      for k, t in seen.items())
        pick = lambda v, q: v[min(len(v) - 1, int(q * len(v)))]
        line = "%d %.1f %.1f %.1f" % (len(lags), pick(lags, 0.5),
                                      pick(lags, 0.99), lags[-1])
        if len(sys.argv) > 3:
            created = {}
            claimed = {}
            committed = {}
            for row in open(sys.argv[3]):
                fields = row.split()
                created[fields[0]] = float(fields[1])
                if len(fields) > 2:
                    claimed[fields[0]] = float(fields[2])
                if len(fields) > 3:
                    committed[fields[0]] = float(fields[3])
            before = sorted((created[k] - int(k.rsplit("-", 1)[1]) / 1e6)
                            * 1000 for k in seen if k in created)
            after = sorted((t - created[k]) * 1000
                           for k, t in seen.items() if k in created)
            line += " %.1f %.1f %.1f %.1f" % (
                pick(before, 0.5), pick(before, 0.99), pick(after, 0.5),
                pick(after, 0.99))
            if claimed:
                to_claim = sorted((claimed[k] - created[k]) * 1000
                                  for k in seen if k in claimed)
                from_claim = sorted((t - claimed[k]) * 1000
                                    for k, t in seen.items() if k in claimed)
                line += " %.1f %.1f %.1f %.1f" % (
                    pick(to_claim, 0.5), pick(to_claim, 0.99),
                    pick(from_claim, 0.5), pick(from_claim, 0.99))
            if claimed and committed:
                to_commit = sorted((committed[k] - created[k]) * 1000
                                   for k in seen if k in committed)
                commit_to_claim = sorted((claimed[k] - committed[k]) * 1000
                                         for k in seen
                                         if k in committed and k in claimed)
                line += " %.1f %.1f %.1f %.1f" % (
                    pick(to_commit, 0.5), pick(to_commit, 0.99),
                    pick(commit_to_claim, 0.5), pick(commit_to_claim, 0.99))
        print(line)
    elif mode == "rate":
        stamps = [float(l.split(" ", 1)[0]) for l in open(sys.argv[2])]
        span = max(stamps) - min(stamps)
        print("%d %.0f" % (len(stamps), len(stamps) / span if span else 0))
    else:
        sys.exit("pace_jsonl.py: unknown mode " + mode)


if __name__ == "__main__":
    main()
