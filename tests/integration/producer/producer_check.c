/*
 * producer_check.c - helper of the producer integration tests.
 *
 *   producer_check create-topic BOOTSTRAP TOPIC PARTITIONS [NAME=VALUE...]
 *       creates TOPIC (replication factor 1, with the topic settings given)
 *       with librdkafka's Admin API; an existing topic is fine.
 *   producer_check decode SCHEMA_DIR
 *       reads records that kcat wrote with
 *       -f '%k\n%h\n%S\n%s\n' (key, headers, value size, value) from
 *       standard input and prints one JSON object per record:
 *       {"key", "headers": {...}, "event": {... every decoded field ...}}.
 *
 * Exit status 0 on success, 1 on any failure (with a message on stderr).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "ma/codec.h"
#include "ma/datetime.h"
#include "ma/event.h"

/* Creates topic; configs are "name=value" topic settings. */
static int check_create_topic(const char *bootstrap, const char *topic,
                              int partitions, char *const *configs,
                              int config_count)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_t *rk;
        int rc = 1;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "producer_check: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (rk == NULL) {
                fprintf(stderr, "producer_check: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        rd_kafka_NewTopic_t *new_topic = rd_kafka_NewTopic_new(
                topic, partitions, 1, errstr, sizeof(errstr));
        for (int i = 0; i < config_count; i++) {
                char *eq = strchr(configs[i], '=');
                if (eq == NULL)
                        continue;
                *eq = '\0';
                rd_kafka_NewTopic_set_config(new_topic, configs[i], eq + 1);
        }
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *options =
                rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_operation_timeout(options, 20000, errstr,
                                                    sizeof(errstr));
        rd_kafka_CreateTopics(rk, &new_topic, 1, options, queue);
        rd_kafka_event_t *event = rd_kafka_queue_poll(queue, 30000);
        if (event == NULL) {
                fprintf(stderr,
                        "producer_check: creating topic %s at %s "
                        "timed out\n",
                        topic, bootstrap);
        } else if (rd_kafka_event_error(event)) {
                fprintf(stderr, "producer_check: creating topic %s: %s\n",
                        topic, rd_kafka_event_error_string(event));
        } else {
                size_t count;
                const rd_kafka_topic_result_t **results =
                        rd_kafka_CreateTopics_result_topics(
                                rd_kafka_event_CreateTopics_result(event),
                                &count);
                rd_kafka_resp_err_t code =
                        count == 1 ? rd_kafka_topic_result_error(results[0])
                                   : RD_KAFKA_RESP_ERR__FAIL;
                if (code == RD_KAFKA_RESP_ERR_NO_ERROR ||
                    code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                        rc = 0;
                else
                        fprintf(stderr,
                                "producer_check: creating topic %s: "
                                "%s\n",
                                topic, rd_kafka_err2str(code));
        }
        if (event != NULL)
                rd_kafka_event_destroy(event);
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_NewTopic_destroy(new_topic);
        rd_kafka_queue_destroy(queue);
        rd_kafka_destroy(rk);
        return rc;
}

/* ------------------------------------------------------------------------
 * decode
 */

static json_t *check_string_or_null(const char *s)
{
        return s != NULL ? json_string(s) : json_null();
}

static json_t *check_date(int32_t days)
{
        char buf[16];

        if (days == MA_DATE_NONE)
                return json_null();
        ma_date_format(days, buf, sizeof(buf));
        return json_string(buf);
}

