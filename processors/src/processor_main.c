/*
 * processor_main.c - ma-processor: builds the PostgreSQL views from every
 * producer topic.
 *
 * Guarantees: each record of a topic matching <prefix>kundhandelser.* has
 * its effect committed exactly once.  Its view change (or its
 * rejected_events row) and its partition's offset are written in one
 * transaction, and partitions resume from the offsets in PostgreSQL, never
 * from Kafka's committed offsets (those are kept for monitoring only).  A
 * record that cannot be applied goes to the dead-letter topic, and its
 * delivery is confirmed before that transaction commits, so no rejected
 * record is lost.  Within a partition, records are applied in offset order.
 *
 * Start: ma-processor [--config FILE] [--name=value ...]; --help lists the
 * settings.  It connects to PostgreSQL (retrying), applies the migrations in
 * schemas/sql, loads the event type catalog into its tables, creates the
 * dead-letter topic if asked to, joins the consumer group and subscribes by
 * pattern, so topics created later are picked up without a restart.
 *
 * Retention: every retention.interval (and right after start) expired
 * events are deleted with their derived rows, a bounded number per
 * transaction between batches (proc_retention.c).  --retention.once does
 * only that and exits, without Kafka.
 *
 * Stop: SIGTERM or SIGINT finishes and commits the current batch, leaves the
 * group (waiting at most kafka.close-timeout) and exits 0.  Exit 1 means a
 * failure it could not recover from (PostgreSQL unreachable while partitions
 * were assigned, a broken migration); exit 2 means invalid configuration,
 * schemas or catalog.
 *
 * Crash: a kill at any instant loses nothing and applies nothing twice.  An
 * uncommitted batch is read again from PostgreSQL's offsets on restart.
 * The one visible repeat is a dead letter that was delivered before the
 * crash and is sent again, with the same ma_dlq_topic/partition/offset
 * headers, so consumers of the dead-letter topic deduplicate on those.
 * Batches commit without waiting for the WAL flush (database.synchronous-
 * commit, false by default).  So a crash of the PostgreSQL server may undo
 * the last committed batches after other sessions saw them.  Their offsets
 * go with them, and they are applied again, once, with the same
 * notification ids.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/config.h"
#include "ma/datetime.h"
#include "ma/log.h"
#include "processor.h"

#ifndef MA_DEFAULT_SCHEMA_DIR
#define MA_DEFAULT_SCHEMA_DIR "schemas"
#endif

static volatile sig_atomic_t proc_stop_requested;

static const ma_config_entry_t proc_config_table[] = {
        {"kafka.brokers", MA_CONFIG_STRING, NULL, "127.0.0.1:9092", 1, 0,
         "Kafka bootstrap servers, host:port[,host:port...]."},
        {"kafka.group", MA_CONFIG_STRING, NULL, "ma-processor", 1, 249,
         "Consumer group id; every instance of one deployment uses the same."},
        {"kafka.topic-prefix", MA_CONFIG_STRING, NULL, "ma.", 0, 200,
         "Prefix of the producer topics (<prefix>kundhandelser.<producer>) "
         "and of the dead-letter topic (<prefix>deadletter)."},
        {"kafka.assignment-strategy", MA_CONFIG_STRING, NULL,
         "cooperative-sticky", 1, 100,
         "partition.assignment.strategy of librdkafka: cooperative-sticky, "
         "range or roundrobin."},
        {"kafka.metadata-refresh", MA_CONFIG_DURATION_MS, "ms", "5s", 1000,
         3600000,
         "How often topic metadata is refreshed, which bounds how long a new "
         "producer topic waits before it is consumed."},
        {"kafka.session-timeout", MA_CONFIG_DURATION_MS, "ms", "45s", 1000,
         3600000,
         "session.timeout.ms: how long the group waits for a silent member "
         "(for example a killed one) before its partitions move; the broker "
         "bounds it with group.min/max.session.timeout.ms."},
        {"kafka.fetch-wait", MA_CONFIG_DURATION_MS, "ms", "100ms", 0, 5000,
         "fetch.wait.max.ms: how long the broker holds a fetch that finds no "
         "new record.  Partitions that become ready while such a fetch waits "
         "(at assignment, or when a read-ahead queue drains) are fetched "
         "only after it returns, so under a backlog a long wait stalls the "
         "processor."},
        {"kafka.close-timeout", MA_CONFIG_DURATION_MS, "ms", "10s", 1000,
         600000,
         "Longest wait at stop for leaving the consumer group; after it the "
         "process exits anyway and the broker drops the member after "
         "kafka.session-timeout."},
        {"dlq.create", MA_CONFIG_BOOL, NULL, "true", 0, 0,
         "Create the dead-letter topic at start when it is missing."},
        {"dlq.partitions", MA_CONFIG_INT, NULL, "3", 1, 1000,
         "Partitions of the dead-letter topic when it is created."},
        {"dlq.timeout", MA_CONFIG_DURATION_MS, "ms", "30s", 1000, 600000,
         "Longest wait for dead-letter deliveries before a batch is rolled "
         "back and retried."},
        {"batch.max", MA_CONFIG_INT, "records", "2000", 1, 100000,
         "Most records applied in one transaction."},
        {"batch.linger", MA_CONFIG_DURATION_MS, "ms", "200ms", 0, 60000,
         "Longest wait for a batch to fill before it is committed."},
        {"batch.flush-idle", MA_CONFIG_BOOL, NULL, "true", 0, 0,
         "Commit a batch as soon as no further record is queued, instead of "
         "waiting for batch.linger: a lone event is applied at once, and "
         "under load batches still grow while the previous one commits."},
        {"batch.apply", MA_CONFIG_STRING, NULL, "set", 3, 6,
         "How a batch's records are written: set (a few set-based "
         "statements per batch) or record (one statement per record, the "
         "slower reference the tests compare with)."},
        {"database.synchronous-commit", MA_CONFIG_BOOL, NULL, "false", 0, 0,
         "Wait for each batch's commit to be flushed to the WAL.  false "
         "(the default) sets synchronous_commit = off for batch "
         "transactions: a server crash may undo the last batches after "
         "readers have seen them, and they are then consumed again with "
         "their offsets."},
        {"database.url", MA_CONFIG_SECRET, NULL, "", 0, 0,
         "libpq connection string or URI; empty: the environment variable "
         "DATABASE_URL."},
        {"schema.dir", MA_CONFIG_STRING, NULL, MA_DEFAULT_SCHEMA_DIR, 1, 0,
         "Folder with the Avro schemas (<name>/v<N>.avsc)."},
        {"catalog.path", MA_CONFIG_STRING, NULL, "", 0, 0,
         "Event type catalog; empty: <schema.dir>/catalog.json."},
        {"migrations.dir", MA_CONFIG_STRING, NULL, "", 0, 0,
         "SQL migrations; empty: <schema.dir>/sql."},
        {"pseudonym.secret", MA_CONFIG_SECRET, NULL, NULL, 16, 0,
         "Secret of the customer pseudonyms, the one the producers use (at "
         "least 16 bytes)."},
        {"codec.max-message", MA_CONFIG_SIZE_BYTES, "bytes", "256KiB", 1024,
         67108864, "Largest record value decoded; larger ones are rejected."},
        {"metrics.address", MA_CONFIG_STRING, NULL, "127.0.0.1", 1, 64,
         "IPv4 address of /metrics, /health and /ready."},
        {"metrics.port", MA_CONFIG_INT, NULL, "9464", 0, 65535,
         "Port of /metrics, /health and /ready; 0 turns them off."},
        {"retention.interval", MA_CONFIG_DURATION_MS, "ms", "1h", 0,
         31536000000,
         "How often expired events are deleted (retention); the first run "
         "is right after start; 0 turns scheduled retention off."},
        {"retention.batch", MA_CONFIG_INT, "events", "1000", 1, 1000000,
         "Maximum number of expired events deleted in one transaction."},
        {"retention.now", MA_CONFIG_STRING, NULL, "", 0, 64,
         "The instant retention counts back from, as an ISO 8601 timestamp "
         "with offset; empty: the database's clock.  For tests."},
        {"retention.once", MA_CONFIG_BOOL, NULL, "false", 0, 0,
         "Delete everything expired, then exit without consuming."},
        {"log.level", MA_CONFIG_STRING, NULL, "info", 4, 5,
         "Lowest level logged: debug, info, warn or error."},
};

#define PROC_CONFIG_COUNT                                                      \
        (sizeof(proc_config_table) / sizeof(proc_config_table[0]))

static void proc_on_signal(int signo)
{
        (void)signo;
        proc_stop_requested = 1;
}

static void proc_install_signals(void)
{
        struct sigaction action;

        memset(&action, 0, sizeof(action));
        action.sa_handler = proc_on_signal;
        sigemptyset(&action.sa_mask);
        sigaction(SIGTERM, &action, NULL);
        sigaction(SIGINT, &action, NULL);
        action.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &action, NULL);
}

/* Escapes regular-expression metacharacters of text into out. */
static void proc_regex_escape(const char *text, char *out, size_t size)
{
        size_t used = 0;

        for (; *text != '\0' && used + 3 < size; text++) {
                if (strchr(".^$*+?()[]{}|\\", *text) != NULL)
                        out[used++] = '\\';
                out[used++] = *text;
        }
        out[used] = '\0';
}

