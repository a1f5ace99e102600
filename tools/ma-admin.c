/*
 * ma-admin.c - administers the query API's registers in PostgreSQL
 * (schemas/sql/0100_api_register.sql): consumers, API keys, scopes,
 * identity-provider keys, mandates (fullmakter), representatives
 * (firmatecknare) and reading agents (juridiska läsombud).
 *
 * What it guarantees: identity numbers are checked (date and Luhn digit)
 * and stored only as keyed pseudonyms made with pseudonym.secret, the
 * secret of the producers and of ma-api.  An API key is printed once, on
 * creation; only a salted SHA-256 of it is stored.  Of a consumer's TLS
 * client certificate only the SHA-256 of its DER encoding is stored.  Each
 * command is one statement, so it is applied completely or not at all.
 *
 * Start and stop: one command per run, see the usage text; exit 0 on
 * success, 1 when the database refused, 2 for invalid arguments.  Give
 * identity numbers through the environment (MA_GIVARE, MA_HAVARE, ...)
 * rather than as flags, which other local users can read in the process
 * list.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/config.h"
#include "ma/event.h"
#include "ma/pg.h"
#include "ma/pseudonym.h"
#include "ma/validate.h"

#define ADMIN_EXIT_FAILURE 1
#define ADMIN_EXIT_USAGE   2

static const ma_config_entry_t admin_table[] = {
        {"database.url", MA_CONFIG_SECRET, NULL, NULL, 1, 4096,
         "libpq URI or key=value string of the API's database"},
        {"pseudonym.secret", MA_CONFIG_SECRET, NULL, "", 0, 0,
         "secret of the customer pseudonyms (needed by fullmakt, "
         "representative and agent add)"},
        {"migrations.dir", MA_CONFIG_STRING, NULL,
         MA_ADMIN_DEFAULT_SCHEMA_DIR "/sql", 1, 4096,
         "SQL migrations applied by `ma-admin migrate`"},
        {"id", MA_CONFIG_STRING, NULL, "", 0, 64,
         "consumer id (a-z, 0-9, _ and -), or the numeric id of a mandate, "
         "representative or agent row"},
        {"name", MA_CONFIG_STRING, NULL, "", 0, 200, "consumer name"},
        {"kind", MA_CONFIG_STRING, NULL, "public", 1, 16,
         "consumer kind: public or private"},
        {"orgnr", MA_CONFIG_STRING, NULL, "", 0, 12,
         "consumer add: its organisationsnummer (10 digits); representative "
         "add: the organisation (12 digits, 16 and the number)"},
        {"consumer", MA_CONFIG_STRING, NULL, "", 0, 64, "consumer id"},
        {"key-id", MA_CONFIG_STRING, NULL, "", 0, 16, "API key id"},
        {"cert-file", MA_CONFIG_STRING, NULL, "", 0, 4096,
         "PEM file of a consumer's TLS client certificate (the first "
         "certificate in it counts)"},
        {"scope", MA_CONFIG_STRING, NULL, "", 0, 32,
         "fraga, oversikt, index or prenumeration"},
        {"kid", MA_CONFIG_STRING, NULL, "", 0, 200,
         "identity-provider key id (the JWT kid header)"},
        {"issuer", MA_CONFIG_STRING, NULL, "", 0, 500,
         "identity provider (the JWT iss claim)"},
        {"alg", MA_CONFIG_STRING, NULL, "", 0, 8, "HS256, EdDSA or ES256"},
        {"key-file", MA_CONFIG_STRING, NULL, "", 0, 4096,
         "HS256: file with the shared secret; EdDSA, ES256: PEM public key"},
        {"givare-typ", MA_CONFIG_STRING, NULL, "Personnummer", 1, 32,
         "kund typ of the mandate's giver (the customer)"},
        {"givare", MA_CONFIG_STRING, NULL, "", 0, 12,
         "identity number of the mandate's giver"},
        {"havare", MA_CONFIG_STRING, NULL, "", 0, 12,
         "personnummer or samordningsnummer of the mandate's holder"},
        {"person", MA_CONFIG_STRING, NULL, "", 0, 12,
         "personnummer or samordningsnummer of a representative"},
        {"kund-typ", MA_CONFIG_STRING, NULL, "Personnummer", 1, 32,
         "kund typ of a reading agent's customer"},
        {"kund", MA_CONFIG_STRING, NULL, "", 0, 12,
         "identity number of a reading agent's customer"},
        {"objects", MA_CONFIG_STRING, NULL, "", 0, 2000,
         "comma-separated authorisation object types a mandate covers"},
        {"from", MA_CONFIG_STRING, NULL, "", 0, 40,
         "start of validity (RFC 3339 or YYYY-MM-DD); default now"},
        {"to", MA_CONFIG_STRING, NULL, "", 0, 40,
         "end of validity (exclusive); required for mandates"},
};

#define ADMIN_COUNT(array) (sizeof(array) / sizeof((array)[0]))

static const char admin_usage[] =
        "usage: ma-admin COMMAND ACTION [--flags]\n"
        "  migrate\n"
        "  consumer add --id ID --name NAME [--kind public|private] "
        "[--orgnr N]\n"
        "  consumer activate|deactivate --id ID\n"
        "  consumer list\n"
        "  key add --consumer ID          (prints the key once)\n"
        "  key revoke --key-id KEY_ID\n"
        "  key list\n"
        "  scope add|remove --consumer ID --scope SCOPE\n"
        "  cert set --consumer ID --cert-file PEM  (prints the SHA-256)\n"
        "  cert clear --consumer ID\n"
        "  cert list\n"
        "  idp add --kid KID --issuer ISS --alg ALG --key-file FILE\n"
        "  idp deactivate --kid KID\n"
        "  fullmakt add [--givare-typ T] --givare N --havare N --objects "
        "A,B [--from T] --to T\n"
        "  fullmakt revoke --id N\n"
        "  representative add --orgnr N --person N [--from T] [--to T]\n"
        "  representative end --id N [--to T]\n"
        "  agent add --consumer ID [--kund-typ T] --kund N [--from T] "
        "[--to T]\n"
        "  agent end --id N [--to T]\n"
        "  producer list\n";

typedef struct admin {
        const ma_config_t *config;
        PGconn *conn;
        ma_pseudonym_key_t *key;
} admin_t;

static const char *admin_opt(const admin_t *admin, const char *name)
{
        const char *value = ma_config_string(admin->config, name);

        return value != NULL && value[0] != '\0' ? value : NULL;
}

static int admin_require(const admin_t *admin, const char *const *names)
{
        for (size_t i = 0; names[i] != NULL; i++)
                if (admin_opt(admin, names[i]) == NULL) {
                        fprintf(stderr, "ma-admin: --%s is required\n",
                                names[i]);
                        return ADMIN_EXIT_USAGE;
                }
        return 0;
}

/* Runs one statement and prints its rows tab-separated. */
static int admin_exec(admin_t *admin, const char *sql, int count,
                      const char *const *params, bool print)
{
        PGresult *res = PQexecParams(admin->conn, sql, count, NULL, params,
                                     NULL, NULL, 0);
        ExecStatusType state = PQresultStatus(res);

        if (state != PGRES_TUPLES_OK && state != PGRES_COMMAND_OK) {
                fprintf(stderr, "ma-admin: %s", PQerrorMessage(admin->conn));
                PQclear(res);
                return ADMIN_EXIT_FAILURE;
        }
        if (state == PGRES_COMMAND_OK && strcmp(PQcmdTuples(res), "0") == 0) {
                fprintf(stderr, "ma-admin: no row matched; check the id\n");
                PQclear(res);
                return ADMIN_EXIT_FAILURE;
        }
        for (int row = 0; print && row < PQntuples(res); row++) {
                for (int col = 0; col < PQnfields(res); col++)
                        printf("%s%s", col ? "\t" : "",
                               PQgetisnull(res, row, col)
                                       ? ""
                                       : PQgetvalue(res, row, col));
                printf("\n");
        }
        if (state == PGRES_TUPLES_OK && PQntuples(res) == 0 && !print) {
                fprintf(stderr, "ma-admin: no row matched; check the id\n");
                PQclear(res);
                return ADMIN_EXIT_FAILURE;
        }
        PQclear(res);
        return 0;
}

