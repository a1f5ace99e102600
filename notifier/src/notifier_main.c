/*
 * notifier_main.c - ma-notifier: publishes the notifications (aviseringar)
 * of the outbox table notifier_notification over MQTT v5.
 *
 * Guarantees: at least once.  Every pending notification whose due time
 * has come is published with QoS 1 to ma/v1/<consumer id>/aviseringar/
 * <subscription id> and is marked delivered only after the broker's PUBACK
 * with a success reason code.  A notification that is not acknowledged in
 * time is published again, with the same notification id (the CloudEvents
 * id), after a backoff that doubles from notify.retry-initial up to
 * notify.retry-max.  PostgreSQL is the source of truth: nothing about what is
 * sent lives only in this process or in the broker's session, so a
 * restart of ma-notifier, the broker or PostgreSQL loses nothing.  Several
 * instances may run at once; claiming rows with FOR UPDATE SKIP LOCKED and
 * moving their next_attempt_at forward keeps them apart.
 *
 * Start: ma-notifier [--config FILE] [--name=value ...]; --help lists the
 * settings.  It connects to PostgreSQL (retrying), applies the migrations
 * unless told not to, LISTENs on channel ma_notifier (the outbox trigger
 * signals it at commit), connects to the broker in libmosquitto's thread
 * and polls due rows whenever signalled and at least every
 * notify.poll-interval.
 *
 * Stop: SIGTERM or SIGINT stops claiming rows, waits up to
 * notify.drain-timeout for the PUBACKs of what was published, records them,
 * disconnects and exits 0.  Exit 1: an unrecoverable failure (a broken
 * migration or statement); exit 2: invalid configuration.
 *
 * Crash: a kill at any instant loses nothing.  Rows published but not yet
 * marked delivered are published again once their wait has passed, so a
 * consumer may see a notification id twice.
 *
 * Threads: the main thread owns both PostgreSQL connections (claims and
 * LISTEN on one, delivery marks on the other, notif_record.c) and calls
 * mosquitto_publish_v5(); libmosquitto's thread runs the callbacks, which
 * only queue PUBACKs and connection changes under notif_shared.lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <libpq-fe.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "ma/alloc.h"
#include "ma/config.h"
#include "ma/datetime.h"
#include "ma/log.h"
#include "ma/pg.h"
#include "notif_record.h"
#include "notifier.h"

#ifndef MA_DEFAULT_SCHEMA_DIR
#define MA_DEFAULT_SCHEMA_DIR "schemas"
#endif

#define NOTIF_MID_SLOTS 65536 /* MQTT packet ids are 16 bits */
#define NOTIF_ACKS_MAX  65536

static const ma_config_entry_t notif_config_table[] = {
        {"database.url", MA_CONFIG_SECRET, NULL, "", 0, 0,
         "libpq connection string or URI; empty: the environment variable "
         "DATABASE_URL."},
        {"migrations.apply", MA_CONFIG_BOOL, NULL, "true", 0, 0,
         "Apply the SQL migrations at start (the same files ma-processor "
         "applies; an advisory lock serialises both)."},
        {"migrations.dir", MA_CONFIG_STRING, NULL, MA_DEFAULT_SCHEMA_DIR "/sql",
         1, 0, "Folder with the SQL migrations."},
        {"mqtt.host", MA_CONFIG_STRING, NULL, "127.0.0.1", 1, 253,
         "Broker host name or address."},
        {"mqtt.port", MA_CONFIG_INT, NULL, "1883", 1, 65535, "Broker port."},
        {"mqtt.username", MA_CONFIG_STRING, NULL, "ma-notifier", 0, 63,
         "MQTT username (role notifier in notifier_mqtt_user); empty: "
         "connect without credentials."},
        {"mqtt.password", MA_CONFIG_SECRET, NULL, "", 0, 0,
         "MQTT password of mqtt.username."},
        {"mqtt.client-id", MA_CONFIG_STRING, NULL, "ma-notifier", 1, 23,
         "MQTT client id; each running instance needs its own."},
        {"mqtt.keepalive", MA_CONFIG_DURATION_MS, "ms", "30s", 5000, 600000,
         "MQTT keep-alive interval."},
        {"mqtt.message-expiry", MA_CONFIG_DURATION_MS, "ms", "7d", 1000,
         4294967295000,
         "Message expiry interval of each publish: how long the broker keeps "
         "a notification for an offline consumer's session (whole "
         "seconds)."},
        {"notify.poll-interval", MA_CONFIG_DURATION_MS, "ms", "1s", 10, 3600000,
         "Maximum time between two polls for due rows when no signal "
         "arrives; reminders become due without a signal."},
        {"notify.batch", MA_CONFIG_INT, "rows", "10000", 1, 10000,
         "Maximum number of rows claimed by one poll."},
        {"notify.record-interval", MA_CONFIG_DURATION_MS, "ms", "100ms", 0,
         10000,
         "Longest wait before PUBACKs received are recorded as delivered in "
         "PostgreSQL; they are recorded at once when notify.batch of them, "
         "or a quarter of notify.max-inflight if fewer, are waiting.  "
         "Recording in bulk keeps the database free for "
         "claims; a crash before recording only causes repeats."},
        {"notify.max-inflight", MA_CONFIG_INT, "messages", "20000", 1, 60000,
         "Maximum number of publishes waiting for their PUBACK or for it to "
         "be recorded; no rows are claimed above it.  A crash repeats at "
         "most this many notifications."},
        {"notify.retry-initial", MA_CONFIG_DURATION_MS, "ms", "10s", 100,
         86400000,
         "Wait for a PUBACK before a notification is published again; it "
         "doubles with every attempt."},
        {"notify.retry-max", MA_CONFIG_DURATION_MS, "ms", "10min", 100,
         86400000, "Maximum wait between two attempts."},
        {"notify.drain-timeout", MA_CONFIG_DURATION_MS, "ms", "10s", 0, 600000,
         "Maximum wait for outstanding PUBACKs at SIGTERM."},
        {"clock.offset", MA_CONFIG_DURATION_MS, "ms", "0", 0, 315360000000,
         "Added to the database's clock when deciding which rows are due, "
         "so tests can bring reminders days ahead forward.  0 in "
         "production.  The wait before a retry is stored on this shifted "
         "clock, so lowering the offset delays rows that were published "
         "but not acknowledged by the difference."},
        {"api.event-path", MA_CONFIG_STRING, NULL,
         "/v1/kundhandelser/{producent}/{kundhandelseId}", 1, 512,
         "Path of the query API that returns one event, sent in each "
         "payload as hamta.path; {producent} and {kundhandelseId} are "
         "replaced."},
        {"cloudevents.source", MA_CONFIG_STRING, NULL, "urn:ma:notifier", 1,
         256, "CloudEvents source attribute of every notification."},
        {"metrics.address", MA_CONFIG_STRING, NULL, "127.0.0.1", 1, 64,
         "IPv4 address of /metrics, /health and /ready."},
        {"metrics.port", MA_CONFIG_INT, NULL, "9465", 0, 65535,
         "Port of /metrics, /health and /ready; 0 turns them off."},
        {"log.level", MA_CONFIG_STRING, NULL, "info", 4, 5,
         "Lowest level logged: debug, info, warn or error."},
};

