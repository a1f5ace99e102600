/*
 * proc_kafka.c - the consumer (pattern subscription, rebalance callback that
 * positions partitions at PostgreSQL's offsets), the dead-letter producer,
 * and the Kafka-side bookkeeping (monitoring commits, lag).
 */
#include <stdio.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/log.h"
#include "processor.h"

/* How long one admin or seek request to the broker may take. */
#define PROC_KAFKA_REQUEST_TIMEOUT_MS 15000

static ma_status_t proc_kafka_set(rd_kafka_conf_t *conf, const char *name,
                                  const char *value, ma_error_t *err)
{
        char errstr[512];

        if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK)
                return ma_error_set(err, MA_ERR_CONFIG, name,
                                    "invalid Kafka setting \"%s\": %s", name,
                                    errstr);
        return MA_OK;
}

static void proc_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                              const char *buf)
{
        ma_log_level_t ma_level = level <= 3   ? MA_LOG_ERROR
                                  : level <= 4 ? MA_LOG_WARN
                                  : level <= 6 ? MA_LOG_INFO
                                               : MA_LOG_DEBUG;

        MA_LOG_AT(ma_level, "librdkafka",
                  MA_LOG_STR("client", rd_kafka_name(rk)),
                  MA_LOG_STR("facility", fac), MA_LOG_STR("detail", buf));
}

/* ---- Rebalance ---- */

static void proc_kafka_assign(proc_t *proc, rd_kafka_t *rk,
                              rd_kafka_topic_partition_list_t *parts,
                              bool cooperative)
{
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t resp = RD_KAFKA_RESP_ERR_NO_ERROR;
        ma_error_t err;
        ma_status_t status;

        ma_error_clear(&err);
        status = proc_pg_load_offsets(proc, parts, "partition assigned", &err);
        if (status != MA_OK && ma_pg_error_is_transient(&err)) {
                MA_LOG_AT(MA_LOG_WARN, "reading offsets failed, reconnecting",
                          MA_LOG_STR("error", err.message));
                status = proc_pg_reconnect(proc, &err);
                if (status == MA_OK)
                        status = proc_pg_load_offsets(
                                proc, parts, "partition assigned", &err);
        }
        if (status != MA_OK) {
                /* Assigning without PostgreSQL's offsets could skip or repeat
                 * records, so the processor stops instead. */
                MA_LOG_AT(MA_LOG_ERROR,
                          "cannot assign partitions without their committed "
                          "offsets; stopping",
                          MA_LOG_STR("error", err.message),
                          MA_LOG_STR("sqlstate", err.sqlstate));
                proc->fatal = true;
                return;
        }
        if (cooperative)
                error = rd_kafka_incremental_assign(rk, parts);
        else
                resp = rd_kafka_assign(rk, parts);
        if (error != NULL) {
                MA_LOG_AT(MA_LOG_ERROR, "incremental assign failed",
                          MA_LOG_STR("error", rd_kafka_error_string(error)));
                rd_kafka_error_destroy(error);
                proc->fatal = true;
        } else if (resp != RD_KAFKA_RESP_ERR_NO_ERROR) {
                MA_LOG_AT(MA_LOG_ERROR, "assign failed",
                          MA_LOG_STR("error", rd_kafka_err2str(resp)));
                proc->fatal = true;
        }
}

