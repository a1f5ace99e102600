/*
 * kafka_compat: checks that the librdkafka this project links against works
 * with the running Kafka broker, for every Kafka feature the project relies
 * on. Against the broker named by KAFKA_BOOTSTRAP_SERVERS it:
 *
 *   1. creates a fresh topic with 3 partitions through the Admin API and
 *      waits until the metadata shows a leader for each partition,
 *   2. produces N messages with an idempotent producer (acks=all) and checks
 *      every delivery report,
 *   3. joins a new consumer group with the cooperative-sticky assignor and
 *      waits for the assignment,
 *   4. consumes all N messages, checking that each arrives once, unchanged,
 *      and in produce order within its partition,
 *   5. commits the offsets and reads them back,
 *   6. deletes the topic.
 *
 * Starts and stops on its own; it needs a running broker (scripts/stack.sh
 * start). It never hangs: every wait is bounded by one overall deadline
 * (MA_KAFKA_COMPAT_TIMEOUT_S, default 45 s), an unreachable broker fails the
 * step at once, and an alarm ends the process 10 s after the deadline should
 * librdkafka itself block. It writes only its own topic and consumer group,
 * both named after the process id and start time. A crash leaves that topic
 * behind and touches nothing else.
 *
 * Output: one "ok N - step" or "not ok N - step" line per step, then
 * "kafka_compat: P passed, F failed". Exit status 0 when all steps pass,
 * 1 on a failure (the message names Kafka and the broker address), 2 on a
 * usage error.
 *
 * Environment:
 *   KAFKA_BOOTSTRAP_SERVERS     required, e.g. 127.0.0.1:19092
 *   MA_KAFKA_COMPAT_MESSAGES    messages to produce (default 300)
 *   MA_KAFKA_COMPAT_DELAY_MS    pause between two produced messages (default
 *                               0); a longer run leaves time to kill the
 *                               broker mid-run
 *   MA_KAFKA_COMPAT_TIMEOUT_S   overall deadline in seconds (default 45)
 *   MA_KAFKA_COMPAT_DEBUG       librdkafka debug contexts, e.g. "protocol"
 *                               to log each request and its version
 */
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COMPAT_PARTITIONS   3
#define COMPAT_MAX_MESSAGES 100000
#define COMPAT_POLL_MS      200
/* Bound on one request to the broker, so a silent broker fails a step. */
#define COMPAT_SOCKET_TIMEOUT "10000"
/* Grace after the overall deadline before the alarm ends the process. */
#define COMPAT_ALARM_GRACE_S 10

struct compat_run {
        const char *bootstrap;
        const char *debug; /* librdkafka "debug" contexts, or NULL */
        char topic[128];
        char group[160];
        int message_count;
        int delay_ms;
        int timeout_s;
        double deadline; /* CLOCK_MONOTONIC seconds */
        int step;
        int passed;
        int failed;

        /* The first error that ends the run, set by the error callback,
         * which rd_kafka_poll() or rd_kafka_consumer_poll() calls on the
         * caller's thread. */
        rd_kafka_resp_err_t client_error;
        char client_error_text[512];

        /* Producer delivery reports. */
        int delivered;
        int delivery_failed;
        rd_kafka_resp_err_t first_delivery_error;

        /* Consumer state. */
        int assigned_partitions;
        bool cooperative;
        unsigned char *seen; /* one flag per message index */
        int consumed;
        int last_index[COMPAT_PARTITIONS];
        int commit_done;
        rd_kafka_resp_err_t commit_error;
};