#define NOTIF_CONFIG_COUNT                                                     \
        (sizeof(notif_config_table) / sizeof(notif_config_table[0]))

typedef struct notif_settings {
        const char *database_url;
        const char *migrations_dir;
        bool migrations_apply;
        const char *mqtt_host;
        int mqtt_port;
        const char *mqtt_username;
        const char *mqtt_password;
        const char *client_id;
        int keepalive_s;
        uint32_t expiry_s;
        int64_t poll_ms;
        int batch;
        int64_t record_ms;
        int max_inflight;
        int64_t retry_initial_ms;
        int64_t retry_max_ms;
        int64_t drain_ms;
        int64_t offset_ms;
        const char *event_path;
        const char *source;
} notif_settings_t;

/* A publish waiting for its PUBACK, by packet id. */
typedef struct notif_inflight {
        bool used;
        char notification_id[40];
} notif_inflight_t;

typedef struct notif_ack {
        int mid;
        int reason_code;
} notif_ack_t;

/* Written by libmosquitto's thread, read by the main thread. */
static struct {
        pthread_mutex_t lock;
        bool connected;
        bool connection_lost; /* set at disconnect, cleared by main */
        notif_ack_t acks[NOTIF_ACKS_MAX];
        size_t ack_count;
} notif_shared = {.lock = PTHREAD_MUTEX_INITIALIZER};

static volatile sig_atomic_t notif_stop_requested;
static int notif_wake_pipe[2] = {-1, -1};

static void notif_wake(void)
{
        int saved = errno;
        ssize_t ignored = write(notif_wake_pipe[1], "x", 1);

        (void)ignored;
        errno = saved;
}

static void notif_on_signal(int signo)
{
        (void)signo;
        notif_stop_requested = 1;
        notif_wake();
}

static void notif_install_signals(void)
{
        struct sigaction action;

        memset(&action, 0, sizeof(action));
        action.sa_handler = notif_on_signal;
        sigemptyset(&action.sa_mask);
        sigaction(SIGTERM, &action, NULL);
        sigaction(SIGINT, &action, NULL);
        action.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &action, NULL);
}

/* ------------------------------------------------------------------------
 * libmosquitto callbacks (its thread)
 * ---------------------------------------------------------------------- */

static void notif_on_connect(struct mosquitto *mosq, void *obj, int rc,
                             int flags, const mosquitto_property *props)
{
        if (rc != 0) {
                MA_LOG_AT(MA_LOG_ERROR, "broker refused the connection",
                          MA_LOG_INT("reason_code", rc),
                          MA_LOG_STR("reason", mosquitto_reason_string(rc)));
                return;
        }
        pthread_mutex_lock(&notif_shared.lock);
        notif_shared.connected = true;
        pthread_mutex_unlock(&notif_shared.lock);
        MA_LOG_AT(MA_LOG_INFO, "connected to the broker",
                  MA_LOG_INT("session_present", flags & 1));
        notif_wake();
}

static void notif_on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                                const mosquitto_property *props)
{
        pthread_mutex_lock(&notif_shared.lock);
        notif_shared.connected = false;
        notif_shared.connection_lost = true;
        pthread_mutex_unlock(&notif_shared.lock);
        /* rc 0 is the notifier's own disconnect at the end of a stop. */
        if (rc == 0 && notif_stop_requested)
                MA_LOG_AT(MA_LOG_INFO, "disconnected from the broker",
                          MA_LOG_INT("reason_code", rc));
        else
                MA_LOG_AT(MA_LOG_WARN,
                          "disconnected from the broker, reconnecting",
                          MA_LOG_INT("reason_code", rc));
        notif_wake();
}