static void proc_kafka_revoke(proc_t *proc, rd_kafka_t *rk,
                              rd_kafka_topic_partition_list_t *parts,
                              bool cooperative)
{
        rd_kafka_error_t *error = NULL;
        ma_error_t err;
        int i;

        ma_error_clear(&err);
        /* Commit what was read so far while the partitions are still ours.
         * After a lost assignment the offset check in the batch transaction
         * rejects the commit if another member already moved on. */
        if (!proc->fatal && proc_batch_flush_all(proc, &err) != MA_OK)
                MA_LOG_AT(MA_LOG_ERROR, "batch before revoke failed",
                          MA_LOG_STR("error", err.message));
        else if (proc->fatal) {
                proc_batch_drop(proc);
                proc_ahead_drop(proc);
        }
        for (i = 0; i < parts->cnt; i++) {
                MA_LOG_AT(MA_LOG_INFO, "partition revoked",
                          MA_LOG_STR("topic", parts->elems[i].topic),
                          MA_LOG_INT("partition", parts->elems[i].partition),
                          MA_LOG_INT("lost", rd_kafka_assignment_lost(rk)));
                proc_partition_remove(proc, parts->elems[i].topic,
                                      parts->elems[i].partition);
        }
        proc_metrics_lag_clear();
        if (cooperative) {
                error = rd_kafka_incremental_unassign(rk, parts);
                if (error != NULL) {
                        MA_LOG_AT(MA_LOG_ERROR, "incremental unassign failed",
                                  MA_LOG_STR("error",
                                             rd_kafka_error_string(error)));
                        rd_kafka_error_destroy(error);
                }
        } else {
                proc_partitions_clear(proc);
                rd_kafka_assign(rk, NULL);
        }
}

static void proc_kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t *parts,
                                    void *opaque)
{
        proc_t *proc = opaque;
        bool cooperative =
                strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;

        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                proc_kafka_assign(proc, rk, parts, cooperative);
        } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
                proc_kafka_revoke(proc, rk, parts, cooperative);
        } else {
                MA_LOG_AT(MA_LOG_ERROR, "rebalance failed",
                          MA_LOG_STR("error", rd_kafka_err2str(err)));
                proc_partitions_clear(proc);
                if (cooperative) {
                        rd_kafka_error_t *error =
                                rd_kafka_incremental_unassign(rk, parts);
                        if (error != NULL)
                                rd_kafka_error_destroy(error);
                } else {
                        rd_kafka_assign(rk, NULL);
                }
        }
}

/* ---- Dead-letter producer ---- */

static void proc_dlq_delivery_cb(rd_kafka_t *rk,
                                 const rd_kafka_message_t *message,
                                 void *opaque)
{
        proc_t *proc = opaque;
        uintptr_t tag = (uintptr_t)message->_private;
        uint32_t generation = (uint32_t)(tag >> 20);
        size_t index = (size_t)(tag & 0xFFFFF);

        /* A report from an earlier, abandoned batch is ignored. */
        if (generation != (proc->dlq_generation & 0xFFF) ||
            index >= proc->dlq_slot_count)
                return;
        proc->dlq_slots[index].err = message->err;
        proc->dlq_slots[index].done = true;
}

