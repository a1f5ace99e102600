"""Interop between the mina-arenden codec and the Apache Avro Python library.

Usage: interop.py MA_AVRO_CAT SCHEMA_DIR WORK_DIR

(a) ma-avro-cat encodes each event in events/; Python checks the C3 01
    marker, compares the fingerprint with the CRC-64-AVRO it computes itself
    and decodes the body with its own reader.
(b) Python writes each event as a single-object message and ma-avro-cat
    decodes it.
Exits non-zero with a message on the first difference.
"""

import datetime
import io
import json
import os
import subprocess
import sys

import avro.io
import avro.schema

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
KINDS = {
    "publish": ("kundhandelse", "events/publish.json"),
    "retract": ("aterkallelse", "events/retract.json"),
}


def fail(message):
    print("interop: FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def strip_logical_types(node):
    """Returns schema JSON without logicalType attributes."""
    if isinstance(node, dict):
        return {k: strip_logical_types(v) for k, v in node.items()
                if k != "logicalType"}
    if isinstance(node, list):
        return [strip_logical_types(v) for v in node]
    return node


def ms_from_datetime(value):
    delta = value - EPOCH
    return (delta.days * 86400000 + delta.seconds * 1000
            + delta.microseconds // 1000)


def to_python_datum(event, kind):
    """Converts fixture JSON to the values avro's logical types expect."""
    datum = json.loads(json.dumps(event))
    to_dt = lambda ms: EPOCH + datetime.timedelta(milliseconds=ms)
    if kind == "publish":
        datum["tidpunkt"]["utc"] = to_dt(event["tidpunkt"]["utc"])
        for key in ("giltigTill", "atgardSenast"):
            if datum[key] is not None:
                datum[key] = datetime.date(1970, 1, 1) + datetime.timedelta(
                    days=datum[key])
    else:
        datum["tidpunkt"] = to_dt(event["tidpunkt"])
    return datum


def from_python_datum(datum, kind):
    """Converts what avro's reader returns back to fixture JSON values."""
    event = dict(datum)
    if kind == "publish":
        event["tidpunkt"] = dict(datum["tidpunkt"])
        event["tidpunkt"]["utc"] = ms_from_datetime(datum["tidpunkt"]["utc"])
        for key in ("giltigTill", "atgardSenast"):
            if event[key] is not None:
                event[key] = (event[key] - datetime.date(1970, 1, 1)).days
    else:
        event["tidpunkt"] = ms_from_datetime(datum["tidpunkt"])
    return event


def run_cat(cat, schema_dir, *args, check=True):
    result = subprocess.run([cat, "--schemas", schema_dir, *args],
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        fail("ma-avro-cat %s failed: %s" % (" ".join(args), result.stderr))
    return result


def our_canonical_forms(cat, schema_dir):
    """Maps subject to (fingerprint, canonical form) as ma-avro-cat prints."""
    forms = {}
    out = run_cat(cat, schema_dir, "fingerprints").stdout
    for line in out.splitlines():
        subject, version, _, fp_hex, canonical = line.split(" ", 4)
        if version == "v1":
            forms[subject] = (int(fp_hex, 16), canonical)
    return forms


def check_kind(cat, schema_dir, work, kind, ours):
    subject, fixture = KINDS[kind]
    with open(os.path.join(HERE, fixture), encoding="utf-8") as f:
        event = json.load(f)
    with open(os.path.join(schema_dir, subject, "v1.avsc"),
              encoding="utf-8") as f:
        schema_json = json.load(f)
    schema = avro.schema.parse(json.dumps(schema_json))
    plain = avro.schema.parse(json.dumps(strip_logical_types(schema_json)))
    # avro returns the fingerprint as 8 bytes, little-endian as in the header.
    spec_fp = plain.fingerprint("CRC-64-AVRO")

    # The spec's canonical form and fingerprint, computed by Python.
    our_fp, our_canonical = ours[subject]
    if plain.canonical_form != our_canonical:
        fail("%s: canonical form differs:\n python %s\n ours   %s"
             % (subject, plain.canonical_form, our_canonical))
    if int.from_bytes(spec_fp, "little") != our_fp:
        fail("%s: fingerprint differs: python %s, ours %016x"
             % (subject, spec_fp.hex(), our_fp))

    # (a) Our encoder, Python's reader.
    message_path = os.path.join(work, kind + ".bin")
    run_cat(cat, schema_dir, "encode", "--kind", kind,
            os.path.join(HERE, fixture), message_path)
    with open(message_path, "rb") as f:
        message = f.read()
    if message[:2] != b"\xc3\x01":
        fail("%s: marker is %s, not c301" % (kind, message[:2].hex()))
    header_fp = message[2:10]
    if header_fp != spec_fp:
        fail("%s: header fingerprint %s is not Python's %s"
             % (kind, header_fp.hex(), spec_fp.hex()))
    decoder = avro.io.BinaryDecoder(io.BytesIO(message[10:]))
    datum = avro.io.DatumReader(schema).read(decoder)
    if decoder.reader.read() != b"":
        fail("%s: bytes left after Python read the body" % kind)
    decoded = from_python_datum(datum, kind)
    if decoded != event:
        fail("%s: Python decoded\n %s\nexpected\n %s" % (kind, decoded, event))

    # (b) Python's writer, our decoder.
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(to_python_datum(event, kind),
                                      avro.io.BinaryEncoder(buf))
    body = buf.getvalue()
    if body != message[10:]:
        fail("%s: Python's body differs from ours:\n python %s\n ours   %s"
             % (kind, body.hex(), message[10:].hex()))
    py_path = os.path.join(work, kind + "-python.bin")
    with open(py_path, "wb") as f:
        f.write(b"\xc3\x01" + spec_fp + body)
    decoded = json.loads(run_cat(cat, schema_dir, "decode", py_path).stdout)
    if decoded != event:
        fail("%s: ma-avro-cat decoded\n %s\nexpected\n %s"
             % (kind, decoded, event))

    # avro 1.12.2 keeps {"type":"long"} for a primitive with a logicalType
    # in its canonical form, against the specification's [PRIMITIVES] and
    # [STRIP] rules, so its own fingerprint of the .avsc differs.
    lib_canonical = schema.canonical_form
    normalized = (lib_canonical.replace('{"type":"long"}', '"long"')
                  .replace('{"type":"int"}', '"int"'))
    if normalized != our_canonical:
        fail("%s: Python's canonical form differs in more than the "
             "logical-type primitives:\n %s" % (subject, lib_canonical))
    lib_fp = schema.fingerprint("CRC-64-AVRO")
    if lib_fp != spec_fp:
        lib_path = os.path.join(work, kind + "-python-libfp.bin")
        with open(lib_path, "wb") as f:
            f.write(b"\xc3\x01" + lib_fp + body)
        result = run_cat(cat, schema_dir, "decode", lib_path, check=False)
        if result.returncode == 0 or "fingerprint" not in result.stderr:
            fail("%s: a message with avro's own fingerprint %s was not "
                 "rejected as unknown" % (kind, lib_fp.hex()))
        print("interop: note: avro %s fingerprints %s as %s (spec: %s); "
              "messages carrying it are rejected as unknown"
              % (avro.__version__, subject, lib_fp.hex(), spec_fp.hex()))
    print("interop: %s ok: header fingerprint bytes %s, %d-byte message"
          % (kind, spec_fp.hex(), len(message)))


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    cat, schema_dir, work = sys.argv[1:]
    ours = our_canonical_forms(cat, schema_dir)
    for kind in KINDS:
        check_kind(cat, schema_dir, work, kind, ours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