static void notif_on_publish(struct mosquitto *mosq, void *obj, int mid,
                             int reason_code, const mosquitto_property *props)
{
        pthread_mutex_lock(&notif_shared.lock);
        if (notif_shared.ack_count < NOTIF_ACKS_MAX) {
                notif_shared.acks[notif_shared.ack_count].mid = mid;
                notif_shared.acks[notif_shared.ack_count].reason_code =
                        reason_code;
                notif_shared.ack_count++;
        }
        /* NOTE: an ack beyond NOTIF_ACKS_MAX unread ones is dropped; its
         * row is published again after its wait, which at-least-once
         * allows.  max-inflight (at most 60000) keeps this from happening. */
        pthread_mutex_unlock(&notif_shared.lock);
        notif_wake();
}

/* ------------------------------------------------------------------------
 * State of the main thread
 * ---------------------------------------------------------------------- */

typedef struct notif {
        notif_settings_t s;
        PGconn *conn;
        struct mosquitto *mosq;
        notif_inflight_t *inflight; /* NOTIF_MID_SLOTS entries */
        int inflight_count;
        notif_recorder_t rec; /* PUBACKs to record, on its own connection */
        bool claim_due;       /* a NOTIFY, a poll time or a reconnect */
        bool claim_limited;   /* max-inflight limited the last claim */
        bool was_connected;
        int64_t last_due_count_ms;
        int corked_fd; /* the MQTT socket while notif_cork delays its output */
} notif_t;

static ma_status_t notif_settings_load(const ma_config_t *config,
                                       notif_settings_t *s, ma_error_t *err)
{
        s->database_url = ma_config_string(config, "database.url");
        if (s->database_url == NULL || s->database_url[0] == '\0')
                s->database_url = getenv("DATABASE_URL");
        if (s->database_url == NULL || s->database_url[0] == '\0')
                return ma_error_set(err, MA_ERR_CONFIG, "database.url",
                                    "no database given: set --database.url, "
                                    "MA_DATABASE_URL or DATABASE_URL");
        s->migrations_apply = ma_config_bool(config, "migrations.apply");
        s->migrations_dir = ma_config_string(config, "migrations.dir");
        s->mqtt_host = ma_config_string(config, "mqtt.host");
        s->mqtt_port = (int)ma_config_int(config, "mqtt.port");
        s->mqtt_username = ma_config_string(config, "mqtt.username");
        s->mqtt_password = ma_config_string(config, "mqtt.password");
        s->client_id = ma_config_string(config, "mqtt.client-id");
        s->keepalive_s = (int)(ma_config_int(config, "mqtt.keepalive") / 1000);
        s->expiry_s =
                (uint32_t)(ma_config_int(config, "mqtt.message-expiry") / 1000);
        s->poll_ms = ma_config_int(config, "notify.poll-interval");
        s->batch = (int)ma_config_int(config, "notify.batch");
        s->record_ms = ma_config_int(config, "notify.record-interval");
        s->max_inflight = (int)ma_config_int(config, "notify.max-inflight");
        s->retry_initial_ms = ma_config_int(config, "notify.retry-initial");
        s->retry_max_ms = ma_config_int(config, "notify.retry-max");
        s->drain_ms = ma_config_int(config, "notify.drain-timeout");
        s->offset_ms = ma_config_int(config, "clock.offset");
        s->event_path = ma_config_string(config, "api.event-path");
        s->source = ma_config_string(config, "cloudevents.source");
        if (s->retry_max_ms < s->retry_initial_ms)
                return ma_error_set(err, MA_ERR_CONFIG, "notify.retry-max",
                                    "notify.retry-max (%" PRId64
                                    " ms) is below notify.retry-initial "
                                    "(%" PRId64 " ms): raise it",
                                    s->retry_max_ms, s->retry_initial_ms);
        return MA_OK;
}

/* ------------------------------------------------------------------------
 * PostgreSQL
 * ---------------------------------------------------------------------- */

static ma_status_t notif_pg_open(notif_t *n, bool migrate, ma_error_t *err)
{
        ma_pg_retry_t retry;
        ma_status_t status;
        int applied = 0;

        ma_pg_retry_default(&retry);
        retry.stop = &notif_stop_requested;
        status = ma_pg_connect(n->s.database_url, &retry, &n->conn, err);
        if (status != MA_OK)
                return status;
        if (migrate) {
                status = ma_pg_migrate(n->conn, n->s.migrations_dir, &applied,
                                       err);
                if (status != MA_OK)
                        return status;
                MA_LOG_AT(MA_LOG_INFO, "migrations checked",
                          MA_LOG_INT("applied", applied));
        }
        /* Claims and delivery marks need no WAL flush before their result:
         * one lost in a server crash leaves its rows pending, so they are
         * published again under the same id, which at-least-once allows.
         * Waiting for the flush would delay every publish behind it. */
        status = ma_pg_exec(n->conn, "SET synchronous_commit = off", err);
        if (status != MA_OK)
                return status;
        /* The claim must walk the due index in order and stop after its
         * LIMIT.  Right after a burst of new rows, before autovacuum has
         * analysed the table, the planner expects a handful of due rows and
         * instead reads all of them and sorts them, every claim again.
         * Nothing this connection runs needs a sort. */
        status = ma_pg_exec(n->conn, "SET enable_sort = off", err);
        if (status != MA_OK)
                return status;
        return ma_pg_exec(n->conn, "LISTEN ma_notifier", err);
}