/* Checks an identity number of typ_name and writes its pseudonym.  A
 * person's typ is derived from the day digits when typ_name is NULL. */
static int admin_pseudonym(const admin_t *admin, const char *flag,
                           const char *typ_name, const char *id,
                           char out[MA_PSEUDONYM_HEX_LEN + 1])
{
        ma_error_t err;
        int typ;

        if (admin->key == NULL) {
                fprintf(stderr,
                        "ma-admin: pseudonym.secret (MA_PSEUDONYM_SECRET) is "
                        "required to store --%s\n",
                        flag);
                return ADMIN_EXIT_USAGE;
        }
        if (typ_name == NULL)
                typ = strlen(id) == 12 && id[6] >= '6'
                              ? MA_KUND_SAMORDNINGSNUMMER
                              : MA_KUND_PERSONNUMMER;
        else
                typ = ma_kund_typ_parse(typ_name);
        if (typ < 0) {
                fprintf(stderr,
                        "ma-admin: invalid kund typ \"%s\" for --%s: use "
                        "Personnummer, Organisationsnummer or "
                        "Samordningsnummer\n",
                        typ_name, flag);
                return ADMIN_EXIT_USAGE;
        }
        if (ma_validate_kund((ma_kund_typ_t)typ, id, &err) != MA_OK) {
                fprintf(stderr, "ma-admin: invalid --%s: %s\n", flag,
                        err.message);
                return ADMIN_EXIT_USAGE;
        }
        ma_pseudonym_customer(admin->key, (ma_kund_typ_t)typ, id, NULL, out);
        return 0;
}

