/*
 * api_main.c - ma-api: the query API of the Mina ärenden kundhändelser.
 *
 * What it guarantees: an event is disclosed only to a consumer whose API
 * key is valid and active in the connection register (over TLS with its
 * verified client certificate when one is registered), that has the scope of
 * the endpoint, for a user the consumer vouches for (private consumers with
 * an identity provider's signed token), and only when that user is the
 * customer, a representative of an organisation customer, holds a valid
 * mandate covering the event's type, or the consumer is the customer's
 * reading agent.  Every request except the probes (/health, /ready)
 * leaves one row in the append-only api_audit table before its response
 * is sent, and a request whose row cannot be written gets 500 without
 * data.  The API only reads the views; the processor writes them.
 *
 * Start and stop: `MA_PSEUDONYM_SECRET=... MA_DATABASE_URL=... ma-api`
 * applies the migrations in migrations.dir (the same files and function
 * as the processor), loads the catalog and listens (default 127.0.0.1:8580).
 * SIGTERM or SIGINT stops the server and exits 0: a handler that is
 * running completes, audit row included, but open connections are closed,
 * so its response may not arrive.  Exit codes: 1 a runtime failure, 2
 * invalid configuration.
 *
 * What a crash means: requests in flight get no response.  Their audit
 * rows exist when the response was about to be sent.  Nothing else is
 * written.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "api_server.h"
#include "api_ui.h"
#include "ma/alloc.h"
#include "ma/catalog.h"
#include "ma/config.h"
#include "ma/log.h"
#include "ma/pg.h"

#define API_EXIT_FAILURE 1
#define API_EXIT_USAGE   2

static const ma_config_entry_t api_config_table[] = {
        {"listen.address", MA_CONFIG_STRING, NULL, "127.0.0.1", 1, 64,
         "numeric IPv4 address to listen on"},
        {"listen.port", MA_CONFIG_INT, NULL, "8580", 0, 65535,
         "TCP port to listen on; 0 picks a free port and logs it"},
        {"database.url", MA_CONFIG_SECRET, NULL, NULL, 1, 4096,
         "libpq URI or key=value string of the views' database"},
        {"pseudonym.secret", MA_CONFIG_SECRET, NULL, NULL, 16, 0,
         "secret of the customer pseudonyms; the producers' and the "
         "processor's secret (at least 16 bytes)"},
        {"catalog.path", MA_CONFIG_STRING, NULL,
         MA_API_DEFAULT_SCHEMA_DIR "/catalog.json", 1, 4096,
         "event-type catalog (JSON)"},
        {"migrations.dir", MA_CONFIG_STRING, NULL,
         MA_API_DEFAULT_SCHEMA_DIR "/sql", 1, 4096,
         "SQL migrations applied at start"},
        {"body.limit", MA_CONFIG_SIZE_BYTES, "bytes", "256KiB", 1024, 16777216,
         "largest request body; larger bodies are answered 413"},
        {"http.threads", MA_CONFIG_INT, NULL, "4", 1, 256,
         "database connections, so requests worked on at once; every HTTP "
         "connection has a thread of its own"},
        {"http.max-connections", MA_CONFIG_INT, NULL, "256", 1, 100000,
         "concurrent HTTP connections"},
        {"http.idle-timeout", MA_CONFIG_DURATION_MS, "ms", "30s", 1000, 3600000,
         "close an HTTP connection idle this long"},
        {"token.leeway", MA_CONFIG_DURATION_MS, "ms", "30s", 0, 300000,
         "clock difference allowed when checking user tokens"},
        {"token.max-lifetime", MA_CONFIG_DURATION_MS, "ms", "10min", 1000,
         86400000,
         "longest lifetime (exp - iat) of a user token that is accepted"},
        {"log.level", MA_CONFIG_STRING, NULL, "info", 1, 10,
         "lowest log level written: debug, info, warn or error"},
        {"tls.cert", MA_CONFIG_STRING, NULL, "", 0, 4096,
         "PEM file of the server certificate (chain); with tls.key the API "
         "speaks HTTPS only; empty: plain HTTP"},
        {"tls.key", MA_CONFIG_STRING, NULL, "", 0, 4096,
         "PEM file of the server certificate's private key"},
        {"tls.client-ca", MA_CONFIG_STRING, NULL, "", 0, 4096,
         "PEM file of the CAs whose client certificates are verified; a "
         "client certificate is asked for, and required only of consumers "
         "with a registered fingerprint; empty: none asked for"},
        {"ui.dir", MA_CONFIG_STRING, NULL, MA_API_DEFAULT_UI_DIR, 1, 4096,
         "folder of the overview page's static files, served under "
         "/mina-arenden/"},
        {"ui.consumer", MA_CONFIG_STRING, NULL, "mina-sidor", 1, 63,
         "consumer id the overview page acts as: an active public consumer "
         "of the connection register with the scopes oversikt and fraga"},
        {"ui.demo-users", MA_CONFIG_STRING, NULL, "", 0, 4096,
         "JSON file of the overview page's demo users; empty: sign-in is "
         "not configured (docs/ui.md)"},
};

#define API_COUNT(array) (sizeof(array) / sizeof((array)[0]))

static volatile sig_atomic_t api_stop;

static void api_on_signal(int signo)
{
        (void)signo;
        api_stop = 1;
}

static int api_migrate(const ma_config_t *config)
{
        ma_pg_retry_t retry;
        PGconn *conn = NULL;
        ma_error_t err;
        int applied = 0;

        ma_pg_retry_default(&retry);
        retry.stop = &api_stop;
        if (ma_pg_connect(ma_config_string(config, "database.url"), &retry,
                          &conn, &err) != MA_OK ||
            ma_pg_migrate(conn, ma_config_string(config, "migrations.dir"),
                          &applied, &err) != MA_OK) {
                ma_log(MA_LOG_ERROR, "migrations failed", "error", err.message,
                       "sqlstate", err.sqlstate, NULL);
                PQfinish(conn);
                return API_EXIT_FAILURE;
        }
        PQfinish(conn);
        MA_LOG_AT(MA_LOG_INFO, "migrations applied",
                  MA_LOG_INT("applied", applied));
        return 0;
}

/* The PEM files of the TLS settings, read before listening. */
typedef struct api_tls_files {
        char *cert;
        char *key;
        char *client_ca;
} api_tls_files_t;