static double compat_now(void)
{
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static int compat_remaining_ms(const struct compat_run *run)
{
        double left = run->deadline - compat_now();

        return left > 0 ? (int)(left * 1000.0) : 0;
}

static void compat_alarm(int signal_number)
{
        static const char message[] =
                "kafka_compat: FAIL: Kafka client did not return within the "
                "hard deadline; the broker is probably down or stuck\n"
                "kafka_compat: 0 passed, 1 failed\n";

        (void)signal_number;
        /* Only async-signal-safe calls here. */
        (void)!write(STDERR_FILENO, message, sizeof(message) - 1);
        _exit(1);
}

static void compat_pass(struct compat_run *run, const char *step_name)
{
        run->step++;
        run->passed++;
        printf("ok %d - %s\n", run->step, step_name);
        fflush(stdout);
}

static void compat_fail(struct compat_run *run, const char *step_name,
                        const char *format, ...)
        __attribute__((format(printf, 3, 4), noreturn));

/* Reports the failed step and ends the run. Client handles are left to the
 * process exit because closing them can block on a dead broker. */
static void compat_fail(struct compat_run *run, const char *step_name,
                        const char *format, ...)
{
        va_list args;

        run->step++;
        run->failed++;
        printf("not ok %d - %s\n", run->step, step_name);
        fprintf(stderr, "kafka_compat: FAIL: Kafka at %s: %s: ", run->bootstrap,
                step_name);
        va_start(args, format);
        vfprintf(stderr, format, args);
        va_end(args);
        fputc('\n', stderr);
        printf("kafka_compat: %d passed, %d failed\n", run->passed,
               run->failed);
        fflush(NULL);
        _exit(1);
}

/* Returns true for the client errors after which librdkafka cannot go on:
 * every broker is down, the idempotent producer hit a fatal error, or the
 * broker rejected the client's credentials. */
static bool compat_error_ends_run(rd_kafka_resp_err_t err)
{
        return err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
               err == RD_KAFKA_RESP_ERR__FATAL ||
               err == RD_KAFKA_RESP_ERR__AUTHENTICATION;
}

/* Fails the step when the deadline passed or the client reported an error
 * that ends the run; called between polls. */
static void compat_check_progress(struct compat_run *run, const char *step_name)
{
        if (run->client_error != RD_KAFKA_RESP_ERR_NO_ERROR)
                compat_fail(run, step_name, "%s (%s)", run->client_error_text,
                            rd_kafka_err2name(run->client_error));
        if (compat_remaining_ms(run) == 0)
                compat_fail(run, step_name,
                            "timed out after %d s (MA_KAFKA_COMPAT_TIMEOUT_S). "
                            "Check that the broker is running, and read its "
                            "log",
                            run->timeout_s);
}

static void compat_error_cb(rd_kafka_t *rk, int err, const char *reason,
                            void *opaque)
{
        struct compat_run *run = opaque;

        (void)rk;
        /* Every error is shown; librdkafka retries the others by itself. */
        fprintf(stderr, "kafka_compat: client error %s: %s\n",
                rd_kafka_err2name(err), reason);
        if (run->client_error == RD_KAFKA_RESP_ERR_NO_ERROR &&
            compat_error_ends_run(err)) {
                run->client_error = err;
                snprintf(run->client_error_text, sizeof(run->client_error_text),
                         "%s", reason);
        }
}

/* ------------------------------------------------------------------------
 * Client set-up
 * ------------------------------------------------------------------------ */

static void compat_conf_set(struct compat_run *run, rd_kafka_conf_t *conf,
                            const char *name, const char *value)
{
        char error[512];

        if (rd_kafka_conf_set(conf, name, value, error, sizeof(error)) !=
            RD_KAFKA_CONF_OK)
                compat_fail(run, "configure client",
                            "invalid librdkafka setting %s=%s: %s", name, value,
                            error);
}

static rd_kafka_conf_t *compat_conf_new(struct compat_run *run)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();

        compat_conf_set(run, conf, "bootstrap.servers", run->bootstrap);
        compat_conf_set(run, conf, "client.id", "ma-kafka-compat");
        compat_conf_set(run, conf, "socket.timeout.ms", COMPAT_SOCKET_TIMEOUT);
        compat_conf_set(run, conf, "reconnect.backoff.max.ms", "1000");
        if (run->debug != NULL)
                compat_conf_set(run, conf, "debug", run->debug);
        rd_kafka_conf_set_error_cb(conf, compat_error_cb);
        rd_kafka_conf_set_opaque(conf, run);
        return conf;
}

static rd_kafka_t *compat_client_new(struct compat_run *run,
                                     rd_kafka_type_t type,
                                     rd_kafka_conf_t *conf,
                                     const char *step_name)
{
        char error[512];
        rd_kafka_t *rk = rd_kafka_new(type, conf, error, sizeof(error));

        if (rk == NULL)
                compat_fail(run, step_name, "could not create the client: %s",
                            error);
        return rk;
}