/* ---- consumers, keys, scopes, identity providers ---- */

static int admin_consumer(admin_t *admin, const char *action)
{
        static const char *const add_required[] = {"id", "name", NULL};
        static const char *const id_required[] = {"id", NULL};
        const char *params[4] = {
                admin_opt(admin, "id"), admin_opt(admin, "name"),
                admin_opt(admin, "kind"), admin_opt(admin, "orgnr")};
        int rc;

        if (strcmp(action, "add") == 0) {
                rc = admin_require(admin, add_required);
                return rc ? rc
                          : admin_exec(admin,
                                       "INSERT INTO api_consumer (consumer_id,"
                                       " name, kind, organisationsnummer)"
                                       " VALUES ($1, $2, $3, $4)",
                                       4, params, false);
        }
        if (strcmp(action, "activate") == 0 ||
            strcmp(action, "deactivate") == 0) {
                const char *flag[2] = {params[0],
                                       action[0] == 'a' ? "true" : "false"};

                rc = admin_require(admin, id_required);
                return rc ? rc
                          : admin_exec(admin,
                                       "UPDATE api_consumer SET active = $2,"
                                       " changed_at = now()"
                                       " WHERE consumer_id = $1",
                                       2, flag, false);
        }
        if (strcmp(action, "list") == 0)
                return admin_exec(admin,
                                  "SELECT c.consumer_id, c.kind, c.active,"
                                  " c.name, coalesce(string_agg(s.scope, ','"
                                  " ORDER BY s.scope), '')"
                                  " FROM api_consumer c LEFT JOIN api_scope s"
                                  " USING (consumer_id) GROUP BY c.consumer_id"
                                  " ORDER BY c.consumer_id",
                                  0, NULL, true);
        return -1;
}

static void admin_hex(const unsigned char *bytes, size_t len, char *out)
{
        static const char digits[] = "0123456789abcdef";

        for (size_t i = 0; i < len; i++) {
                out[2 * i] = digits[bytes[i] >> 4];
                out[2 * i + 1] = digits[bytes[i] & 15];
        }
        out[2 * len] = '\0';
}