ma_status_t proc_dlq_produce(proc_t *proc, const rd_kafka_message_t *source,
                             const char *reason, const char *detail,
                             size_t slot, ma_error_t *err)
{
        rd_kafka_headers_t *source_headers = NULL;
        rd_kafka_headers_t *headers;
        rd_kafka_resp_err_t resp;
        char number[32];
        uintptr_t tag = ((uintptr_t)(proc->dlq_generation & 0xFFF) << 20) |
                        (uintptr_t)slot;

        if (rd_kafka_message_headers(source, &source_headers) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
                headers = rd_kafka_headers_copy(source_headers);
        else
                headers = rd_kafka_headers_new(8);
        rd_kafka_header_add(headers, "ma_dlq_reason", -1, reason, -1);
        rd_kafka_header_add(headers, "ma_dlq_detail", -1, detail, -1);
        rd_kafka_header_add(headers, "ma_dlq_topic", -1,
                            rd_kafka_topic_name(source->rkt), -1);
        snprintf(number, sizeof(number), "%d", (int)source->partition);
        rd_kafka_header_add(headers, "ma_dlq_partition", -1, number, -1);
        snprintf(number, sizeof(number), "%lld", (long long)source->offset);
        rd_kafka_header_add(headers, "ma_dlq_offset", -1, number, -1);
        rd_kafka_header_add(headers, "ma_dlq_group", -1,
                            proc->settings.group_id, -1);

        proc->dlq_slots[slot].done = false;
        proc->dlq_slots[slot].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        resp = rd_kafka_producev(
                proc->dlq_producer, RD_KAFKA_V_TOPIC(proc->settings.dlq_topic),
                RD_KAFKA_V_KEY(source->key, source->key_len),
                RD_KAFKA_V_VALUE(source->payload, source->len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE((void *)tag),
                RD_KAFKA_V_END);
        if (resp != RD_KAFKA_RESP_ERR_NO_ERROR) {
                rd_kafka_headers_destroy(headers);
                ma_error_set(err, MA_ERR_KAFKA, NULL,
                             "could not queue dead letter for topic \"%s\": %s",
                             proc->settings.dlq_topic, rd_kafka_err2str(resp));
                if (err != NULL)
                        err->cause = (int)resp;
                return MA_ERR_KAFKA;
        }
        return MA_OK;
}

ma_status_t proc_dlq_wait(proc_t *proc, size_t count, ma_error_t *err)
{
        rd_kafka_resp_err_t resp;
        size_t i;

        resp = rd_kafka_flush(proc->dlq_producer,
                              proc->settings.dlq_timeout_ms);
        if (resp != RD_KAFKA_RESP_ERR_NO_ERROR) {
                /* Purged records report through the callback, which ignores
                 * them once the generation moves on. */
                rd_kafka_purge(proc->dlq_producer, RD_KAFKA_PURGE_F_QUEUE);
                ma_error_set(err, MA_ERR_TIMEOUT, NULL,
                             "could not deliver dead letters to \"%s\" within "
                             "%d ms; check the broker and the topic",
                             proc->settings.dlq_topic,
                             proc->settings.dlq_timeout_ms);
                return MA_ERR_TIMEOUT;
        }
        for (i = 0; i < count; i++) {
                if (!proc->dlq_slots[i].done ||
                    proc->dlq_slots[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                        ma_error_set(
                                err, MA_ERR_KAFKA, NULL,
                                "could not deliver dead letter to \"%s\": %s",
                                proc->settings.dlq_topic,
                                proc->dlq_slots[i].done
                                        ? rd_kafka_err2str(
                                                  proc->dlq_slots[i].err)
                                        : "no delivery report");
                        if (err != NULL)
                                err->cause = (int)proc->dlq_slots[i].err;
                        return MA_ERR_KAFKA;
                }
        }
        return MA_OK;
}

static ma_status_t proc_dlq_create_topic(proc_t *proc, ma_error_t *err)
{
        char errstr[512];
        rd_kafka_NewTopic_t *topic;
        rd_kafka_queue_t *queue;
        rd_kafka_event_t *event;
        const rd_kafka_CreateTopics_result_t *result;
        const rd_kafka_topic_result_t **results;
        size_t count = 0;
        ma_status_t status = MA_OK;

        topic = rd_kafka_NewTopic_new(proc->settings.dlq_topic,
                                      proc->settings.dlq_partitions, -1, errstr,
                                      sizeof(errstr));
        if (topic == NULL)
                return ma_error_set(err, MA_ERR_CONFIG, "dlq.topic",
                                    "invalid dead-letter topic \"%s\": %s",
                                    proc->settings.dlq_topic, errstr);
        queue = rd_kafka_queue_new(proc->dlq_producer);
        rd_kafka_CreateTopics(proc->dlq_producer, &topic, 1, NULL, queue);
        event = rd_kafka_queue_poll(queue, PROC_KAFKA_REQUEST_TIMEOUT_MS);
        if (event == NULL) {
                status = ma_error_set(
                        err, MA_ERR_TIMEOUT, NULL,
                        "could not create dead-letter topic "
                        "\"%s\": the broker did not respond in time",
                        proc->settings.dlq_topic);
        } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                status = ma_error_set(err, MA_ERR_KAFKA, NULL,
                                      "could not create dead-letter topic "
                                      "\"%s\": %s",
                                      proc->settings.dlq_topic,
                                      rd_kafka_event_error_string(event));
        } else {
                result = rd_kafka_event_CreateTopics_result(event);
                results = rd_kafka_CreateTopics_result_topics(result, &count);
                if (count == 1 &&
                    rd_kafka_topic_result_error(results[0]) !=
                            RD_KAFKA_RESP_ERR_NO_ERROR &&
                    rd_kafka_topic_result_error(results[0]) !=
                            RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                        status = ma_error_set(
                                err, MA_ERR_KAFKA, NULL,
                                "could not create dead-letter topic \"%s\": "
                                "%s",
                                proc->settings.dlq_topic,
                                rd_kafka_topic_result_error_string(results[0]));
        }
        if (event != NULL)
                rd_kafka_event_destroy(event);
        rd_kafka_queue_destroy(queue);
        rd_kafka_NewTopic_destroy(topic);
        return status;
}

static ma_status_t proc_dlq_open(proc_t *proc, ma_error_t *err)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512];
        ma_status_t status;

        status = proc_kafka_set(conf, "bootstrap.servers",
                                proc->settings.brokers, err);
        if (status == MA_OK)
                status = proc_kafka_set(conf, "client.id", "ma-processor-dlq",
                                        err);
        if (status == MA_OK)
                status =
                        proc_kafka_set(conf, "enable.idempotence", "true", err);
        if (status == MA_OK)
                status = proc_kafka_set(conf, "linger.ms", "5", err);
        if (status != MA_OK) {
                rd_kafka_conf_destroy(conf);
                return status;
        }
        rd_kafka_conf_set_opaque(conf, proc);
        rd_kafka_conf_set_dr_msg_cb(conf, proc_dlq_delivery_cb);
        rd_kafka_conf_set_log_cb(conf, proc_kafka_log_cb);
        proc->dlq_producer =
                rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (proc->dlq_producer == NULL) {
                rd_kafka_conf_destroy(conf);
                return ma_error_set(err, MA_ERR_KAFKA, NULL,
                                    "could not create the dead-letter "
                                    "producer: %s",
                                    errstr);
        }
        if (proc->settings.dlq_create)
                return proc_dlq_create_topic(proc, err);
        return MA_OK;
}

/* ---- Consumer ---- */

static ma_status_t proc_consumer_conf(proc_t *proc, rd_kafka_conf_t *conf,
                                      ma_error_t *err)
{
        char refresh[32], session[32], fetch_wait[32];
        ma_status_t status;
        const char *pairs[][2] = {
                {"bootstrap.servers", proc->settings.brokers},
                {"group.id", proc->settings.group_id},
                {"client.id", "ma-processor"},
                {"enable.auto.commit", "false"},
                {"enable.auto.offset.store", "false"},
                {"enable.partition.eof", "false"},
                {"auto.offset.reset", "earliest"},
                {"isolation.level", "read_committed"},
                {"partition.assignment.strategy",
                 proc->settings.assignment_strategy},
                {"topic.metadata.refresh.interval.ms", refresh},
                {"session.timeout.ms", session},
                {"fetch.wait.max.ms", fetch_wait},
                /* Fetch and offset-commit requests share the connection
                 * to the broker; with Nagle's algorithm a fetch written
                 * while an earlier request's segment is not yet
                 * acknowledged waits for that acknowledgement. */
                {"socket.nagle.disable", "true"},
        };
        size_t i;

        snprintf(refresh, sizeof(refresh), "%d",
                 proc->settings.metadata_refresh_ms);
        snprintf(session, sizeof(session), "%d",
                 proc->settings.session_timeout_ms);
        snprintf(fetch_wait, sizeof(fetch_wait), "%d",
                 proc->settings.fetch_wait_ms);
        for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
                status = proc_kafka_set(conf, pairs[i][0], pairs[i][1], err);
                if (status != MA_OK)
                        return status;
        }
        return MA_OK;
}