/* ------------------------------------------------------------------------
 * Admin API: topic creation and deletion
 * ------------------------------------------------------------------------ */

/* Polls QUEUE until an event arrives, serving the client's error callback in
 * between. */
static rd_kafka_event_t *compat_wait_event(struct compat_run *run,
                                           rd_kafka_t *rk,
                                           rd_kafka_queue_t *queue,
                                           const char *step_name)
{
        rd_kafka_event_t *event;

        for (;;) {
                event = rd_kafka_queue_poll(queue, COMPAT_POLL_MS);
                if (event != NULL)
                        return event;
                rd_kafka_poll(rk, 0);
                compat_check_progress(run, step_name);
        }
}

static rd_kafka_AdminOptions_t *compat_admin_options(struct compat_run *run,
                                                     rd_kafka_t *rk,
                                                     rd_kafka_admin_op_t op)
{
        char error[512];
        rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(rk, op);
        int timeout_ms = compat_remaining_ms(run);

        if (rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms,
                                                      error, sizeof(error)) ||
            rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms,
                                                        error, sizeof(error)))
                compat_fail(run, "configure admin request", "%s", error);
        return options;
}

static void compat_create_topic(struct compat_run *run, rd_kafka_t *rk)
{
        const char *step_name = "create topic with 3 partitions (Admin API)";
        char error[512];
        rd_kafka_NewTopic_t *new_topic;
        rd_kafka_AdminOptions_t *options;
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_event_t *event;
        const rd_kafka_CreateTopics_result_t *result;
        const rd_kafka_topic_result_t **topics;
        size_t topic_count = 0;

        new_topic = rd_kafka_NewTopic_new(run->topic, COMPAT_PARTITIONS, 1,
                                          error, sizeof(error));
        if (new_topic == NULL)
                compat_fail(run, step_name, "invalid topic \"%s\": %s",
                            run->topic, error);
        options = compat_admin_options(run, rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_CreateTopics(rk, &new_topic, 1, options, queue);

        event = compat_wait_event(run, rk, queue, step_name);
        if (rd_kafka_event_error(event))
                compat_fail(run, step_name, "could not create topic \"%s\": %s",
                            run->topic, rd_kafka_event_error_string(event));
        result = rd_kafka_event_CreateTopics_result(event);
        topics = rd_kafka_CreateTopics_result_topics(result, &topic_count);
        if (topic_count != 1)
                compat_fail(run, step_name, "expected 1 topic result, got %zu",
                            topic_count);
        if (rd_kafka_topic_result_error(topics[0]))
                compat_fail(run, step_name,
                            "could not create topic \"%s\": %s (%s)",
                            run->topic,
                            rd_kafka_topic_result_error_string(topics[0]),
                            rd_kafka_err2name(
                                    rd_kafka_topic_result_error(topics[0])));

        rd_kafka_event_destroy(event);
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_NewTopic_destroy(new_topic);
        rd_kafka_queue_destroy(queue);
}

/* Returns true when the metadata lists the topic with all partitions led. */
static bool compat_topic_ready(struct compat_run *run, rd_kafka_t *rk,
                               rd_kafka_topic_t *topic)
{
        const struct rd_kafka_metadata *metadata = NULL;
        const struct rd_kafka_metadata_topic *entry;
        bool ready = false;
        int timeout_ms = compat_remaining_ms(run);

        if (timeout_ms > COMPAT_POLL_MS * 5)
                timeout_ms = COMPAT_POLL_MS * 5;
        if (rd_kafka_metadata(rk, 0, topic, &metadata, timeout_ms) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
                return false;
        if (metadata->topic_cnt == 1) {
                entry = &metadata->topics[0];
                ready = entry->err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                        entry->partition_cnt == COMPAT_PARTITIONS;
                for (int i = 0; ready && i < entry->partition_cnt; i++)
                        ready = entry->partitions[i].leader >= 0;
        }
        rd_kafka_metadata_destroy(metadata);
        return ready;
}

static void compat_wait_topic(struct compat_run *run, rd_kafka_t *rk)
{
        const char *step_name =
                "topic metadata shows 3 partitions with leaders";
        rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, run->topic, NULL);

        while (!compat_topic_ready(run, rk, topic)) {
                rd_kafka_poll(rk, COMPAT_POLL_MS);
                compat_check_progress(run, step_name);
        }
        rd_kafka_topic_destroy(topic);
        compat_pass(run, step_name);
}

static void compat_delete_topic(struct compat_run *run, rd_kafka_t *rk)
{
        const char *step_name = "delete topic (Admin API)";
        rd_kafka_DeleteTopic_t *delete_topic;
        rd_kafka_AdminOptions_t *options;
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_event_t *event;
        const rd_kafka_DeleteTopics_result_t *result;
        const rd_kafka_topic_result_t **topics;
        size_t topic_count = 0;

        delete_topic = rd_kafka_DeleteTopic_new(run->topic);
        options = compat_admin_options(run, rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
        rd_kafka_DeleteTopics(rk, &delete_topic, 1, options, queue);

        event = compat_wait_event(run, rk, queue, step_name);
        if (rd_kafka_event_error(event))
                compat_fail(run, step_name, "could not delete topic \"%s\": %s",
                            run->topic, rd_kafka_event_error_string(event));
        result = rd_kafka_event_DeleteTopics_result(event);
        topics = rd_kafka_DeleteTopics_result_topics(result, &topic_count);
        if (topic_count != 1 || rd_kafka_topic_result_error(topics[0]))
                compat_fail(
                        run, step_name, "could not delete topic \"%s\": %s",
                        run->topic,
                        topic_count == 1
                                ? rd_kafka_topic_result_error_string(topics[0])
                                : "no topic result");

        rd_kafka_event_destroy(event);
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_DeleteTopic_destroy(delete_topic);
        rd_kafka_queue_destroy(queue);
        compat_pass(run, step_name);
}

/* ------------------------------------------------------------------------
 * Idempotent producer
 * ------------------------------------------------------------------------ */

static void compat_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *message,
                         void *opaque)
{
        struct compat_run *run = opaque;

        (void)rk;
        if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                run->delivered++;
                return;
        }
        if (run->delivery_failed++ == 0)
                run->first_delivery_error = message->err;
}

