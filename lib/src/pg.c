/*
 * pg.c - PostgreSQL connection with retry, versioned migrations and libpq
 * error mapping.  See ma/pg.h for the contracts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "ma/alloc.h"
#include "ma/pg.h"

/* Arbitrary constant for pg_advisory_lock: "MAMIGRAT" in ASCII. */
#define MA_PG_MIGRATE_LOCK_KEY 0x4d414d4947524154LL

/* Migration files larger than this are refused as a likely mistake. */
#define MA_PG_MIGRATION_MAX_BYTES (4 * 1024 * 1024)

void ma_pg_retry_default(ma_pg_retry_t *retry)
{
        retry->max_attempts = 0;
        retry->initial_backoff_ms = 250;
        retry->max_backoff_ms = 10000;
        retry->stop = NULL;
}

/* Copies the first line of a libpq message without its trailing newline. */
static void ma_pg_first_line(const char *text, char *out, size_t size)
{
        size_t len = 0;

        if (text == NULL)
                text = "";
        while (text[len] != '\0' && text[len] != '\n' && len + 1 < size) {
                out[len] = text[len];
                len++;
        }
        out[len] = '\0';
}

ma_status_t ma_pg_error(PGconn *conn, const PGresult *result, const char *what,
                        ma_error_t *err)
{
        const char *sqlstate = NULL;
        const char *primary = NULL;
        const char *detail = NULL;
        char line[300];

        if (result != NULL) {
                sqlstate = PQresultErrorField(result, PG_DIAG_SQLSTATE);
                primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
                detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL);
        }
        if (primary == NULL && result != NULL)
                primary = PQresultErrorMessage(result);
        if ((primary == NULL || primary[0] == '\0') && conn != NULL)
                primary = PQerrorMessage(conn);
        ma_pg_first_line(primary, line, sizeof(line));
        if (line[0] == '\0')
                snprintf(line, sizeof(line), "%s",
                         conn != NULL && PQstatus(conn) != CONNECTION_OK
                                 ? "the connection to the server was lost"
                                 : "no error message from libpq");

        if (detail != NULL)
                ma_error_set(err, MA_ERR_PG, NULL, "%s: %s (%s)", what, line,
                             detail);
        else
                ma_error_set(err, MA_ERR_PG, NULL, "%s: %s", what, line);
        if (err != NULL && sqlstate != NULL)
                snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", sqlstate);
        return MA_ERR_PG;
}

bool ma_pg_error_is_transient(const ma_error_t *err)
{
        const char *s;

        if (err == NULL || err->status != MA_ERR_PG)
                return false;
        s = err->sqlstate;
        if (s[0] == '\0')
                return true; /* no response from the server */
        if (strncmp(s, "08", 2) == 0)
                return true;
        return strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 ||
               strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
               strcmp(s, "57P03") == 0;
}

static void ma_pg_sleep_ms(int ms)
{
        struct timespec ts;

        ts.tv_sec = ms / 1000;
        ts.tv_nsec = (long)(ms % 1000) * 1000000L;
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
}

/*
 * True when a failed connection attempt may succeed later: the server was
 * not reachable or is starting up.  libpq reports neither as a SQLSTATE
 * before authentication, so the message text decides, and anything the
 * server rejected explicitly (authentication, missing database) is
 * permanent.  NOTE: the texts are libpq's English messages; with a
 * translated libpq (lc_messages) a permanent failure is retried instead.
 */
static bool ma_pg_connect_failure_is_transient(PGconn *conn)
{
        const char *msg = PQerrorMessage(conn);

        if (msg == NULL)
                return true;
        if (strstr(msg, "password authentication failed") != NULL ||
            strstr(msg, "does not exist") != NULL ||
            strstr(msg, "no pg_hba.conf entry") != NULL ||
            strstr(msg, "invalid connection option") != NULL ||
            strstr(msg, "invalid URI") != NULL ||
            strstr(msg, "missing \"=\"") != NULL)
                return false;
        return true;
}

