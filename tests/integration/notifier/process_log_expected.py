#!/usr/bin/env python3
"""Expected notifications of a process log, computed without the notifier.

Usage: process_log_expected.py LOG.csv MAPPING.json CATALOG.json SEED SECRET
                               RANK

Reads the CSV log, the mapping and the catalog as docs/process-logs.md
defines them: cases in order of first appearance, each run of
cases_per_customer cases sharing the customer generated from its first case
(HMAC-SHA-256 keyed with SEED over "personnummer:<case>"), kundhandelseId
"<case>-<concept:instance>", and a mapped activity becomes the event type
whose catalog "notification" says whether it notifies.

The customers are ranked by how many of their cases and event types
notify; RANK (0 = best) picks one.  Prints, one per line:
  pseudonym <32 hex>          HMAC-SHA-256(SECRET, "Personnummer:<number>")
  cases <n>                   how many cases the customer has
  event <kundhandelseId> <type> <kind>   each notifying event
The identity number itself is never printed.
"""
import csv
import datetime
import hashlib
import hmac
import json
import sys

BIRTH_FIRST = datetime.date(1940, 1, 1)
BIRTH_LAST = datetime.date(2005, 12, 31)


def luhn(digits):
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def personnummer(seed, case):
    digest = hmac.new(seed.encode(), b"personnummer:" + case.encode(),
                      hashlib.sha256).digest()
    span = (BIRTH_LAST - BIRTH_FIRST).days + 1
    born = BIRTH_FIRST + datetime.timedelta(
        days=int.from_bytes(digest[0:4], "big") % span)
    serial = int.from_bytes(digest[4:8], "big") % 1000
    ten = "%02d%02d%02d%03d" % (born.year % 100, born.month, born.day, serial)
    return "%04d" % born.year + ten[2:] + str(luhn(ten))


def main():
    log, mapping_path, catalog_path, seed, secret, rank = sys.argv[1:7]

    mapping = json.load(open(mapping_path, encoding="utf-8"))
    catalog = json.load(open(catalog_path, encoding="utf-8"))
    kinds = {}
    for producer in catalog["producers"]:
        for process in producer["processes"]:
            for event_type in process["event_types"]:
                kinds[event_type["name"]] = event_type.get("notification",
                                                           "none")

    cols = mapping.get("columns", {})
    col_case = cols.get("case_id", "case:concept:name")
    col_activity = cols.get("activity", "concept:name")
    col_instance = cols.get("instance", "concept:instance")
    col_lifecycle = cols.get("lifecycle", "lifecycle:transition")
    order, records = [], {}
    with open(log, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            case = row[col_case]
            if case not in records:
                order.append(case)
                records[case] = []
            records[case].append(row)

    per = mapping.get("cases_per_customer", 1)
    ranked = []
    for start in range(0, len(order), per):
        group = order[start:start + per]
        events = []
        for case in group:
            for row in records[case]:
                activity = mapping["activities"].get(row[col_activity])
                if activity is None or row.get(col_lifecycle,
                                               "complete") != "complete":
                    continue
                kind = kinds[activity["event_type"]]
                if kind != "none":
                    events.append((case + "-" + row[col_instance],
                                   activity["event_type"], kind, case))
        if events:
            cases = {e[3] for e in events}
            ranked.append((len(cases), len({e[1] for e in events}),
                           len(events), start, group, events))

    # Stable order: most notifying cases, then types, then events, then
    # position in the log.
    ranked.sort(key=lambda r: (-r[0], -r[1], -r[2], r[3]))
    _, _, _, _, group, events = ranked[int(rank)]
    number = personnummer(seed, group[0])
    pseudonym = hmac.new(secret.encode(), b"Personnummer:" + number.encode(),
                         hashlib.sha256).hexdigest()[:32]
    print("pseudonym", pseudonym)
    print("cases", len(group))
    for event in events:
        print("event", *event[:3])


if __name__ == "__main__":
    main()