static void compat_produce_one(struct compat_run *run, rd_kafka_t *rk,
                               int index)
{
        const char *step_name =
                "produce with an idempotent producer (acks=all)";
        char key[32];
        char value[160];
        rd_kafka_vu_t fields[4];
        rd_kafka_error_t *error;
        rd_kafka_resp_err_t err;

        snprintf(key, sizeof(key), "key-%d", index);
        snprintf(value, sizeof(value), "%s %d", run->topic, index);
        /* rd_kafka_produceva() instead of the RD_KAFKA_V_* macros, which use
         * GNU statement expressions that clang -Wpedantic rejects. */
        fields[0].vtype = RD_KAFKA_VTYPE_TOPIC;
        fields[0].u.cstr = run->topic;
        fields[1].vtype = RD_KAFKA_VTYPE_KEY;
        fields[1].u.mem.ptr = key;
        fields[1].u.mem.size = strlen(key);
        fields[2].vtype = RD_KAFKA_VTYPE_VALUE;
        fields[2].u.mem.ptr = value;
        fields[2].u.mem.size = strlen(value);
        fields[3].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
        fields[3].u.i = RD_KAFKA_MSG_F_COPY;
        for (;;) {
                error = rd_kafka_produceva(rk, fields, 4);
                err = error != NULL ? rd_kafka_error_code(error)
                                    : RD_KAFKA_RESP_ERR_NO_ERROR;
                if (error != NULL)
                        rd_kafka_error_destroy(error);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(rk, COMPAT_POLL_MS);
                compat_check_progress(run, step_name);
        }
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
                compat_fail(run, step_name, "could not enqueue message %d: %s",
                            index, rd_kafka_err2str(err));
}