ma_status_t proc_kafka_open(proc_t *proc, ma_error_t *err)
{
        rd_kafka_conf_t *conf;
        rd_kafka_topic_partition_list_t *subscription;
        rd_kafka_resp_err_t resp;
        char errstr[512];
        ma_status_t status;

        status = proc_dlq_open(proc, err);
        if (status != MA_OK)
                return status;

        conf = rd_kafka_conf_new();
        status = proc_consumer_conf(proc, conf, err);
        if (status != MA_OK) {
                rd_kafka_conf_destroy(conf);
                return status;
        }
        rd_kafka_conf_set_opaque(conf, proc);
        rd_kafka_conf_set_rebalance_cb(conf, proc_kafka_rebalance_cb);
        rd_kafka_conf_set_log_cb(conf, proc_kafka_log_cb);
        proc->consumer =
                rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (proc->consumer == NULL) {
                rd_kafka_conf_destroy(conf);
                return ma_error_set(err, MA_ERR_KAFKA, NULL,
                                    "could not create the consumer: %s",
                                    errstr);
        }
        rd_kafka_poll_set_consumer(proc->consumer);

        subscription = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(subscription,
                                          proc->settings.topic_pattern,
                                          RD_KAFKA_PARTITION_UA);
        resp = rd_kafka_subscribe(proc->consumer, subscription);
        rd_kafka_topic_partition_list_destroy(subscription);
        if (resp != RD_KAFKA_RESP_ERR_NO_ERROR)
                return ma_error_set(err, MA_ERR_KAFKA, NULL,
                                    "could not subscribe to \"%s\": %s",
                                    proc->settings.topic_pattern,
                                    rd_kafka_err2str(resp));
        MA_LOG_AT(MA_LOG_INFO, "subscribed",
                  MA_LOG_STR("pattern", proc->settings.topic_pattern),
                  MA_LOG_STR("group", proc->settings.group_id),
                  MA_LOG_STR("strategy", proc->settings.assignment_strategy));
        return MA_OK;
}

