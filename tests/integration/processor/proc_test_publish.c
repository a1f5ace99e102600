/*
 * proc_test_publish.c - publishes the processor tests' records: valid
 * kundhändelser and retractions encoded with ma_codec, and deliberately bad
 * records for every dead-letter reason.  Everything is derived from the
 * scenario name and a seed, so two runs publish the same records.
 *
 * Usage: proc_test_publish BROKERS TOPIC_PREFIX SCHEMA_DIR SECRET SCENARIO
 *                          [COUNT SEED]
 *   SCENARIO basic-a: the hand-written TSTA cases and six bad records;
 *            basic-b: TSTB events (published after the processor started,
 *                     on a topic that did not exist before);
 *            bulk:    COUNT random publishes and retractions with unique
 *                     sekvens values over both producers, with about 2 %
 *                     bad records;
 *            topics:  only creates both producer topics.
 * Prints "published N" (records delivered) on stdout.  Exit 1 on failure.
 * The identity numbers are test numbers born on 1980-01-01 with a computed
 * Luhn digit.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "ma/alloc.h"
#include "ma/codec.h"
#include "ma/event.h"
#include "ma/kafka_admin.h"
#include "ma/pseudonym.h"

#define TSTA_ORGNR    "2120001116"
#define TSTB_ORGNR    "5566778899"
#define UNKNOWN_ORGNR "5560001116"
#define PARTITIONS    3

/* 2026-01-01T00:00:00Z in milliseconds. */
#define BASE_UTC_MS 1767225600000LL

static rd_kafka_t *producer;
static ma_codec_t *codec;
static ma_pseudonym_key_t *pseudonym_key;
static const char *topic_prefix;
static const char *bootstrap_servers;
static long delivered, failed;

static void die(const char *message)
{
        fprintf(stderr, "proc_test_publish: %s\n", message);
        exit(1);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message,
                        void *opaque)
{
        if (message->err)
                failed++;
        else
                delivered++;
}

/* Writes a 12-digit test personnummer 19800101NNNC into out (13 bytes). */
static void test_personnummer(int serial, char out[13])
{
        int sum = 0, i;

        snprintf(out, 13, "19800101%03d", serial % 1000);
        for (i = 2; i < 11; i++) {
                int d = out[i] - '0';

                if ((i - 2) % 2 == 0) {
                        d *= 2;
                        if (d > 9)
                                d -= 9;
                }
                sum += d;
        }
        out[11] = (char)('0' + (10 - sum % 10) % 10);
        out[12] = '\0';
}

static void topic_for(const char *producer_prefix, char *out, size_t size)
{
        snprintf(out, size, "%skundhandelser.%s", topic_prefix,
                 producer_prefix);
}

/* Creates the topics of the named producer prefixes (NULL-terminated). */
static void create_topics(const char *const *names)
{
        char name[256];
        ma_error_t err;
        int i;

        for (i = 0; names[i] != NULL; i++) {
                topic_for(names[i], name, sizeof(name));
                ma_error_clear(&err);
                if (ma_kafka_topic_ensure(bootstrap_servers, name, PARTITIONS,
                                          1, 20000, NULL, NULL, &err) != MA_OK)
                        die(err.message);
        }
}

