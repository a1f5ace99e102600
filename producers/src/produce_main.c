/*
 * produce_main.c - ma-produce, the command-line producer: reads kundhändelser
 * from a JSON Lines file, or from a CSV or XES process log with a mapping,
 * and publishes them to the producer's Kafka topic.
 *
 * Guarantees: every record read ends in exactly one of four outcomes, and
 * the summary at the end shows that read = published + rejected + skipped +
 * failed.  "published" means acknowledged by Kafka with acks=all; a record
 * rejected by validation is never sent.
 *
 * Exit status: 0 when every record read was published (with --dry-run:
 * validated and encoded) or deliberately skipped.  1 when at least one was
 * rejected or not acknowledged, or the run stopped early (input error,
 * Kafka unreachable or fatal, SIGINT/SIGTERM).  2 for a usage or
 * configuration error before anything was published.
 *
 * Starts and stops: a single run over the input.  SIGINT or SIGTERM stops
 * reading, waits for the records already queued and prints the summary.
 *
 * A crash loses no data that Kafka acknowledged, but records queued and
 * not yet acknowledged may or may not have reached Kafka.  Running the same
 * input again is safe: an event with the same kundhandelseId and sekvens
 * replaces itself downstream.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ma/alloc.h"
#include "ma/catalog.h"
#include "ma/codec.h"
#include "ma/config.h"
#include "ma/input.h"
#include "ma/log.h"
#include "ma/producer.h"
#include "progress.h"

#define PRODUCE_EXIT_OK         0
#define PRODUCE_EXIT_INCOMPLETE 1
#define PRODUCE_EXIT_USAGE      2

/* Failed deliveries printed one by one before they are only counted. */
#define PRODUCE_FAILED_PRINT_MAX 100
/* Failed deliveries listed in the JSON summary. */
#define PRODUCE_FAILED_LIST_MAX  1000
#define PRODUCE_SKIP_REASONS_MAX 32
/* Milliseconds between progress log lines when no bar is drawn. */
#define PRODUCE_REPORT_INTERVAL_MS 5000
/* Maximum wait, in milliseconds, for Kafka to describe the topic before
 * reading input. */
#define PRODUCE_TOPIC_CHECK_MS 10000

static const ma_config_entry_t produce_settings[] = {
        {"input", MA_CONFIG_STRING, NULL, "-", 1, 4096,
         "Input file to read; - reads standard input."},
        {"format", MA_CONFIG_STRING, NULL, "", 0, 0,
         "Input format: jsonl, csv or xes.  Empty: from the file name "
         "extension (.jsonl/.ndjson/.json, .csv, .xes); standard input is "
         "jsonl."},
        {"mapping", MA_CONFIG_STRING, NULL, "", 0, 0,
         "Mapping file of a CSV or XES process log (required for those)."},
        {"customers", MA_CONFIG_STRING, NULL, "", 0, 0,
         "CSV file mapping process-log case ids to customers.  Empty: valid "
         "test identity numbers are generated from --seed."},
        {"seed", MA_CONFIG_STRING, NULL, "ma-produce", 1, 4096,
         "Seed for generated test customers of a process log."},
        {"language", MA_CONFIG_STRING, NULL, "sv", 2, 2,
         "Language of the mapping texts used for a process log: sv or en."},
        {"producer", MA_CONFIG_STRING, NULL, NULL, 1, 10,
         "Event-type prefix of the producer in the catalog, for example SKV.  "
         "Its organisationsnummer and name become the defaults of every "
         "event."},
        {"catalog", MA_CONFIG_STRING, NULL, "schemas/catalog.json", 1, 4096,
         "Event type catalog (JSON)."},
        {"schemas", MA_CONFIG_STRING, NULL, "schemas", 1, 4096,
         "Directory of the Avro schemas (<name>/v<N>.avsc)."},
        {"bootstrap-servers", MA_CONFIG_STRING, NULL, "127.0.0.1:9092", 1, 4096,
         "Kafka bootstrap servers, host:port[,host:port]."},
        {"topic-prefix", MA_CONFIG_STRING, NULL, "ma.", 0, 100,
         "Prepended to the topic name <prefix>kundhandelser.<producer in "
         "lower case>."},
        {"pseudonym-secret", MA_CONFIG_SECRET, NULL, NULL, 16, 4096,
         "Secret of the customer pseudonyms used as record keys, at least 16 "
         "bytes."},
        {"dry-run", MA_CONFIG_BOOL, NULL, "false", 0, 0,
         "Validate and encode every event but send nothing to Kafka."},
        {"delivery-timeout", MA_CONFIG_DURATION_MS, "ms", "30s", 100, 86400000,
         "How long Kafka may take to acknowledge a record before it counts "
         "as failed (librdkafka message.timeout.ms)."},
        {"compression", MA_CONFIG_STRING, NULL, "lz4", 1, 16,
         "Compression of record batches: none, gzip, snappy, lz4 or zstd."},
        {"kafka-option", MA_CONFIG_STRING, NULL, "", 0, 0,
         "Extra librdkafka properties as name=value, comma-separated; they "
         "override the settings above."},
        {"summary-json", MA_CONFIG_STRING, NULL, "", 0, 0,
         "Also write the summary as JSON to this file; - writes it to "
         "standard output."},
        {"progress", MA_CONFIG_STRING, NULL, "auto", 4, 6,
         "Progress display: auto (a bar on a terminal, else a log line every "
         "5 s), always (a bar) or never."},
        {"log-level", MA_CONFIG_STRING, NULL, "info", 4, 5,
         "Lowest level logged: debug, info, warn or error."},
};