static void compat_produce(struct compat_run *run)
{
        const char *step_name =
                "produce with an idempotent producer (acks=all)";
        rd_kafka_conf_t *conf = compat_conf_new(run);
        char timeout[32];
        rd_kafka_t *rk;

        compat_conf_set(run, conf, "enable.idempotence", "true");
        compat_conf_set(run, conf, "acks", "all");
        /* Undelivered messages fail well before the overall deadline. */
        snprintf(timeout, sizeof(timeout), "%d",
                 compat_remaining_ms(run) > 20000 ? 20000
                                                  : compat_remaining_ms(run));
        compat_conf_set(run, conf, "message.timeout.ms", timeout);
        rd_kafka_conf_set_dr_msg_cb(conf, compat_dr_cb);
        rk = compat_client_new(run, RD_KAFKA_PRODUCER, conf, step_name);

        for (int i = 0; i < run->message_count; i++) {
                compat_produce_one(run, rk, i);
                rd_kafka_poll(rk, 0);
                if (run->delay_ms > 0)
                        usleep((useconds_t)run->delay_ms * 1000);
                compat_check_progress(run, step_name);
        }
        while (rd_kafka_outq_len(rk) > 0) {
                rd_kafka_flush(rk, COMPAT_POLL_MS);
                compat_check_progress(run, step_name);
        }

        if (run->delivery_failed > 0)
                compat_fail(run, step_name,
                            "%d of %d delivery reports failed: %s",
                            run->delivery_failed, run->message_count,
                            rd_kafka_err2str(run->first_delivery_error));
        if (run->delivered != run->message_count)
                compat_fail(run, step_name,
                            "%d delivery reports for %d messages",
                            run->delivered, run->message_count);
        rd_kafka_destroy(rk);
        compat_pass(run, step_name);
}

/* ------------------------------------------------------------------------
 * Consumer group (cooperative-sticky)
 * ------------------------------------------------------------------------ */

static void compat_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *partitions,
                                void *opaque)
{
        struct compat_run *run = opaque;
        rd_kafka_error_t *error = NULL;

        run->cooperative =
                strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                if (run->cooperative)
                        error = rd_kafka_incremental_assign(rk, partitions);
                else
                        rd_kafka_assign(rk, partitions);
                run->assigned_partitions += partitions->cnt;
        } else {
                if (run->cooperative)
                        error = rd_kafka_incremental_unassign(rk, partitions);
                else
                        rd_kafka_assign(rk, NULL);
                run->assigned_partitions -= partitions->cnt;
        }
        if (error != NULL) {
                fprintf(stderr, "kafka_compat: rebalance failed: %s\n",
                        rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
}

static void compat_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                             rd_kafka_topic_partition_list_t *offsets,
                             void *opaque)
{
        struct compat_run *run = opaque;

        (void)rk;
        (void)offsets;
        run->commit_done = 1;
        run->commit_error = err;
}

static rd_kafka_t *compat_consumer_new(struct compat_run *run)
{
        const char *step_name = "join consumer group (cooperative-sticky)";
        rd_kafka_conf_t *conf = compat_conf_new(run);
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_resp_err_t err;
        rd_kafka_t *rk;

        compat_conf_set(run, conf, "group.id", run->group);
        compat_conf_set(run, conf, "partition.assignment.strategy",
                        "cooperative-sticky");
        compat_conf_set(run, conf, "auto.offset.reset", "earliest");
        compat_conf_set(run, conf, "enable.auto.commit", "false");
        compat_conf_set(run, conf, "session.timeout.ms", "10000");
        compat_conf_set(run, conf, "heartbeat.interval.ms", "1000");
        rd_kafka_conf_set_rebalance_cb(conf, compat_rebalance_cb);
        rd_kafka_conf_set_offset_commit_cb(conf, compat_commit_cb);
        rk = compat_client_new(run, RD_KAFKA_CONSUMER, conf, step_name);
        rd_kafka_poll_set_consumer(rk);

        topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, run->topic,
                                          RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
                compat_fail(run, step_name, "could not subscribe to \"%s\": %s",
                            run->topic, rd_kafka_err2str(err));
        return rk;
}

/* Checks one consumed message: known key, matching value, first time seen,
 * and a higher index than the last one from the same partition. */