/* Paths built from schema.dir; static because settings point at them. */
static char proc_catalog_path[4096];
static char proc_migrations_dir[4096];

static ma_status_t proc_settings_fill(proc_settings_t *s,
                                      const ma_config_t *config,
                                      ma_error_t *err)
{
        const char *prefix = ma_config_string(config, "kafka.topic-prefix");
        char escaped[220];

        s->brokers = ma_config_string(config, "kafka.brokers");
        s->group_id = ma_config_string(config, "kafka.group");
        s->topic_prefix = prefix;
        proc_regex_escape(prefix, escaped, sizeof(escaped));
        snprintf(s->topic_pattern, sizeof(s->topic_pattern),
                 "^%skundhandelser\\..+", escaped);
        snprintf(s->dlq_topic, sizeof(s->dlq_topic), "%sdeadletter", prefix);
        s->assignment_strategy =
                ma_config_string(config, "kafka.assignment-strategy");
        s->metadata_refresh_ms =
                (int)ma_config_int(config, "kafka.metadata-refresh");
        s->fetch_wait_ms = (int)ma_config_int(config, "kafka.fetch-wait");
        s->session_timeout_ms =
                (int)ma_config_int(config, "kafka.session-timeout");
        s->close_timeout_ms = (int)ma_config_int(config, "kafka.close-timeout");
        s->dlq_create = ma_config_bool(config, "dlq.create");
        s->dlq_partitions = (int)ma_config_int(config, "dlq.partitions");
        s->dlq_timeout_ms = (int)ma_config_int(config, "dlq.timeout");
        s->batch_max = (int)ma_config_int(config, "batch.max");
        s->batch_linger_ms = (int)ma_config_int(config, "batch.linger");
        s->batch_flush_idle = ma_config_bool(config, "batch.flush-idle");
        if (strcmp(ma_config_string(config, "batch.apply"), "set") == 0)
                s->batch_per_record = false;
        else if (strcmp(ma_config_string(config, "batch.apply"), "record") == 0)
                s->batch_per_record = true;
        else
                return ma_error_set(err, MA_ERR_CONFIG, "batch.apply",
                                    "invalid batch.apply \"%s\": use set or "
                                    "record",
                                    ma_config_string(config, "batch.apply"));
        s->synchronous_commit =
                ma_config_bool(config, "database.synchronous-commit");
        s->database_url = ma_config_string(config, "database.url");
        if (s->database_url == NULL || s->database_url[0] == '\0')
                s->database_url = getenv("DATABASE_URL");
        if (s->database_url == NULL || s->database_url[0] == '\0')
                return ma_error_set(err, MA_ERR_CONFIG, "database.url",
                                    "no database given: set --database.url, "
                                    "MA_DATABASE_URL or DATABASE_URL");
        s->schema_dir = ma_config_string(config, "schema.dir");
        s->catalog_path = ma_config_string(config, "catalog.path");
        if (s->catalog_path[0] == '\0') {
                snprintf(proc_catalog_path, sizeof(proc_catalog_path),
                         "%s/catalog.json", s->schema_dir);
                s->catalog_path = proc_catalog_path;
        }
        s->migrations_dir = ma_config_string(config, "migrations.dir");
        if (s->migrations_dir[0] == '\0') {
                snprintf(proc_migrations_dir, sizeof(proc_migrations_dir),
                         "%s/sql", s->schema_dir);
                s->migrations_dir = proc_migrations_dir;
        }
        s->max_message_bytes = (int)ma_config_int(config, "codec.max-message");
        s->metrics_address = ma_config_string(config, "metrics.address");
        s->metrics_port = (int)ma_config_int(config, "metrics.port");
        s->retention_interval_ms = ma_config_int(config, "retention.interval");
        s->retention_batch = (int)ma_config_int(config, "retention.batch");
        s->retention_now = ma_config_string(config, "retention.now");
        if (s->retention_now[0] == '\0')
                s->retention_now = NULL;
        s->retention_once = ma_config_bool(config, "retention.once");
        return MA_OK;
}

