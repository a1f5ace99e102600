#!/usr/bin/env python3
"""ma-api over HTTPS with TLS client certificates, against the local stack.

Makes a throwaway CA, a server certificate for 127.0.0.1 and client
certificates with the openssl program in a temporary folder, registers
consumers with ma-admin (one with the fingerprint of a client certificate
signed by the CA, one with the fingerprint of a self-signed certificate,
one without), starts ma-api with tls.cert, tls.key and tls.client-ca, and
checks each answer of check a (the consumer is connected) and its audit
row.  Uses the database and helpers of test_api.py.
"""
import argparse
import http.client
import json
import os
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_api  # noqa: E402
from test_api import USER_A, Env, check, question  # noqa: E402

PATH_FRAGA = "/kundhandelseFragaSynkron"


def openssl(*argv):
    subprocess.run(["openssl", *argv], check=True, capture_output=True)


def make_pki(tmp):
    """CA, server certificate for 127.0.0.1, two client certificates signed
    by the CA and one self-signed; P-256 keys, so it takes milliseconds."""
    pki = os.path.join(tmp, "pki")
    os.mkdir(pki)

    def path(name):
        return os.path.join(pki, name)

    def key(name):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-out", path(name + ".key"))

    def signed(name, cn, ext):
        key(name)
        openssl("req", "-new", "-key", path(name + ".key"), "-subj",
                f"/CN={cn}", "-out", path(name + ".csr"))
        with open(path(name + ".ext"), "w") as f:
            f.write(ext)
        openssl("x509", "-req", "-in", path(name + ".csr"), "-CA",
                path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial",
                "-days", "2", "-sha256", "-extfile", path(name + ".ext"),
                "-out", path(name + ".pem"))

    key("ca")
    openssl("req", "-x509", "-new", "-key", path("ca.key"), "-subj",
            "/CN=ma-api test CA", "-days", "2", "-sha256", "-out",
            path("ca.pem"))
    signed("server", "127.0.0.1",
           "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    client_ext = "extendedKeyUsage=clientAuth\n"
    signed("client1", "consumer tls1", client_ext)
    signed("client2", "consumer other", client_ext)
    key("rogue")
    openssl("req", "-x509", "-new", "-key", path("rogue.key"), "-subj",
            "/CN=not from the CA", "-days", "2", "-sha256", "-out",
            path("rogue.pem"))
    return path


def der_sha256(pem_path):
    der = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform",
                          "DER"], check=True, capture_output=True).stdout
    import hashlib
    return hashlib.sha256(der).hexdigest()


def https(env, pki, method, path, key, corr, cert=None, body=None):
    ctx = ssl.create_default_context(cafile=pki("ca.pem"))
    if cert:
        ctx.load_cert_chain(pki(cert + ".pem"), pki(cert + ".key"))
    conn = http.client.HTTPSConnection("127.0.0.1", env.port, context=ctx,
                                       timeout=30)
    headers = {"X-API-Key": key, "skv_client_correlation_id": corr}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    text = resp.read().decode()
    media_type = (resp.getheader("Content-Type") or "").split(";")[0]
    conn.close()
    parsed = json.loads(text)
    env.check_schema(method, path, resp.status, media_type, parsed)
    return resp.status, media_type, parsed