/* libpq's default prints server notices to stderr; the library never
 * prints, so they are dropped. */
static void ma_pg_ignore_notice(void *arg, const char *message)
{
        (void)arg;
        (void)message;
}

ma_status_t ma_pg_connect(const char *conninfo, const ma_pg_retry_t *retry,
                          PGconn **conn_out, ma_error_t *err)
{
        ma_pg_retry_t defaults;
        int attempt = 0;
        int backoff;

        *conn_out = NULL;
        if (retry == NULL) {
                ma_pg_retry_default(&defaults);
                retry = &defaults;
        }
        backoff =
                retry->initial_backoff_ms > 0 ? retry->initial_backoff_ms : 250;
        for (;;) {
                PGconn *conn = PQconnectdb(conninfo);

                attempt++;
                if (conn == NULL)
                        return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                            "could not connect to PostgreSQL: "
                                            "out of memory");
                if (PQstatus(conn) == CONNECTION_OK) {
                        PQsetNoticeProcessor(conn, ma_pg_ignore_notice, NULL);
                        *conn_out = conn;
                        return MA_OK;
                }
                ma_pg_error(conn, NULL, "could not connect to PostgreSQL", err);
                if (!ma_pg_connect_failure_is_transient(conn)) {
                        PQfinish(conn);
                        return MA_ERR_PG;
                }
                PQfinish(conn);
                if (retry->max_attempts > 0 && attempt >= retry->max_attempts)
                        return MA_ERR_PG;
                if (retry->stop != NULL && *retry->stop)
                        return ma_error_set(err, MA_ERR_STATE, NULL,
                                            "could not connect to PostgreSQL: "
                                            "stopped while retrying");
                ma_pg_sleep_ms(backoff);
                backoff *= 2;
                if (backoff > retry->max_backoff_ms)
                        backoff = retry->max_backoff_ms;
        }
}

ma_status_t ma_pg_exec(PGconn *conn, const char *sql, ma_error_t *err)
{
        PGresult *result = PQexec(conn, sql);
        ma_status_t status = MA_OK;

        if (result == NULL || (PQresultStatus(result) != PGRES_COMMAND_OK &&
                               PQresultStatus(result) != PGRES_TUPLES_OK))
                status = ma_pg_error(conn, result,
                                     "could not execute SQL command", err);
        PQclear(result);
        return status;
}

/* ---- Migrations ---- */