#define PRODUCE_SETTINGS_COUNT                                                 \
        (sizeof(produce_settings) / sizeof(produce_settings[0]))

/* The location of one queued record, handed back in its delivery report.
 * kundhandelse_id is masked with ma_input_mask_numbers() for messages. */
typedef struct produce_record {
        long line;
        char *kundhandelse_id;
} produce_record_t;

typedef struct produce_failure {
        long line;
        char *kundhandelse_id;
        char *reason;
} produce_failure_t;

typedef struct produce_skip {
        const char *reason; /* owned by the adapter or static */
        uint64_t count;
} produce_skip_t;

/* The run's state and its counters. */
typedef struct produce_run {
        const char *file;
        bool dry_run;
        uint64_t read;
        uint64_t published;
        uint64_t rejected;
        uint64_t skipped;
        uint64_t failed;
        produce_skip_t skips[PRODUCE_SKIP_REASONS_MAX];
        size_t skip_count;
        uint64_t skips_other; /* reasons beyond the table */
        produce_failure_t *failures;
        size_t failure_count;
        bool input_failed;
        bool aborted;
        bool kafka_timed_out;    /* a delivery timed out: stop reading */
        ma_progress_t *progress; /* erased before each message line */
        char abort_reason[600];
} produce_run_t;

static volatile sig_atomic_t produce_stop;

static void produce_on_signal(int signo)
{
        (void)signo;
        produce_stop = 1;
}

/* ------------------------------------------------------------------------
 * Callbacks from the producer library
 */

static void produce_failure_add(produce_run_t *run,
                                const produce_record_t *record,
                                const char *reason)
{
        if (run->failures == NULL)
                run->failures = ma_calloc(PRODUCE_FAILED_LIST_MAX,
                                          sizeof(*run->failures));
        if (run->failures == NULL ||
            run->failure_count >= PRODUCE_FAILED_LIST_MAX)
                return;
        produce_failure_t *failure = &run->failures[run->failure_count++];
        failure->line = record->line;
        failure->kundhandelse_id = ma_strdup(record->kundhandelse_id);
        failure->reason = ma_strdup(reason);
}

static void produce_on_delivery(const ma_delivery_t *delivery, void *opaque)
{
        produce_run_t *run = opaque;
        produce_record_t *record = delivery->tag;

        if (delivery->status == MA_OK) {
                run->published++;
        } else {
                run->failed++;
                if (delivery->status == MA_ERR_TIMEOUT)
                        run->kafka_timed_out = true;
                ma_progress_clear(run->progress);
                if (run->failed <= PRODUCE_FAILED_PRINT_MAX)
                        fprintf(stderr,
                                "%s:%ld: kundhandelseId \"%s\": not "
                                "published: %s\n",
                                run->file, record->line,
                                record->kundhandelse_id, delivery->message);
                else if (run->failed == PRODUCE_FAILED_PRINT_MAX + 1)
                        fprintf(stderr,
                                "%s: more deliveries failed; only "
                                "the summary counts them\n",
                                run->file);
                produce_failure_add(run, record, delivery->message);
        }
        ma_free(record->kundhandelse_id);
        ma_free(record);
}

