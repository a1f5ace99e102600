/*
 * kafka_admin.c - topic creation and partition growth with the librdkafka
 * Admin API.  librdkafka 2.0 has no DescribeTopics, so the current
 * partition count comes from a metadata request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "ma/kafka_admin.h"

typedef enum ma_admin_op {
        MA_ADMIN_CREATE_TOPIC,
        MA_ADMIN_CREATE_PARTITIONS,
} ma_admin_op_t;

/* A short-lived client whose own log is off: every failure is returned in
 * err instead. */
static rd_kafka_t *ma_admin_client(const char *bootstrap_servers,
                                   int timeout_ms, ma_error_t *err)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512];
        char timeout[32];
        rd_kafka_t *rk;

        snprintf(timeout, sizeof(timeout), "%d", timeout_ms);
        if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_servers,
                              errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "socket.timeout.ms", timeout, errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)) !=
                    RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(conf);
                ma_error_set(err, MA_ERR_CONFIG, "bootstrap_servers",
                             "invalid Kafka client setting: %s", errstr);
                return NULL;
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (rk == NULL) {
                rd_kafka_conf_destroy(conf);
                ma_error_set(err, MA_ERR_KAFKA, NULL,
                             "could not create a Kafka client: %s", errstr);
        }
        return rk;
}

/*
 * Sets *count to the topic's partitions, or 0 when the topic is unknown, and
 * *led, if not NULL, to whether every partition has a leader.
 */
static ma_status_t ma_admin_partition_count(rd_kafka_t *rk, const char *topic,
                                            int timeout_ms, int *count,
                                            bool *led, ma_error_t *err)
{
        const struct rd_kafka_metadata *metadata = NULL;
        rd_kafka_topic_t *handle = rd_kafka_topic_new(rk, topic, NULL);
        rd_kafka_resp_err_t code;

        if (handle == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not create a topic handle");
        code = rd_kafka_metadata(rk, 0, handle, &metadata, timeout_ms);
        rd_kafka_topic_destroy(handle);
        if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
                ma_status_t status = code == RD_KAFKA_RESP_ERR__TIMED_OUT
                                             ? MA_ERR_TIMEOUT
                                             : MA_ERR_KAFKA;
                ma_error_set(err, status, NULL,
                             "could not read the metadata of topic \"%s\" "
                             "from Kafka: %s; check that Kafka is running",
                             topic, rd_kafka_err2str(code));
                if (err != NULL)
                        err->cause = code;
                return status;
        }
        *count = 0;
        if (led != NULL)
                *led = false;
        if (metadata->topic_cnt == 1 &&
            metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const struct rd_kafka_metadata_topic *entry =
                        &metadata->topics[0];

                *count = entry->partition_cnt;
                if (led != NULL) {
                        *led = true;
                        for (int i = 0; i < entry->partition_cnt; i++)
                                if (entry->partitions[i].leader < 0)
                                        *led = false;
                }
        }
        rd_kafka_metadata_destroy(metadata);
        return MA_OK;
}

/*
 * Waits until the metadata shows at least partitions partitions of topic,
 * each with a leader, so that producing right afterwards does not fail.
 */
static ma_status_t ma_admin_wait_leaders(rd_kafka_t *rk, const char *topic,
                                         int partitions, int timeout_ms,
                                         ma_error_t *err)
{
        const struct timespec pause = {0, 200 * 1000 * 1000};
        int waited_ms = 0;

        for (;;) {
                int count = 0;
                bool led = false;
                ma_status_t status = ma_admin_partition_count(
                        rk, topic, timeout_ms, &count, &led, err);

                if (status != MA_OK)
                        return status;
                if (count >= partitions && led)
                        return MA_OK;
                if (waited_ms >= timeout_ms)
                        return ma_error_set(
                                err, MA_ERR_TIMEOUT, NULL,
                                "topic \"%s\" still lacks leaders for its %d "
                                "partitions after %d ms (metadata shows %d); "
                                "check the Kafka broker's log",
                                topic, partitions, timeout_ms, count);
                nanosleep(&pause, NULL);
                waited_ms += 200;
        }
}