#define API_PEM_MAX (1024 * 1024)

/* Reads the file of setting name into *out; an empty setting leaves *out
 * NULL.  false (logged) when the file cannot be read. */
static bool api_read_pem(const ma_config_t *config, const char *name,
                         char **out)
{
        const char *path = ma_config_string(config, name);
        FILE *file;
        char *text = NULL;
        long len = -1;

        *out = NULL;
        if (path == NULL || path[0] == '\0')
                return true;
        file = fopen(path, "rb");
        if (file != NULL && fseek(file, 0, SEEK_END) == 0 &&
            (len = ftell(file)) > 0 && len <= API_PEM_MAX &&
            fseek(file, 0, SEEK_SET) == 0) {
                text = ma_malloc((size_t)len + 1);
                if (text != NULL &&
                    fread(text, 1, (size_t)len, file) == (size_t)len) {
                        text[len] = '\0';
                } else {
                        ma_free(text);
                        text = NULL;
                }
        }
        if (file != NULL)
                fclose(file);
        if (text == NULL) {
                ma_log(MA_LOG_ERROR, "invalid configuration", "setting", name,
                       "path", path, "error",
                       "could not read the PEM file: missing, unreadable, "
                       "empty or larger than 1 MiB; check the path and its "
                       "permissions",
                       NULL);
                return false;
        }
        *out = text;
        return true;
}

static void api_tls_files_free(api_tls_files_t *files)
{
        /* The private key does not stay in freed memory. */
        if (files->key != NULL) {
                volatile char *p = files->key;

                while (*p != '\0')
                        *p++ = '\0';
        }
        ma_free(files->cert);
        ma_free(files->key);
        ma_free(files->client_ca);
}

static int api_serve(const ma_config_t *config, const ma_catalog_t *catalog,
                     const ma_pseudonym_key_t *key, const api_tls_files_t *tls);

static int api_run(const ma_config_t *config, const ma_catalog_t *catalog,
                   const ma_pseudonym_key_t *key)
{
        api_tls_files_t tls = {0};
        int rc;

        if (!api_read_pem(config, "tls.cert", &tls.cert) ||
            !api_read_pem(config, "tls.key", &tls.key) ||
            !api_read_pem(config, "tls.client-ca", &tls.client_ca)) {
                api_tls_files_free(&tls);
                return API_EXIT_USAGE;
        }
        rc = api_serve(config, catalog, key, &tls);
        api_tls_files_free(&tls);
        return rc;
}