/* librdkafka's syslog levels to the program's log levels. */
static void produce_on_kafka_log(int level, const char *facility,
                                 const char *message, void *opaque)
{
        ma_log_level_t ours = level <= 3   ? MA_LOG_ERROR
                              : level == 4 ? MA_LOG_WARN
                              : level <= 6 ? MA_LOG_INFO
                                           : MA_LOG_DEBUG;
        (void)opaque;
        MA_LOG_AT(ours, "kafka", MA_LOG_STR("facility", facility),
                  MA_LOG_STR("detail", message));
}

static void produce_on_report(const ma_progress_counts_t *counts, double rate,
                              double eta_s, void *opaque)
{
        (void)opaque;
        MA_LOG_AT(MA_LOG_INFO, "progress", MA_LOG_INT("read", counts->read),
                  MA_LOG_INT("published", counts->published),
                  MA_LOG_INT("rejected", counts->rejected),
                  MA_LOG_INT("failed", counts->failed),
                  MA_LOG_INT("rate_per_s", (int64_t)rate),
                  MA_LOG_INT("eta_s", (int64_t)eta_s));
}

/* ------------------------------------------------------------------------
 * Set-up
 */

/* Picks the adapter for --format, or from the file name. */
static const char *produce_format(const char *format, const char *input)
{
        static const struct {
                const char *extension;
                const char *format;
        } guesses[] = {
                {".jsonl", "jsonl"}, {".ndjson", "jsonl"}, {".json", "jsonl"},
                {".csv", "csv"},     {".xes", "xes"},
        };
        const char *dot = strrchr(input, '.');

        if (format[0] != '\0')
                return format;
        if (strcmp(input, "-") == 0)
                return "jsonl";
        for (size_t i = 0;
             dot != NULL && i < sizeof(guesses) / sizeof(*guesses); i++) {
                if (strcmp(dot, guesses[i].extension) == 0)
                        return guesses[i].format;
        }
        return NULL;
}

static ma_status_t produce_input_open(const ma_config_t *config,
                                      const char *format,
                                      const ma_input_defaults_t *defaults,
                                      ma_input_t **input, ma_error_t *err)
{
        const char *path = ma_config_string(config, "input");
        const char *customers = ma_config_string(config, "customers");
        ma_process_log_options_t options = {
                .mapping_path = ma_config_string(config, "mapping"),
                .catalog_path = ma_config_string(config, "catalog"),
                .customers_path = customers[0] != '\0' ? customers : NULL,
                .seed = ma_config_string(config, "seed"),
                .language = ma_config_string(config, "language"),
        };

        if (strcmp(format, "jsonl") == 0)
                return ma_input_jsonl_open(path, defaults, input, err);
        if (options.mapping_path[0] == '\0')
                return ma_error_set(err, MA_ERR_CONFIG, "mapping",
                                    "missing --mapping: a %s process log "
                                    "needs a mapping file",
                                    format);
        if (strcmp(format, "csv") == 0)
                return ma_input_csv_open(path, &options, defaults, input, err);
        return ma_input_xes_open(path, &options, defaults, input, err);
}

/* Splits --kafka-option at commas into "name=value" strings that point
 * into *buffer. */
static char **produce_kafka_options(const char *text, size_t *count,
                                    char **buffer)
{
        size_t n = 1;
        char **options;

        *count = 0;
        *buffer = NULL;
        if (text[0] == '\0')
                return NULL;
        for (const char *c = text; *c != '\0'; c++)
                n += *c == ',';
        options = ma_calloc(n, sizeof(*options));
        *buffer = ma_strdup(text);
        if (options == NULL || *buffer == NULL) {
                ma_free(options);
                ma_free(*buffer);
                *buffer = NULL;
                return NULL;
        }
        char *save = NULL;
        for (char *part = strtok_r(*buffer, ",", &save); part != NULL;
             part = strtok_r(NULL, ",", &save))
                options[(*count)++] = part;
        return options;
}

/* Everything the run needs besides the input. */
typedef struct produce_setup {
        ma_catalog_t *catalog;
        ma_codec_t *codec;
        const ma_producer_t *entry; /* the catalog's producer */
        char **kafka_options;
        size_t kafka_option_count;
        char *kafka_option_buffer;
} produce_setup_t;

