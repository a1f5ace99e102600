/*
 * ma-topics - creates the Kafka topics of producers in the catalog, and
 * raises their partition count while the system runs.
 *
 * The partition count is the operators' scaling lever: the processor's
 * consumer group spreads partitions over its instances, and one customer's
 * events stay in one partition because the record key is the customer's
 * pseudonym.  Raising the count moves some customers to a new partition;
 * their events published before the change and after it are then in two
 * partitions, so order per customer holds only within each (see
 * docs/producers.md).  Partitions are never removed.
 *
 * Each topic also keeps its records at least as long as the catalog keeps
 * the producer's events: the longest retention_days of the producer and its
 * event types.  Rebuilding the views (a new pseudonym secret, a restore)
 * replays the topics from the start, and Kafka's default of 7 days would
 * lose every older event in such a rebuild.
 *
 * Usage: ma-topics [OPTION...] PREFIX...   (or --all)
 * Exit status: 0 every topic exists with at least the partitions asked,
 * 1 Kafka failed for at least one topic, 2 usage or configuration error.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/catalog.h"
#include "ma/config.h"
#include "ma/kafka_admin.h"
#include "ma/producer.h"

static const ma_config_entry_t topics_settings[] = {
        {"bootstrap-servers", MA_CONFIG_STRING, NULL, "127.0.0.1:9092", 1, 4096,
         "Kafka bootstrap servers, host:port[,host:port]."},
        {"catalog", MA_CONFIG_STRING, NULL, "schemas/catalog.json", 1, 4096,
         "Event type catalog (JSON); every PREFIX must be a producer in it."},
        {"topic-prefix", MA_CONFIG_STRING, NULL, "ma.", 0, 100,
         "Prepended to the topic name <prefix>kundhandelser.<producer in "
         "lower case>."},
        {"partitions", MA_CONFIG_INT, NULL, "3", 1, 10000,
         "Partitions each topic has at least afterwards; an existing topic "
         "with fewer gets more."},
        {"replication-factor", MA_CONFIG_INT, NULL, "1", 1, 10,
         "Replicas of each new topic."},
        {"all", MA_CONFIG_BOOL, NULL, "false", 0, 0,
         "Every producer in the catalog, instead of the PREFIX arguments."},
        {"retention", MA_CONFIG_STRING, NULL, "catalog", 1, 16,
         "How long each topic keeps records: \"catalog\" (the longest "
         "retention of the producer and its event types), a number of days, "
         "\"forever\", or \"broker\" (leave the topic's setting alone)."},
        {"timeout", MA_CONFIG_DURATION_MS, "ms", "30s", 100, 600000,
         "How long Kafka may take to answer each request."},
};
#define TOPICS_SETTINGS_COUNT                                                  \
        (sizeof(topics_settings) / sizeof(topics_settings[0]))

static const char *const topics_action_names[] = {"unchanged", "created",
                                                  "grown"};

/* Returns the longest retention in days of producer and its event types. */
static int topics_catalog_days(const ma_producer_t *producer)
{
        int days = producer->retention_days;

        for (size_t p = 0; p < producer->process_count; p++) {
                const ma_process_t *process = &producer->processes[p];

                for (size_t t = 0; t < process->event_type_count; t++)
                        if (process->event_types[t].retention_days > days)
                                days = process->event_types[t].retention_days;
        }
        return days;
}

/*
 * Translates --retention for one producer into milliseconds: -1 for ever,
 * 0 to leave the topic alone.  Returns false for a value it cannot read.
 */
static bool topics_retention_ms(const char *setting,
                                const ma_producer_t *producer, long long *ms)
{
        char *end = NULL;
        long days;

        if (strcmp(setting, "broker") == 0) {
                *ms = 0;
                return true;
        }
        if (strcmp(setting, "forever") == 0) {
                *ms = -1;
                return true;
        }
        if (strcmp(setting, "catalog") == 0) {
                days = topics_catalog_days(producer);
        } else {
                days = strtol(setting, &end, 10);
                if (end == setting || *end != '\0' || days < 1 || days > 36500)
                        return false;
        }
        *ms = days > 0 ? (long long)days * 86400000LL : 0;
        return true;
}

