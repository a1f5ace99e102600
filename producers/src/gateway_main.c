/*
 * gateway_main.c - ma-gateway: the HTTP gateway through which case systems
 * that cannot speak Kafka publish kundhändelser.
 *
 * What it guarantees: POST /kundhandelser answers 201 {"antal": N} only
 * after Kafka acknowledged every one of the N events (acks=all, idempotent
 * producer).  When Kafka cannot be reached or does not acknowledge within
 * ack.timeout the answer is 503, never 201, even if some events of the
 * request reached Kafka.  All events of a request are parsed and validated
 * before any is published, so a 400 or 403 means that nothing of the
 * request was published.  The one exception is a 400 for an event that the
 * producer library rejects after it passed the same checks here (for
 * example when its tidpunkt crosses the "at most one day ahead" limit in
 * between), because events before it may have been published.  Each
 * request is authenticated by its producer's API key, and an event may only
 * carry that producer's kundhandelseTyp prefix and organisationsnummer.
 *
 * Start and stop: `MA_PSEUDONYM_SECRET=... ma-gateway --keys.file=F ...`
 * loads the catalog, the schemas and the key file, then listens (default
 * 127.0.0.1).  Kafka is connected lazily, and GET /ready is 200 only while
 * Kafka's metadata can be read.  SIGTERM or SIGINT stops accepting
 * connections, lets requests in flight finish (up to shutdown.timeout),
 * flushes what is queued for Kafka (up to ack.timeout) and exits 0.
 * Key management runs without a server: `ma-gateway keys add|list|revoke`.
 *
 * What a crash means: a request in flight may have been published partly
 * and its client gets no answer.  The client retries the whole request,
 * which is safe because an event with the same kundhandelseId and sekvens
 * replaces its earlier copy downstream.  Events answered with 201 were
 * acknowledged by every in-sync replica before the answer was sent, so a
 * crash of the gateway does not lose them.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "ma/alloc.h"
#include "ma/catalog.h"
#include "ma/config.h"
#include "ma/log.h"

#define GW_EXIT_USAGE 2

static const ma_config_entry_t gw_server_table[] = {
        {"listen.address", MA_CONFIG_STRING, NULL, "127.0.0.1", 1, 64,
         "numeric IPv4 or IPv6 address to listen on"},
        {"listen.port", MA_CONFIG_INT, NULL, "8480", 0, 65535,
         "TCP port to listen on; 0 picks a free port and logs it"},
        {"keys.file", MA_CONFIG_STRING, NULL, NULL, 1, 4096,
         "API key file written by `ma-gateway keys add`"},
        {"catalog", MA_CONFIG_STRING, NULL, "schemas/catalog.json", 1, 4096,
         "event-type catalog (JSON)"},
        {"schemas.dir", MA_CONFIG_STRING, NULL, "schemas", 1, 4096,
         "directory of the Avro schemas (<subject>/v<N>.avsc)"},
        {"kafka.brokers", MA_CONFIG_STRING, NULL, "127.0.0.1:9092", 1, 4096,
         "Kafka bootstrap servers, host:port[,host:port]"},
        {"kafka.topic-prefix", MA_CONFIG_STRING, NULL, "ma.", 0, 100,
         "prepended to every topic name (ma.kundhandelser.<prefix>)"},
        {"pseudonym.secret", MA_CONFIG_SECRET, NULL, NULL, 16, 1024,
         "secret of the customer pseudonyms used as Kafka keys (at least "
         "16 bytes; the same in every producer)"},
        {"ack.timeout", MA_CONFIG_DURATION_MS, "ms", "10s", 100, 300000,
         "how long a request waits for Kafka to acknowledge its events "
         "before answering 503"},
        {"body.limit", MA_CONFIG_SIZE_BYTES, "bytes", "8MiB", 1024, 268435456,
         "largest request body; larger bodies are answered 413"},
        {"http.max-connections", MA_CONFIG_INT, NULL, "64", 1, 10000,
         "concurrent HTTP connections, each served by its own thread"},
        {"http.idle-timeout", MA_CONFIG_DURATION_MS, "ms", "30s", 1000, 3600000,
         "close an HTTP connection idle this long"},
        {"ready.timeout", MA_CONFIG_DURATION_MS, "ms", "2s", 100, 60000,
         "how long GET /ready waits for Kafka metadata"},
        {"shutdown.timeout", MA_CONFIG_DURATION_MS, "ms", "30s", 0, 600000,
         "on SIGTERM, how long requests in flight may take to finish"},
        {"log.level", MA_CONFIG_STRING, NULL, "info", 1, 10,
         "lowest log level written: debug, info, warn or error"},
};

static const ma_config_entry_t gw_keys_table[] = {
        {"file", MA_CONFIG_STRING, NULL, NULL, 1, 4096, "API key file"},
        {"producer", MA_CONFIG_STRING, NULL, "", 0, 10,
         "keys add: the producer's event-type prefix, e.g. SKV"},
        {"catalog", MA_CONFIG_STRING, NULL, "", 0, 4096,
         "keys add: check that the producer is in this catalog"},
};

#define GW_COUNT(array) (sizeof(array) / sizeof((array)[0]))

static const char gw_keys_usage[] =
        "usage: ma-gateway keys add --producer PREFIX --file KEYFILE "
        "[--catalog FILE]\n"
        "       ma-gateway keys list --file KEYFILE\n"
        "       ma-gateway keys revoke KEY_ID --file KEYFILE\n";

static void gw_print_help(const ma_config_entry_t *table, size_t count,
                          const char *program, const char *summary)
{
        char *help = ma_config_help(table, count, program, summary);

        if (help != NULL) {
                fputs(help, stdout);
                ma_free(help);
        }
}

/* ---- ma-gateway keys ---- */

