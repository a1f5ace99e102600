/*
 * bench_processor_publish.c - publishes the processor benchmark's records:
 * COUNT valid kundhändelser over both test producers (tests/integration/
 * processor/catalog.json), encoded with ma_codec as the producers do.
 *
 * Usage: bench_processor_publish BROKERS TOPIC_PREFIX SCHEMA_DIR SECRET
 *                                COUNT
 * Record i is kundhändelse "e-<i>" of customer i % 1000 in case "C-<i/4>",
 * tidpunkt 2026-01-01 plus i seconds, sekvens 1; every 20th record instead
 * publishes sekvens 2 of record i-8 (a replacement).  The topics must exist
 * (bench/processor/run.sh creates them with ma-topics).  Prints
 * "published N"; exit 1 when any record was not delivered.
 * Identity numbers are test numbers born on 1980-01-01 with a computed
 * Luhn digit.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "ma/alloc.h"
#include "ma/codec.h"
#include "ma/event.h"
#include "ma/pseudonym.h"

#define BASE_UTC_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

static long bench_delivered, bench_failed;

static void bench_die(const char *message)
{
        fprintf(stderr, "bench_processor_publish: %s\n", message);
        exit(1);
}

static void bench_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *message,
                              void *opaque)
{
        (void)rk;
        (void)opaque;
        if (message->err)
                bench_failed++;
        else
                bench_delivered++;
}

/* Writes a 12-digit test personnummer 19800101NNNC into out (13 bytes). */
static void bench_personnummer(int serial, char out[13])
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

static void bench_event(ma_event_t *event, long index, int64_t sekvens)
{
        static const char *const types_a[] = {"TSTA.ANSOKAN.MOTTAGEN",
                                              "TSTA.ANSOKAN.KOMPLETTERING",
                                              "TSTA.ANSOKAN.BESLUT"};
        static const char *const types_b[] = {"TSTB.TILLSTAND.MOTTAGEN",
                                              "TSTB.TILLSTAND.BEVILJAT"};
        bool tstb = index % 2 == 1;
        const char *type =
                tstb ? types_b[(index / 2) % 2] : types_a[(index / 2) % 3];
        char text[64], pnr[13];

        ma_event_init(event);
        event->kind = MA_EVENT_PUBLISH;
        snprintf(text, sizeof(text), "e-%ld", index);
        event->kundhandelse_id = ma_strdup(text);
        event->producent_organisationsnummer =
                ma_strdup(tstb ? "5566778899" : "2120001116");
        event->sekvens = sekvens;
        bench_personnummer((int)(index % 1000), pnr);
        event->part.has_kund = true;
        event->part.kund_identifierare = ma_strdup(pnr);
        event->part.kund_typ = MA_KUND_PERSONNUMMER;
        snprintf(text, sizeof(text), "C-%ld", index / 4);
        event->part.has_arende = true;
        event->part.arende_identifierare = ma_strdup(text);
        event->part.arende_typ = MA_ARENDE_DIARIENUMMER;
        event->tidpunkt.utc_ms = BASE_UTC_MS + (int64_t)index * 1000;
        event->tidpunkt.offset_min = 60;
        event->producent = ma_strdup(tstb ? "Testmyndighet B" : "Testkommun A");
        event->rubrik = ma_strdup(sekvens > 1 ? "Uppdaterad" : "Mottagen");
        event->beskrivning = ma_strdup("Vi har tagit emot din ansökan och "
                                       "handlägger den.");
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
        ma_event_add_tag(event, "bench");
}

int main(int argc, char **argv)
{
        ma_codec_t *codec = NULL;
        ma_pseudonym_key_t *key = NULL;
        rd_kafka_conf_t *conf;
        rd_kafka_t *producer;
        ma_error_t err;
        char errstr[512];
        long count, i;

        if (argc != 6)
                bench_die("usage: BROKERS TOPIC_PREFIX SCHEMA_DIR SECRET "
                          "COUNT");
        count = strtol(argv[5], NULL, 10);
        if (ma_codec_open(argv[3], 0, &codec, &err) != MA_OK ||
            ma_pseudonym_key_new(argv[4], strlen(argv[4]), &key, &err) != MA_OK)
                bench_die(err.message);
        conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "linger.ms", "20", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK)
                bench_die(errstr);
        rd_kafka_conf_set_dr_msg_cb(conf, bench_on_delivery);
        producer =
                rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (producer == NULL)
                bench_die(errstr);

        for (i = 0; i < count; i++) {
                bool replace = i % 20 == 19 && i >= 8;
                long index = replace ? i - 8 : i;
                char topic[256], record_key[MA_PSEUDONYM_HEX_LEN + 1];
                ma_buf_t buf = {0};
                ma_event_t event;
                rd_kafka_resp_err_t rerr;

                bench_event(&event, index, replace ? 2 : 1);
                if (ma_codec_encode(codec, &event, &buf, &err) != MA_OK)
                        bench_die(err.message);
                if (ma_pseudonym_event_key(key, &event, record_key) != MA_OK)
                        bench_die("could not compute the record key");
                snprintf(topic, sizeof(topic), "%skundhandelser.%s", argv[2],
                         index % 2 ? "tstb" : "tsta");
                do {
                        rerr = rd_kafka_producev(
                                producer, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_KEY(record_key, strlen(record_key)),
                                RD_KAFKA_V_VALUE(buf.data, buf.len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END);
                        if (rerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                rd_kafka_poll(producer, 100);
                } while (rerr == RD_KAFKA_RESP_ERR__QUEUE_FULL);
                if (rerr)
                        bench_die(rd_kafka_err2str(rerr));
                rd_kafka_poll(producer, 0);
                ma_buf_free(&buf);
                ma_event_clear(&event);
        }
        if (rd_kafka_flush(producer, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                bench_die("records not delivered within 120 s");
        rd_kafka_destroy(producer);
        ma_pseudonym_key_free(key);
        ma_codec_close(codec);
        printf("published %ld\n", bench_delivered);
        return bench_failed == 0 ? 0 : 1;
}
