/*
 * proc_metrics.c - counters of the processor and the HTTP endpoints that
 * expose them: /metrics (Prometheus text format 0.0.4), /health (the
 * process runs) and /ready (migrations applied, consumer subscribed).
 *
 * Threads: the main thread updates, libmicrohttpd's thread reads; one mutex
 * guards everything here.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <microhttpd.h>

#include "ma/http_listen.h"

#include "ma/alloc.h"
#include "processor.h"

#define PROC_METRICS_MAX_LAG 256
#define PROC_OUTCOME_COUNT   5

static const char *const proc_outcomes[PROC_OUTCOME_COUNT] = {
        "inserted", "replaced", "stale", "retracted", "tombstone"};

/* Upper bounds of the histogram buckets (records, seconds). */
static const double proc_size_buckets[] = {1,   10,  50,   100,
                                           250, 500, 1000, 5000};
static const double proc_latency_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,  1,     2.5,  10};
#define PROC_SIZE_BUCKETS    (sizeof(proc_size_buckets) / sizeof(double))
#define PROC_LATENCY_BUCKETS (sizeof(proc_latency_buckets) / sizeof(double))

typedef struct proc_lag {
        char topic[250];
        int32_t partition;
        int64_t lag;
} proc_lag_t;

static struct {
        pthread_mutex_t lock;
        bool ready;
        uint64_t consumed;
        uint64_t applied[PROC_OUTCOME_COUNT];
        uint64_t rejected[PROC_REASON_COUNT];
        uint64_t batches_ok, batches_failed;
        uint64_t size_counts[PROC_SIZE_BUCKETS + 1];
        double size_sum;
        uint64_t latency_counts[PROC_LATENCY_BUCKETS + 1];
        double latency_sum;
        uint64_t retention[PROC_RETENTION_COUNTS];
        proc_lag_t lag[PROC_METRICS_MAX_LAG];
        size_t lag_count;
        struct MHD_Daemon *daemon;
} proc_metrics = {.lock = PTHREAD_MUTEX_INITIALIZER};

void proc_metrics_set_ready(bool ready)
{
        pthread_mutex_lock(&proc_metrics.lock);
        proc_metrics.ready = ready;
        pthread_mutex_unlock(&proc_metrics.lock);
}

void proc_metrics_consumed(uint64_t count)
{
        pthread_mutex_lock(&proc_metrics.lock);
        proc_metrics.consumed += count;
        pthread_mutex_unlock(&proc_metrics.lock);
}

void proc_metrics_applied(const char *outcome, uint64_t count)
{
        size_t i;

        pthread_mutex_lock(&proc_metrics.lock);
        for (i = 0; i < PROC_OUTCOME_COUNT; i++)
                if (strcmp(proc_outcomes[i], outcome) == 0)
                        proc_metrics.applied[i] += count;
        pthread_mutex_unlock(&proc_metrics.lock);
}

void proc_metrics_rejected(proc_reason_t reason, uint64_t count)
{
        if ((int)reason <= 0 || (int)reason >= PROC_REASON_COUNT)
                return;
        pthread_mutex_lock(&proc_metrics.lock);
        proc_metrics.rejected[reason] += count;
        pthread_mutex_unlock(&proc_metrics.lock);
}

void proc_metrics_retention(const int64_t counts[PROC_RETENTION_COUNTS])
{
        int i;

        pthread_mutex_lock(&proc_metrics.lock);
        for (i = 0; i < PROC_RETENTION_COUNTS; i++)
                if (counts[i] > 0)
                        proc_metrics.retention[i] += (uint64_t)counts[i];
        pthread_mutex_unlock(&proc_metrics.lock);
}

static void proc_histogram_add(uint64_t *counts, const double *bounds,
                               size_t bound_count, double value)
{
        size_t i;

        for (i = 0; i < bound_count && value > bounds[i]; i++)
                ;
        counts[i]++;
}

void proc_metrics_batch(size_t size, double seconds, bool ok)
{
        pthread_mutex_lock(&proc_metrics.lock);
        if (ok) {
                proc_metrics.batches_ok++;
                proc_histogram_add(proc_metrics.size_counts, proc_size_buckets,
                                   PROC_SIZE_BUCKETS, (double)size);
                proc_metrics.size_sum += (double)size;
                proc_histogram_add(proc_metrics.latency_counts,
                                   proc_latency_buckets, PROC_LATENCY_BUCKETS,
                                   seconds);
                proc_metrics.latency_sum += seconds;
        } else {
                proc_metrics.batches_failed++;
        }
        pthread_mutex_unlock(&proc_metrics.lock);
}