static void notif_pg_close(notif_t *n)
{
        if (n->conn != NULL)
                PQfinish(n->conn);
        n->conn = NULL;
}

/* ------------------------------------------------------------------------
 * Publishing
 * ---------------------------------------------------------------------- */

/*
 * Claim statement.  The first claim of a row sets only columns without an
 * index (lease_until, attempts, first_sent_at), so PostgreSQL can write it
 * as a HOT update (schemas/sql/0203_notifier_lease.sql).  A repeat also
 * moves next_attempt_at to the end of its lease.
 */
static const char notif_claim_sql[] =
        "WITH due AS ("
        "  SELECT notification_id FROM notifier_notification"
        "   WHERE state = 'pending'"
        "     AND next_attempt_at <= now() + $1::bigint * interval '1 ms'"
        "     AND (lease_until IS NULL"
        "          OR lease_until <= now() + $1::bigint * interval '1 ms')"
        "   ORDER BY next_attempt_at LIMIT $2"
        "   FOR UPDATE SKIP LOCKED), "
        "claimed AS ("
        "  SELECT n.notification_id,"
        "         now() + $1::bigint * interval '1 ms'"
        "           + least($3::bigint * 2 ^ least(n.attempts, 30),"
        "                   $4::bigint) * interval '1 ms' AS lease"
        "    FROM notifier_notification n JOIN due USING (notification_id)) "
        "UPDATE notifier_notification n"
        "   SET attempts = n.attempts + 1,"
        "       first_sent_at = coalesce(n.first_sent_at, now()),"
        "       lease_until = claimed.lease,"
        "       next_attempt_at = CASE WHEN n.attempts = 0"
        "                              THEN n.next_attempt_at"
        "                              ELSE claimed.lease END"
        "  FROM claimed WHERE n.notification_id = claimed.notification_id "
        "RETURNING n.notification_id, n.subscription_id, n.consumer_id,"
        "  n.reason, n.kind, n.reminder_days,"
        "  n.producent_organisationsnummer, n.producent, n.kundhandelse_id,"
        "  n.kundhandelse_typ, n.rubrik,"
        "  to_char(n.tidpunkt AT TIME ZONE 'UTC',"
        "          'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        "  n.atgard_senast::text, n.giltig_till::text,"
        "  to_char(n.created_at AT TIME ZONE 'UTC',"
        "          'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        "  n.attempts";

static const char *notif_value(const PGresult *result, int row, int col)
{
        return PQgetisnull(result, row, col) ? NULL
                                             : PQgetvalue(result, row, col);
}

/* Publishes one claimed row; false when libmosquitto refused it. */
static bool notif_publish_row(notif_t *n, const PGresult *result, int row)
{
        notif_message_t m;
        char topic[256], type[128];
        char *payload = NULL;
        mosquitto_property *props = NULL;
        ma_error_t err;
        int mid = 0, rc, attempts;

        memset(&m, 0, sizeof(m));
        m.notification_id = notif_value(result, row, 0);
        m.subscription_id = notif_value(result, row, 1);
        m.consumer_id = notif_value(result, row, 2);
        m.reason = notif_value(result, row, 3);
        m.kind = notif_value(result, row, 4);
        m.reminder_days = (int)strtol(PQgetvalue(result, row, 5), NULL, 10);
        m.producent_organisationsnummer = notif_value(result, row, 6);
        m.producent = notif_value(result, row, 7);
        m.kundhandelse_id = notif_value(result, row, 8);
        m.kundhandelse_typ = notif_value(result, row, 9);
        m.rubrik = notif_value(result, row, 10);
        m.tidpunkt = notif_value(result, row, 11);
        m.atgard_senast = notif_value(result, row, 12);
        m.giltig_till = notif_value(result, row, 13);
        m.created_at = notif_value(result, row, 14);
        attempts = (int)strtol(PQgetvalue(result, row, 15), NULL, 10);

        if (notif_topic_format(m.consumer_id, m.subscription_id, topic,
                               sizeof(topic), &err) != MA_OK ||
            notif_payload_build(&m, n->s.event_path, &payload, &err) != MA_OK) {
                MA_LOG_AT(MA_LOG_ERROR, "cannot publish notification",
                          MA_LOG_STR("notification_id", m.notification_id),
                          MA_LOG_STR("error", err.message));
                return true;
        }
        notif_cloudevent_type(m.kind, type, sizeof(type));
        /* CloudEvents MQTT binding, binary mode for MQTT 5: the content
         * type in its own property, the other attributes as user
         * properties. */
        rc = mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE,
                                           "application/json");
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_property_add_byte(
                        &props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_property_add_int32(
                        &props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
                        n->s.expiry_s);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_property_add_string_pair(
                        &props, MQTT_PROP_USER_PROPERTY, "specversion", "1.0");
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_property_add_string_pair(
                        &props, MQTT_PROP_USER_PROPERTY, "id",
                        m.notification_id);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_property_add_string_pair(
                        &props, MQTT_PROP_USER_PROPERTY, "source", n->s.source);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_property_add_string_pair(
                        &props, MQTT_PROP_USER_PROPERTY, "type", type);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_property_add_string_pair(
                        &props, MQTT_PROP_USER_PROPERTY, "time", m.created_at);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_publish_v5(n->mosq, &mid, topic,
                                          (int)strlen(payload), payload, 1,
                                          false, props);
        mosquitto_property_free_all(&props);
        free(payload);
        if (rc != MOSQ_ERR_SUCCESS) {
                MA_LOG_AT(MA_LOG_WARN, "could not publish notification",
                          MA_LOG_STR("notification_id", m.notification_id),
                          MA_LOG_STR("error", mosquitto_strerror(rc)));
                return false;
        }
        if (!n->inflight[mid].used)
                n->inflight_count++;
        n->inflight[mid].used = true;
        snprintf(n->inflight[mid].notification_id,
                 sizeof(n->inflight[mid].notification_id), "%s",
                 m.notification_id);
        notif_metrics_published(attempts > 1);
        MA_LOG_AT(MA_LOG_DEBUG, "notification published",
                  MA_LOG_STR("notification_id", m.notification_id),
                  MA_LOG_STR("consumer_id", m.consumer_id),
                  MA_LOG_INT("attempt", attempts), MA_LOG_INT("mid", mid));
        return true;
}