static int admin_key_add(admin_t *admin)
{
        static const char *const required[] = {"consumer", NULL};
        unsigned char random[8 + 32 + 16];
        char key_id[17], secret[65], salt[33], key[4 + 16 + 1 + 64 + 1];
        char salted[sizeof(salt) + sizeof(key)], hash[65];
        const char *params[4];
        int rc = admin_require(admin, required);

        if (rc)
                return rc;
        if (RAND_bytes(random, sizeof(random)) != 1) {
                fprintf(stderr, "ma-admin: could not get random bytes from "
                                "OpenSSL\n");
                return ADMIN_EXIT_FAILURE;
        }
        admin_hex(random, 8, key_id);
        admin_hex(random + 8, 32, secret);
        admin_hex(random + 40, 16, salt);
        snprintf(key, sizeof(key), "mak_%s_%s", key_id, secret);
        snprintf(salted, sizeof(salted), "%s%s", salt, key);
        ma_sha256_hex(salted, strlen(salted), hash);
        params[0] = key_id;
        params[1] = admin_opt(admin, "consumer");
        params[2] = salt;
        params[3] = hash;
        rc = admin_exec(admin,
                        "INSERT INTO api_key (key_id, consumer_id, salt,"
                        " key_hash) VALUES ($1, $2, $3, $4)",
                        4, params, false);
        if (rc == 0)
                printf("%s\n", key);
        return rc;
}

static int admin_key(admin_t *admin, const char *action)
{
        static const char *const required[] = {"key-id", NULL};
        const char *params[1] = {admin_opt(admin, "key-id")};
        int rc;

        if (strcmp(action, "add") == 0)
                return admin_key_add(admin);
        if (strcmp(action, "revoke") == 0) {
                rc = admin_require(admin, required);
                return rc ? rc
                          : admin_exec(admin,
                                       "UPDATE api_key SET revoked_at = now()"
                                       " WHERE key_id = $1"
                                       " AND revoked_at IS NULL",
                                       1, params, false);
        }
        if (strcmp(action, "list") == 0)
                return admin_exec(admin,
                                  "SELECT key_id, consumer_id, created_at,"
                                  " revoked_at FROM api_key ORDER BY"
                                  " consumer_id, created_at",
                                  0, NULL, true);
        return -1;
}

static int admin_scope(admin_t *admin, const char *action)
{
        static const char *const required[] = {"consumer", "scope", NULL};
        const char *params[2] = {admin_opt(admin, "consumer"),
                                 admin_opt(admin, "scope")};
        int rc = admin_require(admin, required);

        if (rc)
                return rc;
        if (strcmp(action, "add") == 0)
                return admin_exec(admin,
                                  "INSERT INTO api_scope (consumer_id, scope)"
                                  " VALUES ($1, $2)",
                                  2, params, false);
        if (strcmp(action, "remove") == 0)
                return admin_exec(admin,
                                  "DELETE FROM api_scope WHERE consumer_id ="
                                  " $1 AND scope = $2",
                                  2, params, false);
        return -1;
}

/* Writes the lower-case hex SHA-256 of the DER encoding of the first
 * certificate in the PEM file at path. */
static int admin_cert_sha256(const char *path, char out[65])
{
        FILE *file = fopen(path, "r");
        X509 *cert;
        unsigned char *der = NULL, digest[32];
        unsigned int digest_len = 0;
        int len;

        if (file == NULL) {
                fprintf(stderr,
                        "ma-admin: could not open --cert-file \"%s\": check "
                        "the path and its permissions\n",
                        path);
                return ADMIN_EXIT_USAGE;
        }
        cert = PEM_read_X509(file, NULL, NULL, NULL);
        fclose(file);
        if (cert == NULL) {
                fprintf(stderr,
                        "ma-admin: could not read --cert-file \"%s\": no PEM "
                        "certificate (BEGIN CERTIFICATE) in it; give the "
                        "consumer's client certificate, not its key\n",
                        path);
                return ADMIN_EXIT_USAGE;
        }
        len = i2d_X509(cert, &der);
        X509_free(cert);
        if (len <= 0 || EVP_Digest(der, (size_t)len, digest, &digest_len,
                                   EVP_sha256(), NULL) != 1) {
                OPENSSL_free(der);
                fprintf(stderr, "ma-admin: could not compute the SHA-256 of "
                                "the certificate\n");
                return ADMIN_EXIT_FAILURE;
        }
        OPENSSL_free(der);
        admin_hex(digest, digest_len, out);
        return 0;
}