void proc_metrics_lag(const char *topic, int32_t partition, int64_t lag)
{
        size_t i;

        pthread_mutex_lock(&proc_metrics.lock);
        for (i = 0; i < proc_metrics.lag_count; i++)
                if (proc_metrics.lag[i].partition == partition &&
                    strcmp(proc_metrics.lag[i].topic, topic) == 0)
                        break;
        if (i == proc_metrics.lag_count && i < PROC_METRICS_MAX_LAG) {
                snprintf(proc_metrics.lag[i].topic,
                         sizeof(proc_metrics.lag[i].topic), "%s", topic);
                proc_metrics.lag[i].partition = partition;
                proc_metrics.lag_count++;
        }
        if (i < PROC_METRICS_MAX_LAG)
                proc_metrics.lag[i].lag = lag;
        pthread_mutex_unlock(&proc_metrics.lock);
}

void proc_metrics_lag_clear(void)
{
        pthread_mutex_lock(&proc_metrics.lock);
        proc_metrics.lag_count = 0;
        pthread_mutex_unlock(&proc_metrics.lock);
}

/* ---- Rendering ---- */

typedef struct proc_text {
        char *data;
        size_t len, cap;
        bool failed;
} proc_text_t;

static void proc_text_add(proc_text_t *text, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;

static void proc_text_add(proc_text_t *text, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (text->failed)
                return;
        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(text->data + text->len, text->cap - text->len,
                              fmt, ap);
                va_end(ap);
                if (n >= 0 && (size_t)n < text->cap - text->len) {
                        text->len += (size_t)n;
                        return;
                }
                {
                        size_t cap = text->cap * 2 + (size_t)(n > 0 ? n : 0);
                        char *grown = ma_realloc(text->data, cap);

                        if (grown == NULL) {
                                text->failed = true;
                                return;
                        }
                        text->data = grown;
                        text->cap = cap;
                }
        }
}

static void proc_render_histogram(proc_text_t *t, const char *name,
                                  const char *help, const uint64_t *counts,
                                  const double *bounds, size_t bound_count,
                                  double sum)
{
        uint64_t cumulative = 0;
        size_t i;

        proc_text_add(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help,
                      name);
        for (i = 0; i < bound_count; i++) {
                cumulative += counts[i];
                proc_text_add(t, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i],
                              (unsigned long long)cumulative);
        }
        cumulative += counts[bound_count];
        proc_text_add(t, "%s_bucket{le=\"+Inf\"} %llu\n", name,
                      (unsigned long long)cumulative);
        proc_text_add(t, "%s_sum %g\n%s_count %llu\n", name, sum, name,
                      (unsigned long long)cumulative);
}

