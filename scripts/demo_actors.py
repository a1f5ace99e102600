#!/usr/bin/env python3
"""Chooses and registers the actors of the demo (`make demo`).

Commands, each idempotent, run by scripts/demo.sh in this order:

  prepare    chooses the demo persons and writes <state>/actors.json and
             <state>/ui-users.json; makes the secrets that do not exist yet
             under <state>/secrets (API keys are made by `register`)
  register   registers in PostgreSQL, through build/tools/ma-admin and
             build/notifier/ma-mqtt-users: the consumers mina-sidor (public)
             and foretagsappen (private, with the demo identity provider's
             Ed25519 key), their scopes and API keys, a mandate, a company
             representative, a reading agent, and the MQTT accounts; writes
             Mosquitto's password and ACL files; makes the gateway's API key
             for the producer of demo.env
  subscribe  creates mina-sidor's subscriptions through POST
             /v1/prenumerationer of the running ma-api

The customers of the process logs are not in the logs: ma-produce generates
one per case (producers/src/customers.c, docs/process-logs.md).  `prepare`
derives them the same way, from ma-produce's default seed, and demo.sh
checks them afterwards by asking the API for their events.

Identity numbers go only into files under the state directory (mode 0600)
and to the programs through their environment, never onto a command line
or into a log.  Every number here is synthetic: a valid checksum on a
generated date, for demonstrations only.
"""
import argparse
import base64
import csv
import datetime
import hashlib
import hmac
import json
import os
import pathlib
import secrets
import subprocess
import sys
import urllib.error
import urllib.request

# ma-produce's default --seed, which scripts/demo.sh does not change.
PRODUCE_SEED = "ma-produce"
# Seed of the demo persons who are not in any log.
PERSON_SEED = "mina-arenden-demo"
BIRTH_YEAR_MIN, BIRTH_YEAR_MAX = 1940, 2005

# The hiring scenario's aktiebolag (producers/fixtures/hiring-*.jsonl).
COMPANY_NUMBER = "165261257363"
COMPANY_NAME = "Exempel Snickeri AB"

PUBLIC_CONSUMER = "mina-sidor"
PRIVATE_CONSUMER = "foretagsappen"
NOTIFIER_USER = "ma-notifier"
IDP_KID = "demo-idp-ed25519"
IDP_ISSUER = "urn:mina-arenden:demo-idp"
# The gateway producer of demo.env and the types the check script sends.
GATEWAY_PRODUCER = "POL"
NOTIFYING_TYPE = "POL.TRAFIKBOT.OVERLAMNAD_FOR_INDRIVNING"
EVENT_TYPES = ["POL.TRAFIKBOT.BOT_UTFARDAD",
               "POL.TRAFIKBOT.OVERLAMNAD_FOR_INDRIVNING",
               "POL.PASS.ANSOKAN_MOTTAGEN",
               "POL.PASS.KLART_FOR_UTHAMTNING"]

# Activities of the logs that become notifying events
# (producers/mappings/*.json, notification kinds in schemas/catalog.json).
PERMIT_DECISION = "T20 Print report Y to stop indication"
PERMIT_ACTION = "T15 Print document X request unlicensed"
FINES_DECISION = "Send for Credit Collection"


# ---- identity numbers -----------------------------------------------------

def luhn_digit(digits):
    """Returns the check digit of the nine digits of a personnummer."""
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def generated_personnummer(seed, key):
    """Returns the personnummer that ma_customer_generate() derives."""
    label = b"personnummer:"
    message = key.encode()
    # Long case ids are hashed first, as in the C code.
    if len(label) + len(message) > 512:
        message = hashlib.sha256(message).hexdigest().encode()
    digest = hmac.new(seed.encode(), label + message, hashlib.sha256).digest()
    first = datetime.date(BIRTH_YEAR_MIN, 1, 1).toordinal()
    last = datetime.date(BIRTH_YEAR_MAX, 12, 31).toordinal()
    day = datetime.date.fromordinal(
        first + int.from_bytes(digest[0:4], "big") % (last - first + 1))
    serial = int.from_bytes(digest[4:8], "big") % 1000
    ten = f"{day.year % 100:02d}{day.month:02d}{day.day:02d}{serial:03d}"
    return f"{day.year // 100:02d}{ten}{luhn_digit(ten)}"