static ma_status_t proc_open_model(proc_t *proc, const ma_config_t *config,
                                   ma_error_t *err)
{
        const char *secret = ma_config_string(config, "pseudonym.secret");
        ma_status_t status;

        status = ma_codec_open(proc->settings.schema_dir,
                               (size_t)proc->settings.max_message_bytes,
                               &proc->codec, err);
        if (status == MA_OK)
                status = ma_catalog_load(proc->settings.catalog_path,
                                         &proc->catalog, err);
        if (status == MA_OK)
                status = ma_pseudonym_key_new(secret, strlen(secret),
                                              &proc->pseudonym_key, err);
        ma_validate_limits_default(&proc->limits);
        return status;
}

static void proc_handle_consumer_error(proc_t *proc,
                                       const rd_kafka_message_t *message)
{
        if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                return;
        if (message->err == RD_KAFKA_RESP_ERR__FATAL) {
                char reason[512];
                const char *reason_text = reason;

                rd_kafka_fatal_error(proc->consumer, reason, sizeof(reason));
                MA_LOG_AT(MA_LOG_ERROR, "consumer failed, stopping",
                          MA_LOG_STR("error", reason_text));
                proc->fatal = true;
                return;
        }
        MA_LOG_AT(MA_LOG_WARN, "consumer error",
                  MA_LOG_STR("error", rd_kafka_message_errstr(message)),
                  MA_LOG_STR("topic",
                             message->rkt ? rd_kafka_topic_name(message->rkt)
                                          : ""));
}

