/*
 * gw_create_topic.c - creates Kafka topics for the gateway tests and waits
 * until each has a leader, because the test broker does not create topics
 * on first use (auto.create.topics.enable=false).
 *
 * Usage: gw_create_topic BOOTSTRAP TOPIC...
 * Exits 0 when every topic exists (created now or before), 1 otherwise,
 * with the reason on stderr.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#define GW_TOPIC_TIMEOUT_MS 30000
#define GW_TOPIC_PARTITIONS 3

static rd_kafka_t *gw_topic_client(const char *bootstrap)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char error[512];
        rd_kafka_t *rk;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, error,
                              sizeof(error)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "gw_create_topic: %s\n", error);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error));
        if (rk == NULL) {
                fprintf(stderr, "gw_create_topic: %s\n", error);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

static bool gw_topic_create(rd_kafka_t *rk, const char *name)
{
        char error[512];
        rd_kafka_NewTopic_t *topic;
        rd_kafka_AdminOptions_t *options;
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_event_t *event;
        const rd_kafka_topic_result_t **results;
        size_t count = 0;
        bool ok = false;

        topic = rd_kafka_NewTopic_new(name, GW_TOPIC_PARTITIONS, 1, error,
                                      sizeof(error));
        if (topic == NULL) {
                fprintf(stderr, "gw_create_topic: invalid topic \"%s\": %s\n",
                        name, error);
                rd_kafka_queue_destroy(queue);
                return false;
        }
        options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_request_timeout(options, GW_TOPIC_TIMEOUT_MS,
                                                  error, sizeof(error));
        rd_kafka_CreateTopics(rk, &topic, 1, options, queue);
        event = rd_kafka_queue_poll(queue, GW_TOPIC_TIMEOUT_MS + 5000);
        if (event == NULL) {
                fprintf(stderr,
                        "gw_create_topic: creating \"%s\" timed out after "
                        "%d ms; is Kafka running?\n",
                        name, GW_TOPIC_TIMEOUT_MS);
        } else if (rd_kafka_event_error(event)) {
                fprintf(stderr,
                        "gw_create_topic: could not create \"%s\": %s\n", name,
                        rd_kafka_event_error_string(event));
        } else {
                results = rd_kafka_CreateTopics_result_topics(
                        rd_kafka_event_CreateTopics_result(event), &count);
                rd_kafka_resp_err_t code =
                        count == 1 ? rd_kafka_topic_result_error(results[0])
                                   : RD_KAFKA_RESP_ERR__FAIL;
                ok = code == RD_KAFKA_RESP_ERR_NO_ERROR ||
                     code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
                if (!ok)
                        fprintf(stderr,
                                "gw_create_topic: could not create \"%s\": "
                                "%s\n",
                                name, rd_kafka_err2str(code));
        }
        if (event != NULL)
                rd_kafka_event_destroy(event);
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_NewTopic_destroy(topic);
        rd_kafka_queue_destroy(queue);
        return ok;
}

/* Waits until the metadata shows every partition of name with a leader. */
static bool gw_topic_wait(rd_kafka_t *rk, const char *name)
{
        rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, name, NULL);

        for (int attempt = 0; attempt < 60; attempt++) {
                const struct rd_kafka_metadata *metadata = NULL;
                bool ready = false;

                if (rd_kafka_metadata(rk, 0, topic, &metadata, 1000) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR) {
                        const struct rd_kafka_metadata_topic *entry =
                                &metadata->topics[0];

                        ready = metadata->topic_cnt == 1 && entry->err == 0 &&
                                entry->partition_cnt > 0;
                        for (int i = 0; ready && i < entry->partition_cnt; i++)
                                ready = entry->partitions[i].leader >= 0;
                        rd_kafka_metadata_destroy(metadata);
                }
                if (ready) {
                        rd_kafka_topic_destroy(topic);
                        return true;
                }
                rd_kafka_poll(rk, 500);
        }
        fprintf(stderr, "gw_create_topic: topic \"%s\" has no leader\n", name);
        rd_kafka_topic_destroy(topic);
        return false;
}

int main(int argc, char **argv)
{
        rd_kafka_t *rk;
        bool ok = true;

        if (argc < 3) {
                fprintf(stderr, "usage: gw_create_topic BOOTSTRAP TOPIC...\n");
                return 2;
        }
        rk = gw_topic_client(argv[1]);
        if (rk == NULL)
                return 1;
        for (int i = 2; i < argc && ok; i++)
                ok = gw_topic_create(rk, argv[i]) && gw_topic_wait(rk, argv[i]);
        rd_kafka_destroy(rk);
        return ok ? 0 : 1;
}