/* The consumer's TLS client certificate, as its SHA-256 fingerprint. */
static int admin_cert(admin_t *admin, const char *action)
{
        static const char *const set_required[] = {"consumer", "cert-file",
                                                   NULL};
        static const char *const clear_required[] = {"consumer", NULL};
        char fingerprint[65];
        const char *params[2] = {admin_opt(admin, "consumer"), fingerprint};
        int rc;

        if (strcmp(action, "set") == 0) {
                rc = admin_require(admin, set_required);
                if (rc == 0)
                        rc = admin_cert_sha256(admin_opt(admin, "cert-file"),
                                               fingerprint);
                if (rc == 0)
                        rc = admin_exec(admin,
                                        "UPDATE api_consumer SET"
                                        " client_cert_sha256 = $2,"
                                        " changed_at = now()"
                                        " WHERE consumer_id = $1",
                                        2, params, false);
                if (rc == 0)
                        printf("%s\n", fingerprint);
                return rc;
        }
        if (strcmp(action, "clear") == 0) {
                rc = admin_require(admin, clear_required);
                return rc ? rc
                          : admin_exec(admin,
                                       "UPDATE api_consumer SET"
                                       " client_cert_sha256 = NULL,"
                                       " changed_at = now()"
                                       " WHERE consumer_id = $1",
                                       1, params, false);
        }
        if (strcmp(action, "list") == 0)
                return admin_exec(admin,
                                  "SELECT consumer_id, client_cert_sha256"
                                  " FROM api_consumer WHERE client_cert_sha256"
                                  " IS NOT NULL ORDER BY consumer_id",
                                  0, NULL, true);
        return -1;
}

static char *admin_read_file(const char *path)
{
        FILE *file = fopen(path, "rb");
        char *text = NULL;
        long len;

        if (file == NULL)
                return NULL;
        if (fseek(file, 0, SEEK_END) == 0 && (len = ftell(file)) >= 0 &&
            len < 65536 && fseek(file, 0, SEEK_SET) == 0) {
                text = ma_malloc((size_t)len + 1);
                if (text != NULL &&
                    fread(text, 1, (size_t)len, file) != (size_t)len) {
                        ma_free(text);
                        text = NULL;
                } else if (text != NULL) {
                        text[len] = '\0';
                }
        }
        fclose(file);
        return text;
}

static int admin_idp(admin_t *admin, const char *action)
{
        static const char *const add_required[] = {"kid", "issuer", "alg",
                                                   "key-file", NULL};
        static const char *const kid_required[] = {"kid", NULL};
        const char *params[4];
        char *material;
        int rc;

        if (strcmp(action, "deactivate") == 0) {
                rc = admin_require(admin, kid_required);
                params[0] = admin_opt(admin, "kid");
                return rc ? rc
                          : admin_exec(admin,
                                       "UPDATE api_idp_key SET active = false"
                                       " WHERE kid = $1",
                                       1, params, false);
        }
        if (strcmp(action, "add") != 0)
                return -1;
        rc = admin_require(admin, add_required);
        if (rc)
                return rc;
        material = admin_read_file(admin_opt(admin, "key-file"));
        if (material == NULL) {
                fprintf(stderr,
                        "ma-admin: could not read --key-file \"%s\": missing, "
                        "unreadable or larger than 64 KiB\n",
                        admin_opt(admin, "key-file"));
                return ADMIN_EXIT_USAGE;
        }
        /* An HS256 secret is the file's text without a final newline. */
        if (strcmp(admin_opt(admin, "alg"), "HS256") == 0)
                material[strcspn(material, "\r\n")] = '\0';
        params[0] = admin_opt(admin, "kid");
        params[1] = admin_opt(admin, "issuer");
        params[2] = admin_opt(admin, "alg");
        params[3] = material;
        rc = admin_exec(admin,
                        "INSERT INTO api_idp_key (kid, issuer, alg,"
                        " key_material) VALUES ($1, $2, $3, $4)",
                        4, params, false);
        ma_free(material);
        return rc;
}

/* ---- mandates, representatives, reading agents ---- */