static int api_serve(const ma_config_t *config, const ma_catalog_t *catalog,
                     const ma_pseudonym_key_t *key, const api_tls_files_t *tls)
{
        api_server_config_t server_config = {0};
        api_ui_config_t ui_config = {0};
        api_server_t *server;
        struct sigaction action = {0};
        ma_error_t err;

        server_config.listen_address =
                ma_config_string(config, "listen.address");
        server_config.port = (int)ma_config_int(config, "listen.port");
        server_config.database_url = ma_config_string(config, "database.url");
        server_config.body_limit = (size_t)ma_config_int(config, "body.limit");
        server_config.threads = (int)ma_config_int(config, "http.threads");
        server_config.max_connections =
                (int)ma_config_int(config, "http.max-connections");
        server_config.idle_timeout_s =
                (int)(ma_config_int(config, "http.idle-timeout") / 1000);
        server_config.token_rules.leeway_s =
                ma_config_int(config, "token.leeway") / 1000;
        server_config.token_rules.max_lifetime_s =
                ma_config_int(config, "token.max-lifetime") / 1000;
        server_config.catalog = catalog;
        server_config.pseudonym_key = key;
        server_config.tls_cert = tls->cert;
        server_config.tls_key = tls->key;
        server_config.tls_client_ca = tls->client_ca;
        if (api_server_start(&server_config, &server, &err) != MA_OK) {
                ma_log(MA_LOG_ERROR, "start failed", "error", err.message,
                       NULL);
                return err.status == MA_ERR_CONFIG ? API_EXIT_USAGE
                                                   : API_EXIT_FAILURE;
        }
        ui_config.dir = ma_config_string(config, "ui.dir");
        ui_config.consumer_id = ma_config_string(config, "ui.consumer");
        ui_config.demo_users = ma_config_string(config, "ui.demo-users");
        ui_config.database_url = server_config.database_url;
        ui_config.pseudonym_key = key;
        if (api_ui_start(&ui_config, &err) != MA_OK) {
                ma_log(MA_LOG_ERROR, "overview page not started", "error",
                       err.message, NULL);
                api_ui_stop();
                api_server_stop(server);
                api_ui_free();
                return API_EXIT_USAGE;
        }
        MA_LOG_AT(MA_LOG_INFO, "listening",
                  MA_LOG_STR("address", server_config.listen_address),
                  MA_LOG_INT("port", api_server_port(server)),
                  MA_LOG_INT("threads", server_config.threads),
                  MA_LOG_STR("scheme", tls->cert != NULL ? "https" : "http"),
                  MA_LOG_STR("client_certificates",
                             tls->client_ca != NULL ? "verified" : "no"));
        action.sa_handler = api_on_signal;
        sigaction(SIGTERM, &action, NULL);
        sigaction(SIGINT, &action, NULL);
        while (!api_stop)
                pause();
        ma_log(MA_LOG_INFO, "stopping", NULL);
        api_ui_stop();
        api_server_stop(server);
        api_ui_free();
        ma_log(MA_LOG_INFO, "stopped", NULL);
        return 0;
}

int main(int argc, char **argv)
{
        ma_config_t *config = NULL;
        ma_catalog_t *catalog = NULL;
        ma_pseudonym_key_t *key = NULL;
        const char *secret;
        ma_error_t err;
        int level, rc;

        if (ma_config_help_requested(argc, argv)) {
                char *help = ma_config_help(
                        api_config_table, API_COUNT(api_config_table), "ma-api",
                        "Answers kundhandelseFragaSynkron questions from the "
                        "views, for consumers in the connection register.");

                if (help != NULL)
                        fputs(help, stdout);
                ma_free(help);
                return 0;
        }
        if (ma_config_load(api_config_table, API_COUNT(api_config_table), NULL,
                           argc, argv, &config, &err) != MA_OK) {
                fprintf(stderr, "ma-api: %s\n", err.message);
                return API_EXIT_USAGE;
        }
        level = ma_log_level_parse(ma_config_string(config, "log.level"));
        ma_log_init("api", level < 0 ? MA_LOG_INFO : (ma_log_level_t)level,
                    NULL);
        secret = ma_config_string(config, "pseudonym.secret");
        if (ma_catalog_load(ma_config_string(config, "catalog.path"), &catalog,
                            &err) != MA_OK ||
            ma_pseudonym_key_new(secret, strlen(secret), &key, &err) != MA_OK) {
                ma_log(MA_LOG_ERROR, "invalid configuration", "error",
                       err.message, NULL);
                ma_catalog_free(catalog);
                ma_config_free(config);
                return API_EXIT_USAGE;
        }
        signal(SIGPIPE, SIG_IGN);
        rc = api_migrate(config);
        if (rc == 0 && !api_stop)
                rc = api_run(config, catalog, key);
        ma_pseudonym_key_free(key);
        ma_catalog_free(catalog);
        ma_config_free(config);
        return rc;
}