/*
 * Sets or clears TCP_CORK around the publishes of one claim, so they leave
 * in full TCP segments instead of one segment per publish (the socket has
 * TCP_NODELAY for single publishes).  libmosquitto's thread writes the
 * packets, so a few may be written after the release and leave alone.  A
 * failure only loses the batching.
 */
static void notif_cork(notif_t *n, bool on)
{
        int value = on ? 1 : 0;

        /* The same descriptor is released that was held back, even if the
         * connection has changed in between. */
        if (on)
                n->corked_fd = mosquitto_socket(n->mosq);
        if (n->corked_fd >= 0 && setsockopt(n->corked_fd, IPPROTO_TCP, TCP_CORK,
                                            &value, sizeof(value)) != 0)
                MA_LOG_AT(MA_LOG_DEBUG, "could not set TCP_CORK",
                          MA_LOG_STR("error", strerror(errno)));
        if (!on)
                n->corked_fd = -1;
}

/*
 * Claims up to one batch of due rows and publishes them.  *full_out is
 * true when the batch was full, so more rows may be due.
 */
static ma_status_t notif_claim_and_publish(notif_t *n, bool *full_out,
                                           ma_error_t *err)
{
        char offset[32], limit[16], initial[32], max[32];
        const char *params[4] = {offset, limit, initial, max};
        PGresult *result;
        /* Unrecorded PUBACKs count against max-inflight too, so the id
         * arrays (NOTIF_ACKS_MAX) cannot overflow. */
        int room = n->s.max_inflight - n->inflight_count -
                   (int)notif_recorder_pending(&n->rec);
        int row, rows;

        *full_out = false;
        if (room < n->s.batch)
                n->claim_limited = true;
        if (room <= 0)
                return MA_OK;
        if (room > n->s.batch)
                room = n->s.batch;
        snprintf(offset, sizeof(offset), "%" PRId64, n->s.offset_ms);
        snprintf(limit, sizeof(limit), "%d", room);
        snprintf(initial, sizeof(initial), "%" PRId64, n->s.retry_initial_ms);
        snprintf(max, sizeof(max), "%" PRId64, n->s.retry_max_ms);
        result = PQexecParams(n->conn, notif_claim_sql, 4, NULL, params, NULL,
                              NULL, 0);
        if (PQresultStatus(result) != PGRES_TUPLES_OK) {
                ma_status_t status =
                        ma_pg_error(n->conn, result,
                                    "could not claim due notifications", err);

                PQclear(result);
                return status;
        }
        rows = PQntuples(result);
        notif_cork(n, true);
        for (row = 0; row < rows; row++)
                if (!notif_publish_row(n, result, row))
                        break; /* the rest wait for their next attempt */
        notif_cork(n, false);
        PQclear(result);
        *full_out = rows == room && row == rows;
        return MA_OK;
}

/* Moves acknowledged publishes from the callback queue to the recorder. */
static ma_status_t notif_take_acks(notif_t *n, ma_error_t *err)
{
        static notif_ack_t acks[NOTIF_ACKS_MAX];
        size_t count, i;
        bool lost;
        ma_status_t status;

        pthread_mutex_lock(&notif_shared.lock);
        count = notif_shared.ack_count;
        memcpy(acks, notif_shared.acks, count * sizeof(acks[0]));
        notif_shared.ack_count = 0;
        lost = notif_shared.connection_lost;
        notif_shared.connection_lost = false;
        pthread_mutex_unlock(&notif_shared.lock);

        for (i = 0; i < count; i++) {
                notif_inflight_t *slot = &n->inflight[acks[i].mid & 0xffff];

                if (!slot->used)
                        continue;
                slot->used = false;
                n->inflight_count--;
                if (acks[i].reason_code >= 128) {
                        notif_metrics_rejected();
                        MA_LOG_AT(
                                MA_LOG_WARN,
                                "broker rejected a notification, it is "
                                "retried after its wait",
                                MA_LOG_STR("notification_id",
                                           slot->notification_id),
                                MA_LOG_INT("reason_code", acks[i].reason_code));
                        continue;
                }
                status =
                        notif_recorder_add(&n->rec, slot->notification_id, err);
                if (status != MA_OK)
                        return status;
        }
        /* After a lost connection, PUBACKs of earlier publishes may never
         * come; their rows are published again after their wait. */
        if (lost) {
                memset(n->inflight, 0,
                       NOTIF_MID_SLOTS * sizeof(n->inflight[0]));
                n->inflight_count = 0;
        }
        return MA_OK;
}