static int admin_fullmakt(admin_t *admin, const char *action)
{
        static const char *const add_required[] = {"givare", "havare",
                                                   "objects", "to", NULL};
        static const char *const id_required[] = {"id", NULL};
        char givare[MA_PSEUDONYM_HEX_LEN + 1], havare[MA_PSEUDONYM_HEX_LEN + 1];
        const char *params[5];
        int rc;

        if (strcmp(action, "revoke") == 0) {
                rc = admin_require(admin, id_required);
                params[0] = admin_opt(admin, "id");
                return rc ? rc
                          : admin_exec(admin,
                                       "UPDATE api_fullmakt SET revoked_at ="
                                       " now() WHERE fullmakt_id = $1::bigint"
                                       " AND revoked_at IS NULL",
                                       1, params, false);
        }
        if (strcmp(action, "add") != 0)
                return -1;
        rc = admin_require(admin, add_required);
        if (rc == 0)
                rc = admin_pseudonym(admin, "givare",
                                     admin_opt(admin, "givare-typ"),
                                     admin_opt(admin, "givare"), givare);
        if (rc == 0)
                rc = admin_pseudonym(admin, "havare", NULL,
                                     admin_opt(admin, "havare"), havare);
        if (rc)
                return rc;
        params[0] = givare;
        params[1] = havare;
        params[2] = admin_opt(admin, "objects");
        params[3] = admin_opt(admin, "from");
        params[4] = admin_opt(admin, "to");
        return admin_exec(admin,
                          "INSERT INTO api_fullmakt (givare_pseudonym,"
                          " havare_pseudonym, objekttyper, giltig_fran,"
                          " giltig_till) VALUES ($1, $2,"
                          " string_to_array($3, ','),"
                          " coalesce($4::timestamptz, now()), $5::timestamptz)"
                          " RETURNING fullmakt_id",
                          5, params, true);
}

static int admin_end(admin_t *admin, const char *table, const char *column)
{
        static const char *const id_required[] = {"id", NULL};
        const char *params[2] = {admin_opt(admin, "id"),
                                 admin_opt(admin, "to")};
        char sql[256];
        int rc = admin_require(admin, id_required);

        if (rc)
                return rc;
        snprintf(sql, sizeof(sql),
                 "UPDATE %s SET giltig_till = coalesce($2::timestamptz, now())"
                 " WHERE %s = $1::bigint",
                 table, column);
        return admin_exec(admin, sql, 2, params, false);
}

static int admin_representative(admin_t *admin, const char *action)
{
        static const char *const add_required[] = {"orgnr", "person", NULL};
        char org[MA_PSEUDONYM_HEX_LEN + 1], person[MA_PSEUDONYM_HEX_LEN + 1];
        const char *params[4];
        int rc;

        if (strcmp(action, "end") == 0)
                return admin_end(admin, "api_representative",
                                 "representative_id");
        if (strcmp(action, "add") != 0)
                return -1;
        rc = admin_require(admin, add_required);
        if (rc == 0)
                rc = admin_pseudonym(admin, "orgnr", "Organisationsnummer",
                                     admin_opt(admin, "orgnr"), org);
        if (rc == 0)
                rc = admin_pseudonym(admin, "person", NULL,
                                     admin_opt(admin, "person"), person);
        if (rc)
                return rc;
        params[0] = org;
        params[1] = person;
        params[2] = admin_opt(admin, "from");
        params[3] = admin_opt(admin, "to");
        return admin_exec(admin,
                          "INSERT INTO api_representative"
                          " (organisation_pseudonym, person_pseudonym,"
                          " giltig_fran, giltig_till) VALUES ($1, $2,"
                          " coalesce($3::timestamptz, now()), $4::timestamptz)"
                          " RETURNING representative_id",
                          4, params, true);
}

static int admin_agent(admin_t *admin, const char *action)
{
        static const char *const add_required[] = {"consumer", "kund", NULL};
        char kund[MA_PSEUDONYM_HEX_LEN + 1];
        const char *params[4];
        int rc;

        if (strcmp(action, "end") == 0)
                return admin_end(admin, "api_reading_agent",
                                 "reading_agent_id");
        if (strcmp(action, "add") != 0)
                return -1;
        rc = admin_require(admin, add_required);
        if (rc == 0)
                rc = admin_pseudonym(admin, "kund",
                                     admin_opt(admin, "kund-typ"),
                                     admin_opt(admin, "kund"), kund);
        if (rc)
                return rc;
        params[0] = admin_opt(admin, "consumer");
        params[1] = kund;
        params[2] = admin_opt(admin, "from");
        params[3] = admin_opt(admin, "to");
        return admin_exec(admin,
                          "INSERT INTO api_reading_agent (consumer_id,"
                          " kund_pseudonym, giltig_fran, giltig_till)"
                          " VALUES ($1, $2, coalesce($3::timestamptz, now()),"
                          " $4::timestamptz) RETURNING reading_agent_id",
                          4, params, true);
}