/* Returns how many partitions are assigned to the consumer now. */
static int proc_kafka_assigned(rd_kafka_t *consumer)
{
        rd_kafka_topic_partition_list_t *list = NULL;
        int count = 0;

        if (rd_kafka_assignment(consumer, &list) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR &&
            list != NULL)
                count = list->cnt;
        if (list != NULL)
                rd_kafka_topic_partition_list_destroy(list);
        return count;
}

/*
 * Leaves the group by the deadline (a ma_now_ms() time) and returns whether
 * the consumer is closed.  librdkafka before 2.4.0 can hang in
 * rd_kafka_consumer_close() with the cooperative protocol when an
 * assignment is processed while the consumer closes (2.4.0 CHANGELOG), so
 * the partitions are given up first by unsubscribing, with the revoke
 * callback served by the poll.  The close then runs in the background
 * (rd_kafka_consumer_close_queue) while this thread serves its callbacks.
 */
static bool proc_kafka_leave(proc_t *proc, int64_t deadline)
{
        rd_kafka_t *consumer = proc->consumer;
        rd_kafka_queue_t *queue;
        rd_kafka_error_t *error;
        rd_kafka_resp_err_t resp;
        bool closed;

        resp = rd_kafka_unsubscribe(consumer);
        if (resp != RD_KAFKA_RESP_ERR_NO_ERROR)
                MA_LOG_AT(MA_LOG_WARN, "unsubscribe failed",
                          MA_LOG_STR("error", rd_kafka_err2str(resp)));
        while (proc_kafka_assigned(consumer) > 0 && ma_now_ms() < deadline) {
                /* Records still arriving are dropped: their offsets are not
                 * committed, so the next owner reads them. */
                rd_kafka_message_t *message =
                        rd_kafka_consumer_poll(consumer, 100);

                if (message != NULL)
                        rd_kafka_message_destroy(message);
        }
        queue = rd_kafka_queue_new(consumer);
        if (queue == NULL)
                return false;
        error = rd_kafka_consumer_close_queue(consumer, queue);
        if (error != NULL) {
                MA_LOG_AT(MA_LOG_WARN, "consumer close failed",
                          MA_LOG_STR("error", rd_kafka_error_string(error)));
                rd_kafka_error_destroy(error);
        }
        while (!rd_kafka_consumer_closed(consumer) && ma_now_ms() < deadline)
                rd_kafka_queue_poll_callback(queue, 100);
        closed = rd_kafka_consumer_closed(consumer) != 0;
        rd_kafka_queue_destroy(queue);
        return closed;
}