/* Reads the NOTIFYs that have arrived.  Any of them requests a claim. */
static void notif_take_notifies(notif_t *n)
{
        PGnotify *notify;

        if (n->conn == NULL)
                return;
        PQconsumeInput(n->conn);
        while ((notify = PQnotifies(n->conn)) != NULL) {
                n->claim_due = true;
                PQfreemem(notify);
        }
}

static void notif_count_due(notif_t *n)
{
        char offset[32];
        const char *params[1] = {offset};
        PGresult *result;

        snprintf(offset, sizeof(offset), "%" PRId64, n->s.offset_ms);
        result = PQexecParams(n->conn,
                              "SELECT count(*) FROM notifier_notification "
                              " WHERE state = 'pending' "
                              "   AND next_attempt_at <= now() + $1::bigint * "
                              "interval '1 ms' AND (lease_until IS NULL OR "
                              "lease_until <= now() + $1::bigint * "
                              "interval '1 ms')",
                              1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(result) == PGRES_TUPLES_OK)
                notif_metrics_due(strtoll(PQgetvalue(result, 0, 0), NULL, 10));
        PQclear(result);
}

/*
 * Waits for a NOTIFY, a callback, a signal or the end of the delivery
 * marks in progress, at most timeout_ms.  A NOTIFY (also one that arrived
 * during an earlier statement) sets claim_due.
 */
static void notif_wait(notif_t *n, int64_t timeout_ms)
{
        struct pollfd fds[3];
        nfds_t count = 1;
        char drain[64];
        int record_fd = notif_recorder_socket(&n->rec);

        fds[0].fd = notif_wake_pipe[0];
        fds[0].events = POLLIN;
        if (n->conn != NULL && PQsocket(n->conn) >= 0) {
                fds[count].fd = PQsocket(n->conn);
                fds[count].events = POLLIN;
                count++;
        }
        if (record_fd >= 0) {
                fds[count].fd = record_fd;
                fds[count].events = POLLIN;
                count++;
        }
        if (poll(fds, count, (int)timeout_ms) > 0 &&
            (fds[0].revents & POLLIN) != 0)
                while (read(notif_wake_pipe[0], drain, sizeof(drain)) > 0)
                        ;
        notif_take_notifies(n);
}

static bool notif_mqtt_connected(void)
{
        bool connected;

        pthread_mutex_lock(&notif_shared.lock);
        connected = notif_shared.connected;
        pthread_mutex_unlock(&notif_shared.lock);
        return connected;
}

static ma_status_t notif_mqtt_start(notif_t *n, ma_error_t *err)
{
        int rc;

        n->mosq = mosquitto_new(n->s.client_id, true, n);
        if (n->mosq == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not create the MQTT client: out "
                                    "of memory");
        mosquitto_int_option(n->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                             MQTT_PROTOCOL_V5);
        mosquitto_connect_v5_callback_set(n->mosq, notif_on_connect);
        mosquitto_disconnect_v5_callback_set(n->mosq, notif_on_disconnect);
        mosquitto_publish_v5_callback_set(n->mosq, notif_on_publish);
        mosquitto_reconnect_delay_set(n->mosq, 1, 30, true);
        mosquitto_max_inflight_messages_set(n->mosq, 0);
        /* Without it a publish written while an earlier segment waits for
         * its TCP acknowledgement is held back (Nagle's algorithm). */
        mosquitto_int_option(n->mosq, MOSQ_OPT_TCP_NODELAY, 1);
        if (n->s.mqtt_username[0] != '\0') {
                rc = mosquitto_username_pw_set(n->mosq, n->s.mqtt_username,
                                               n->s.mqtt_password[0] != '\0'
                                                       ? n->s.mqtt_password
                                                       : NULL);
                if (rc != MOSQ_ERR_SUCCESS)
                        return ma_error_set(err, MA_ERR_MQTT, "mqtt.username",
                                            "could not set MQTT credentials: "
                                            "%s",
                                            mosquitto_strerror(rc));
        }
        rc = mosquitto_connect_async(n->mosq, n->s.mqtt_host, n->s.mqtt_port,
                                     n->s.keepalive_s);
        if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO)
                return ma_error_set(err, MA_ERR_MQTT, "mqtt.host",
                                    "could not connect to the broker at "
                                    "%s:%d: %s",
                                    n->s.mqtt_host, n->s.mqtt_port,
                                    mosquitto_strerror(rc));
        /* MOSQ_ERR_ERRNO (connection refused) is retried by the loop
         * thread like any later disconnect. */
        rc = mosquitto_loop_start(n->mosq);
        if (rc != MOSQ_ERR_SUCCESS)
                return ma_error_set(err, MA_ERR_MQTT, NULL,
                                    "could not start the MQTT thread: %s",
                                    mosquitto_strerror(rc));
        return MA_OK;
}

/* Handles a failed statement: reconnects after a transient failure. */
static ma_status_t notif_pg_recover(notif_t *n, const ma_error_t *failure,
                                    ma_error_t *err)
{
        if (!ma_pg_error_is_transient(failure)) {
                *err = *failure;
                return failure->status;
        }
        MA_LOG_AT(MA_LOG_WARN, "lost the database, reconnecting",
                  MA_LOG_STR("error", failure->message));
        notif_pg_close(n);
        notif_metrics_set_state(false, notif_mqtt_connected());
        return notif_pg_open(n, false, err);
}

/* Handles a failed delivery mark: reconnects after a transient failure.
 * The ids stay queued either way. */