/* Ensures the topic of one producer; returns 0 or 1 (failed). */
static int topics_ensure_one(const ma_config_t *config,
                             const ma_producer_t *producer)
{
        char topic[256];
        ma_error_t err;
        ma_topic_action_t action;
        int partitions = 0;
        long long retention_ms = 0;
        bool retention_changed = false;
        const char *setting = ma_config_string(config, "retention");

        if (!topics_retention_ms(setting, producer, &retention_ms)) {
                fprintf(stderr,
                        "ma-topics: invalid --retention \"%s\"; give "
                        "catalog, a number of days from 1 to 36500, forever "
                        "or broker\n",
                        setting);
                return 1;
        }
        ma_producer_topic_name(ma_config_string(config, "topic-prefix"),
                               producer->prefix, topic, sizeof(topic));
        if (ma_kafka_topic_ensure(
                    ma_config_string(config, "bootstrap-servers"), topic,
                    (int)ma_config_int(config, "partitions"),
                    (int)ma_config_int(config, "replication-factor"),
                    (int)ma_config_int(config, "timeout"), &partitions, &action,
                    &err) != MA_OK) {
                fprintf(stderr, "ma-topics: %s\n", err.message);
                return 1;
        }
        if (retention_ms != 0 &&
            ma_kafka_topic_ensure_retention(
                    ma_config_string(config, "bootstrap-servers"), topic,
                    retention_ms, (int)ma_config_int(config, "timeout"),
                    &retention_changed, &err) != MA_OK) {
                fprintf(stderr, "ma-topics: %s\n", err.message);
                return 1;
        }
        printf("%s %s partitions=%d", topic, topics_action_names[action],
               partitions);
        if (retention_ms == -1)
                printf(" retention=forever");
        else if (retention_ms > 0)
                printf(" retention=%lldd", retention_ms / 86400000LL);
        if (retention_ms != 0)
                printf(" (%s)", retention_changed ? "set" : "unchanged");
        putchar('\n');
        return 0;
}

static int topics_run(const ma_config_t *config, const ma_catalog_t *catalog)
{
        size_t count = ma_config_positional_count(config);
        int failed = 0;

        if (ma_config_bool(config, "all")) {
                for (size_t i = 0; i < ma_catalog_producer_count(catalog); i++)
                        failed |= topics_ensure_one(
                                config, ma_catalog_producer_at(catalog, i));
                return failed;
        }
        if (count == 0) {
                fprintf(stderr, "ma-topics: no producer given: name one or "
                                "more prefixes from the catalog, or use "
                                "--all\n");
                return 2;
        }
        for (size_t i = 0; i < count; i++) {
                const char *prefix = ma_config_positional(config, i);
                const ma_producer_t *producer =
                        ma_catalog_find_prefix(catalog, prefix);

                if (producer == NULL) {
                        fprintf(stderr,
                                "ma-topics: producer prefix \"%s\" is not in "
                                "the catalog; add the producer to %s first\n",
                                prefix, ma_config_string(config, "catalog"));
                        return 2;
                }
                failed |= topics_ensure_one(config, producer);
        }
        return failed;
}

int main(int argc, char *argv[])
{
        ma_config_t *config = NULL;
        ma_catalog_t *catalog = NULL;
        ma_error_t err;
        int rc;

        if (ma_config_help_requested(argc, argv)) {
                char *help = ma_config_help(
                        topics_settings, TOPICS_SETTINGS_COUNT, "ma-topics",
                        "Creates the Kafka topic of each producer PREFIX "
                        "given (or --all), or raises its\npartition count.  "
                        "Exit status: 0 done, 1 Kafka failed, 2 usage error.");
                if (help == NULL)
                        return 2;
                fputs(help, stdout);
                ma_free(help);
                return 0;
        }
        if (ma_config_load(topics_settings, TOPICS_SETTINGS_COUNT, NULL, argc,
                           argv, &config, &err) != MA_OK) {
                fprintf(stderr, "ma-topics: %s\n", err.message);
                return 2;
        }
        if (ma_catalog_load(ma_config_string(config, "catalog"), &catalog,
                            &err) != MA_OK) {
                fprintf(stderr, "ma-topics: %s\n", err.message);
                ma_config_free(config);
                return 2;
        }
        rc = topics_run(config, catalog);
        ma_catalog_free(catalog);
        ma_config_free(config);
        return rc;
}