def run(env, pki):
    keys = {}
    for cid, scopes in (("tls1", ["fraga", "oversikt"]), ("rogue", ["fraga"]),
                        ("plain", ["fraga"])):
        env.admin("consumer", "add", "--id", cid, "--name", cid.title())
        for scope in scopes:
            env.admin("scope", "add", "--consumer", cid, "--scope", scope)
        keys[cid] = env.admin("key", "add", "--consumer", cid).stdout.strip()
    out = env.admin("cert", "set", "--consumer", "tls1", "--cert-file",
                    pki("client1.pem")).stdout.strip()
    check(out == der_sha256(pki("client1.pem")),
          "ma-admin cert set prints the SHA-256 of the DER certificate")
    env.admin("cert", "set", "--consumer", "rogue", "--cert-file",
              pki("rogue.pem"))
    proc = env.admin("cert", "set", "--consumer", "tls1", "--cert-file",
                     pki("client1.key"), ok=False)
    check(proc.returncode == 2 and "no PEM certificate" in proc.stderr,
          f"ma-admin cert set rejects a key file ({proc.returncode})")
    proc = env.admin("cert", "set", "--consumer", "nobody", "--cert-file",
                     pki("client1.pem"), ok=False)
    check(proc.returncode == 1, "ma-admin cert set on an unknown consumer")
    listed = env.admin("cert", "list").stdout
    check("tls1\t" + out in listed, "ma-admin cert list shows the fingerprint")

    env.psql(test_api.event_sql("2120009994", "tls-0", USER_A,
                                "EXK.BYGGLOV.ANSOKAN_MOTTAGEN",
                                "2026-05-01T10:00:00Z"))
    env.start_api([f"--tls.cert={pki('server.pem')}",
                   f"--tls.key={pki('server.key')}",
                   f"--tls.client-ca={pki('ca.pem')}"])
    with open(env.log_path) as f:
        check("scheme=https" in f.read(), "ma-api logs that it speaks HTTPS")

    body = question(USER_A)
    # name, key, client certificate, path, status, consumer in the audit row
    cases = [
        ("registered client certificate", "tls1", "client1", PATH_FRAGA,
         200, "allowed"),
        ("no client certificate", "tls1", None, PATH_FRAGA, 401, "denied"),
        ("other certificate of the CA", "tls1", "client2", PATH_FRAGA, 401,
         "denied"),
        ("registered but self-signed certificate", "rogue", "rogue",
         PATH_FRAGA, 401, "denied"),
        ("no fingerprint registered, no certificate", "plain", None,
         PATH_FRAGA, 200, "allowed"),
        ("no fingerprint registered, a certificate", "plain", "client2",
         PATH_FRAGA, 200, "allowed"),
        ("/v1: registered client certificate", "tls1", "client1",
         "/v1/katalog", 200, "allowed"),
        ("/v1: other certificate of the CA", "tls1", "client2",
         "/v1/katalog", 401, "denied"),
    ]
    for i, (name, cid, cert, path, status, decision) in enumerate(cases):
        corr = f"tls-{i}"
        method = "GET" if path == "/v1/katalog" else "POST"
        got, media_type, parsed = https(
            env, pki, method, path, keys[cid], corr, cert,
            body if method == "POST" else None)
        check(got == status, f"{name}: {status} ({got} {parsed})")
        if status == 401:
            if path.startswith("/v1"):
                check(media_type == "application/problem+json" and
                      parsed.get("type", "").endswith("invalid-api-key"),
                      f"{name}: problem+json invalid-api-key ({parsed})")
            else:
                check(media_type == "application/json" and
                      set(parsed) == {"message"},
                      f"{name}: the standard's 401 body ({parsed})")
            check(parsed.get("message", parsed.get("detail", ""))
                  .find("BEGIN") < 0, f"{name}: no certificate in the body")
        rows = env.audit(corr)
        check(len(rows) == 1 and rows[0]["decision"] == decision and
              rows[0]["status"] == status and rows[0]["consumer"] == cid,
              f"{name}: audit row {decision} {status} {cid} ({rows})")
        if status == 401:
            check(rows and "client certificate" in (rows[0]["error"] or ""),
                  f"{name}: audit row says why ({rows})")

    # Clearing the fingerprint lets the API key alone connect again.
    env.admin("cert", "clear", "--consumer", "tls1")
    got, _, parsed = https(env, pki, "POST", PATH_FRAGA, keys["tls1"],
                           "tls-cleared", None, body)
    check(got == 200, f"after cert clear, no certificate: 200 ({got})")
    with open(env.log_path) as f:
        log = f.read()
    check("BEGIN" not in log and "PRIVATE" not in log,
          "the log holds no certificate or key")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    parser.add_argument("--admin", required=True)
    parser.add_argument("--schemas", required=True)
    parser.add_argument("--openapi",
                        help="docs/openapi.yaml: validate every response")
    args = parser.parse_args()
    env = Env(args)
    if args.openapi:
        env.load_openapi(args.openapi)
    env.psql(f"CREATE DATABASE {env.dbname}", url=env.admin_url)
    try:
        out = env.admin("migrate").stdout
        check("applied" in out, "ma-admin migrate")
        run(env, make_pki(env.tmp))
    finally:
        env.stop()
    if test_api.FAILURES:
        print(f"{len(test_api.FAILURES)} checks failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