static void produce_setup_free(produce_setup_t *setup)
{
        ma_free(setup->kafka_options);
        ma_free(setup->kafka_option_buffer);
        ma_codec_close(setup->codec);
        ma_catalog_free(setup->catalog);
}

/* Loads the catalog and schemas and finds the producer; 2 on failure. */
static int produce_setup_load(const ma_config_t *config, produce_setup_t *setup)
{
        const char *prefix = ma_config_string(config, "producer");
        ma_error_t err;

        if (ma_catalog_load(ma_config_string(config, "catalog"),
                            &setup->catalog, &err) != MA_OK) {
                fprintf(stderr, "ma-produce: %s\n", err.message);
                return PRODUCE_EXIT_USAGE;
        }
        if (ma_codec_open(ma_config_string(config, "schemas"), 0, &setup->codec,
                          &err) != MA_OK) {
                fprintf(stderr, "ma-produce: %s\n", err.message);
                return PRODUCE_EXIT_USAGE;
        }
        setup->entry = ma_catalog_find_prefix(setup->catalog, prefix);
        if (setup->entry == NULL) {
                fprintf(stderr,
                        "ma-produce: unknown producer \"%s\": not in catalog "
                        "\"%s\"; valid prefixes:",
                        prefix, ma_config_string(config, "catalog"));
                for (size_t i = 0;
                     i < ma_catalog_producer_count(setup->catalog); i++)
                        fprintf(stderr, " %s",
                                ma_catalog_producer_at(setup->catalog, i)
                                        ->prefix);
                fputc('\n', stderr);
                return PRODUCE_EXIT_USAGE;
        }
        setup->kafka_options = produce_kafka_options(
                ma_config_string(config, "kafka-option"),
                &setup->kafka_option_count, &setup->kafka_option_buffer);
        return PRODUCE_EXIT_OK;
}

static ma_status_t produce_producer_new(const ma_config_t *config,
                                        const produce_setup_t *setup,
                                        produce_run_t *run,
                                        ma_event_producer_t **producer,
                                        ma_error_t *err)
{
        const char *secret = ma_config_string(config, "pseudonym-secret");
        ma_producer_config_t pc;

        ma_producer_config_init(&pc);
        pc.bootstrap_servers = ma_config_string(config, "bootstrap-servers");
        pc.topic_prefix = ma_config_string(config, "topic-prefix");
        pc.producer_prefix = setup->entry->prefix;
        pc.pseudonym_secret = secret;
        pc.pseudonym_secret_len = strlen(secret);
        pc.catalog = setup->catalog;
        pc.codec = setup->codec;
        pc.rdkafka_overrides = (const char *const *)setup->kafka_options;
        pc.rdkafka_override_count = setup->kafka_option_count;
        pc.delivery_timeout_ms = (int)ma_config_int(config, "delivery-timeout");
        pc.compression = ma_config_string(config, "compression");
        pc.dry_run = run->dry_run;
        pc.on_delivery = produce_on_delivery;
        pc.on_log = produce_on_kafka_log;
        pc.opaque = run;
        return ma_producer_new(&pc, producer, err);
}

/* ------------------------------------------------------------------------
 * The run
 */

static void produce_skip_count(produce_run_t *run, const char *reason)
{
        if (reason == NULL)
                reason = "unspecified";
        run->skipped++;
        for (size_t i = 0; i < run->skip_count; i++) {
                if (strcmp(run->skips[i].reason, reason) == 0) {
                        run->skips[i].count++;
                        return;
                }
        }
        if (run->skip_count == PRODUCE_SKIP_REASONS_MAX) {
                run->skips_other++;
                return;
        }
        run->skips[run->skip_count].reason = reason;
        run->skips[run->skip_count++].count = 1;
}

/* Copies a kundhandelseId for a message, masked like every shown value. */
static void produce_id_show(const char *id, char *buf, size_t size)
{
        snprintf(buf, size, "%s", id);
        ma_input_mask_numbers(buf);
}

static void produce_reject(produce_run_t *run, const ma_input_location_t *loc,
                           const char *kundhandelse_id, const ma_error_t *err)
{
        run->rejected++;
        ma_progress_clear(run->progress);
        fprintf(stderr, "%s:%ld: ", loc->file != NULL ? loc->file : run->file,
                loc->line);
        if (kundhandelse_id != NULL) {
                char shown[256];

                produce_id_show(kundhandelse_id, shown, sizeof(shown));
                fprintf(stderr, "kundhandelseId \"%s\": ", shown);
        }
        fprintf(stderr, "rejected: %s", err->message);
        if (err->field[0] != '\0' && strstr(err->message, err->field) == NULL)
                fprintf(stderr, " (field %s)", err->field);
        fputc('\n', stderr);
}