/* Reads the single topic result of a CreateTopics or CreatePartitions. */
static ma_status_t ma_admin_result(rd_kafka_event_t *event, ma_admin_op_t op,
                                   const char *topic, ma_error_t *err)
{
        const rd_kafka_topic_result_t **results;
        size_t count = 0;
        rd_kafka_resp_err_t code;

        if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                code = rd_kafka_event_error(event);
                ma_error_set(err, MA_ERR_KAFKA, NULL,
                             "Kafka rejected the request for topic \"%s\": %s",
                             topic, rd_kafka_event_error_string(event));
                if (err != NULL)
                        err->cause = code;
                return MA_ERR_KAFKA;
        }
        if (op == MA_ADMIN_CREATE_TOPIC)
                results = rd_kafka_CreateTopics_result_topics(
                        rd_kafka_event_CreateTopics_result(event), &count);
        else
                results = rd_kafka_CreatePartitions_result_topics(
                        rd_kafka_event_CreatePartitions_result(event), &count);
        if (count != 1)
                return ma_error_set(err, MA_ERR_KAFKA, NULL,
                                    "Kafka returned %zu results for topic "
                                    "\"%s\", expected 1",
                                    count, topic);
        code = rd_kafka_topic_result_error(results[0]);
        if (code == RD_KAFKA_RESP_ERR_NO_ERROR ||
            (op == MA_ADMIN_CREATE_TOPIC &&
             code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS))
                return MA_OK;
        ma_error_set(
                err, MA_ERR_KAFKA, NULL, "Kafka could not %s topic \"%s\": %s",
                op == MA_ADMIN_CREATE_TOPIC ? "create" : "add partitions to",
                topic, rd_kafka_topic_result_error_string(results[0]));
        if (err != NULL)
                err->cause = code;
        return MA_ERR_KAFKA;
}