static int ma_pg_name_compare(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ma_pg_names_free(char **names, size_t count)
{
        size_t i;

        for (i = 0; i < count; i++)
                ma_free(names[i]);
        ma_free(names);
}

/* A migration file name: four or more digits, '_', anything, ".sql". */
static bool ma_pg_is_migration_name(const char *name)
{
        size_t len = strlen(name);
        size_t digits = 0;

        while (name[digits] >= '0' && name[digits] <= '9')
                digits++;
        return digits >= 4 && name[digits] == '_' && len > 4 &&
               strcmp(name + len - 4, ".sql") == 0;
}

static ma_status_t ma_pg_list_migrations(const char *dir, char ***names_out,
                                         size_t *count_out, ma_error_t *err)
{
        DIR *d = opendir(dir);
        struct dirent *entry;
        char **names = NULL;
        size_t count = 0, cap = 0;

        if (d == NULL)
                return ma_error_set(err, MA_ERR_IO, NULL,
                                    "could not open migration directory "
                                    "\"%s\": %s",
                                    dir, strerror(errno));
        while ((entry = readdir(d)) != NULL) {
                if (!ma_pg_is_migration_name(entry->d_name))
                        continue;
                if (count == cap) {
                        size_t new_cap = cap ? cap * 2 : 16;
                        char **grown =
                                ma_realloc(names, new_cap * sizeof(*names));
                        if (grown == NULL)
                                goto nomem;
                        names = grown;
                        cap = new_cap;
                }
                names[count] = ma_strdup(entry->d_name);
                if (names[count] == NULL)
                        goto nomem;
                count++;
        }
        closedir(d);
        if (count > 0)
                qsort(names, count, sizeof(*names), ma_pg_name_compare);
        *names_out = names;
        *count_out = count;
        return MA_OK;
nomem:
        closedir(d);
        ma_pg_names_free(names, count);
        return ma_error_set(err, MA_ERR_NOMEM, NULL,
                            "could not list migrations: out of memory");
}

static ma_status_t ma_pg_read_file(const char *path, char **text_out,
                                   ma_error_t *err)
{
        FILE *f = fopen(path, "rb");
        char *text = NULL;
        size_t len = 0, cap = 0, n;

        if (f == NULL)
                return ma_error_set(err, MA_ERR_IO, NULL,
                                    "could not open migration \"%s\": %s", path,
                                    strerror(errno));
        do {
                if (cap - len < 4096) {
                        char *grown;

                        cap = cap ? cap * 2 : 16384;
                        if (cap > MA_PG_MIGRATION_MAX_BYTES + 4096) {
                                fclose(f);
                                ma_free(text);
                                return ma_error_set(
                                        err, MA_ERR_TOO_LARGE, NULL,
                                        "migration \"%s\" is larger than %d "
                                        "bytes; split it into several files",
                                        path, MA_PG_MIGRATION_MAX_BYTES);
                        }
                        grown = ma_realloc(text, cap);
                        if (grown == NULL) {
                                fclose(f);
                                ma_free(text);
                                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                                    "could not read migration "
                                                    "\"%s\": out of memory",
                                                    path);
                        }
                        text = grown;
                }
                n = fread(text + len, 1, cap - len - 1, f);
                len += n;
        } while (n > 0);
        if (ferror(f)) {
                fclose(f);
                ma_free(text);
                return ma_error_set(err, MA_ERR_IO, NULL,
                                    "could not read migration \"%s\"", path);
        }
        fclose(f);
        text[len] = '\0';
        if (strlen(text) != len) {
                ma_free(text);
                return ma_error_set(err, MA_ERR_INVALID, NULL,
                                    "migration \"%s\" contains a NUL byte; "
                                    "save it as plain UTF-8 text",
                                    path);
        }
        *text_out = text;
        return MA_OK;
}

static void ma_pg_sha256_hex(const char *text, char out[65])
{
        static const char hex[] = "0123456789abcdef";
        unsigned char digest[32];
        unsigned int digest_len = 0;
        unsigned int i;

        EVP_Digest(text, strlen(text), digest, &digest_len, EVP_sha256(), NULL);
        for (i = 0; i < digest_len && i < 32; i++) {
                out[2 * i] = hex[digest[i] >> 4];
                out[2 * i + 1] = hex[digest[i] & 15];
        }
        out[2 * i] = '\0';
}

/*
 * Returns in *checksum_out (caller's 65-byte buffer) the recorded checksum
 * of version, or "" when it was never applied.
 */
static ma_status_t ma_pg_recorded_checksum(PGconn *conn, const char *version,
                                           char checksum_out[65],
                                           ma_error_t *err)
{
        const char *params[1] = {version};
        PGresult *result = PQexecParams(
                conn,
                "SELECT checksum FROM schema_migrations WHERE version = $1", 1,
                NULL, params, NULL, NULL, 0);

        checksum_out[0] = '\0';
        if (result == NULL || PQresultStatus(result) != PGRES_TUPLES_OK) {
                ma_pg_error(conn, result, "could not read schema_migrations",
                            err);
                PQclear(result);
                return MA_ERR_PG;
        }
        if (PQntuples(result) == 1)
                snprintf(checksum_out, 65, "%s", PQgetvalue(result, 0, 0));
        PQclear(result);
        return MA_OK;
}