static ma_status_t notif_record_recover(notif_t *n, const ma_error_t *failure,
                                        ma_error_t *err)
{
        if (!ma_pg_error_is_transient(failure)) {
                *err = *failure;
                return failure->status;
        }
        MA_LOG_AT(MA_LOG_WARN,
                  "lost the database connection for delivery marks, "
                  "reconnecting",
                  MA_LOG_STR("error", failure->message));
        notif_metrics_set_state(false, notif_mqtt_connected());
        return notif_recorder_connect(&n->rec, &notif_stop_requested, err);
}

/*
 * Whether the queued PUBACKs are sent to be recorded now: a batch of them
 * (or a quarter of max-inflight when that is smaller, because unrecorded
 * ones use up max-inflight), the oldest has waited notify.record-interval,
 * or the notifier is stopping.
 */
static bool notif_record_due(const notif_t *n, int64_t now_ms, bool draining)
{
        int quarter = n->s.max_inflight / 4;
        size_t threshold;

        if (n->rec.queued_count == 0)
                return false;
        if (quarter < 1)
                quarter = 1;
        threshold = (size_t)(quarter < n->s.batch ? quarter : n->s.batch);
        return draining || n->rec.queued_count >= threshold ||
               now_ms - n->rec.queued_since_ms >= n->s.record_ms;
}

/*
 * Collects the delivery marks that PostgreSQL has finished and sends the
 * next ones when due.  A claim that max-inflight had limited runs again
 * once marks free room.
 */
static ma_status_t notif_record_step(notif_t *n, int64_t now_ms, bool draining,
                                     ma_error_t *err)
{
        bool finished = false;
        ma_status_t status;

        status = notif_recorder_poll(&n->rec, false, &finished, err);
        if (status == MA_OK && finished && n->claim_limited) {
                n->claim_limited = false;
                n->claim_due = true;
        }
        if (status == MA_OK && notif_record_due(n, now_ms, draining))
                status = notif_recorder_send(&n->rec, err);
        return status;
}

/* How long the loop may sleep: until the next poll, the next delivery
 * marks or the end of the drain, whichever comes first. */
static int64_t notif_wait_time(const notif_t *n, int64_t now_ms,
                               int64_t last_poll_ms, int64_t drain_until_ms,
                               bool connected)
{
        /* Without a broker or while stopping nothing is claimed and
         * last_poll_ms does not move, so wait a whole interval (the connect
         * callback wakes the loop) instead of spinning. */
        int64_t wait = connected && !notif_stop_requested
                               ? n->s.poll_ms - (now_ms - last_poll_ms)
                               : n->s.poll_ms;

        /* A statement in progress wakes the loop through its socket. */
        if (n->rec.queued_count > 0 && !n->rec.busy) {
                int64_t record_wait =
                        n->s.record_ms - (now_ms - n->rec.queued_since_ms);

                if (wait > record_wait)
                        wait = record_wait;
        }
        if (drain_until_ms != 0 && wait > drain_until_ms - now_ms)
                wait = drain_until_ms - now_ms;
        return wait < 0 ? 0 : wait;
}

/*
 * Runs the main loop.  A claim runs after a NOTIFY, after
 * notify.poll-interval, after a reconnect, while batches come back full and
 * when recorded PUBACKs free room that max-inflight had used up.  PUBACKs
 * are recorded in bulk (notify.batch of them or notify.record-interval
 * after the oldest) on the recorder's own connection, without waiting for
 * the result, so a claim never waits behind them.
 */
static ma_status_t notif_run(notif_t *n, ma_error_t *err)
{
        int64_t last_poll_ms = 0, drain_until_ms = 0;
        bool more = false;
        ma_status_t status;
        ma_error_t failure;

        n->claim_due = true;
        for (;;) {
                int64_t now_ms = ma_now_ms();
                bool connected = notif_mqtt_connected();

                notif_metrics_set_state(n->conn != NULL && n->rec.conn != NULL,
                                        connected);
                if (connected && !n->was_connected)
                        n->claim_due = true;
                n->was_connected = connected;
                if (now_ms - last_poll_ms >= n->s.poll_ms)
                        n->claim_due = true;
                if (notif_stop_requested && drain_until_ms == 0) {
                        drain_until_ms = now_ms + n->s.drain_ms;
                        MA_LOG_AT(MA_LOG_INFO, "stopping, draining PUBACKs",
                                  MA_LOG_INT("inflight", n->inflight_count));
                }
                status = notif_take_acks(n, err);
                if (status != MA_OK)
                        return status;
                if (!notif_stop_requested && connected &&
                    (n->claim_due || more)) {
                        n->claim_due = false;
                        more = false;
                        status = notif_claim_and_publish(n, &more, &failure);
                        last_poll_ms = now_ms;
                }
                if (status == MA_OK && now_ms - n->last_due_count_ms >= 5000) {
                        notif_count_due(n);
                        n->last_due_count_ms = now_ms;
                }
                if (status != MA_OK) {
                        status = notif_pg_recover(n, &failure, err);
                        /* A stop during the reconnect is a clean stop: the
                         * unrecorded PUBACKs only cause repeats. */
                        if (status != MA_OK && notif_stop_requested)
                                return MA_OK;
                        if (status != MA_OK)
                                return status;
                        /* NOTIFYs sent while the connection was down are
                         * lost. */
                        n->claim_due = true;
                        continue;
                }
                status = notif_record_step(n, now_ms, drain_until_ms != 0,
                                           &failure);
                if (status != MA_OK) {
                        status = notif_record_recover(n, &failure, err);
                        if (status != MA_OK && notif_stop_requested)
                                return MA_OK;
                        if (status != MA_OK)
                                return status;
                        continue;
                }
                if (drain_until_ms != 0 &&
                    notif_recorder_pending(&n->rec) == 0 &&
                    (n->inflight_count == 0 || now_ms >= drain_until_ms))
                        return MA_OK;
                /* NOTIFYs that libpq read during the statements above do
                 * not wake poll(). */
                notif_take_notifies(n);
                if (!connected || notif_stop_requested)
                        more = false; /* no claim until that changes */
                if (more ||
                    (n->claim_due && connected && !notif_stop_requested))
                        continue;
                notif_wait(n, notif_wait_time(n, now_ms, last_poll_ms,
                                              drain_until_ms, connected));
        }
}