static json_t *check_event_json(const ma_event_t *event)
{
        json_t *root = json_object();
        json_t *part = json_object();
        json_t *taggar = json_array();

        if (event->part.has_kund)
                json_object_set_new(
                        part, "kund",
                        json_pack("{s:s, s:s, s:o}", "identifierare",
                                  event->part.kund_identifierare, "typ",
                                  ma_kund_typ_name(event->part.kund_typ),
                                  "tillagg",
                                  check_string_or_null(
                                          event->part.kund_tillagg)));
        if (event->part.has_arende)
                json_object_set_new(
                        part, "arende",
                        json_pack("{s:s, s:s}", "identifierare",
                                  event->part.arende_identifierare, "typ",
                                  ma_arende_typ_name(event->part.arende_typ)));
        for (size_t i = 0; i < event->taggar_count; i++)
                json_array_append_new(taggar, json_string(event->taggar[i]));

        json_object_set_new(root, "kind",
                            json_string(event->kind == MA_EVENT_RETRACT
                                                ? "aterkallelse"
                                                : "kundhandelse"));
        json_object_set_new(root, "kundhandelseId",
                            json_string(event->kundhandelse_id));
        json_object_set_new(root, "producentOrganisationsnummer",
                            json_string(event->producent_organisationsnummer));
        json_object_set_new(root, "part", part);
        json_object_set_new(root, "utc_ms",
                            json_integer(event->tidpunkt.utc_ms));
        json_object_set_new(root, "offset_min",
                            json_integer(event->tidpunkt.offset_min));
        json_object_set_new(root, "sekvens", json_integer(event->sekvens));
        json_object_set_new(root, "producent",
                            check_string_or_null(event->producent));
        json_object_set_new(root, "rubrik",
                            check_string_or_null(event->rubrik));
        json_object_set_new(root, "beskrivning",
                            check_string_or_null(event->beskrivning));
        json_object_set_new(root, "sprak", check_string_or_null(event->sprak));
        json_object_set_new(root, "kundhandelseTyp",
                            check_string_or_null(event->kundhandelse_typ));
        json_object_set_new(
                root, "producentarendetKraverKundatgard",
                json_boolean(event->producentarendet_kraver_kundatgard));
        json_object_set_new(root, "producentarendetKlart",
                            json_boolean(event->producentarendet_klart));
        json_object_set_new(root, "version",
                            check_string_or_null(event->version));
        json_object_set_new(root, "utokadInformation",
                            check_string_or_null(event->utokad_information));
        json_object_set_new(root, "referenser",
                            check_string_or_null(event->referenser));
        json_object_set_new(root, "taggar", taggar);
        json_object_set_new(root, "giltigTill", check_date(event->giltig_till));
        json_object_set_new(root, "atgardSenast",
                            check_date(event->atgard_senast));
        json_object_set_new(root, "kundhandelsereferens",
                            check_string_or_null(event->kundhandelsereferens));
        json_object_set_new(root, "orsak", check_string_or_null(event->orsak));
        return root;
}

/* kcat prints headers as name=value,name=value; our values hold no ','. */
static json_t *check_headers_json(char *line)
{
        json_t *headers = json_object();
        char *save = NULL;

        for (char *pair = strtok_r(line, ",", &save); pair != NULL;
             pair = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(pair, '=');
                if (eq == NULL)
                        continue;
                *eq = '\0';
                json_object_set_new(headers, pair, json_string(eq + 1));
        }
        return headers;
}

static int check_line(char *buf, size_t size, FILE *in)
{
        if (fgets(buf, (int)size, in) == NULL)
                return 0;
        buf[strcspn(buf, "\n")] = '\0';
        return 1;
}

static int check_decode(const char *schema_dir)
{
        ma_codec_t *codec = NULL;
        ma_error_t err;
        char key[256];
        char headers[4096];
        char size_text[32];
        int rc = 0;

        if (ma_codec_open(schema_dir, 0, &codec, &err) != MA_OK) {
                fprintf(stderr, "producer_check: %s\n", err.message);
                return 1;
        }
        while (check_line(key, sizeof(key), stdin)) {
                if (!check_line(headers, sizeof(headers), stdin) ||
                    !check_line(size_text, sizeof(size_text), stdin)) {
                        fprintf(stderr, "producer_check: truncated record\n");
                        rc = 1;
                        break;
                }
                size_t size = strtoul(size_text, NULL, 10);
                unsigned char *value = malloc(size + 1);
                if (value == NULL || fread(value, 1, size, stdin) != size ||
                    fgetc(stdin) != '\n') {
                        fprintf(stderr, "producer_check: truncated value\n");
                        free(value);
                        rc = 1;
                        break;
                }
                ma_event_t event;
                ma_event_init(&event);
                json_t *out = json_object();
                json_object_set_new(out, "key", json_string(key));
                json_object_set_new(out, "headers",
                                    check_headers_json(headers));
                if (ma_codec_decode(codec, value, size, &event, &err) ==
                    MA_OK) {
                        json_object_set_new(out, "event",
                                            check_event_json(&event));
                } else {
                        json_object_set_new(out, "error",
                                            json_string(err.message));
                        rc = 1;
                }
                json_dumpf(out, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
                fputc('\n', stdout);
                json_decref(out);
                ma_event_clear(&event);
                free(value);
        }
        ma_codec_close(codec);
        return rc;
}

int main(int argc, char *argv[])
{
        if (argc >= 5 && strcmp(argv[1], "create-topic") == 0)
                return check_create_topic(argv[2], argv[3],
                                          (int)strtol(argv[4], NULL, 10),
                                          argv + 5, argc - 5);
        if (argc == 3 && strcmp(argv[1], "decode") == 0)
                return check_decode(argv[2]);
        fprintf(stderr,
                "usage: producer_check create-topic BOOTSTRAP TOPIC "
                "PARTITIONS [NAME=VALUE...]\n"
                "       producer_check decode SCHEMA_DIR < kcat-output\n");
        return 2;
}