static void send_raw(const char *producer_prefix, const char *key,
                     const void *value, size_t len, const char *ce_type)
{
        char topic[256];
        rd_kafka_headers_t *headers = rd_kafka_headers_new(4);
        rd_kafka_resp_err_t err;

        topic_for(producer_prefix, topic, sizeof(topic));
        rd_kafka_header_add(headers, "ce_specversion", -1, "1.0", -1);
        rd_kafka_header_add(headers, "ce_type", -1, ce_type, -1);
        rd_kafka_header_add(headers, "content-type", -1, MA_CODEC_CONTENT_TYPE,
                            -1);
        err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                                RD_KAFKA_V_VALUE((void *)value, len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
        if (err) {
                rd_kafka_headers_destroy(headers);
                die(rd_kafka_err2str(err));
        }
        rd_kafka_poll(producer, 0);
}

/* Fills the common parts of an event of one producer. */
static void event_base(ma_event_t *event, ma_event_kind_t kind,
                       const char *orgnr, const char *id, int64_t sekvens,
                       int customer, const char *arende, int minute)
{
        char pnr[13];

        ma_event_init(event);
        event->kind = kind;
        event->kundhandelse_id = ma_strdup(id);
        event->producent_organisationsnummer = ma_strdup(orgnr);
        event->sekvens = sekvens;
        if (customer >= 0) {
                test_personnummer(customer, pnr);
                event->part.has_kund = true;
                event->part.kund_identifierare = ma_strdup(pnr);
                event->part.kund_typ = MA_KUND_PERSONNUMMER;
        }
        if (arende != NULL) {
                event->part.has_arende = true;
                event->part.arende_identifierare = ma_strdup(arende);
                event->part.arende_typ = MA_ARENDE_DIARIENUMMER;
        }
        event->tidpunkt.utc_ms = BASE_UTC_MS + (int64_t)minute * 60000;
        event->tidpunkt.offset_min = kind == MA_EVENT_PUBLISH ? 60 : 0;
}

static void publish_fields(ma_event_t *event, const char *producer_name,
                           const char *type, const char *rubrik)
{
        event->producent = ma_strdup(producer_name);
        event->rubrik = ma_strdup(rubrik);
        /* A tab, a line break and a backslash, which the staging COPY
         * must escape. */
        event->beskrivning = ma_strdup("Beskrivning av händelsen.\n"
                                       "Rad två\tmed tabb och \\.");
        event->sprak = ma_strdup("sv");
        event->kundhandelse_typ = ma_strdup(type);
        event->version = ma_strdup("6.1");
        event->producentarendet_klart = strstr(type, "BESLUT") != NULL ||
                                        strstr(type, "BEVILJAT") != NULL;
        event->producentarendet_kraver_kundatgard =
                strstr(type, "KOMPLETTERING") != NULL;
        if (event->producentarendet_kraver_kundatgard)
                event->atgard_senast = 20500; /* 2026-02-16 */
        event->utokad_information = ma_strdup("{\"steg\": 1}");
        ma_event_add_tag(event, "test");
        ma_event_add_tag(event, "tagg med \"citat\"");
        ma_event_add_tag(event, "tagg med \\ och {}");
}

static void send_event(ma_event_t *event, const char *producer_prefix)
{
        ma_buf_t buf = {0};
        ma_error_t err;
        char key[MA_PSEUDONYM_HEX_LEN + 1];

        if (ma_codec_encode(codec, event, &buf, &err) != MA_OK)
                die(err.message);
        if (ma_pseudonym_event_key(pseudonym_key, event, key) != MA_OK)
                die("could not compute the record key");
        send_raw(producer_prefix, key, buf.data, buf.len,
                 event->kind == MA_EVENT_PUBLISH
                         ? "se.minaarenden.kundhandelse.v1"
                         : "se.minaarenden.aterkallelse.v1");
        ma_buf_free(&buf);
        ma_event_clear(event);
}

static void publish(const char *orgnr, const char *prefix, const char *name,
                    const char *id, int64_t sekvens, int customer,
                    const char *arende, int minute, const char *type,
                    const char *rubrik)
{
        ma_event_t event;

        event_base(&event, MA_EVENT_PUBLISH, orgnr, id, sekvens, customer,
                   arende, minute);
        publish_fields(&event, name, type, rubrik);
        send_event(&event, prefix);
}

static void retract(const char *orgnr, const char *prefix, const char *id,
                    int64_t sekvens, int customer, const char *arende,
                    int minute)
{
        ma_event_t event;

        event_base(&event, MA_EVENT_RETRACT, orgnr, id, sekvens, customer,
                   arende, minute);
        event.orsak = ma_strdup("Publicerad av misstag.");
        send_event(&event, prefix);
}

/* One bad record per dead-letter reason, all on the TSTA topic. */
static void send_bad_records(int serial)
{
        static const char garbage[] = "this is not Avro";
        unsigned char unknown[16] = {0xC3, 0x01, 1, 2, 3, 4, 5, 6,
                                     7,    8,    0, 0, 0, 0, 0, 0};
        ma_event_t event;
        char id[64];

        send_raw("tsta", "bad-decode", garbage, sizeof(garbage) - 1,
                 "se.minaarenden.kundhandelse.v1");
        send_raw("tsta", "bad-fingerprint", unknown, sizeof(unknown),
                 "se.minaarenden.kundhandelse.v1");

        /* VALIDATION: the personnummer's Luhn digit is wrong. */
        snprintf(id, sizeof(id), "bad-validation-%d", serial);
        event_base(&event, MA_EVENT_PUBLISH, TSTA_ORGNR, id, 1, 7, NULL, 1);
        publish_fields(&event, "Testkommun A", "TSTA.ANSOKAN.MOTTAGEN",
                       "Ogiltig");
        event.part.kund_identifierare[11] =
                (char)('0' +
                       (event.part.kund_identifierare[11] - '0' + 1) % 10);
        send_event(&event, "tsta");

        snprintf(id, sizeof(id), "bad-producer-%d", serial);
        publish(UNKNOWN_ORGNR, "tsta", "Okänd", id, 1, 8, NULL, 1,
                "TSTA.ANSOKAN.MOTTAGEN", "Okänd producent");
        snprintf(id, sizeof(id), "bad-type-%d", serial);
        publish(TSTA_ORGNR, "tsta", "Testkommun A", id, 1, 8, NULL, 1,
                "TSTA.ANSOKAN.FINNS_INTE", "Okänd typ");
        snprintf(id, sizeof(id), "bad-prefix-%d", serial);
        publish(TSTA_ORGNR, "tsta", "Testkommun A", id, 1, 8, NULL, 1,
                "TSTB.TILLSTAND.MOTTAGEN", "Annans prefix");
}

/*
 * basic-a, in publish order (one customer per id, so each id stays in one
 * partition and keeps its order):
 *   a-replace:  sekvens 1, 3, then a late 2 -> sekvens 3 ("v3") remains
 *   a-retract:  sekvens 1, retraction 2, then a late publish 1 -> absent
 *   a-tomb:     retraction 5 before any publish, then publish 4 -> absent
 *   a-case-1/2: two events of case D-100 for customer 1, the second final
 *   a-nokund:   an event with only a case reference (D-200)
 */
static void scenario_basic_a(void)
{
        const char *n = "Testkommun A";

        publish(TSTA_ORGNR, "tsta", n, "a-replace", 1, 1, NULL, 10,
                "TSTA.ANSOKAN.MOTTAGEN", "v1");
        publish(TSTA_ORGNR, "tsta", n, "a-replace", 3, 1, NULL, 12,
                "TSTA.ANSOKAN.MOTTAGEN", "v3");
        publish(TSTA_ORGNR, "tsta", n, "a-replace", 2, 1, NULL, 11,
                "TSTA.ANSOKAN.MOTTAGEN", "v2");
        publish(TSTA_ORGNR, "tsta", n, "a-retract", 1, 2, NULL, 10,
                "TSTA.ANSOKAN.MOTTAGEN", "retract me");
        retract(TSTA_ORGNR, "tsta", "a-retract", 2, 2, NULL, 11);
        publish(TSTA_ORGNR, "tsta", n, "a-retract", 1, 2, NULL, 10,
                "TSTA.ANSOKAN.MOTTAGEN", "resurrected");
        retract(TSTA_ORGNR, "tsta", "a-tomb", 5, 3, NULL, 20);
        publish(TSTA_ORGNR, "tsta", n, "a-tomb", 4, 3, NULL, 19,
                "TSTA.ANSOKAN.MOTTAGEN", "too late");
        publish(TSTA_ORGNR, "tsta", n, "a-case-1", 1, 1, "D-100", 30,
                "TSTA.ANSOKAN.KOMPLETTERING", "Komplettera");
        publish(TSTA_ORGNR, "tsta", n, "a-case-2", 1, 1, "D-100", 40,
                "TSTA.ANSOKAN.BESLUT", "Beslut");
        publish(TSTA_ORGNR, "tsta", n, "a-nokund", 1, -1, "D-200", 50,
                "TSTA.ANSOKAN.KOMPLETTERING", "Utan kund");
        send_bad_records(0);
}

static void scenario_basic_b(void)
{
        publish(TSTB_ORGNR, "tstb", "Testmyndighet B", "b-1", 1, 1, "T-1", 60,
                "TSTB.TILLSTAND.MOTTAGEN", "Mottagen");
        publish(TSTB_ORGNR, "tstb", "Testmyndighet B", "b-2", 1, 4, "T-2", 61,
                "TSTB.TILLSTAND.BEVILJAT", "Beviljat");
}

static uint64_t rng_state;

static uint32_t rng_next(void)
{
        rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
        return (uint32_t)(rng_state >> 33);
}

/*
 * COUNT operations over COUNT/4 ids.  Each id has one customer and one
 * producer, so its records share a partition.  sekvens is unique per
 * operation but not increasing: about a tenth are published with a lower
 * sekvens than an earlier operation on the same id (late arrivals).
 */
static void scenario_bulk(long count)
{
        long ids = count / 4 > 0 ? count / 4 : 1;
        long i;

        for (i = 0; i < count; i++) {
                long id_index = (long)(rng_next() % (uint32_t)ids);
                bool tstb = id_index % 3 == 0;
                int customer = (int)(id_index % 97);
                char id[64], arende[32];
                int64_t sekvens = (int64_t)i * 10 + 5;
                uint32_t roll = rng_next() % 100;

                if (roll < 10)
                        sekvens -= 28; /* late: older than recent ones */
                snprintf(id, sizeof(id), "bulk-%ld", id_index);
                snprintf(arende, sizeof(arende), "K-%ld", id_index % 41);
                if (roll >= 98) {
                        send_bad_records((int)i);
                        continue;
                }
                if (roll >= 85)
                        retract(tstb ? TSTB_ORGNR : TSTA_ORGNR,
                                tstb ? "tstb" : "tsta", id, sekvens, customer,
                                arende, (int)(i % 5000));
                else
                        publish(tstb ? TSTB_ORGNR : TSTA_ORGNR,
                                tstb ? "tstb" : "tsta",
                                tstb ? "Testmyndighet B" : "Testkommun A", id,
                                sekvens, customer, arende, (int)(i % 5000),
                                tstb ? (roll % 2 ? "TSTB.TILLSTAND.MOTTAGEN"
                                                 : "TSTB.TILLSTAND.BEVILJAT")
                                     : (roll % 3 == 0
                                                ? "TSTA.ANSOKAN.BESLUT"
                                                : "TSTA.ANSOKAN.KOMPLETTERING"),
                                roll % 2 ? "Jämn" : "Udda");
        }
}

int main(int argc, char **argv)
{
        rd_kafka_conf_t *conf;
        ma_error_t err;
        char errstr[512];

        if (argc < 6)
                die("usage: BROKERS TOPIC_PREFIX SCHEMA_DIR SECRET SCENARIO "
                    "[COUNT SEED]");
        topic_prefix = argv[2];
        if (ma_codec_open(argv[3], 0, &codec, &err) != MA_OK)
                die(err.message);
        if (ma_pseudonym_key_new(argv[4], strlen(argv[4]), &pseudonym_key,
                                 &err) != MA_OK)
                die(err.message);
        bootstrap_servers = argv[1];
        conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK)
                die(errstr);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        producer =
                rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (producer == NULL)
                die(errstr);
        if (strcmp(argv[5], "basic-a") == 0) {
                static const char *const tsta[] = {"tsta", NULL};

                create_topics(tsta);
                scenario_basic_a();
        } else if (strcmp(argv[5], "basic-b") == 0) {
                static const char *const tstb[] = {"tstb", NULL};

                create_topics(tstb);
                scenario_basic_b();
        } else if (strcmp(argv[5], "topics") == 0) {
                static const char *const both[] = {"tsta", "tstb", NULL};

                create_topics(both);
        } else if (strcmp(argv[5], "bulk") == 0 && argc >= 8) {
                static const char *const both[] = {"tsta", "tstb", NULL};

                create_topics(both);
                rng_state = strtoull(argv[7], NULL, 10);
                scenario_bulk(strtol(argv[6], NULL, 10));
        } else {
                die("unknown scenario; use basic-a, basic-b, topics or bulk "
                    "COUNT SEED");
        }
        if (rd_kafka_flush(producer, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                die("Kafka did not acknowledge every record within 60 s; check "
                    "that Kafka is running");
        rd_kafka_destroy(producer);
        ma_pseudonym_key_free(pseudonym_key);
        ma_codec_close(codec);
        printf("published %ld\n", delivered);
        return failed == 0 ? 0 : 1;
}