static void compat_check_message(struct compat_run *run,
                                 const rd_kafka_message_t *message)
{
        const char *step_name = "consume every message once, in order";
        char key[32] = "";
        char expected[160];
        int index;

        if (message->key_len == 0 || message->key_len >= sizeof(key))
                compat_fail(run, step_name,
                            "message at offset %" PRId64 " has no valid key",
                            message->offset);
        memcpy(key, message->key, message->key_len);
        if (sscanf(key, "key-%d", &index) != 1 || index < 0 ||
            index >= run->message_count)
                compat_fail(run, step_name, "unexpected key \"%s\"", key);
        snprintf(expected, sizeof(expected), "%s %d", run->topic, index);
        if (message->len != strlen(expected) ||
            memcmp(message->payload, expected, message->len) != 0)
                compat_fail(run, step_name,
                            "value of \"%s\" differs from the one "
                            "produced",
                            key);
        if (run->seen[index])
                compat_fail(run, step_name, "message \"%s\" consumed twice",
                            key);
        if (message->partition < 0 || message->partition >= COMPAT_PARTITIONS)
                compat_fail(run, step_name,
                            "message from unknown partition %" PRId32,
                            message->partition);
        if (index <= run->last_index[message->partition])
                compat_fail(run, step_name,
                            "partition %" PRId32 " returned \"%s\" after "
                            "key-%d, out of produce order",
                            message->partition, key,
                            run->last_index[message->partition]);
        run->seen[index] = 1;
        run->last_index[message->partition] = index;
        run->consumed++;
}

/* Polls once: checks a message, or fails on a consumer error. */
static void compat_consume_poll(struct compat_run *run, rd_kafka_t *rk,
                                const char *step_name)
{
        rd_kafka_message_t *message =
                rd_kafka_consumer_poll(rk, COMPAT_POLL_MS);

        if (message != NULL) {
                if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR)
                        compat_fail(run, step_name, "consumer error: %s (%s)",
                                    rd_kafka_message_errstr(message),
                                    rd_kafka_err2name(message->err));
                compat_check_message(run, message);
                rd_kafka_message_destroy(message);
        }
        compat_check_progress(run, step_name);
}

static void compat_consume(struct compat_run *run, rd_kafka_t *rk)
{
        const char *join = "join consumer group (cooperative-sticky)";
        const char *step_name = "consume every message once, in order";

        /* The group's assignment arrives through the rebalance callback,
         * which consumer_poll() serves; messages may come with it. */
        while (run->assigned_partitions == 0)
                compat_consume_poll(run, rk, join);
        if (!run->cooperative)
                compat_fail(run, join,
                            "rebalance protocol is %s, expected "
                            "COOPERATIVE",
                            rd_kafka_rebalance_protocol(rk));
        compat_pass(run, join);

        while (run->consumed < run->message_count)
                compat_consume_poll(run, rk, step_name);
        compat_pass(run, step_name);
}

/* Sums the committed offsets of the topic's partitions; the topic is new, so
 * the sum equals the number of messages consumed. */