int main(int argc, char *argv[])
{
        ma_config_t *config = NULL;
        ma_error_t err;
        notif_t n;
        int exit_code = 1;
        int level;

        if (ma_config_help_requested(argc, argv)) {
                char *help = ma_config_help(
                        notif_config_table, NOTIF_CONFIG_COUNT, "ma-notifier",
                        "Publishes due notifications over MQTT v5.");

                if (help != NULL)
                        fputs(help, stdout);
                ma_free(help);
                return help != NULL ? 0 : 1;
        }
        ma_log_init("notifier", MA_LOG_INFO, NULL);
        memset(&err, 0, sizeof(err));
        if (ma_config_load(notif_config_table, NOTIF_CONFIG_COUNT, NULL, argc,
                           argv, &config, &err) != MA_OK) {
                MA_LOG_AT(MA_LOG_ERROR, "invalid configuration",
                          MA_LOG_STR("error", err.message));
                return 2;
        }
        memset(&n, 0, sizeof(n));
        if (notif_settings_load(config, &n.s, &err) != MA_OK) {
                MA_LOG_AT(MA_LOG_ERROR, "invalid configuration",
                          MA_LOG_STR("error", err.message));
                ma_config_free(config);
                return 2;
        }
        level = ma_log_level_parse(ma_config_string(config, "log.level"));
        if (level < 0) {
                MA_LOG_AT(MA_LOG_ERROR, "invalid configuration",
                          MA_LOG_STR("error", "log.level must be debug, "
                                              "info, warn or error"));
                ma_config_free(config);
                return 2;
        }
        ma_log_set_level((ma_log_level_t)level);
        if (pipe(notif_wake_pipe) != 0 ||
            fcntl(notif_wake_pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
            fcntl(notif_wake_pipe[1], F_SETFL, O_NONBLOCK) != 0) {
                MA_LOG_AT(MA_LOG_ERROR, "could not create the wake-up pipe",
                          MA_LOG_STR("error", strerror(errno)));
                ma_config_free(config);
                return 1;
        }
        notif_install_signals();
        n.inflight = ma_calloc(NOTIF_MID_SLOTS, sizeof(n.inflight[0]));
        if (n.inflight == NULL ||
            notif_recorder_init(&n.rec, n.s.database_url, n.s.offset_ms,
                                NOTIF_ACKS_MAX, &err) != MA_OK) {
                MA_LOG_AT(MA_LOG_ERROR, "cannot start",
                          MA_LOG_STR("error", "out of memory"));
                goto out;
        }
        if (ma_config_int(config, "metrics.port") != 0 &&
            notif_metrics_start(ma_config_string(config, "metrics.address"),
                                (int)ma_config_int(config, "metrics.port"),
                                &err) != MA_OK) {
                MA_LOG_AT(MA_LOG_ERROR, "cannot start",
                          MA_LOG_STR("error", err.message));
                goto out;
        }
        if (notif_pg_open(&n, n.s.migrations_apply, &err) != MA_OK ||
            notif_recorder_connect(&n.rec, &notif_stop_requested, &err) !=
                    MA_OK) {
                MA_LOG_AT(MA_LOG_ERROR, "cannot prepare the database",
                          MA_LOG_STR("error", err.message));
                goto out;
        }
        mosquitto_lib_init();
        if (notif_mqtt_start(&n, &err) != MA_OK) {
                MA_LOG_AT(MA_LOG_ERROR, "cannot start",
                          MA_LOG_STR("error", err.message));
                goto out_mqtt;
        }
        MA_LOG_AT(MA_LOG_INFO, "started", MA_LOG_STR("host", n.s.mqtt_host),
                  MA_LOG_INT("port", n.s.mqtt_port),
                  MA_LOG_STR("client_id", n.s.client_id),
                  MA_LOG_INT("clock_offset_ms", n.s.offset_ms));
        if (notif_run(&n, &err) == MA_OK) {
                exit_code = 0;
                MA_LOG_AT(MA_LOG_INFO, "stopped",
                          MA_LOG_INT("unacknowledged", n.inflight_count));
        } else {
                MA_LOG_AT(MA_LOG_ERROR, "stopping after a failure",
                          MA_LOG_STR("error", err.message));
        }
        mosquitto_disconnect_v5(n.mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
        mosquitto_loop_stop(n.mosq, false);
out_mqtt:
        if (n.mosq != NULL)
                mosquitto_destroy(n.mosq);
        mosquitto_lib_cleanup();
out:
        notif_metrics_stop();
        notif_pg_close(&n);
        notif_recorder_free(&n.rec);
        ma_free(n.inflight);
        ma_config_free(config);
        return exit_code;
}
