/*
 * bench_producer.c - throughput of the producer library, and the inputs of
 * the other producer benchmarks (see run.sh).
 *
 *   bench_producer publish BOOTSTRAP TOPIC_PREFIX COUNT COMPRESSION
 *       publishes COUNT pre-built events for producer SKV through
 *       ma_producer_publish() and waits until Kafka acknowledged all
 *       (acks=all); prints "events=N seconds=S rate=R value_bytes=B" where
 *       B is the mean Avro value size.  COMPRESSION "dry" validates and
 *       encodes without Kafka.
 *   bench_producer jsonl COUNT
 *       writes COUNT JSON Lines events of the same shape to standard output.
 *   bench_producer create-topic BOOTSTRAP TOPIC PARTITIONS
 *
 * Run from the source directory: it reads schemas/ and schemas/catalog.json.
 * The identity numbers are generated test personnummer (birth dates in
 * 1940-1989, computed Luhn digit).  Exit status 0 on success, 1 otherwise.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "ma/alloc.h"
#include "ma/catalog.h"
#include "ma/codec.h"
#include "ma/datetime.h"
#include "ma/event.h"
#include "ma/producer.h"

/* Distinct events built up front; publishing cycles through them. */
#define BENCH_POOL_MAX 10000
#define BENCH_SECRET   "benchmark-pseudonym-secret-0123"

static double bench_now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes a valid test personnummer for index into out (13 bytes). */
static void bench_personnummer(long index, char out[13])
{
        int year = 1940 + (int)(index % 50);
        int month = 1 + (int)(index / 50 % 12);
        int day = 1 + (int)(index / 600 % 28);
        int serial = (int)(index / 16800 % 1000);
        int sum = 0;

        char digits[32];

        snprintf(digits, sizeof(digits), "%04d%02d%02d%03d0", year, month, day,
                 serial);
        memcpy(out, digits, 12);
        out[12] = '\0';
        /* Luhn over the ten digits after the century. */
        for (int i = 2; i < 11; i++) {
                int digit = (out[i] - '0') * ((i - 2) % 2 == 0 ? 2 : 1);
                sum += digit / 10 + digit % 10;
        }
        out[11] = (char)('0' + (10 - sum % 10) % 10);
        out[12] = '\0';
}

/* Fills the text fields every generated event shares. */
static void bench_texts(long index, char *id, size_t id_size, char *diarie,
                        size_t diarie_size)
{
        snprintf(id, id_size, "BENCH-%08ld", index);
        snprintf(diarie, diarie_size, "131-%06ld-26", index);
}

static const char *bench_rubrik = "Vi har tagit emot din ansökan om F-skatt";
static const char *bench_beskrivning =
        "Skatteverket har tagit emot din ansökan om F-skatt. Du får besked "
        "när ansökan är prövad, normalt inom några veckor. Logga in på Mina "
        "sidor för att se vilka uppgifter vi har om dig.";
static const char *bench_type = "SKV.FSKATT.ANSOKAN_MOTTAGEN";

static int bench_build(ma_event_t *event, long index, int64_t tidpunkt_ms)
{
        char id[32];
        char diarie[32];
        char pnr[13];

        bench_texts(index, id, sizeof(id), diarie, sizeof(diarie));
        bench_personnummer(index, pnr);
        ma_event_init(event);
        event->kind = MA_EVENT_PUBLISH;
        event->kundhandelse_id = ma_strdup(id);
        event->producent_organisationsnummer = ma_strdup("2021005448");
        event->producent = ma_strdup("Skatteverket");
        event->part.has_kund = true;
        event->part.kund_identifierare = ma_strdup(pnr);
        event->part.kund_typ = MA_KUND_PERSONNUMMER;
        event->part.has_arende = true;
        event->part.arende_identifierare = ma_strdup(diarie);
        event->part.arende_typ = MA_ARENDE_DIARIENUMMER;
        event->rubrik = ma_strdup(bench_rubrik);
        event->beskrivning = ma_strdup(bench_beskrivning);
        event->sprak = ma_strdup("sv");
        event->version = ma_strdup("6.1");
        event->kundhandelse_typ = ma_strdup(bench_type);
        event->tidpunkt.utc_ms = tidpunkt_ms;
        event->tidpunkt.offset_min = 60;
        event->sekvens = tidpunkt_ms;
        if (event->kundhandelse_id == NULL || event->rubrik == NULL ||
            event->beskrivning == NULL || event->kundhandelse_typ == NULL ||
            ma_event_add_tag(event, "fskatt") != MA_OK)
                return 1;
        return 0;
}