static ma_status_t ma_pg_apply_one(PGconn *conn, const char *version,
                                   const char *sql, const char *checksum,
                                   ma_error_t *err)
{
        const char *params[2] = {version, checksum};
        char what[160];
        PGresult *result;
        ma_status_t status;

        snprintf(what, sizeof(what), "could not apply migration \"%s\"",
                 version);
        status = ma_pg_exec(conn, "BEGIN", err);
        if (status != MA_OK)
                return status;
        result = PQexec(conn, sql);
        if (result == NULL || PQresultStatus(result) != PGRES_COMMAND_OK) {
                /* A script ending in a SELECT still counts as applied. */
                if (result == NULL ||
                    PQresultStatus(result) != PGRES_TUPLES_OK) {
                        ma_pg_error(conn, result, what, err);
                        PQclear(result);
                        ma_pg_exec(conn, "ROLLBACK", NULL);
                        return MA_ERR_PG;
                }
        }
        PQclear(result);
        result = PQexecParams(conn,
                              "INSERT INTO schema_migrations (version, "
                              "checksum) VALUES ($1, $2)",
                              2, NULL, params, NULL, NULL, 0);
        if (result == NULL || PQresultStatus(result) != PGRES_COMMAND_OK) {
                ma_pg_error(conn, result, what, err);
                PQclear(result);
                ma_pg_exec(conn, "ROLLBACK", NULL);
                return MA_ERR_PG;
        }
        PQclear(result);
        return ma_pg_exec(conn, "COMMIT", err);
}

static ma_status_t ma_pg_migrate_locked(PGconn *conn, const char *dir,
                                        char **names, size_t count,
                                        int *applied, ma_error_t *err)
{
        size_t i;
        ma_status_t status;

        for (i = 0; i < count; i++) {
                char path[4096];
                char recorded[65], checksum[65];
                char *sql = NULL;

                if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
                                     names[i]) >= sizeof(path))
                        return ma_error_set(err, MA_ERR_IO, NULL,
                                            "migration path under \"%s\" is "
                                            "too long",
                                            dir);
                status = ma_pg_read_file(path, &sql, err);
                if (status != MA_OK)
                        return status;
                ma_pg_sha256_hex(sql, checksum);
                status = ma_pg_recorded_checksum(conn, names[i], recorded, err);
                if (status == MA_OK && recorded[0] != '\0' &&
                    strcmp(recorded, checksum) != 0)
                        status = ma_error_set(
                                err, MA_ERR_SCHEMA, NULL,
                                "migration \"%s\" was changed after it was "
                                "applied; migrations are append-only, so "
                                "restore the file and add the change as a new "
                                "file",
                                names[i]);
                if (status == MA_OK && recorded[0] == '\0') {
                        status = ma_pg_apply_one(conn, names[i], sql, checksum,
                                                 err);
                        if (status == MA_OK)
                                (*applied)++;
                }
                ma_free(sql);
                if (status != MA_OK)
                        return status;
        }
        return MA_OK;
}

ma_status_t ma_pg_migrate(PGconn *conn, const char *dir, int *applied_out,
                          ma_error_t *err)
{
        char **names = NULL;
        size_t count = 0;
        int applied = 0;
        char lock_sql[96];
        ma_status_t status;

        if (applied_out != NULL)
                *applied_out = 0;
        status = ma_pg_list_migrations(dir, &names, &count, err);
        if (status != MA_OK)
                return status;

        snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_lock(%lld)",
                 (long long)MA_PG_MIGRATE_LOCK_KEY);
        status = ma_pg_exec(conn, lock_sql, err);
        if (status == MA_OK)
                status = ma_pg_exec(
                        conn,
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        " version text PRIMARY KEY,"
                        " checksum text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())",
                        err);
        if (status == MA_OK)
                status = ma_pg_migrate_locked(conn, dir, names, count, &applied,
                                              err);
        snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_unlock(%lld)",
                 (long long)MA_PG_MIGRATE_LOCK_KEY);
        ma_pg_exec(conn, lock_sql, NULL);
        ma_pg_names_free(names, count);
        if (applied_out != NULL)
                *applied_out = applied;
        return status;
}
