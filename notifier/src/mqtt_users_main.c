/*
 * mqtt_users_main.c - ma-mqtt-users: MQTT accounts of consumers and of the
 * notifier, kept in PostgreSQL (notifier_mqtt_user) and written out as
 * Mosquitto's password file and ACL file.
 *
 *   ma-mqtt-users add NAME [--role consumer|notifier] [--password-stdin]
 *       creates or replaces NAME's password and prints the new password on
 *       stdout (generated: 24 random bytes, base64url) unless it was read
 *       from stdin.  Only the hash is stored.
 *   ma-mqtt-users remove NAME
 *   ma-mqtt-users list
 *   ma-mqtt-users sync --password-file P --acl-file A
 *       [--base-password-file BP] [--base-acl-file BA] [--reload-pid-file F]
 *       writes every account to P and A (each replaced atomically by
 *       rename, mode 0600), after the lines of BP and BA (accounts that
 *       this table does not manage, for example a monitoring probe), then
 *       sends SIGHUP to the pid in F so Mosquitto rereads both files.
 *
 * ACL: a consumer may read ma/v1/<name>/# and nothing else, so it cannot
 * receive another consumer's notifications even when it subscribes to #;
 * the notifier may write ma/v1/#.
 *
 * Exit 0 on success, 1 on a failure, 2 on invalid arguments.  A crash while
 * writing leaves the previous files in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ma/alloc.h"
#include "ma/config.h"
#include "ma/log.h"
#include "ma/pg.h"
#include "notifier.h"

#ifndef MA_DEFAULT_SCHEMA_DIR
#define MA_DEFAULT_SCHEMA_DIR "schemas"
#endif

/* Mosquitto 2.0's mosquitto_passwd: 12 bytes of salt, 101 iterations. */
#define USERS_SALT_BYTES 12
#define USERS_ITERATIONS 101

static const ma_config_entry_t users_config_table[] = {
        {"database.url", MA_CONFIG_SECRET, NULL, "", 0, 0,
         "libpq connection string or URI; empty: the environment variable "
         "DATABASE_URL."},
        {"migrations.apply", MA_CONFIG_BOOL, NULL, "true", 0, 0,
         "Apply the SQL migrations first, so the table exists."},
        {"migrations.dir", MA_CONFIG_STRING, NULL, MA_DEFAULT_SCHEMA_DIR "/sql",
         1, 0, "Folder with the SQL migrations."},
        {"role", MA_CONFIG_STRING, NULL, "consumer", 7, 8,
         "add: consumer (reads ma/v1/<name>/#) or notifier (writes ma/v1/#)."},
        {"password-stdin", MA_CONFIG_BOOL, NULL, "false", 0, 0,
         "add: read the password from the first line of stdin instead of "
         "generating one."},
        {"password-file", MA_CONFIG_STRING, NULL, "", 0, 0,
         "sync: Mosquitto password file to write."},
        {"acl-file", MA_CONFIG_STRING, NULL, "", 0, 0,
         "sync: Mosquitto ACL file to write."},
        {"base-password-file", MA_CONFIG_STRING, NULL, "", 0, 0,
         "sync: password file lines copied first (optional)."},
        {"base-acl-file", MA_CONFIG_STRING, NULL, "", 0, 0,
         "sync: ACL file lines copied first (optional)."},
        {"reload-pid-file", MA_CONFIG_STRING, NULL, "", 0, 0,
         "sync: file with the broker's pid, which gets SIGHUP (optional)."},
};

#define USERS_CONFIG_COUNT                                                     \
        (sizeof(users_config_table) / sizeof(users_config_table[0]))