def demo_person(name):
    """Returns a personnummer born in the 1900s for a demo person."""
    for attempt in range(100):
        number = generated_personnummer(PERSON_SEED, f"{name}:{attempt}")
        if number.startswith("19"):
            return number
    raise RuntimeError(f"no 19xx personnummer for {name}")


def pseudonym(secret, typ, identifierare):
    """Returns the customer pseudonym of lib/src/pseudonym.c."""
    mac = hmac.new(secret.encode(), f"{typ}:{identifierare}".encode(),
                   hashlib.sha256).digest()
    return mac[:16].hex()


# ---- customers of the process logs ---------------------------------------

def log_customers(path, cases_per_customer):
    """Returns [{"identitet", "cases": {case: [activities]}}] of a log.

    Cases get customers in the order they first appear, cases_per_customer
    cases per customer, the customer generated from the first case of its
    group, as producers/src/customers.c does for every record read.
    """
    customers = []
    case_customer = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            case = row["case:concept:name"]
            if case not in case_customer:
                if (not customers or len(customers[-1]["cases"])
                        >= cases_per_customer):
                    customers.append({
                        "identitet": generated_personnummer(PRODUCE_SEED,
                                                            case),
                        "cases": {}})
                customers[-1]["cases"][case] = []
                case_customer[case] = customers[-1]
            case_customer[case]["cases"][case].append(row["concept:name"])
    return customers


def choose_permit_customer(customers):
    """Returns a permit-log customer with three cases, one of them stopped
    by a decision and one asked for a supplement if there is such a one."""
    def activities(customer):
        return [activity for case in customer["cases"].values()
                for activity in case]
    full = [customer for customer in customers
            if len(customer["cases"]) == 3]
    for customer in full:
        if (PERMIT_DECISION in activities(customer)
                and PERMIT_ACTION in activities(customer)):
            return customer
    for customer in full:
        if PERMIT_DECISION in activities(customer):
            return customer
    raise RuntimeError("no permit-log customer with a decision found")


def choose_fines_customer(customers):
    """Returns a fines-log customer whose fine went to collection."""
    for customer in customers:
        if any(FINES_DECISION in case for case in customer["cases"].values()):
            return customer
    raise RuntimeError("no fines-log customer with a decision found")


# ---- files ------------------------------------------------------------------