typedef struct bench_counts {
        long acknowledged;
        long failed;
        char first_failure[512];
} bench_counts_t;

static void bench_on_delivery(const ma_delivery_t *delivery, void *opaque)
{
        bench_counts_t *counts = opaque;

        if (delivery->status == MA_OK) {
                counts->acknowledged++;
                return;
        }
        if (counts->failed++ == 0)
                snprintf(counts->first_failure, sizeof(counts->first_failure),
                         "%s", delivery->message);
}

/* Publishes count events; returns 0 when every one was acknowledged. */
static int bench_run(ma_event_producer_t *producer, ma_event_t *pool,
                     long pool_size, long count, bench_counts_t *counts)
{
        ma_producer_stats_t stats;
        ma_error_t err;
        double start = bench_now_s();

        for (long i = 0; i < count; i++) {
                ma_event_t *event = &pool[i % pool_size];

                event->sekvens++;
                if (ma_producer_publish(producer, event, NULL, &err) != MA_OK) {
                        fprintf(stderr, "bench_producer: event %ld: %s\n", i,
                                err.message);
                        return 1;
                }
                ma_producer_poll(producer, 0);
        }
        if (ma_producer_flush(producer, 120000, &err) != MA_OK) {
                fprintf(stderr, "bench_producer: %s\n", err.message);
                return 1;
        }
        double seconds = bench_now_s() - start;
        ma_producer_stats(producer, &stats);
        if (counts->failed > 0) {
                fprintf(stderr, "bench_producer: %ld deliveries failed: %s\n",
                        counts->failed, counts->first_failure);
                return 1;
        }
        printf("events=%ld seconds=%.3f rate=%.0f value_bytes=%.0f\n", count,
               seconds, (double)count / seconds,
               (double)stats.bytes /
                       (double)(stats.published ? stats.published : 1));
        return 0;
}

static int bench_publish(const char *bootstrap, const char *topic_prefix,
                         long count, const char *compression)
{
        ma_catalog_t *catalog = NULL;
        ma_codec_t *codec = NULL;
        ma_event_producer_t *producer = NULL;
        ma_producer_config_t config;
        bench_counts_t counts = {0};
        ma_error_t err;
        long pool_size = count < BENCH_POOL_MAX ? count : BENCH_POOL_MAX;
        ma_event_t *pool = calloc((size_t)pool_size, sizeof(*pool));
        int64_t tidpunkt_ms = ma_now_ms() - 3600 * 1000;
        int rc = 1;

        if (pool == NULL)
                return 1;
        for (long i = 0; i < pool_size; i++) {
                if (bench_build(&pool[i], i, tidpunkt_ms) != 0) {
                        fprintf(stderr, "bench_producer: out of memory\n");
                        goto done;
                }
        }
        if (ma_catalog_load("schemas/catalog.json", &catalog, &err) != MA_OK ||
            ma_codec_open("schemas", 0, &codec, &err) != MA_OK) {
                fprintf(stderr, "bench_producer: %s\n", err.message);
                goto done;
        }
        ma_producer_config_init(&config);
        config.bootstrap_servers = bootstrap;
        config.topic_prefix = topic_prefix;
        config.producer_prefix = "SKV";
        config.pseudonym_secret = BENCH_SECRET;
        config.pseudonym_secret_len = strlen(BENCH_SECRET);
        config.catalog = catalog;
        config.codec = codec;
        config.dry_run = strcmp(compression, "dry") == 0;
        config.compression = config.dry_run ? NULL : compression;
        config.on_delivery = bench_on_delivery;
        config.opaque = &counts;
        if (ma_producer_new(&config, &producer, &err) != MA_OK ||
            ma_producer_check_topic(producer, 10000, &err) != MA_OK) {
                fprintf(stderr, "bench_producer: %s\n", err.message);
                goto done;
        }
        rc = bench_run(producer, pool, pool_size, count, &counts);
done:
        ma_producer_free(producer);
        ma_codec_close(codec);
        ma_catalog_free(catalog);
        for (long i = 0; i < pool_size; i++)
                ma_event_clear(&pool[i]);
        free(pool);
        return rc;
}