void proc_kafka_close(proc_t *proc)
{
        if (proc->consumer != NULL) {
                int64_t started = ma_now_ms();

                if (proc_kafka_leave(
                            proc, started + proc->settings.close_timeout_ms)) {
                        rd_kafka_destroy(proc->consumer);
                        MA_LOG_AT(MA_LOG_INFO, "left the consumer group",
                                  MA_LOG_INT("ms", ma_now_ms() - started));
                } else {
                        /* rd_kafka_destroy() would wait on the same state.
                         * The offsets are in PostgreSQL, so leaving the
                         * handle to process exit loses nothing; the broker
                         * drops the member after kafka.session-timeout. */
                        MA_LOG_AT(MA_LOG_WARN,
                                  "consumer did not leave the group within "
                                  "kafka.close-timeout; exiting without it",
                                  MA_LOG_INT("timeout_ms",
                                             proc->settings.close_timeout_ms));
                }
                proc->consumer = NULL;
        }
        if (proc->dlq_producer != NULL) {
                rd_kafka_flush(proc->dlq_producer, 5000);
                rd_kafka_destroy(proc->dlq_producer);
                proc->dlq_producer = NULL;
        }
}

/* Builds a list of every owned partition; offsets are left unset. */
static rd_kafka_topic_partition_list_t *proc_kafka_owned(const proc_t *proc)
{
        rd_kafka_topic_partition_list_t *list =
                rd_kafka_topic_partition_list_new(
                        (int)(proc->partition_count ? proc->partition_count
                                                    : 1));
        size_t i;

        for (i = 0; i < proc->partition_count; i++)
                rd_kafka_topic_partition_list_add(
                        list, proc->partitions[i].topic,
                        proc->partitions[i].partition);
        return list;
}

ma_status_t proc_kafka_rewind(proc_t *proc, ma_error_t *err)
{
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_error_t *error;
        ma_status_t status;

        if (proc->partition_count == 0)
                return MA_OK;
        list = proc_kafka_owned(proc);
        status = proc_pg_load_offsets(proc, list, "partition rewound", err);
        if (status != MA_OK) {
                rd_kafka_topic_partition_list_destroy(list);
                return status;
        }
        error = rd_kafka_seek_partitions(proc->consumer, list,
                                         PROC_KAFKA_REQUEST_TIMEOUT_MS);
        rd_kafka_topic_partition_list_destroy(list);
        if (error != NULL) {
                status = ma_error_set(err, MA_ERR_KAFKA, NULL,
                                      "could not rewind partitions to their "
                                      "committed offsets: %s",
                                      rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        return status;
}

void proc_kafka_commit_async(proc_t *proc)
{
        rd_kafka_topic_partition_list_t *list;
        size_t i;
        int added = 0;
        int64_t now = ma_now_ms();

        /* At most one commit per interval, because one commit per batch of
         * one record queued OffsetCommit requests faster than a loaded
         * broker processed them, and leaving the group waits for all. */
        if (now < proc->kafka_commit_next_ms)
                return;
        proc->kafka_commit_next_ms = now + PROC_KAFKA_COMMIT_INTERVAL_MS;

        list = rd_kafka_topic_partition_list_new(
                (int)(proc->partition_count ? proc->partition_count : 1));
        for (i = 0; i < proc->partition_count; i++) {
                if (proc->partitions[i].last_offset < 0)
                        continue;
                rd_kafka_topic_partition_list_add(list,
                                                  proc->partitions[i].topic,
                                                  proc->partitions[i].partition)
                        ->offset = proc->partitions[i].last_offset + 1;
                added++;
        }
        /* Monitoring only: the offsets that count are in PostgreSQL. */
        if (added > 0)
                rd_kafka_commit(proc->consumer, list, 1);
        rd_kafka_topic_partition_list_destroy(list);
}

void proc_kafka_update_lag(proc_t *proc)
{
        size_t i;

        for (i = 0; i < proc->partition_count; i++) {
                const proc_partition_t *p = &proc->partitions[i];
                int64_t low = -1, high = -1;

                if (rd_kafka_get_watermark_offsets(proc->consumer, p->topic,
                                                   p->partition, &low, &high) !=
                            RD_KAFKA_RESP_ERR_NO_ERROR ||
                    high < 0)
                        continue;
                proc_metrics_lag(p->topic, p->partition,
                                 high - (p->last_offset >= 0
                                                 ? p->last_offset + 1
                                                 : low));
        }
}