def write_private(path, text):
    """Writes text to path with mode 0600, through a renamed temporary."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def secret_file(secrets_dir, name, make):
    """Returns the secret in secrets_dir/name, made by make() once."""
    path = secrets_dir / name
    if not path.exists() or not path.read_text().strip():
        write_private(path, make() + "\n")
    return path.read_text().strip()


def cmd_prepare(args):
    state = pathlib.Path(args.state)
    secrets_dir = state / "secrets"
    secrets_dir.mkdir(mode=0o700, exist_ok=True)
    data = pathlib.Path(args.data_dir)

    permit = choose_permit_customer(
        log_customers(data / "wabo-receipt.csv", 3))
    fines = choose_fines_customer(
        log_customers(data / "road-traffic-fines-100.csv", 1))
    actors = {
        "anna": {"namn": "Anna Exempel", "identitet": permit["identitet"],
                 "cases": sorted(permit["cases"])},
        "bo": {"namn": "Bo Exempel", "identitet": fines["identitet"],
               "cases": sorted(fines["cases"])},
        "cecilia": {"namn": "Cecilia Exempel",
                    "identitet": demo_person("cecilia")},
        "david": {"namn": "David Exempel", "identitet": demo_person("david")},
        "company": {"namn": COMPANY_NAME, "identitet": COMPANY_NUMBER},
    }
    write_private(state / "actors.json", json.dumps(actors, indent=2) + "\n")

    users = [
        {"id": "anna", "namn": actors["anna"]["namn"],
         "identitet": actors["anna"]["identitet"],
         "beskrivning": "Sökande i tre bygglovsärenden hos Exempelstads "
                        "kommun"},
        {"id": "bo", "namn": actors["bo"]["namn"],
         "identitet": actors["bo"]["identitet"],
         "beskrivning": "Har fått en trafikbot som lämnats över för "
                        "indrivning"},
        {"id": "cecilia", "namn": actors["cecilia"]["namn"],
         "identitet": actors["cecilia"]["identitet"],
         "beskrivning": "Har fullmakt för Annas bygglovsärenden"},
        {"id": "david", "namn": actors["david"]["namn"],
         "identitet": actors["david"]["identitet"],
         "beskrivning": f"Firmatecknare för {COMPANY_NAME}",
         "foretag": [{"identitet": COMPANY_NUMBER, "namn": COMPANY_NAME}]},
    ]
    write_private(state / "ui-users.json",
                  json.dumps(users, ensure_ascii=False, indent=2) + "\n")

    def password():
        return base64.urlsafe_b64encode(secrets.token_bytes(24)).decode()
    for user in (PUBLIC_CONSUMER, PRIVATE_CONSUMER, NOTIFIER_USER):
        secret_file(secrets_dir, f"mqtt-{user}.password", password)
    private_key = secrets_dir / "idp-ed25519.pem"
    public_key = secrets_dir / "idp-ed25519.pub.pem"
    if not private_key.exists():
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519",
                        "-out", str(private_key)], check=True)
        os.chmod(private_key, 0o600)
    if not public_key.exists():
        subprocess.run(["openssl", "pkey", "-in", str(private_key), "-pubout",
                        "-out", str(public_key)], check=True)
    return 0


# ---- registration ---------------------------------------------------------

class Registry:
    """ma-admin and psql against the demo database."""

    def __init__(self, args):
        self.root = pathlib.Path(args.root)
        self.state = pathlib.Path(args.state)
        self.secrets = self.state / "secrets"
        self.database_url = os.environ["DATABASE_URL"]
        self.pseudonym_secret = os.environ["MA_PSEUDONYM_SECRET"]
        self.admin = str(self.root / "build/tools/ma-admin")
        self.actors = json.loads((self.state / "actors.json").read_text())

    def query(self, sql, *params):
        """Returns the rows of sql as lists of text; params are bound."""
        command = ["psql", self.database_url, "-X", "-Atq", "-F", "\t",
                   "-v", "ON_ERROR_STOP=1"]
        for i, value in enumerate(params, 1):
            command += ["-v", f"p{i}={value}"]
        result = subprocess.run(command, input=sql, capture_output=True,
                                text=True, check=True)
        return [line.split("\t") for line in result.stdout.splitlines()]

    def run_admin(self, *argv, env=None, capture=False):
        full_env = dict(os.environ, MA_DATABASE_URL=self.database_url,
                        **(env or {}))
        result = subprocess.run([self.admin, *argv], env=full_env,
                                capture_output=capture, text=True)
        if result.returncode != 0:
            detail = result.stderr.strip() if capture else ""
            raise RuntimeError(f"ma-admin {' '.join(argv[:2])} failed "
                               f"(exit {result.returncode}) {detail}")
        return result.stdout if capture else ""

    def consumer(self, consumer_id, name, kind, scopes):
        if not self.query("SELECT 1 FROM api_consumer "
                          "WHERE consumer_id = :'p1'", consumer_id):
            self.run_admin("consumer", "add", "--id", consumer_id,
                           "--name", name, "--kind", kind)
            print(f"demo: registered consumer {consumer_id} ({kind})")
        have = {r[0] for r in self.query(
            "SELECT scope FROM api_scope WHERE consumer_id = :'p1'",
            consumer_id)}
        for scope in scopes:
            if scope not in have:
                self.run_admin("scope", "add", "--consumer", consumer_id,
                               "--scope", scope)
        path = self.secrets / f"{consumer_id}.api-key"
        key = path.read_text().strip() if path.exists() else ""
        key_id = key.split("_")[1] if key.count("_") >= 2 else ""
        if not key_id or not self.query(
                "SELECT 1 FROM api_key WHERE key_id = :'p1' "
                "AND consumer_id = :'p2' AND revoked_at IS NULL",
                key_id, consumer_id):
            key = self.run_admin("key", "add", "--consumer", consumer_id,
                                 capture=True).strip()
            write_private(path, key + "\n")
            print(f"demo: made an API key for {consumer_id} ({path})")

    def idp(self):
        public_key = (self.secrets / "idp-ed25519.pub.pem").read_text()
        # The PEM text spans lines, so its digest is compared.
        rows = self.query("SELECT md5(btrim(key_material, E' \\n')), active "
                          "FROM api_idp_key WHERE kid = :'p1'", IDP_KID)
        digest = hashlib.md5(public_key.strip(" \n").encode()).hexdigest()
        if rows:
            if rows[0][0] != digest or rows[0][1] != "t":
                raise RuntimeError(
                    f"identity-provider key {IDP_KID} in the database is not "
                    f"the demo's key {self.secrets}/idp-ed25519.pub.pem or "
                    f"is inactive; start the demo over (make stop, then "
                    f"remove {self.state})")
            return
        self.run_admin("idp", "add", "--kid", IDP_KID, "--issuer", IDP_ISSUER,
                       "--alg", "EdDSA", "--key-file",
                       str(self.secrets / "idp-ed25519.pub.pem"))
        print(f"demo: registered identity provider key {IDP_KID}")

    def pseudonym(self, typ, actor):
        return pseudonym(self.pseudonym_secret, typ,
                         self.actors[actor]["identitet"])

    def mandate(self):
        givare = self.pseudonym("Personnummer", "anna")
        havare = self.pseudonym("Personnummer", "cecilia")
        if self.query("SELECT 1 FROM api_fullmakt WHERE givare_pseudonym = "
                      ":'p1' AND havare_pseudonym = :'p2' AND revoked_at IS "
                      "NULL AND giltig_till > now() + interval '30 days'",
                      givare, havare):
            return
        until = (datetime.date.today() + datetime.timedelta(days=365))
        self.run_admin("fullmakt", "add", "--objects", "BYGGLOV",
                       "--to", until.isoformat(), env={
                           "MA_PSEUDONYM_SECRET": self.pseudonym_secret,
                           "MA_GIVARE": self.actors["anna"]["identitet"],
                           "MA_HAVARE": self.actors["cecilia"]["identitet"]},
                       capture=True)
        print("demo: registered a mandate (BYGGLOV) from anna to cecilia")

    def representative(self):
        organisation = self.pseudonym("Organisationsnummer", "company")
        person = self.pseudonym("Personnummer", "david")
        if self.query("SELECT 1 FROM api_representative WHERE "
                      "organisation_pseudonym = :'p1' AND person_pseudonym = "
                      ":'p2' AND (giltig_till IS NULL OR giltig_till > now())",
                      organisation, person):
            return
        self.run_admin("representative", "add", env={
            "MA_PSEUDONYM_SECRET": self.pseudonym_secret,
            "MA_ORGNR": self.actors["company"]["identitet"],
            "MA_PERSON": self.actors["david"]["identitet"]},
            capture=True)
        print(f"demo: registered david as representative of {COMPANY_NAME}")

    def reading_agent(self):
        kund = self.pseudonym("Organisationsnummer", "company")
        if self.query("SELECT 1 FROM api_reading_agent WHERE consumer_id = "
                      ":'p1' AND kund_pseudonym = :'p2' AND (giltig_till IS "
                      "NULL OR giltig_till > now())", PRIVATE_CONSUMER, kund):
            return
        self.run_admin("agent", "add", "--consumer", PRIVATE_CONSUMER,
                       "--kund-typ", "Organisationsnummer", env={
                           "MA_PSEUDONYM_SECRET": self.pseudonym_secret,
                           "MA_KUND": self.actors["company"]["identitet"]},
                       capture=True)
        print(f"demo: registered {PRIVATE_CONSUMER} as reading agent of "
              f"{COMPANY_NAME}")

    def mqtt_accounts(self):
        users = str(self.root / "build/notifier/ma-mqtt-users")
        env = dict(os.environ, MA_DATABASE_URL=self.database_url,
                   MA_MIGRATIONS_DIR=str(self.root / "schemas/sql"))
        for user, role in ((PUBLIC_CONSUMER, "consumer"),
                           (PRIVATE_CONSUMER, "consumer"),
                           (NOTIFIER_USER, "notifier")):
            password = (self.secrets / f"mqtt-{user}.password").read_text()
            subprocess.run([users, "add", user, "--role", role,
                            "--password-stdin"], input=password.strip() + "\n",
                           text=True, env=env, check=True)
        mosquitto = self.state / "mosquitto"
        subprocess.run([users, "sync",
                        "--password-file", str(mosquitto / "passwd"),
                        "--acl-file", str(mosquitto / "acl"),
                        "--base-password-file", str(mosquitto / "stack.passwd"),
                        "--base-acl-file", str(mosquitto / "stack.acl"),
                        "--reload-pid-file",
                        str(self.state / "pids/mosquitto.pid")],
                       env=env, check=True)

    def gateway_key(self):
        keys_file = self.secrets / "gateway-keys.jsonl"
        path = self.secrets / f"gateway-{GATEWAY_PRODUCER}.key"
        key = path.read_text().strip() if path.exists() else ""
        key_id = key.split(".")[0] if "." in key else ""
        if keys_file.exists():
            for line in keys_file.read_text().splitlines():
                entry = json.loads(line)
                if (entry["key_id"] == key_id and entry["revoked"] is None
                        and entry["prefix"] == GATEWAY_PRODUCER):
                    return
        result = subprocess.run(
            [str(self.root / "build/producers/ma-gateway"), "keys", "add",
             "--producer", GATEWAY_PRODUCER, "--file", str(keys_file),
             "--catalog", str(self.root / "schemas/catalog.json")],
            capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"ma-gateway keys add failed: "
                               f"{result.stderr.strip()}")
        write_private(path, result.stdout.strip() + "\n")
        print(f"demo: made a gateway API key for {GATEWAY_PRODUCER} ({path})")


def cmd_register(args):
    registry = Registry(args)
    try:
        registry.run_admin("migrate", capture=True)
    except RuntimeError as error:
        raise RuntimeError(f"{error}; if a migration file changed since this "
                           f"demo database was made, start the demo over: "
                           f"make stop && rm -rf {registry.state}") from error
    registry.consumer(PUBLIC_CONSUMER, "Mina sidor (Exempelmyndigheten)",
                      "public", ["fraga", "oversikt", "index",
                                 "prenumeration"])
    registry.consumer(PRIVATE_CONSUMER, "Företagsappen", "private",
                      ["fraga", "oversikt", "index"])
    registry.idp()
    registry.mandate()
    registry.representative()
    registry.reading_agent()
    registry.mqtt_accounts()
    registry.gateway_key()
    return 0


# ---- subscriptions ----------------------------------------------------------

def api_request(api_url, key, method, path, body=None):
    """Returns (status, JSON answer) of one request to ma-api."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        api_url + path, data=data, method=method,
        headers={"X-API-Key": key, "Content-Type": "application/json",
                 "skv_client_correlation_id": "demo-" + secrets.token_hex(8)})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def cmd_subscribe(args):
    state = pathlib.Path(args.state)
    actors = json.loads((state / "actors.json").read_text())
    key = (state / "secrets" / f"{PUBLIC_CONSUMER}.api-key").read_text().strip()
    existing = set()
    after = None
    while True:
        path = "/v1/prenumerationer?antal=1000" + (f"&efter={after}"
                                                   if after else "")
        status, answer = api_request(args.api_url, key, "GET", path)
        if status != 200:
            raise RuntimeError(f"GET /v1/prenumerationer returned {status}: "
                               f"{answer.get('message')}")
        for item in answer.get("prenumerationer", []):
            if item.get("aktiv"):
                existing.add(item["samtyckesreferens"])
        after = answer.get("nasta")
        if not after:
            break
    # The consent reference names the demo's subscription, so a rerun finds
    # it and does not subscribe twice.
    subscriptions = [
        ("DEMO-ANNA-BYGGLOV", "anna", {"producenter": ["EXK"]}),
        ("DEMO-BO-TRAFIKBOT", "bo", {"producenter": [GATEWAY_PRODUCER]}),
    ]
    for reference, person, filters in subscriptions:
        if reference in existing:
            continue
        identity = actors[person]["identitet"]
        body = {"anvandare": identity,
                "kund": {"identifierare": identity, "typ": "Personnummer"},
                "samtyckesreferens": reference, **filters}
        status, answer = api_request(args.api_url, key, "POST",
                                     "/v1/prenumerationer", body)
        if status != 201:
            raise RuntimeError(f"POST /v1/prenumerationer for {person} "
                               f"returned "
                               f"{status}: {answer.get('message')}")
        print(f"demo: subscribed {PUBLIC_CONSUMER} to {person}'s events "
              f"({reference})")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["prepare", "register",
                                            "subscribe"])
    parser.add_argument("--root", default=str(
        pathlib.Path(__file__).resolve().parent.parent),
        help="the repository (for build/ and schemas/)")
    parser.add_argument("--state", required=True,
                        help="the demo stack's state directory")
    parser.add_argument("--data-dir", help="folder of the process logs "
                        "(prepare)")
    parser.add_argument("--api-url", help="ma-api's base URL (subscribe)")
    args = parser.parse_args()
    try:
        return {"prepare": cmd_prepare, "register": cmd_register,
                "subscribe": cmd_subscribe}[args.command](args)
    except (RuntimeError, subprocess.CalledProcessError, OSError) as error:
        print(f"demo: {args.command} failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