static void proc_render(proc_text_t *t)
{
        size_t i;

        proc_text_add(t,
                      "# HELP ma_processor_records_consumed_total Records "
                      "whose outcome was committed.\n"
                      "# TYPE ma_processor_records_consumed_total counter\n"
                      "ma_processor_records_consumed_total %llu\n",
                      (unsigned long long)proc_metrics.consumed);
        proc_text_add(t, "# HELP ma_processor_records_applied_total Accepted "
                         "records by outcome.\n"
                         "# TYPE ma_processor_records_applied_total counter\n");
        for (i = 0; i < PROC_OUTCOME_COUNT; i++)
                proc_text_add(t,
                              "ma_processor_records_applied_total{outcome=\"%"
                              "s\"} %llu\n",
                              proc_outcomes[i],
                              (unsigned long long)proc_metrics.applied[i]);
        proc_text_add(t,
                      "# HELP ma_processor_records_rejected_total Records "
                      "sent to the dead-letter topic, by reason.\n"
                      "# TYPE ma_processor_records_rejected_total counter\n");
        for (i = 1; i < PROC_REASON_COUNT; i++)
                proc_text_add(t,
                              "ma_processor_records_rejected_total{reason=\"%"
                              "s\"} %llu\n",
                              proc_reason_code((proc_reason_t)i),
                              (unsigned long long)proc_metrics.rejected[i]);
        proc_text_add(t,
                      "# HELP ma_processor_batches_total Batch transactions "
                      "by result.\n"
                      "# TYPE ma_processor_batches_total counter\n"
                      "ma_processor_batches_total{result=\"committed\"} %llu\n"
                      "ma_processor_batches_total{result=\"rolled_back\"} "
                      "%llu\n",
                      (unsigned long long)proc_metrics.batches_ok,
                      (unsigned long long)proc_metrics.batches_failed);
        proc_render_histogram(t, "ma_processor_batch_records",
                              "Records per committed batch.",
                              proc_metrics.size_counts, proc_size_buckets,
                              PROC_SIZE_BUCKETS, proc_metrics.size_sum);
        proc_render_histogram(t, "ma_processor_batch_seconds",
                              "Time to apply and commit a batch.",
                              proc_metrics.latency_counts, proc_latency_buckets,
                              PROC_LATENCY_BUCKETS, proc_metrics.latency_sum);
        proc_text_add(t, "# HELP ma_retention_deleted_total Rows deleted by "
                         "retention, by table.\n"
                         "# TYPE ma_retention_deleted_total counter\n");
        for (i = PROC_RETENTION_KUNDHANDELSE; i <= PROC_RETENTION_KUND_INDEX;
             i++)
                proc_text_add(t,
                              "ma_retention_deleted_total{table=\"%s\"} %llu\n",
                              proc_retention_table((int)i),
                              (unsigned long long)proc_metrics.retention[i]);
        proc_text_add(t,
                      "# HELP ma_retention_recomputed_total Rows kept but "
                      "recomputed by retention, by table.\n"
                      "# TYPE ma_retention_recomputed_total counter\n"
                      "ma_retention_recomputed_total{table=\"arende\"} "
                      "%llu\n"
                      "ma_retention_recomputed_total{table=\"kund_index\"} "
                      "%llu\n",
                      (unsigned long long)proc_metrics
                              .retention[PROC_RETENTION_ARENDE_UPDATED],
                      (unsigned long long)proc_metrics
                              .retention[PROC_RETENTION_KUND_INDEX_UPDATED]);
        proc_text_add(t, "# HELP ma_processor_partition_lag Records between "
                         "the committed offset and the high watermark.\n"
                         "# TYPE ma_processor_partition_lag gauge\n");
        for (i = 0; i < proc_metrics.lag_count; i++)
                proc_text_add(t,
                              "ma_processor_partition_lag{topic=\"%s\","
                              "partition=\"%d\"} %lld\n",
                              proc_metrics.lag[i].topic,
                              (int)proc_metrics.lag[i].partition,
                              (long long)proc_metrics.lag[i].lag);
        proc_text_add(t,
                      "# HELP ma_processor_ready 1 when the processor "
                      "consumes.\n# TYPE ma_processor_ready gauge\n"
                      "ma_processor_ready %d\n",
                      proc_metrics.ready ? 1 : 0);
}

static enum MHD_Result proc_respond(struct MHD_Connection *connection,
                                    unsigned int code, const char *type,
                                    const char *body, size_t len)
{
        struct MHD_Response *response = MHD_create_response_from_buffer(
                len, (void *)body, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result result;

        if (response == NULL)
                return MHD_NO;
        MHD_add_response_header(response, "Content-Type", type);
        result = MHD_queue_response(connection, code, response);
        MHD_destroy_response(response);
        return result;
}

static enum MHD_Result
proc_metrics_handler(void *cls, struct MHD_Connection *connection,
                     const char *url, const char *method, const char *version,
                     const char *upload_data, size_t *upload_data_size,
                     void **req_cls)
{
        proc_text_t text = {0};
        enum MHD_Result result;
        bool ready;

        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
                return proc_respond(connection, 405, "text/plain",
                                    "method not allowed\n", 19);
        if (strcmp(url, "/health") == 0)
                return proc_respond(connection, 200, "text/plain", "ok\n", 3);
        if (strcmp(url, "/ready") == 0) {
                pthread_mutex_lock(&proc_metrics.lock);
                ready = proc_metrics.ready;
                pthread_mutex_unlock(&proc_metrics.lock);
                return ready ? proc_respond(connection, 200, "text/plain",
                                            "ready\n", 6)
                             : proc_respond(connection, 503, "text/plain",
                                            "not ready\n", 10);
        }
        if (strcmp(url, "/metrics") != 0)
                return proc_respond(connection, 404, "text/plain",
                                    "not found\n", 10);
        text.cap = 8192;
        text.data = ma_malloc(text.cap);
        if (text.data == NULL)
                return MHD_NO;
        pthread_mutex_lock(&proc_metrics.lock);
        proc_render(&text);
        pthread_mutex_unlock(&proc_metrics.lock);
        result = text.failed ? MHD_NO
                             : proc_respond(connection, 200,
                                            "text/plain; version=0.0.4",
                                            text.data, text.len);
        ma_free(text.data);
        return result;
}

ma_status_t proc_metrics_start(const char *address, int port, ma_error_t *err)
{
        return ma_http_listen(address, port, proc_metrics_handler,
                              &proc_metrics.daemon, err);
}

void proc_metrics_stop(void)
{
        if (proc_metrics.daemon != NULL)
                MHD_stop_daemon(proc_metrics.daemon);
        proc_metrics.daemon = NULL;
}