static ma_status_t ma_admin_run(rd_kafka_t *rk, ma_admin_op_t op,
                                const char *topic, int partitions,
                                int replication, int timeout_ms,
                                ma_error_t *err)
{
        char errstr[512];
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *options;
        rd_kafka_event_t *event;
        ma_status_t status;

        if (op == MA_ADMIN_CREATE_TOPIC) {
                rd_kafka_NewTopic_t *new_topic = rd_kafka_NewTopic_new(
                        topic, partitions, replication, errstr, sizeof(errstr));
                if (new_topic == NULL) {
                        rd_kafka_queue_destroy(queue);
                        return ma_error_set(err, MA_ERR_INVALID, "topic",
                                            "invalid topic \"%s\": %s", topic,
                                            errstr);
                }
                options = rd_kafka_AdminOptions_new(
                        rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
                rd_kafka_AdminOptions_set_request_timeout(
                        options, timeout_ms, errstr, sizeof(errstr));
                rd_kafka_CreateTopics(rk, &new_topic, 1, options, queue);
                rd_kafka_NewTopic_destroy(new_topic);
        } else {
                rd_kafka_NewPartitions_t *new_parts =
                        rd_kafka_NewPartitions_new(topic, (size_t)partitions,
                                                   errstr, sizeof(errstr));
                if (new_parts == NULL) {
                        rd_kafka_queue_destroy(queue);
                        return ma_error_set(err, MA_ERR_INVALID, "partitions",
                                            "invalid partition count %d for "
                                            "topic \"%s\": %s",
                                            partitions, topic, errstr);
                }
                options = rd_kafka_AdminOptions_new(
                        rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
                rd_kafka_AdminOptions_set_request_timeout(
                        options, timeout_ms, errstr, sizeof(errstr));
                rd_kafka_CreatePartitions(rk, &new_parts, 1, options, queue);
                rd_kafka_NewPartitions_destroy(new_parts);
        }
        event = rd_kafka_queue_poll(queue, timeout_ms + 2000);
        if (event == NULL)
                status = ma_error_set(err, MA_ERR_TIMEOUT, NULL,
                                      "Kafka did not answer within %d ms for "
                                      "topic \"%s\"; check that it is running",
                                      timeout_ms, topic);
        else
                status = ma_admin_result(event, op, topic, err);
        if (event != NULL)
                rd_kafka_event_destroy(event);
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_queue_destroy(queue);
        return status;
}

ma_status_t ma_kafka_topic_ensure(const char *bootstrap_servers,
                                  const char *topic, int partitions,
                                  int replication, int timeout_ms,
                                  int *partitions_out,
                                  ma_topic_action_t *action_out,
                                  ma_error_t *err)
{
        rd_kafka_t *rk;
        ma_status_t status;
        ma_topic_action_t action = MA_TOPIC_UNCHANGED;
        int current = 0;

        if (partitions < 1 || replication < 1)
                return ma_error_set(err, MA_ERR_INVALID, "partitions",
                                    "invalid partition count %d or replication "
                                    "factor %d for topic \"%s\"; both must be "
                                    "at least 1",
                                    partitions, replication, topic);
        rk = ma_admin_client(bootstrap_servers, timeout_ms, err);
        if (rk == NULL)
                return err != NULL ? err->status : MA_ERR_KAFKA;
        status = ma_admin_partition_count(rk, topic, timeout_ms, &current, NULL,
                                          err);
        if (status == MA_OK && current == 0) {
                status = ma_admin_run(rk, MA_ADMIN_CREATE_TOPIC, topic,
                                      partitions, replication, timeout_ms, err);
                action = MA_TOPIC_CREATED;
                current = partitions;
        } else if (status == MA_OK && current < partitions) {
                status = ma_admin_run(rk, MA_ADMIN_CREATE_PARTITIONS, topic,
                                      partitions, replication, timeout_ms, err);
                action = MA_TOPIC_GREW;
                current = partitions;
        }
        if (status == MA_OK && action != MA_TOPIC_UNCHANGED)
                status = ma_admin_wait_leaders(rk, topic, partitions,
                                               timeout_ms, err);
        rd_kafka_destroy(rk);
        if (status != MA_OK)
                return status;
        if (partitions_out != NULL)
                *partitions_out = current;
        if (action_out != NULL)
                *action_out = action;
        return MA_OK;
}

/* Waits on queue for the result of one admin request. */
static rd_kafka_event_t *ma_admin_wait(rd_kafka_queue_t *queue,
                                       const char *topic, int timeout_ms,
                                       ma_status_t *status, ma_error_t *err)
{
        rd_kafka_event_t *event = rd_kafka_queue_poll(queue, timeout_ms + 2000);

        if (event == NULL) {
                *status = ma_error_set(err, MA_ERR_TIMEOUT, NULL,
                                       "Kafka did not answer within %d ms for "
                                       "topic \"%s\"; check that it is running",
                                       timeout_ms, topic);
                return NULL;
        }
        if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                *status =
                        ma_error_set(err, MA_ERR_KAFKA, NULL,
                                     "Kafka rejected the configuration "
                                     "request for topic \"%s\": %s",
                                     topic, rd_kafka_event_error_string(event));
                if (err != NULL)
                        err->cause = rd_kafka_event_error(event);
                rd_kafka_event_destroy(event);
                return NULL;
        }
        *status = MA_OK;
        return event;
}

/* Checks the one resource of a DescribeConfigs or AlterConfigs result. */
static ma_status_t ma_admin_resource_ok(const rd_kafka_ConfigResource_t *res,
                                        const char *topic, ma_error_t *err)
{
        rd_kafka_resp_err_t code = rd_kafka_ConfigResource_error(res);

        if (code == RD_KAFKA_RESP_ERR_NO_ERROR)
                return MA_OK;
        if (code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                return ma_error_set(err, MA_ERR_NOT_FOUND, "topic",
                                    "topic \"%s\" does not exist; create it "
                                    "first with ma-topics",
                                    topic);
        ma_error_set(err, MA_ERR_KAFKA, NULL,
                     "Kafka failed to read or change the configuration of "
                     "topic \"%s\": %s",
                     topic, rd_kafka_ConfigResource_error_string(res));
        if (err != NULL)
                err->cause = code;
        return MA_ERR_KAFKA;
}

static ma_status_t ma_admin_retention_once(const char *bootstrap_servers,
                                           const char *topic,
                                           long long retention_ms,
                                           int timeout_ms, bool *changed_out,
                                           ma_error_t *err)
{
        char errstr[512];
        char wanted[32];
        rd_kafka_t *rk;
        rd_kafka_queue_t *queue;
        rd_kafka_AdminOptions_t *options;
        rd_kafka_ConfigResource_t *describe;
        rd_kafka_ConfigResource_t *alter = NULL;
        rd_kafka_event_t *event;
        const rd_kafka_ConfigResource_t **resources;
        const rd_kafka_ConfigEntry_t **entries;
        size_t count = 0;
        size_t entry_count = 0;
        long long current = 0;
        bool found = false;
        ma_status_t status;

        rk = ma_admin_client(bootstrap_servers, timeout_ms, err);
        if (rk == NULL)
                return err != NULL ? err->status : MA_ERR_KAFKA;
        queue = rd_kafka_queue_new(rk);

        describe = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
        options = rd_kafka_AdminOptions_new(rk,
                                            RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
        rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr,
                                                  sizeof(errstr));
        rd_kafka_DescribeConfigs(rk, &describe, 1, options, queue);
        rd_kafka_ConfigResource_destroy(describe);
        rd_kafka_AdminOptions_destroy(options);
        event = ma_admin_wait(queue, topic, timeout_ms, &status, err);
        if (event == NULL)
                goto out;
        resources = rd_kafka_DescribeConfigs_result_resources(
                rd_kafka_event_DescribeConfigs_result(event), &count);
        if (count != 1) {
                status = ma_error_set(err, MA_ERR_KAFKA, NULL,
                                      "Kafka described %zu resources for "
                                      "topic \"%s\" instead of one",
                                      count, topic);
                rd_kafka_event_destroy(event);
                goto out;
        }
        status = ma_admin_resource_ok(resources[0], topic, err);
        if (status != MA_OK) {
                rd_kafka_event_destroy(event);
                goto out;
        }

        /* Keep every setting made on the topic itself; the rest are the
         * broker's defaults and come back by themselves. */
        alter = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
        entries = rd_kafka_ConfigResource_configs(resources[0], &entry_count);
        for (size_t i = 0; i < entry_count; i++) {
                const char *name = rd_kafka_ConfigEntry_name(entries[i]);
                const char *value = rd_kafka_ConfigEntry_value(entries[i]);

                if (strcmp(name, "retention.ms") == 0 && value != NULL) {
                        current = strtoll(value, NULL, 10);
                        found = true;
                        continue;
                }
                if (rd_kafka_ConfigEntry_source(entries[i]) ==
                            RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG &&
                    value != NULL)
                        rd_kafka_ConfigResource_set_config(alter, name, value);
        }
        rd_kafka_event_destroy(event);
        if (found &&
            (current == -1 || (retention_ms != -1 && current >= retention_ms)))
                goto out;

        snprintf(wanted, sizeof(wanted), "%lld", retention_ms);
        rd_kafka_ConfigResource_set_config(alter, "retention.ms", wanted);
        options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
        rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr,
                                                  sizeof(errstr));
        rd_kafka_AlterConfigs(rk, &alter, 1, options, queue);
        rd_kafka_AdminOptions_destroy(options);
        event = ma_admin_wait(queue, topic, timeout_ms, &status, err);
        if (event == NULL)
                goto out;
        resources = rd_kafka_AlterConfigs_result_resources(
                rd_kafka_event_AlterConfigs_result(event), &count);
        status = count == 1 ? ma_admin_resource_ok(resources[0], topic, err)
                            : ma_error_set(err, MA_ERR_KAFKA, NULL,
                                           "Kafka returned %zu resources for "
                                           "topic \"%s\" instead of one",
                                           count, topic);
        rd_kafka_event_destroy(event);
        if (status == MA_OK && changed_out != NULL)
                *changed_out = true;
out:
        if (alter != NULL)
                rd_kafka_ConfigResource_destroy(alter);
        rd_kafka_queue_destroy(queue);
        rd_kafka_destroy(rk);
        return status;
}

ma_status_t ma_kafka_topic_ensure_retention(const char *bootstrap_servers,
                                            const char *topic,
                                            long long retention_ms,
                                            int timeout_ms, bool *changed_out,
                                            ma_error_t *err)
{
        const struct timespec pause = {0, 250 * 1000 * 1000};
        int waited_ms = 0;
        ma_status_t status;

        if (changed_out != NULL)
                *changed_out = false;
        if (retention_ms < -1 || retention_ms == 0)
                return ma_error_set(err, MA_ERR_INVALID, "retention",
                                    "invalid retention %lld ms for topic "
                                    "\"%s\"; give a positive number or -1 "
                                    "for no limit",
                                    retention_ms, topic);
        /* A topic created a moment ago may not be known yet to the broker
         * that handles DescribeConfigs, so "unknown topic" is retried. */
        for (;;) {
                status = ma_admin_retention_once(bootstrap_servers, topic,
                                                 retention_ms, timeout_ms,
                                                 changed_out, err);
                if (status != MA_ERR_NOT_FOUND || waited_ms >= timeout_ms)
                        return status;
                nanosleep(&pause, NULL);
                waited_ms += 250;
        }
}