/* Adds a polled message to the batch being filled, or handles its error. */
static void proc_take(proc_t *proc, rd_kafka_message_t *message)
{
        ma_error_t err;

        if (message->err) {
                proc_handle_consumer_error(proc, message);
                rd_kafka_message_destroy(message);
                return;
        }
        ma_error_clear(&err);
        if (proc_batch_add(proc, message, &err) != MA_OK) {
                rd_kafka_message_destroy(message);
                MA_LOG_AT(MA_LOG_ERROR, "cannot queue record",
                          MA_LOG_STR("error", err.message));
                proc->fatal = true;
        }
}

/*
 * Reads, without waiting, up to a batch of records that are already
 * fetched into the batch being filled, so the classifier works on them
 * while the closed batch is applied.
 */
static void proc_read_ahead(proc_t *proc)
{
        while (!proc->fatal &&
               proc->fill.count < (size_t)proc->settings.batch_max) {
                rd_kafka_message_t *message =
                        rd_kafka_consumer_poll(proc->consumer, 0);

                if (message == NULL)
                        break;
                proc_take(proc, message);
        }
}

/* The poll loop: fills batches and commits them by size or age. */
static void proc_run(proc_t *proc)
{
        int64_t next_lag_ms = 0;
        ma_error_t err;

        while (!proc_stop_requested && !proc->fatal) {
                int timeout = 100;
                rd_kafka_message_t *message;
                int64_t now;
                bool idle;

                if (proc->fill.count > 0) {
                        int64_t age = ma_now_ms() - proc->fill.started_ms;

                        timeout =
                                age >= proc->settings.batch_linger_ms ||
                                                proc->settings.batch_flush_idle
                                        ? 0
                                        : (int)(proc->settings.batch_linger_ms -
                                                age);
                }
                /* A full batch (read ahead during the last commit) is
                 * committed before anything more is read. */
                message = proc->fill.count < (size_t)proc->settings.batch_max
                                  ? rd_kafka_consumer_poll(proc->consumer,
                                                           timeout)
                                  : NULL;
                idle = message == NULL &&
                       proc->fill.count < (size_t)proc->settings.batch_max;
                if (message != NULL)
                        proc_take(proc, message);
                if (proc->fatal)
                        break;
                now = ma_now_ms();
                if (proc->fill.count > 0 &&
                    (proc->fill.count >= (size_t)proc->settings.batch_max ||
                     (idle && proc->settings.batch_flush_idle) ||
                     now - proc->fill.started_ms >=
                             proc->settings.batch_linger_ms)) {
                        proc_batch_close(proc);
                        /* A rebalance served here flushes both batches. */
                        proc_read_ahead(proc);
                        ma_error_clear(&err);
                        if (!proc->fatal &&
                            proc_batch_flush(proc, &err) != MA_OK)
                                MA_LOG_AT(MA_LOG_ERROR,
                                          "batch failed, stopping",
                                          MA_LOG_STR("error", err.message),
                                          MA_LOG_STR("sqlstate", err.sqlstate));
                }
                if (proc->fill.count == 0 && proc->batch_count == 0 &&
                    !proc->fatal)
                        proc_retention_tick(proc);
                if (now >= next_lag_ms) {
                        proc_kafka_update_lag(proc);
                        next_lag_ms = now + 5000;
                }
        }
        if (!proc->fatal && (proc->batch_count > 0 || proc->fill.count > 0)) {
                ma_error_clear(&err);
                if (proc_batch_flush_all(proc, &err) != MA_OK)
                        MA_LOG_AT(MA_LOG_ERROR, "final batch failed",
                                  MA_LOG_STR("error", err.message));
        }
        if (proc->fatal) {
                proc_batch_drop(proc);
                proc_ahead_drop(proc);
        }
}