/* Publishes one event; false when the run must stop. */
static bool produce_publish(produce_run_t *run, ma_event_producer_t *producer,
                            const ma_input_location_t *loc,
                            const ma_event_t *event)
{
        produce_record_t *record = ma_malloc(sizeof(*record));
        ma_error_t err;
        ma_status_t status;

        if (record != NULL) {
                record->line = loc->line;
                record->kundhandelse_id = ma_strdup(event->kundhandelse_id);
                if (record->kundhandelse_id != NULL)
                        ma_input_mask_numbers(record->kundhandelse_id);
        }
        if (record == NULL || record->kundhandelse_id == NULL) {
                snprintf(run->abort_reason, sizeof(run->abort_reason),
                         "out of memory");
                ma_free(record);
                return false;
        }
        status = ma_producer_publish(producer, event, record, &err);
        if (status == MA_OK)
                return true;
        if (status == MA_ERR_INVALID || status == MA_ERR_PARSE) {
                produce_reject(run, loc, event->kundhandelse_id, &err);
        } else {
                /* Kafka cannot take records: count this one as failed and
                 * stop reading. */
                run->failed++;
                ma_progress_clear(run->progress);
                fprintf(stderr,
                        "%s:%ld: kundhandelseId \"%s\": not published: %s\n",
                        run->file, record->line, record->kundhandelse_id,
                        err.message);
                produce_failure_add(run, record, err.message);
                snprintf(run->abort_reason, sizeof(run->abort_reason), "%s",
                         err.message);
        }
        ma_free(record->kundhandelse_id);
        ma_free(record);
        return status == MA_ERR_INVALID || status == MA_ERR_PARSE;
}

static void produce_progress_counts(const produce_run_t *run, ma_input_t *input,
                                    ma_progress_counts_t *counts)
{
        input->ops->progress(input, &counts->bytes_done, &counts->bytes_total);
        counts->read = run->read;
        counts->published = run->published;
        counts->rejected = run->rejected;
        counts->failed = run->failed;
}

static void produce_loop(produce_run_t *run, ma_input_t *input,
                         ma_event_producer_t *producer, ma_progress_t *progress)
{
        ma_progress_counts_t counts;
        ma_event_t event;

        ma_event_init(&event);
        while (!produce_stop) {
                ma_input_location_t loc = {run->file, 0};
                const char *skip_reason = NULL;
                ma_error_t err;
                ma_input_outcome_t outcome;

                ma_error_clear(&err);
                outcome =
                        ma_input_next(input, &event, &loc, &skip_reason, &err);
                if (outcome == MA_INPUT_END)
                        break;
                if (outcome == MA_INPUT_FAIL) {
                        run->input_failed = true;
                        snprintf(run->abort_reason, sizeof(run->abort_reason),
                                 "%s", err.message);
                        break;
                }
                run->read++;
                if (outcome == MA_INPUT_REJECT) {
                        produce_reject(run, &loc, NULL, &err);
                } else if (outcome == MA_INPUT_SKIP) {
                        produce_skip_count(run, skip_reason);
                } else {
                        bool go_on =
                                produce_publish(run, producer, &loc, &event);
                        ma_event_clear(&event);
                        if (!go_on) {
                                run->aborted = true;
                                break;
                        }
                }
                ma_producer_poll(producer, 0);
                produce_progress_counts(run, input, &counts);
                ma_progress_update(progress, &counts);
                /* Kafka is not taking records: reading on would only queue
                 * more records to time out, one delivery timeout per queue
                 * full. */
                if (run->kafka_timed_out) {
                        run->aborted = true;
                        snprintf(run->abort_reason, sizeof(run->abort_reason),
                                 "Kafka did not acknowledge records within "
                                 "the delivery timeout");
                        break;
                }
        }
        ma_event_clear(&event);
        if (produce_stop) {
                run->aborted = true;
                snprintf(run->abort_reason, sizeof(run->abort_reason),
                         "interrupted by a signal");
        }
}