static int gw_keys_add_command(const ma_config_t *config)
{
        const char *file = ma_config_string(config, "file");
        const char *prefix = ma_config_string(config, "producer");
        const char *catalog_path = ma_config_string(config, "catalog");
        char key[GW_KEY_MAX + 1];
        gw_key_record_t record;
        ma_error_t err;

        if (prefix == NULL || prefix[0] == '\0') {
                fprintf(stderr, "ma-gateway: missing --producer: give the "
                                "producer's event-type prefix, e.g. "
                                "--producer SKV\n");
                return GW_EXIT_USAGE;
        }
        if (catalog_path != NULL && catalog_path[0] != '\0') {
                ma_catalog_t *catalog;
                bool known;

                if (ma_catalog_load(catalog_path, &catalog, &err) != MA_OK) {
                        fprintf(stderr, "ma-gateway: %s\n", err.message);
                        return 1;
                }
                known = ma_catalog_find_prefix(catalog, prefix) != NULL;
                ma_catalog_free(catalog);
                if (!known) {
                        fprintf(stderr,
                                "ma-gateway: producer prefix \"%s\" is not in "
                                "the catalog \"%s\"; add the producer first\n",
                                prefix, catalog_path);
                        return 1;
                }
        }
        if (gw_keys_add(file, prefix, key, &record, &err) != MA_OK) {
                fprintf(stderr, "ma-gateway: %s\n", err.message);
                return 1;
        }
        /* The key alone on stdout, so scripts can capture it. */
        printf("%s\n", key);
        fflush(stdout);
        fprintf(stderr,
                "created key %s for producer %s in %s\n"
                "The key above is shown only once and cannot be recovered: "
                "hand it to the producer now.\n",
                record.key_id, record.prefix, file);
        memset(key, 0, sizeof(key));
        return 0;
}

static int gw_keys_list_command(const ma_config_t *config)
{
        const char *file = ma_config_string(config, "file");
        gw_key_record_t *records;
        size_t count;
        ma_error_t err;

        if (gw_keys_list(file, &records, &count, &err) != MA_OK) {
                fprintf(stderr, "ma-gateway: %s\n", err.message);
                return 1;
        }
        printf("%-16s  %-10s  %-20s  %s\n", "KEY_ID", "PRODUCER", "CREATED",
               "REVOKED");
        for (size_t i = 0; i < count; i++)
                printf("%-16s  %-10s  %-20s  %s\n", records[i].key_id,
                       records[i].prefix, records[i].created,
                       records[i].revoked[0] ? records[i].revoked : "-");
        ma_free(records);
        return 0;
}

static int gw_keys_revoke_command(const ma_config_t *config)
{
        const char *file = ma_config_string(config, "file");
        gw_key_record_t record;
        ma_error_t err;

        if (ma_config_positional_count(config) != 2) {
                fputs(gw_keys_usage, stderr);
                return GW_EXIT_USAGE;
        }
        if (gw_keys_revoke(file, ma_config_positional(config, 1), &record,
                           &err) != MA_OK) {
                fprintf(stderr, "ma-gateway: %s\n", err.message);
                return 1;
        }
        fprintf(stderr,
                "revoked key %s of producer %s at %s; a running gateway "
                "rejects it within %d ms\n",
                record.key_id, record.prefix, record.revoked,
                GW_KEY_REFRESH_MS);
        return 0;
}

/* argv[0] is "keys" here: ma_config_load() skips it like a program name. */
static int gw_keys_main(int argc, char **argv)
{
        ma_config_t *config;
        ma_error_t err;
        const char *action;
        int rc;

        if (ma_config_help_requested(argc, argv)) {
                fputs(gw_keys_usage, stdout);
                gw_print_help(gw_keys_table, GW_COUNT(gw_keys_table),
                              "ma-gateway keys",
                              "Creates, lists and revokes the producers' API "
                              "keys of ma-gateway.");
                return 0;
        }
        if (ma_config_load(gw_keys_table, GW_COUNT(gw_keys_table), NULL, argc,
                           argv, &config, &err) != MA_OK) {
                fprintf(stderr, "ma-gateway: %s\n%s", err.message,
                        gw_keys_usage);
                return GW_EXIT_USAGE;
        }
        action = ma_config_positional_count(config) > 0
                         ? ma_config_positional(config, 0)
                         : "";
        if (strcmp(action, "add") == 0 &&
            ma_config_positional_count(config) == 1)
                rc = gw_keys_add_command(config);
        else if (strcmp(action, "list") == 0 &&
                 ma_config_positional_count(config) == 1)
                rc = gw_keys_list_command(config);
        else if (strcmp(action, "revoke") == 0)
                rc = gw_keys_revoke_command(config);
        else {
                fputs(gw_keys_usage, stderr);
                rc = GW_EXIT_USAGE;
        }
        ma_config_free(config);
        return rc;
}