static void proc_free(proc_t *proc)
{
        proc_batch_drop(proc);
        proc_ahead_free(proc);
        ma_free(proc->batch);
        ma_free(proc->verdict);
        ma_free(proc->forced_detail);
        ma_free(proc->dlq_slots);
        proc_copy_free(&proc->copy);
        proc_partitions_clear(proc);
        if (proc->pg != NULL)
                PQfinish(proc->pg);
        ma_pseudonym_key_free(proc->pseudonym_key);
        ma_catalog_free(proc->catalog);
        ma_codec_close(proc->codec);
}

static int proc_start_and_run(proc_t *proc, const ma_config_t *config)
{
        ma_error_t err;

        ma_error_clear(&err);
        if (proc_open_model(proc, config, &err) != MA_OK) {
                MA_LOG_AT(MA_LOG_ERROR, "cannot load schemas or catalog",
                          MA_LOG_STR("error", err.message));
                return 2;
        }
        if (proc->settings.metrics_port > 0 &&
            proc_metrics_start(proc->settings.metrics_address,
                               proc->settings.metrics_port, &err) != MA_OK) {
                MA_LOG_AT(MA_LOG_ERROR, "cannot start metrics endpoint",
                          MA_LOG_STR("error", err.message));
                return 1;
        }
        if (proc_pg_open(proc, &err) != MA_OK) {
                MA_LOG_AT(MA_LOG_ERROR, "cannot prepare the database",
                          MA_LOG_STR("error", err.message),
                          MA_LOG_STR("sqlstate", err.sqlstate));
                return 1;
        }
        if (proc->settings.retention_once) {
                if (proc_retention_run_all(proc, &err) != MA_OK) {
                        MA_LOG_AT(MA_LOG_ERROR, "retention failed",
                                  MA_LOG_STR("error", err.message),
                                  MA_LOG_STR("sqlstate", err.sqlstate));
                        return 1;
                }
                return 0;
        }
        if (proc_kafka_open(proc, &err) != MA_OK) {
                MA_LOG_AT(MA_LOG_ERROR, "cannot start Kafka clients",
                          MA_LOG_STR("error", err.message));
                proc_kafka_close(proc);
                return 1;
        }
        proc_metrics_set_ready(true);
        MA_LOG_AT(MA_LOG_INFO, "processor started",
                  MA_LOG_STR("dead_letter_topic", proc->settings.dlq_topic),
                  MA_LOG_INT("batch_max", proc->settings.batch_max));
        proc_run(proc);
        proc_metrics_set_ready(false);
        proc_kafka_close(proc);
        MA_LOG_AT(MA_LOG_INFO, "processor stopped",
                  MA_LOG_INT("failed", proc->fatal));
        return proc->fatal ? 1 : 0;
}

int main(int argc, char **argv)
{
        ma_config_t *config = NULL;
        ma_error_t err;
        proc_t proc;
        int level, rc;

        if (ma_config_help_requested(argc, argv)) {
                char *help = ma_config_help(
                        proc_config_table, PROC_CONFIG_COUNT, "ma-processor",
                        "Consumes every producer topic and builds the "
                        "PostgreSQL views, exactly once.");
                if (help == NULL)
                        return 1;
                fputs(help, stdout);
                ma_free(help);
                return 0;
        }
        ma_error_clear(&err);
        if (ma_config_load(proc_config_table, PROC_CONFIG_COUNT, NULL, argc,
                           argv, &config, &err) != MA_OK) {
                fprintf(stderr, "ma-processor: %s\n", err.message);
                return 2;
        }
        level = ma_log_level_parse(ma_config_string(config, "log.level"));
        if (level < 0) {
                fprintf(stderr,
                        "ma-processor: invalid log.level \"%s\": use debug, "
                        "info, warn or error\n",
                        ma_config_string(config, "log.level"));
                ma_config_free(config);
                return 2;
        }
        ma_log_init("processor", (ma_log_level_t)level, NULL);

        memset(&proc, 0, sizeof(proc));
        proc.stop = &proc_stop_requested;
        if (proc_settings_fill(&proc.settings, config, &err) != MA_OK) {
                fprintf(stderr, "ma-processor: %s\n", err.message);
                ma_config_free(config);
                return 2;
        }
        proc_install_signals();
        rc = proc_start_and_run(&proc, config);
        proc_metrics_stop();
        proc_free(&proc);
        ma_config_free(config);
        return rc;
}