/* Waits for the outstanding deliveries, showing progress meanwhile. */
static void produce_drain(produce_run_t *run, ma_input_t *input,
                          ma_event_producer_t *producer,
                          ma_progress_t *progress, int64_t timeout_ms)
{
        ma_progress_counts_t counts;
        ma_producer_stats_t stats;
        int64_t waited = 0;

        for (;;) {
                ma_producer_stats(producer, &stats);
                if (stats.outstanding == 0 || waited >= timeout_ms)
                        break;
                ma_producer_flush(producer, 200, NULL);
                waited += 200;
                produce_progress_counts(run, input, &counts);
                ma_progress_update(progress, &counts);
        }
}

/* ------------------------------------------------------------------------
 * The summary
 */

static void produce_summary_text(const produce_run_t *run, const char *topic)
{
        bool adds_up = run->read == run->published + run->rejected +
                                            run->skipped + run->failed;

        fprintf(stderr, "summary%s: topic %s\n",
                run->dry_run ? " (dry run, nothing sent)" : "", topic);
        fprintf(stderr, "  read       %" PRIu64 "\n", run->read);
        fprintf(stderr, "  %-10s %" PRIu64 "\n",
                run->dry_run ? "valid" : "published", run->published);
        fprintf(stderr, "  rejected   %" PRIu64 "\n", run->rejected);
        fprintf(stderr, "  skipped    %" PRIu64 "\n", run->skipped);
        for (size_t i = 0; i < run->skip_count; i++)
                fprintf(stderr, "    %-40s %" PRIu64 "\n", run->skips[i].reason,
                        run->skips[i].count);
        if (run->skips_other > 0)
                fprintf(stderr, "    %-40s %" PRIu64 "\n", "(other reasons)",
                        run->skips_other);
        fprintf(stderr, "  failed     %" PRIu64 "\n", run->failed);
        for (size_t i = 0; i < run->failure_count && i < 10; i++)
                fprintf(stderr, "    %s:%ld kundhandelseId \"%s\"\n", run->file,
                        run->failures[i].line,
                        run->failures[i].kundhandelse_id);
        if (run->failed > 10)
                fprintf(stderr, "    (%" PRIu64 " more)\n", run->failed - 10);
        fprintf(stderr,
                "  check      read = published + rejected + skipped + "
                "failed: %s\n",
                adds_up ? "holds" : "DOES NOT HOLD");
        if (run->aborted || run->input_failed)
                fprintf(stderr, "  stopped early: %s\n", run->abort_reason);
}

static json_t *produce_summary_json(const produce_run_t *run, const char *topic,
                                    int exit_code)
{
        json_t *root = json_object();
        json_t *skips = json_object();
        json_t *failures = json_array();

        for (size_t i = 0; i < run->skip_count; i++)
                json_object_set_new(
                        skips, run->skips[i].reason,
                        json_integer((json_int_t)run->skips[i].count));
        if (run->skips_other > 0)
                json_object_set_new(skips, "(other reasons)",
                                    json_integer((json_int_t)run->skips_other));
        for (size_t i = 0; i < run->failure_count; i++) {
                json_array_append_new(
                        failures,
                        json_pack("{s:s, s:I, s:s, s:s}", "file", run->file,
                                  "line", (json_int_t)run->failures[i].line,
                                  "kundhandelseId",
                                  run->failures[i].kundhandelse_id
                                          ? run->failures[i].kundhandelse_id
                                          : "",
                                  "reason",
                                  run->failures[i].reason
                                          ? run->failures[i].reason
                                          : ""));
        }
        json_object_set_new(root, "input", json_string(run->file));
        json_object_set_new(root, "topic", json_string(topic));
        json_object_set_new(root, "dry_run", json_boolean(run->dry_run));
        json_object_set_new(root, "read", json_integer((json_int_t)run->read));
        json_object_set_new(root, "published",
                            json_integer((json_int_t)run->published));
        json_object_set_new(root, "rejected",
                            json_integer((json_int_t)run->rejected));
        json_object_set_new(root, "skipped",
                            json_integer((json_int_t)run->skipped));
        json_object_set_new(root, "skipped_by_reason", skips);
        json_object_set_new(root, "failed",
                            json_integer((json_int_t)run->failed));
        json_object_set_new(root, "failed_deliveries", failures);
        json_object_set_new(root, "failed_deliveries_truncated",
                            json_boolean(run->failed > run->failure_count));
        json_object_set_new(
                root, "counts_add_up",
                json_boolean(run->read == run->published + run->rejected +
                                                  run->skipped + run->failed));
        json_object_set_new(root, "stopped_early",
                            json_boolean(run->aborted || run->input_failed));
        json_object_set_new(root, "stop_reason",
                            json_string(run->abort_reason));
        json_object_set_new(root, "exit_code", json_integer(exit_code));
        return root;
}

