/*
 * notif_metrics.c - counters of ma-notifier and the HTTP endpoints that
 * expose them: /metrics (Prometheus text format 0.0.4), /health (the
 * process runs) and /ready (PostgreSQL and the broker are connected).
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

#include "notifier.h"

/* Upper bounds of the lag histogram buckets, in seconds. */
static const double notif_lag_buckets[] = {
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
#define NOTIF_LAG_BUCKETS (sizeof(notif_lag_buckets) / sizeof(double))

static struct {
        pthread_mutex_t lock;
        bool database_up, mqtt_up;
        int64_t due;
        uint64_t published, retried, acknowledged, rejected;
        uint64_t lag_counts[NOTIF_LAG_BUCKETS + 1];
        double lag_sum;
        struct MHD_Daemon *daemon;
} notif_metrics = {.lock = PTHREAD_MUTEX_INITIALIZER};

void notif_metrics_due(int64_t count)
{
        pthread_mutex_lock(&notif_metrics.lock);
        notif_metrics.due = count;
        pthread_mutex_unlock(&notif_metrics.lock);
}

void notif_metrics_published(bool retry)
{
        pthread_mutex_lock(&notif_metrics.lock);
        notif_metrics.published++;
        if (retry)
                notif_metrics.retried++;
        pthread_mutex_unlock(&notif_metrics.lock);
}

void notif_metrics_acknowledged(double lag_seconds)
{
        size_t i;

        pthread_mutex_lock(&notif_metrics.lock);
        notif_metrics.acknowledged++;
        for (i = 0; i < NOTIF_LAG_BUCKETS && lag_seconds > notif_lag_buckets[i];
             i++)
                ;
        notif_metrics.lag_counts[i]++;
        notif_metrics.lag_sum += lag_seconds;
        pthread_mutex_unlock(&notif_metrics.lock);
}

void notif_metrics_rejected(void)
{
        pthread_mutex_lock(&notif_metrics.lock);
        notif_metrics.rejected++;
        pthread_mutex_unlock(&notif_metrics.lock);
}

void notif_metrics_set_state(bool database_up, bool mqtt_up)
{
        pthread_mutex_lock(&notif_metrics.lock);
        notif_metrics.database_up = database_up;
        notif_metrics.mqtt_up = mqtt_up;
        pthread_mutex_unlock(&notif_metrics.lock);
}

typedef struct notif_text {
        char buf[8192];
        size_t len;
} notif_text_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
notif_text_add(notif_text_t *t, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (t->len >= sizeof(t->buf))
                return;
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
        va_end(ap);
        if (n > 0)
                t->len += (size_t)n;
        if (t->len >= sizeof(t->buf))
                t->len = sizeof(t->buf) - 1;
}

static void notif_render(notif_text_t *t)
{
        uint64_t cumulative = 0;
        size_t i;

        notif_text_add(
                t,
                "# HELP ma_notifier_due Pending notifications that were due "
                "at the last poll.\n# TYPE ma_notifier_due gauge\n"
                "ma_notifier_due %lld\n"
                "# HELP ma_notifier_published_total MQTT publishes, first "
                "attempts and retries.\n"
                "# TYPE ma_notifier_published_total counter\n"
                "ma_notifier_published_total %llu\n"
                "# HELP ma_notifier_retried_total Publishes of a "
                "notification that was published before.\n"
                "# TYPE ma_notifier_retried_total counter\n"
                "ma_notifier_retried_total %llu\n"
                "# HELP ma_notifier_acknowledged_total Notifications marked "
                "delivered after the broker's PUBACK.\n"
                "# TYPE ma_notifier_acknowledged_total counter\n"
                "ma_notifier_acknowledged_total %llu\n"
                "# HELP ma_notifier_rejected_total PUBACKs with a failure "
                "reason code (retried later).\n"
                "# TYPE ma_notifier_rejected_total counter\n"
                "ma_notifier_rejected_total %llu\n"
                "# HELP ma_notifier_up Connections: 1 connected, 0 not.\n"
                "# TYPE ma_notifier_up gauge\n"
                "ma_notifier_up{peer=\"postgresql\"} %d\n"
                "ma_notifier_up{peer=\"mqtt\"} %d\n",
                (long long)notif_metrics.due,
                (unsigned long long)notif_metrics.published,
                (unsigned long long)notif_metrics.retried,
                (unsigned long long)notif_metrics.acknowledged,
                (unsigned long long)notif_metrics.rejected,
                notif_metrics.database_up ? 1 : 0,
                notif_metrics.mqtt_up ? 1 : 0);
        notif_text_add(t,
                       "# HELP ma_notifier_delivery_lag_seconds From when a "
                       "notification became due (for an event notification: "
                       "when the event was applied) to the PUBACK.\n"
                       "# TYPE ma_notifier_delivery_lag_seconds histogram\n");
        for (i = 0; i < NOTIF_LAG_BUCKETS; i++) {
                cumulative += notif_metrics.lag_counts[i];
                notif_text_add(t,
                               "ma_notifier_delivery_lag_seconds_bucket{le=\"%"
                               "g\"} %llu\n",
                               notif_lag_buckets[i],
                               (unsigned long long)cumulative);
        }
        cumulative += notif_metrics.lag_counts[NOTIF_LAG_BUCKETS];
        notif_text_add(t,
                       "ma_notifier_delivery_lag_seconds_bucket{le=\"+Inf\"} "
                       "%llu\nma_notifier_delivery_lag_seconds_sum %g\n"
                       "ma_notifier_delivery_lag_seconds_count %llu\n",
                       (unsigned long long)cumulative, notif_metrics.lag_sum,
                       (unsigned long long)cumulative);
}

static enum MHD_Result notif_respond(struct MHD_Connection *connection,
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
notif_metrics_handler(void *cls, struct MHD_Connection *connection,
                      const char *url, const char *method, const char *version,
                      const char *upload_data, size_t *upload_data_size,
                      void **con_cls)
{
        static notif_text_t text;
        bool ready;

        if (strcmp(method, "GET") != 0)
                return notif_respond(connection, 405, "text/plain",
                                     "method not allowed\n", 19);
        if (strcmp(url, "/health") == 0)
                return notif_respond(connection, 200, "text/plain", "ok\n", 3);
        if (strcmp(url, "/ready") == 0) {
                pthread_mutex_lock(&notif_metrics.lock);
                ready = notif_metrics.database_up && notif_metrics.mqtt_up;
                pthread_mutex_unlock(&notif_metrics.lock);
                return ready ? notif_respond(connection, 200, "text/plain",
                                             "ready\n", 6)
                             : notif_respond(connection, 503, "text/plain",
                                             "not ready\n", 10);
        }
        if (strcmp(url, "/metrics") == 0) {
                enum MHD_Result result;

                /* One MHD thread serves all requests, so the static buffer
                 * is used by one request at a time. */
                pthread_mutex_lock(&notif_metrics.lock);
                text.len = 0;
                notif_render(&text);
                result = notif_respond(connection, 200,
                                       "text/plain; version=0.0.4", text.buf,
                                       text.len);
                pthread_mutex_unlock(&notif_metrics.lock);
                return result;
        }
        return notif_respond(connection, 404, "text/plain", "not found\n", 10);
}

ma_status_t notif_metrics_start(const char *address, int port, ma_error_t *err)
{
        return ma_http_listen(address, port, notif_metrics_handler,
                              &notif_metrics.daemon, err);
}

void notif_metrics_stop(void)
{
        if (notif_metrics.daemon != NULL)
                MHD_stop_daemon(notif_metrics.daemon);
        notif_metrics.daemon = NULL;
}