/* The same events as JSON Lines, for the ma-produce benchmark. */
static int bench_jsonl(long count)
{
        int64_t tidpunkt_ms = ma_now_ms() - 3600 * 1000;
        ma_instant_t tidpunkt = {tidpunkt_ms, 60};
        char time_text[40];

        tidpunkt.utc_ms -= tidpunkt.utc_ms % 1000;
        ma_instant_format(&tidpunkt, time_text, sizeof(time_text));
        for (long i = 0; i < count; i++) {
                char id[32];
                char diarie[32];
                char pnr[13];

                bench_texts(i, id, sizeof(id), diarie, sizeof(diarie));
                bench_personnummer(i, pnr);
                printf("{\"kundhandelseId\":\"%s\",\"part\":{\"kund\":"
                       "{\"identifierare\":\"%s\",\"typ\":\"Personnummer\"},"
                       "\"arende\":{\"identifierare\":\"%s\",\"typ\":"
                       "\"Diarienummer\"}},\"rubrik\":\"%s\","
                       "\"beskrivning\":\"%s\",\"tidpunkt\":\"%s\","
                       "\"kundhandelseTyp\":\"%s\","
                       "\"producentarendetKraverKundatgard\":false,"
                       "\"producentarendetKlart\":false,\"taggar\":"
                       "[\"fskatt\"],\"sekvens\":%ld}\n",
                       id, pnr, diarie, bench_rubrik, bench_beskrivning,
                       time_text, bench_type, i + 1);
        }
        return fflush(stdout) == 0 ? 0 : 1;
}

static int bench_create_topic(const char *bootstrap, const char *topic,
                              int partitions)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        int rc = 1;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            (rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
                               sizeof(errstr))) == NULL) {
                fprintf(stderr, "bench_producer: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        rd_kafka_NewTopic_t *new_topic = rd_kafka_NewTopic_new(
                topic, partitions, 1, errstr, sizeof(errstr));
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_CreateTopics(rk, &new_topic, 1, NULL, queue);
        rd_kafka_event_t *event = rd_kafka_queue_poll(queue, 30000);
        if (event != NULL && !rd_kafka_event_error(event)) {
                size_t n;
                const rd_kafka_topic_result_t **results =
                        rd_kafka_CreateTopics_result_topics(
                                rd_kafka_event_CreateTopics_result(event), &n);
                rd_kafka_resp_err_t code =
                        n == 1 ? rd_kafka_topic_result_error(results[0])
                               : RD_KAFKA_RESP_ERR__FAIL;
                rc = code == RD_KAFKA_RESP_ERR_NO_ERROR ||
                                     code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS
                             ? 0
                             : 1;
                if (rc != 0)
                        fprintf(stderr, "bench_producer: creating %s: %s\n",
                                topic, rd_kafka_err2str(code));
        } else {
                fprintf(stderr, "bench_producer: creating %s failed\n", topic);
        }
        if (event != NULL)
                rd_kafka_event_destroy(event);
        rd_kafka_NewTopic_destroy(new_topic);
        rd_kafka_queue_destroy(queue);
        rd_kafka_destroy(rk);
        return rc;
}

int main(int argc, char *argv[])
{
        if (argc == 6 && strcmp(argv[1], "publish") == 0)
                return bench_publish(argv[2], argv[3],
                                     strtol(argv[4], NULL, 10), argv[5]);
        if (argc == 3 && strcmp(argv[1], "jsonl") == 0)
                return bench_jsonl(strtol(argv[2], NULL, 10));
        if (argc == 5 && strcmp(argv[1], "create-topic") == 0)
                return bench_create_topic(argv[2], argv[3],
                                          (int)strtol(argv[4], NULL, 10));
        fprintf(stderr,
                "usage: bench_producer publish BOOTSTRAP TOPIC_PREFIX COUNT "
                "none|lz4|zstd|dry\n"
                "       bench_producer jsonl COUNT > events.jsonl\n"
                "       bench_producer create-topic BOOTSTRAP TOPIC "
                "PARTITIONS\n");
        return 2;
}