/* ---- The server ---- */

static void gw_config_fill(const ma_config_t *config, gw_config_t *out)
{
        memset(out, 0, sizeof(*out));
        out->listen_address = ma_config_string(config, "listen.address");
        out->port = (int)ma_config_int(config, "listen.port");
        out->key_file = ma_config_string(config, "keys.file");
        out->catalog_path = ma_config_string(config, "catalog");
        out->schema_dir = ma_config_string(config, "schemas.dir");
        out->bootstrap_servers = ma_config_string(config, "kafka.brokers");
        out->topic_prefix = ma_config_string(config, "kafka.topic-prefix");
        out->pseudonym_secret = ma_config_string(config, "pseudonym.secret");
        out->ack_timeout_ms = (int)ma_config_int(config, "ack.timeout");
        out->body_limit = (size_t)ma_config_int(config, "body.limit");
        out->max_connections =
                (int)ma_config_int(config, "http.max-connections");
        out->idle_timeout_s =
                (int)(ma_config_int(config, "http.idle-timeout") / 1000);
        out->ready_timeout_ms = (int)ma_config_int(config, "ready.timeout");
}

static void gw_log_started(const gw_config_t *config, int port)
{
        MA_LOG_AT(MA_LOG_INFO, "listening",
                  MA_LOG_STR("address", config->listen_address),
                  MA_LOG_INT("port", port),
                  MA_LOG_STR("kafka_brokers", config->bootstrap_servers),
                  MA_LOG_STR("topic_prefix", config->topic_prefix),
                  MA_LOG_STR("keys_file", config->key_file),
                  MA_LOG_STR("catalog", config->catalog_path),
                  MA_LOG_INT("ack_timeout_ms", config->ack_timeout_ms),
                  MA_LOG_INT("body_limit_bytes", config->body_limit));
}

/*
 * Blocks the stop signals in every thread (the threads started later
 * inherit the mask), so that main receives them with sigwait().
 */
static void gw_signals_block(sigset_t *set)
{
        sigemptyset(set);
        sigaddset(set, SIGTERM);
        sigaddset(set, SIGINT);
        pthread_sigmask(SIG_BLOCK, set, NULL);
        signal(SIGPIPE, SIG_IGN);
}

static int gw_server_main(int argc, char **argv)
{
        ma_config_t *config;
        gw_config_t settings;
        gw_server_t *server;
        ma_error_t err;
        sigset_t stop_signals;
        int level, signal_number = 0;
        uint64_t unacknowledged;

        if (ma_config_load(gw_server_table, GW_COUNT(gw_server_table), NULL,
                           argc, argv, &config, &err) != MA_OK) {
                fprintf(stderr, "ma-gateway: %s\n", err.message);
                return GW_EXIT_USAGE;
        }
        level = ma_log_level_parse(ma_config_string(config, "log.level"));
        if (level < 0 || ma_config_positional_count(config) > 0) {
                fprintf(stderr, "ma-gateway: %s; see ma-gateway --help\n",
                        level < 0 ? "invalid log.level: expected debug, "
                                    "info, warn or error"
                                  : "unexpected argument");
                ma_config_free(config);
                return GW_EXIT_USAGE;
        }
        ma_log_init("gateway", (ma_log_level_t)level, NULL);
        gw_config_fill(config, &settings);
        gw_signals_block(&stop_signals);
        if (gw_server_start(&settings, &server, &err) != MA_OK) {
                ma_log(MA_LOG_ERROR, "could not start", "error", err.message,
                       NULL);
                ma_config_free(config);
                return 1;
        }
        gw_log_started(&settings, gw_server_port(server));
        sigwait(&stop_signals, &signal_number);
        ma_log(MA_LOG_INFO, "stopping: no new connections, finishing requests",
               "signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM", NULL);
        unacknowledged = gw_server_stop(
                server, (int)ma_config_int(config, "shutdown.timeout"));
        MA_LOG_AT(unacknowledged ? MA_LOG_WARN : MA_LOG_INFO, "stopped",
                  MA_LOG_INT("unacknowledged_records", unacknowledged));
        ma_config_free(config);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc >= 2 && strcmp(argv[1], "keys") == 0)
                return gw_keys_main(argc - 1, argv + 1);
        if (ma_config_help_requested(argc, argv)) {
                gw_print_help(gw_server_table, GW_COUNT(gw_server_table),
                              "ma-gateway",
                              "HTTP gateway: POST /kundhandelser publishes "
                              "a producer's events to Kafka and answers 201 "
                              "only after Kafka acknowledged all of them.");
                printf("\nKey management:\n%s", gw_keys_usage);
                return 0;
        }
        return gw_server_main(argc, argv);
}