static int64_t compat_committed_total(struct compat_run *run, rd_kafka_t *rk,
                                      const char *step_name)
{
        rd_kafka_topic_partition_list_t *partitions =
                rd_kafka_topic_partition_list_new(COMPAT_PARTITIONS);
        rd_kafka_resp_err_t err;
        int64_t total = 0;

        for (int i = 0; i < COMPAT_PARTITIONS; i++)
                rd_kafka_topic_partition_list_add(partitions, run->topic, i);
        err = rd_kafka_committed(rk, partitions, compat_remaining_ms(run));
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
                compat_fail(run, step_name,
                            "could not read committed offsets: %s",
                            rd_kafka_err2str(err));
        for (int i = 0; i < partitions->cnt; i++) {
                if (partitions->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
                        compat_fail(run, step_name,
                                    "could not read committed offset of "
                                    "partition %d: %s",
                                    i,
                                    rd_kafka_err2str(partitions->elems[i].err));
                if (partitions->elems[i].offset > 0)
                        total += partitions->elems[i].offset;
        }
        rd_kafka_topic_partition_list_destroy(partitions);
        return total;
}

static void compat_commit(struct compat_run *run, rd_kafka_t *rk)
{
        const char *step_name = "commit offsets and read them back";
        rd_kafka_resp_err_t err;
        int64_t total;

        /* Asynchronous, so the deadline still applies while waiting. */
        err = rd_kafka_commit(rk, NULL, 1);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
                compat_fail(run, step_name, "could not commit: %s",
                            rd_kafka_err2str(err));
        while (!run->commit_done) {
                rd_kafka_message_t *message = rd_kafka_consumer_poll(rk, 100);

                if (message != NULL)
                        rd_kafka_message_destroy(message);
                compat_check_progress(run, step_name);
        }
        if (run->commit_error != RD_KAFKA_RESP_ERR_NO_ERROR)
                compat_fail(run, step_name, "commit failed: %s",
                            rd_kafka_err2str(run->commit_error));

        total = compat_committed_total(run, rk, step_name);
        if (total != run->message_count)
                compat_fail(run, step_name,
                            "committed offsets add up to %" PRId64
                            ", expected %d",
                            total, run->message_count);
        compat_pass(run, step_name);
}

/* ------------------------------------------------------------------------
 * Main
 * ------------------------------------------------------------------------ */

/* Reads an integer from MIN to MAX from the environment, or returns
 * FALLBACK when the variable is unset or empty. */
static int compat_env_int(const char *name, int fallback, int min, int max)
{
        const char *text = getenv(name);
        char *end = NULL;
        long value;

        if (text == NULL || *text == '\0')
                return fallback;
        errno = 0;
        value = strtol(text, &end, 10);
        if (errno != 0 || *end != '\0' || value < min || value > max) {
                fprintf(stderr,
                        "kafka_compat: invalid %s \"%s\": expected a whole "
                        "number from %d to %d\n",
                        name, text, min, max);
                exit(2);
        }
        return (int)value;
}

static void compat_run_init(struct compat_run *run)
{
        memset(run, 0, sizeof(*run));
        run->bootstrap = getenv("KAFKA_BOOTSTRAP_SERVERS");
        if (run->bootstrap == NULL || *run->bootstrap == '\0') {
                fprintf(stderr, "kafka_compat: KAFKA_BOOTSTRAP_SERVERS is not "
                                "set. Start the stack and load its settings: "
                                "eval \"$(scripts/stack.sh env)\"\n");
                exit(2);
        }
        run->debug = getenv("MA_KAFKA_COMPAT_DEBUG");
        if (run->debug != NULL && *run->debug == '\0')
                run->debug = NULL;
        run->message_count = compat_env_int("MA_KAFKA_COMPAT_MESSAGES", 300, 1,
                                            COMPAT_MAX_MESSAGES);
        run->delay_ms = compat_env_int("MA_KAFKA_COMPAT_DELAY_MS", 0, 0, 10000);
        run->timeout_s =
                compat_env_int("MA_KAFKA_COMPAT_TIMEOUT_S", 45, 1, 3600);
        run->deadline = compat_now() + run->timeout_s;
        for (int i = 0; i < COMPAT_PARTITIONS; i++)
                run->last_index[i] = -1;
        run->seen = calloc((size_t)run->message_count, 1);
        if (run->seen == NULL) {
                fprintf(stderr, "kafka_compat: out of memory\n");
                exit(1);
        }
        snprintf(run->topic, sizeof(run->topic), "ma-compat-%ld-%ld",
                 (long)getpid(), (long)time(NULL));
        snprintf(run->group, sizeof(run->group), "%s-group", run->topic);
}

int main(void)
{
        struct compat_run run;
        rd_kafka_t *admin;
        rd_kafka_t *consumer;

        compat_run_init(&run);
        signal(SIGALRM, compat_alarm);
        alarm((unsigned)(run.timeout_s + COMPAT_ALARM_GRACE_S));
        printf("# kafka_compat: librdkafka %s, broker %s, topic %s, %d "
               "messages\n",
               rd_kafka_version_str(), run.bootstrap, run.topic,
               run.message_count);

        admin = compat_client_new(&run, RD_KAFKA_PRODUCER,
                                  compat_conf_new(&run), "create admin client");
        compat_create_topic(&run, admin);
        compat_pass(&run, "create topic with 3 partitions (Admin API)");
        compat_wait_topic(&run, admin);

        compat_produce(&run);

        consumer = compat_consumer_new(&run);
        compat_consume(&run, consumer);
        compat_commit(&run, consumer);
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);

        compat_delete_topic(&run, admin);
        rd_kafka_destroy(admin);
        free(run.seen);

        printf("kafka_compat: %d passed, %d failed\n", run.passed, run.failed);
        return 0;
}