static int admin_dispatch(admin_t *admin, const char *command,
                          const char *action)
{
        if (strcmp(command, "consumer") == 0)
                return admin_consumer(admin, action);
        if (strcmp(command, "key") == 0)
                return admin_key(admin, action);
        if (strcmp(command, "scope") == 0)
                return admin_scope(admin, action);
        if (strcmp(command, "idp") == 0)
                return admin_idp(admin, action);
        if (strcmp(command, "cert") == 0)
                return admin_cert(admin, action);
        if (strcmp(command, "fullmakt") == 0)
                return admin_fullmakt(admin, action);
        if (strcmp(command, "representative") == 0)
                return admin_representative(admin, action);
        if (strcmp(command, "agent") == 0)
                return admin_agent(admin, action);
        if (strcmp(command, "producer") == 0 && strcmp(action, "list") == 0)
                return admin_exec(admin,
                                  "SELECT organisationsnummer, prefix, namn,"
                                  " in_catalog FROM producent ORDER BY prefix",
                                  0, NULL, true);
        return -1;
}

static int admin_migrate(admin_t *admin)
{
        ma_error_t err;
        int applied = 0;

        if (ma_pg_migrate(admin->conn,
                          ma_config_string(admin->config, "migrations.dir"),
                          &applied, &err) != MA_OK) {
                fprintf(stderr, "ma-admin: %s\n", err.message);
                return ADMIN_EXIT_FAILURE;
        }
        printf("applied %d migrations\n", applied);
        return 0;
}

int main(int argc, char **argv)
{
        admin_t admin = {0};
        ma_config_t *config = NULL;
        const char *command, *action, *secret;
        ma_pg_retry_t retry;
        ma_error_t err;
        int rc;

        if (ma_config_help_requested(argc, argv)) {
                char *help = ma_config_help(
                        admin_table, ADMIN_COUNT(admin_table), "ma-admin",
                        "Administers the query API's "
                        "registers.");

                fputs(admin_usage, stdout);
                if (help != NULL)
                        fputs(help, stdout);
                ma_free(help);
                return 0;
        }
        if (ma_config_load(admin_table, ADMIN_COUNT(admin_table), NULL, argc,
                           argv, &config, &err) != MA_OK) {
                fprintf(stderr, "ma-admin: %s\n", err.message);
                return ADMIN_EXIT_USAGE;
        }
        admin.config = config;
        command = ma_config_positional(config, 0);
        action = ma_config_positional(config, 1);
        if (command == NULL || (action == NULL && strcmp(command, "migrate")) ||
            ma_config_positional_count(config) > 2) {
                fputs(admin_usage, stderr);
                ma_config_free(config);
                return ADMIN_EXIT_USAGE;
        }
        secret = ma_config_string(config, "pseudonym.secret");
        if (secret[0] != '\0' &&
            ma_pseudonym_key_new(secret, strlen(secret), &admin.key, &err) !=
                    MA_OK) {
                fprintf(stderr, "ma-admin: %s\n", err.message);
                ma_config_free(config);
                return ADMIN_EXIT_USAGE;
        }
        ma_pg_retry_default(&retry);
        retry.max_attempts = 3;
        if (ma_pg_connect(ma_config_string(config, "database.url"), &retry,
                          &admin.conn, &err) != MA_OK) {
                fprintf(stderr, "ma-admin: %s\n", err.message);
                ma_pseudonym_key_free(admin.key);
                ma_config_free(config);
                return ADMIN_EXIT_FAILURE;
        }
        rc = strcmp(command, "migrate") == 0
                     ? admin_migrate(&admin)
                     : admin_dispatch(&admin, command, action);
        if (rc < 0) {
                fprintf(stderr, "ma-admin: unknown command \"%s %s\"\n%s",
                        command, action, admin_usage);
                rc = ADMIN_EXIT_USAGE;
        }
        PQfinish(admin.conn);
        ma_pseudonym_key_free(admin.key);
        ma_config_free(config);
        return rc;
}