static void users_fail(const char *msg, const char *detail)
{
        fprintf(stderr, "ma-mqtt-users: %s%s%s\n", msg,
                detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

/* Appends the file's text to out; a missing optional file is an error. */
static int users_copy_file(FILE *out, const char *path)
{
        char buf[4096];
        size_t len;
        FILE *in;
        int last = '\n';

        if (path[0] == '\0')
                return 0;
        in = fopen(path, "r");
        if (in == NULL) {
                fprintf(stderr, "ma-mqtt-users: could not open \"%s\": %s\n",
                        path, strerror(errno));
                return -1;
        }
        while ((len = fread(buf, 1, sizeof(buf), in)) > 0) {
                fwrite(buf, 1, len, out);
                last = buf[len - 1];
        }
        fclose(in);
        if (last != '\n')
                fputc('\n', out);
        return 0;
}

/* Opens path.tmp for writing with mode 0600. */
static FILE *users_open_tmp(const char *path, char *tmp, size_t size)
{
        int fd;

        snprintf(tmp, size, "%s.tmp", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0) {
                fprintf(stderr, "ma-mqtt-users: could not create \"%s\": %s\n",
                        tmp, strerror(errno));
                return NULL;
        }
        return fdopen(fd, "w");
}

static int users_commit_tmp(FILE *f, const char *tmp, const char *path)
{
        if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 ||
            rename(tmp, path) != 0) {
                fprintf(stderr, "ma-mqtt-users: could not write \"%s\": %s\n",
                        path, strerror(errno));
                return -1;
        }
        return 0;
}

static int users_reload(const char *pid_file)
{
        char buf[32] = "";
        FILE *f;
        long pid;
        char *end;

        if (pid_file[0] == '\0')
                return 0;
        f = fopen(pid_file, "r");
        if (f == NULL || fgets(buf, sizeof(buf), f) == NULL) {
                fprintf(stderr,
                        "ma-mqtt-users: could not read the broker's pid from "
                        "\"%s\": %s; reload it yourself (SIGHUP)\n",
                        pid_file, f == NULL ? strerror(errno) : "empty file");
                if (f != NULL)
                        fclose(f);
                return -1;
        }
        fclose(f);
        pid = strtol(buf, &end, 10);
        if (pid <= 1 || kill((pid_t)pid, SIGHUP) != 0) {
                fprintf(stderr,
                        "ma-mqtt-users: could not send SIGHUP to pid \"%s\" "
                        "from \"%s\"; reload the broker yourself\n",
                        buf, pid_file);
                return -1;
        }
        return 0;
}

static int users_sync(PGconn *conn, const ma_config_t *config)
{
        const char *password_file = ma_config_string(config, "password-file");
        const char *acl_file = ma_config_string(config, "acl-file");
        char password_tmp[4096], acl_tmp[4096];
        PGresult *result;
        FILE *pw, *acl;
        int row;

        if (password_file[0] == '\0' || acl_file[0] == '\0') {
                users_fail("sync needs --password-file and --acl-file", NULL);
                return 2;
        }
        result = PQexec(conn, "SELECT username, role, password_hash "
                              "FROM notifier_mqtt_user ORDER BY username");
        if (PQresultStatus(result) != PGRES_TUPLES_OK) {
                users_fail("could not read notifier_mqtt_user",
                           PQresultErrorMessage(result));
                PQclear(result);
                return 1;
        }
        pw = users_open_tmp(password_file, password_tmp, sizeof(password_tmp));
        acl = users_open_tmp(acl_file, acl_tmp, sizeof(acl_tmp));
        if (pw == NULL || acl == NULL ||
            users_copy_file(
                    pw, ma_config_string(config, "base-password-file")) != 0 ||
            users_copy_file(acl, ma_config_string(config, "base-acl-file")) !=
                    0) {
                if (pw != NULL)
                        fclose(pw);
                if (acl != NULL)
                        fclose(acl);
                PQclear(result);
                return 1;
        }
        fputs("# Written by ma-mqtt-users sync from notifier_mqtt_user; "
              "edits are overwritten.\n",
              acl);
        for (row = 0; row < PQntuples(result); row++) {
                const char *name = PQgetvalue(result, row, 0);
                const char *role = PQgetvalue(result, row, 1);

                fprintf(pw, "%s:%s\n", name, PQgetvalue(result, row, 2));
                if (strcmp(role, "notifier") == 0)
                        fprintf(acl, "\nuser %s\ntopic write ma/v1/#\n", name);
                else
                        fprintf(acl, "\nuser %s\ntopic read ma/v1/%s/#\n", name,
                                name);
        }
        printf("%d accounts written\n", PQntuples(result));
        PQclear(result);
        if (users_commit_tmp(pw, password_tmp, password_file) != 0 ||
            users_commit_tmp(acl, acl_tmp, acl_file) != 0)
                return 1;
        return users_reload(ma_config_string(config, "reload-pid-file")) == 0
                       ? 0
                       : 1;
}

static int users_add(PGconn *conn, const ma_config_t *config, const char *name)
{
        const char *role = ma_config_string(config, "role");
        unsigned char salt[USERS_SALT_BYTES], random_bytes[24];
        char password[256], hash[256];
        const char *params[3] = {name, role, hash};
        PGresult *result;
        ma_error_t err;
        bool generated = !ma_config_bool(config, "password-stdin");
        int status = 0;

        if (strcmp(role, "consumer") != 0 && strcmp(role, "notifier") != 0) {
                users_fail("invalid --role: expected consumer or notifier",
                           NULL);
                return 2;
        }
        if (generated) {
                size_t i;

                if (RAND_bytes(random_bytes, sizeof(random_bytes)) != 1) {
                        users_fail("could not generate a password", NULL);
                        return 1;
                }
                EVP_EncodeBlock((unsigned char *)password, random_bytes,
                                sizeof(random_bytes));
                /* base64url, so the password needs no quoting anywhere. */
                for (i = 0; password[i] != '\0'; i++)
                        if (password[i] == '+')
                                password[i] = '-';
                        else if (password[i] == '/')
                                password[i] = '_';
        } else if (fgets(password, sizeof(password), stdin) == NULL) {
                users_fail("could not read a password from stdin", NULL);
                return 2;
        } else {
                password[strcspn(password, "\r\n")] = '\0';
                if (strlen(password) < 12) {
                        users_fail("password on stdin is shorter than 12 "
                                   "characters",
                                   NULL);
                        OPENSSL_cleanse(password, sizeof(password));
                        return 2;
                }
        }
        if (RAND_bytes(salt, sizeof(salt)) != 1 ||
            notif_password_hash(password, salt, sizeof(salt), USERS_ITERATIONS,
                                hash, sizeof(hash), &err) != MA_OK) {
                users_fail("could not hash the password", NULL);
                OPENSSL_cleanse(password, sizeof(password));
                return 1;
        }
        result = PQexecParams(
                conn,
                "INSERT INTO notifier_mqtt_user (username, role, "
                "password_hash) VALUES ($1, $2, $3) "
                "ON CONFLICT (username) DO UPDATE SET role = EXCLUDED.role, "
                "password_hash = EXCLUDED.password_hash, updated_at = now()",
                3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(result) != PGRES_COMMAND_OK) {
                users_fail("could not store the account",
                           PQresultErrorMessage(result));
                status = 1;
        } else if (generated) {
                printf("%s\n", password);
        }
        PQclear(result);
        OPENSSL_cleanse(password, sizeof(password));
        return status;
}

static int users_simple(PGconn *conn, const char *sql, const char *name)
{
        const char *params[1] = {name};
        PGresult *result = PQexecParams(conn, sql, name != NULL ? 1 : 0, NULL,
                                        params, NULL, NULL, 0);
        int status = 0, row;

        if (PQresultStatus(result) == PGRES_TUPLES_OK) {
                for (row = 0; row < PQntuples(result); row++)
                        printf("%s\t%s\t%s\n", PQgetvalue(result, row, 0),
                               PQgetvalue(result, row, 1),
                               PQgetvalue(result, row, 2));
        } else if (PQresultStatus(result) != PGRES_COMMAND_OK) {
                users_fail("statement failed", PQresultErrorMessage(result));
                status = 1;
        } else if (strcmp(PQcmdTuples(result), "0") == 0) {
                fprintf(stderr, "ma-mqtt-users: no account \"%s\"\n", name);
                status = 1;
        }
        PQclear(result);
        return status;
}

int main(int argc, char *argv[])
{
        ma_config_t *config = NULL;
        ma_error_t err;
        PGconn *conn = NULL;
        const char *command, *name = NULL, *url;
        int status = 2;

        if (ma_config_help_requested(argc, argv)) {
                char *help = ma_config_help(
                        users_config_table, USERS_CONFIG_COUNT,
                        "ma-mqtt-users add NAME | remove NAME | list | sync",
                        "Manages the MQTT accounts of consumers and writes "
                        "Mosquitto's password and ACL files.");

                if (help != NULL)
                        fputs(help, stdout);
                ma_free(help);
                return 0;
        }
        memset(&err, 0, sizeof(err));
        if (ma_config_load(users_config_table, USERS_CONFIG_COUNT, NULL, argc,
                           argv, &config, &err) != MA_OK) {
                users_fail("invalid arguments", err.message);
                return 2;
        }
        command = ma_config_positional_count(config) > 0
                          ? ma_config_positional(config, 0)
                          : "";
        if (ma_config_positional_count(config) > 1)
                name = ma_config_positional(config, 1);
        if ((strcmp(command, "add") == 0 || strcmp(command, "remove") == 0) &&
            (name == NULL || !notif_name_valid(name))) {
                users_fail("invalid or missing NAME: expected 1 to 63 "
                           "characters of a-z, 0-9, _ and -",
                           NULL);
                goto out;
        }
        if (strcmp(command, "add") != 0 && strcmp(command, "remove") != 0 &&
            strcmp(command, "list") != 0 && strcmp(command, "sync") != 0) {
                users_fail("expected a command: add, remove, list or sync",
                           NULL);
                goto out;
        }
        url = ma_config_string(config, "database.url");
        if (url == NULL || url[0] == '\0')
                url = getenv("DATABASE_URL");
        if (url == NULL || url[0] == '\0') {
                users_fail("no database given: set --database.url or "
                           "DATABASE_URL",
                           NULL);
                goto out;
        }
        status = 1;
        if (ma_pg_connect(url, NULL, &conn, &err) != MA_OK ||
            (ma_config_bool(config, "migrations.apply") &&
             ma_pg_migrate(conn, ma_config_string(config, "migrations.dir"),
                           NULL, &err) != MA_OK)) {
                users_fail("cannot prepare the database", err.message);
                goto out;
        }
        if (strcmp(command, "add") == 0)
                status = users_add(conn, config, name);
        else if (strcmp(command, "remove") == 0)
                status = users_simple(conn,
                                      "DELETE FROM notifier_mqtt_user "
                                      "WHERE username = $1",
                                      name);
        else if (strcmp(command, "list") == 0)
                status = users_simple(conn,
                                      "SELECT username, role, updated_at "
                                      "FROM notifier_mqtt_user ORDER BY 1",
                                      NULL);
        else
                status = users_sync(conn, config);
out:
        if (conn != NULL)
                PQfinish(conn);
        ma_config_free(config);
        return status;
}
