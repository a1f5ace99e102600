#!/usr/bin/env python3
"""Compares records read back from Kafka with the JSON Lines input.

Usage: compare_records.py INPUT.jsonl RECORDS.jsonl PREFIX ORGNR PRODUCENT

RECORDS.jsonl is producer_check decode output.  Checks, per input line,
that one record carries the same fields (defaults applied as ma-produce
applies them), the CloudEvents headers, and a pseudonymous key; and that no
key or header contains an identity number of the input.  Exits 1 with one
line per difference.
"""
import json
import re
import sys
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def instant(text):
    """Returns (utc_ms, offset_min) of RFC 3339 or local Swedish time."""
    if re.search(r"(Z|[+-]\d\d:\d\d)$", text):
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    else:
        moment = datetime.fromisoformat(text).replace(tzinfo=STOCKHOLM)
    offset = int(moment.utcoffset().total_seconds() // 60)
    utc = moment.astimezone(timezone.utc)
    ms = int(utc.timestamp()) * 1000 + utc.microsecond // 1000
    return ms, offset


def expected_event(line, producent, orgnr):
    if line.get("aterkalla"):
        ms, _ = instant(line["tidpunkt"])
        return {
            "kind": "aterkallelse",
            "kundhandelseId": line["kundhandelseId"],
            "producentOrganisationsnummer": orgnr,
            "part": part(line["part"]),
            "utc_ms": ms,
            "offset_min": 0,
            "sekvens": line.get("sekvens", ms),
            "orsak": line.get("orsak"),
        }
    ms, offset = instant(line["tidpunkt"])
    event = {
        "kind": "kundhandelse",
        "kundhandelseId": line["kundhandelseId"],
        "producentOrganisationsnummer": orgnr,
        "part": part(line["part"]),
        "utc_ms": ms,
        "offset_min": offset,
        "sekvens": line.get("sekvens", ms),
        "producent": line.get("producent", producent),
        "rubrik": line["rubrik"],
        "beskrivning": line["beskrivning"],
        "sprak": line.get("sprak", "sv"),
        "kundhandelseTyp": line["kundhandelseTyp"],
        "producentarendetKraverKundatgard":
            line["producentarendetKraverKundatgard"],
        "producentarendetKlart": line["producentarendetKlart"],
        "version": line.get("version", "6.1"),
        "utokadInformation": line.get("utokadInformation"),
        "referenser": line.get("referenser"),
        "taggar": line.get("taggar", []),
        "giltigTill": line.get("giltigTill"),
        "atgardSenast": line.get("atgardSenast"),
        "kundhandelsereferens": line.get("kundhandelsereferens"),
    }
    return event


def part(value):
    out = {}
    if value.get("kund"):
        kund = dict(value["kund"])
        kund.setdefault("tillagg", None)
        out["kund"] = kund
    if value.get("arende"):
        out["arende"] = dict(value["arende"])
    return out


def normalise(event):
    """Decoded JSON-object text becomes an object, so order and spacing
    do not matter."""
    event = dict(event)
    for name in ("utokadInformation", "referenser"):
        if isinstance(event.get(name), str):
            event[name] = json.loads(event[name])
    return event


def identity_numbers(lines):
    numbers = set()
    for line in lines:
        kund = line.get("part", {}).get("kund")
        if kund:
            number = kund["identifierare"]
            numbers.add(number)
            numbers.add(number[-10:])
    return numbers


def main():
    input_path, records_path, prefix, orgnr, producent = sys.argv[1:6]
    lines = [json.loads(l) for l in open(input_path, encoding="utf-8")
             if l.strip()]
    records = [json.loads(l) for l in open(records_path, encoding="utf-8")]
    problems = []
    if len(records) != len(lines):
        problems.append(f"{len(records)} records for {len(lines)} lines")

    by_ce_id = {}
    for record in records:
        by_ce_id.setdefault(record["headers"].get("ce_id"), []).append(record)

    secrets = identity_numbers(lines)
    keys_by_kund = {}
    for number, line in enumerate(lines, 1):
        want = expected_event(line, producent, orgnr)
        ce_id = f"{prefix}:{want['kundhandelseId']}:{want['sekvens']}"
        found = by_ce_id.get(ce_id, [])
        if len(found) != 1:
            problems.append(f"line {number}: {len(found)} records with "
                            f"ce_id {ce_id}")
            continue
        record = found[0]
        got = normalise(record.get("event", {}))
        for name, value in want.items():
            if got.get(name) != value:
                problems.append(f"line {number}: {name} is "
                                f"{got.get(name)!r}, expected {value!r}")
        headers = record["headers"]
        retraction = want["kind"] == "aterkallelse"
        want_headers = {
            "ce_specversion": "1.0",
            "ce_source": f"urn:minaarenden:producent:{orgnr}",
            "ce_type": "se.minaarenden."
                       + ("aterkallelse" if retraction else "kundhandelse")
                       + ".v1",
            "content-type": "application/avro",
        }
        if not retraction:
            want_headers["ce_subject"] = want["kundhandelseTyp"]
        for name, value in want_headers.items():
            if headers.get(name) != value:
                problems.append(f"line {number}: header {name} is "
                                f"{headers.get(name)!r}, expected {value!r}")
        if retraction and "ce_subject" in headers:
            problems.append(f"line {number}: retraction has ce_subject")
        ce_ms, _ = instant(headers.get("ce_time", "1970-01-01T00:00:00Z"))
        if ce_ms != want["utc_ms"]:
            problems.append(f"line {number}: ce_time {headers.get('ce_time')}"
                            f" is not tidpunkt")
        key = record["key"]
        if not re.fullmatch(r"[0-9a-f]{32}", key):
            problems.append(f"line {number}: key is not 32 hex digits")
        kund = json.dumps(want["part"].get("kund") or want["part"],
                          sort_keys=True)
        keys_by_kund.setdefault(kund, set()).add(key)
        visible = key + json.dumps(headers)
        for secret in secrets:
            if secret in visible:
                problems.append(f"line {number}: key or headers contain an "
                                f"identity number of the input")
    for kund, keys in keys_by_kund.items():
        if len(keys) != 1:
            problems.append(f"one customer has {len(keys)} different keys")
    all_keys = [next(iter(k)) for k in keys_by_kund.values()]
    if len(set(all_keys)) != len(all_keys):
        problems.append("different customers share a key")

    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{len(lines)} lines match {len(records)} records")


if __name__ == "__main__":
    main()