static int produce_summary_write(const produce_run_t *run, const char *topic,
                                 const char *path, int exit_code)
{
        json_t *root;
        int rc;

        if (path[0] == '\0')
                return 0;
        root = produce_summary_json(run, topic, exit_code);
        if (strcmp(path, "-") == 0) {
                rc = json_dumpf(root, stdout, JSON_INDENT(2));
                fputc('\n', stdout);
        } else {
                rc = json_dump_file(root, path, JSON_INDENT(2));
        }
        json_decref(root);
        if (rc != 0)
                fprintf(stderr,
                        "ma-produce: could not write summary to \"%s\": %s\n",
                        path, strerror(errno));
        return rc;
}

static int produce_exit_code(const produce_run_t *run)
{
        if (run->rejected > 0 || run->failed > 0 || run->aborted ||
            run->input_failed)
                return PRODUCE_EXIT_INCOMPLETE;
        if (run->read != run->published + run->skipped)
                return PRODUCE_EXIT_INCOMPLETE;
        return PRODUCE_EXIT_OK;
}

static void produce_run_free(produce_run_t *run)
{
        for (size_t i = 0; i < run->failure_count; i++) {
                ma_free(run->failures[i].kundhandelse_id);
                ma_free(run->failures[i].reason);
        }
        ma_free(run->failures);
}

/* ------------------------------------------------------------------------
 * main
 */

/* Checks the settings that the table cannot; 0 when they are fine. */
static int produce_settings_check(const ma_config_t *config,
                                  const char **format, ma_progress_mode_t *mode)
{
        int level = ma_log_level_parse(ma_config_string(config, "log-level"));
        int parsed =
                ma_progress_mode_parse(ma_config_string(config, "progress"));
        const char *input = ma_config_string(config, "input");

        if (level < 0) {
                fprintf(stderr,
                        "ma-produce: invalid --log-level \"%s\": use "
                        "debug, info, warn or error\n",
                        ma_config_string(config, "log-level"));
                return PRODUCE_EXIT_USAGE;
        }
        ma_log_set_level((ma_log_level_t)level);
        if (parsed < 0) {
                fprintf(stderr,
                        "ma-produce: invalid --progress \"%s\": use "
                        "auto, always or never\n",
                        ma_config_string(config, "progress"));
                return PRODUCE_EXIT_USAGE;
        }
        *mode = (ma_progress_mode_t)parsed;
        *format = produce_format(ma_config_string(config, "format"), input);
        if (*format == NULL ||
            (strcmp(*format, "jsonl") != 0 && strcmp(*format, "csv") != 0 &&
             strcmp(*format, "xes") != 0)) {
                fprintf(stderr,
                        "ma-produce: cannot tell the format of \"%s\": set "
                        "--format to jsonl, csv or xes\n",
                        *format != NULL ? *format : input);
                return PRODUCE_EXIT_USAGE;
        }
        return PRODUCE_EXIT_OK;
}

