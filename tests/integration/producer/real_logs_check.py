#!/usr/bin/env python3
"""Checks the records ma-produce published from a real CSV process log,
decoding them with the Apache Avro Python library instead of the project's
own decoder.

Usage: real_logs_check.py CSV MAPPING SUMMARY RECORDS SCHEMA_DIR ORGNR

RECORDS is kcat output in the form '%k\\n%h\\n%S\\n%s\\n' (key, headers,
value size, value bytes).  SUMMARY is ma-produce's --summary-json file.
Checks: exactly the published number of records; every value is Avro
single-object encoded with the fingerprint of schemas/kundhandelse/v1.avsc;
each mapped CSV row became one event with its case, activity type and time;
one customer per case with a valid personnummer; keys are 32-character
pseudonyms that contain no identity number; CloudEvents headers are set.
Exits 1 with one line per problem.
"""
import collections
import csv
import datetime
import io
import json
import re
import sys

import avro.io
import avro.schema

problems = []


def problem(text):
    if len(problems) < 50:
        problems.append(text)


def strip_logical_types(node):
    if isinstance(node, dict):
        return {k: strip_logical_types(v) for k, v in node.items()
                if k != "logicalType"}
    if isinstance(node, list):
        return [strip_logical_types(v) for v in node]
    return node


def read_records(path):
    """Yields (key, headers dict, value bytes) from kcat's output."""
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        key = data[pos:end].decode()
        pos = end + 1
        end = data.index(b"\n", pos)
        header_text = data[pos:end].decode()
        pos = end + 1
        end = data.index(b"\n", pos)
        size = int(data[pos:end])
        pos = end + 1
        value = data[pos:pos + size]
        pos += size + 1
        headers = dict(item.split("=", 1) for item in header_text.split(",")
                       if "=" in item)
        yield key, headers, value


def instant_ms(text):
    """Returns (utc_ms, offset_min) of a log timestamp."""
    moment = datetime.datetime.fromisoformat(text)
    offset = int(moment.utcoffset().total_seconds() // 60)
    utc_ms = round(moment.timestamp() * 1000)
    return utc_ms, offset


def luhn_valid(digits):
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return total % 10 == 0


def main():
    csv_path, mapping_path, summary_path, records_path, schema_dir, orgnr = \
        sys.argv[1:7]
    mapping = json.load(open(mapping_path))
    summary = json.load(open(summary_path))
    columns = mapping["columns"]
    activities = mapping["activities"]

    # The events each case should produce: (activity type, utc ms, offset).
    expected = collections.defaultdict(list)
    with open(csv_path, newline="") as handle:
        for row in csv.DictReader(handle):
            activity = row[columns["activity"]]
            if activity not in activities:
                continue
            lifecycle = row.get(columns.get("lifecycle", ""), "complete")
            if lifecycle and lifecycle != "complete":
                continue
            ms, offset = instant_ms(row[columns["timestamp"]])
            expected[row[columns["case_id"]]].append(
                (activities[activity]["event_type"], ms, offset))

    schema_json = json.load(open(f"{schema_dir}/kundhandelse/v1.avsc"))
    schema = avro.schema.parse(json.dumps(strip_logical_types(schema_json)))
    fingerprint = schema.fingerprint("CRC-64-AVRO")
    reader = avro.io.DatumReader(schema)

    records = list(read_records(records_path))
    if len(records) != summary["published"]:
        problem(f"{len(records)} records on the topic, but ma-produce "
                f"published {summary['published']}")

    seen_ids = set()
    ce_ids = set()
    actual = collections.defaultdict(list)
    customers = collections.defaultdict(set)
    for key, headers, value in records:
        if value[:2] != b"\xc3\x01":
            problem(f"record without the single-object marker: {value[:2]!r}")
            continue
        if value[2:10] != fingerprint:
            problem(f"fingerprint {value[2:10].hex()} is not that of "
                    f"kundhandelse v1 ({fingerprint.hex()})")
            continue
        event = reader.read(avro.io.BinaryDecoder(io.BytesIO(value[10:])))
        event_id = event["kundhandelseId"]
        if event_id in seen_ids:
            problem(f"kundhandelseId {event_id} appears twice")
        seen_ids.add(event_id)
        if event["producentOrganisationsnummer"] != orgnr:
            problem(f"{event_id}: producentOrganisationsnummer "
                    f"{event['producentOrganisationsnummer']}")
        kund = event["part"]["kund"]
        arende = event["part"]["arende"]
        if kund is None or arende is None:
            problem(f"{event_id}: part lacks kund or arende")
            continue
        number = kund["identifierare"]
        if not (re.fullmatch(r"\d{12}", number) and luhn_valid(number[2:])):
            problem(f"{event_id}: customer is not a valid 12-digit number")
        if not re.fullmatch(r"[0-9a-f]{32}", key):
            problem(f"{event_id}: key is not a 32-character pseudonym")
        if number in key or number[2:] in key:
            problem(f"{event_id}: the key contains the identity number")
        if any(number[2:] in v for v in headers.values()):
            problem(f"{event_id}: a header contains the identity number")
        for name, want in (("ce_specversion", "1.0"),
                           ("ce_type", "se.minaarenden.kundhandelse.v1"),
                           ("ce_source", f"urn:minaarenden:producent:{orgnr}"),
                           ("content-type", "application/avro")):
            if headers.get(name) != want:
                problem(f"{event_id}: header {name} is "
                        f"{headers.get(name)!r}, expected {want!r}")
        ce_ids.add(headers.get("ce_id"))
        for text_field in ("rubrik", "beskrivning"):
            if "{" in event[text_field] or not event[text_field].strip():
                problem(f"{event_id}: {text_field} has an unfilled "
                        f"placeholder or is empty")
        case = next((c for c in expected if event_id.startswith(c + "-")),
                    None)
        if case is None:
            problem(f"{event_id}: no case of the log matches this id")
            continue
        tidpunkt = event["tidpunkt"]
        actual[case].append((event["kundhandelseTyp"], tidpunkt["utc"],
                             tidpunkt["offsetMinuter"]))
        customers[case].add(number)

    if len(ce_ids) != len(records):
        problem(f"{len(records) - len(ce_ids)} records share a ce_id")
    for case, events in expected.items():
        if sorted(actual.get(case, [])) != sorted(events):
            problem(f"case {case}: events (type, utc ms, offset) "
                    f"{sorted(actual.get(case, []))} differ from the log's "
                    f"{sorted(events)}")
    for case, numbers in customers.items():
        if len(numbers) != 1:
            problem(f"case {case} has {len(numbers)} customers, expected 1")

    for text in problems:
        print(f"real_logs_check: {text}", file=sys.stderr)
    if problems:
        return 1
    print(f"real_logs_check: {len(records)} records of {len(expected)} cases "
          f"match {csv_path.rsplit('/', 1)[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