static int produce_main(const ma_config_t *config)
{
        produce_setup_t setup = {0};
        produce_run_t run = {0};
        ma_event_producer_t *producer = NULL;
        ma_input_t *input = NULL;
        ma_progress_t progress;
        ma_progress_counts_t counts;
        ma_progress_mode_t mode;
        const char *format;
        ma_error_t err;
        int rc;

        rc = produce_settings_check(config, &format, &mode);
        if (rc == PRODUCE_EXIT_OK)
                rc = produce_setup_load(config, &setup);
        if (rc != PRODUCE_EXIT_OK)
                goto done;

        ma_input_defaults_t defaults = {
                .producent = setup.entry->name,
                .producent_organisationsnummer =
                        setup.entry->organisationsnummer,
                .sprak = "sv",
                .version = "6.1",
        };
        run.dry_run = ma_config_bool(config, "dry-run");
        run.file = strcmp(ma_config_string(config, "input"), "-") == 0
                           ? "stdin"
                           : ma_config_string(config, "input");
        if (produce_input_open(config, format, &defaults, &input, &err) !=
                    MA_OK ||
            produce_producer_new(config, &setup, &run, &producer, &err) !=
                    MA_OK) {
                fprintf(stderr, "ma-produce: %s\n", err.message);
                rc = PRODUCE_EXIT_USAGE;
                goto done;
        }
        if (!run.dry_run) {
                /* Fail early, and name Kafka, when the topic cannot be
                 * reached instead of timing out record by record. */
                int64_t wait_ms = ma_config_int(config, "delivery-timeout");
                ma_status_t status = ma_producer_check_topic(
                        producer,
                        (int)(wait_ms < PRODUCE_TOPIC_CHECK_MS
                                      ? wait_ms
                                      : PRODUCE_TOPIC_CHECK_MS),
                        &err);
                if (status != MA_OK) {
                        fprintf(stderr, "ma-produce: %s\n", err.message);
                        rc = status == MA_ERR_NOT_FOUND
                                     ? PRODUCE_EXIT_USAGE
                                     : PRODUCE_EXIT_INCOMPLETE;
                        goto done;
                }
        }
        ma_log(MA_LOG_INFO, "starting", "input", run.file, "format", format,
               "topic", ma_producer_topic(producer), "dry_run",
               run.dry_run ? "true" : "false", NULL);

        ma_progress_init(&progress, mode, stderr, PRODUCE_REPORT_INTERVAL_MS,
                         produce_on_report, NULL);
        run.progress = &progress;
        produce_loop(&run, input, producer, &progress);
        produce_drain(&run, input, producer, &progress,
                      ma_config_int(config, "delivery-timeout") + 5000);
        produce_progress_counts(&run, input, &counts);
        ma_progress_finish(&progress, &counts);

        /* Freeing reports anything still outstanding as failed. */
        char topic[256];
        snprintf(topic, sizeof(topic), "%s", ma_producer_topic(producer));
        ma_producer_free(producer);
        producer = NULL;

        rc = produce_exit_code(&run);
        produce_summary_text(&run, topic);
        if (produce_summary_write(&run, topic,
                                  ma_config_string(config, "summary-json"),
                                  rc) != 0)
                rc = PRODUCE_EXIT_INCOMPLETE;
        if (run.failed > 0 && !run.dry_run)
                fprintf(stderr,
                        "ma-produce: %" PRIu64 " events were not "
                        "acknowledged by Kafka at %s\n",
                        run.failed,
                        ma_config_string(config, "bootstrap-servers"));
done:
        ma_producer_free(producer);
        ma_input_close(input);
        produce_setup_free(&setup);
        produce_run_free(&run);
        return rc;
}

int main(int argc, char *argv[])
{
        ma_config_t *config = NULL;
        ma_error_t err;
        int rc;

        ma_log_init("ma-produce", MA_LOG_INFO, stderr);
        if (ma_config_help_requested(argc, argv)) {
                char *help = ma_config_help(
                        produce_settings, PRODUCE_SETTINGS_COUNT, "ma-produce",
                        "Publishes kundhändelser from a JSON Lines file or a "
                        "CSV/XES process log to\nKafka.  Exit status: 0 all "
                        "records published or skipped, 1 some rejected,\nnot "
                        "acknowledged or the run stopped early, 2 usage or "
                        "configuration error.");
                if (help == NULL)
                        return PRODUCE_EXIT_USAGE;
                fputs(help, stdout);
                ma_free(help);
                return PRODUCE_EXIT_OK;
        }
        if (ma_config_load(produce_settings, PRODUCE_SETTINGS_COUNT, NULL, argc,
                           argv, &config, &err) != MA_OK) {
                fprintf(stderr, "ma-produce: %s\n", err.message);
                return PRODUCE_EXIT_USAGE;
        }
        if (ma_config_positional_count(config) > 0) {
                fprintf(stderr,
                        "ma-produce: unexpected argument \"%s\": use --input "
                        "FILE\n",
                        ma_config_positional(config, 0));
                ma_config_free(config);
                return PRODUCE_EXIT_USAGE;
        }
        signal(SIGINT, produce_on_signal);
        signal(SIGTERM, produce_on_signal);
        rc = produce_main(config);
        ma_config_free(config);
        return rc;
}
