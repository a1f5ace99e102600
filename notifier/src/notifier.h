/*
 * notifier.h - internals of ma-notifier and ma-mqtt-users shared with their
 * unit tests: MQTT topic and payload formatting, Mosquitto password hashes
 * and ACL text, and the metrics endpoint.
 *
 * Threads: the formatting functions keep no state and may be called from
 * any thread; the metrics functions lock internally.
 */
#ifndef NOTIFIER_H
#define NOTIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ma/status.h"

/* Maximum length of a consumer id or MQTT username (as 0200_notifier.sql
 * checks). */
#define NOTIF_NAME_MAX 63

/* One outbox row as ma-notifier publishes it; all strings are borrowed. */
typedef struct notif_message {
        const char *notification_id; /* uuid text */
        const char *subscription_id; /* uuid text */
        const char *consumer_id;
        const char *reason; /* "event" or "reminder" */
        const char *kind;   /* decision, action_required, expiring, service */
        int reminder_days;  /* days before the date; 0 for reason "event" */
        const char *producent_organisationsnummer;
        const char *producent; /* the producer's name in the event */
        const char *kundhandelse_id;
        const char *kundhandelse_typ;
        const char *rubrik;
        const char *tidpunkt;      /* RFC 3339 */
        const char *atgard_senast; /* YYYY-MM-DD or NULL */
        const char *giltig_till;   /* YYYY-MM-DD or NULL */
        const char *created_at;    /* RFC 3339: the CloudEvents time */
} notif_message_t;

/*
 * Returns true when name is a valid consumer id or MQTT username:
 * 1..63 characters of a-z 0-9 _ -, starting with a letter or digit.  Such a
 * name cannot contain the MQTT wildcards + and # or a topic separator.
 */
bool notif_name_valid(const char *name);

/*
 * Writes "ma/v1/<consumer id>/aviseringar/<subscription id>" into buf.
 * Errors: MA_ERR_INVALID (consumer id not valid, subscription id empty or
 * containing '/', '+' or '#'), MA_ERR_TOO_LARGE (buf too small).
 */
ma_status_t notif_topic_format(const char *consumer_id,
                               const char *subscription_id, char *buf,
                               size_t size, ma_error_t *err);

/*
 * Builds the JSON payload of message.  event_path is the query API's path
 * template, where "{producent}" and "{kundhandelseId}" are replaced.
 * On success *json_out is owned by the caller (free(), as jansson
 * allocates it).  Errors: MA_ERR_INVALID (a required field is NULL),
 * MA_ERR_NOMEM.
 */
ma_status_t notif_payload_build(const notif_message_t *message,
                                const char *event_path, char **json_out,
                                ma_error_t *err);

/* CloudEvents "type" attribute of a notification kind. */
void notif_cloudevent_type(const char *kind, char *buf, size_t size);

/*
 * Hashes password the way mosquitto_passwd of Mosquitto 2.0 does:
 * "$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512, 64 bytes>".
 * salt_len bytes of salt (12 in Mosquitto) are taken from salt.
 * Errors: MA_ERR_TOO_LARGE (buf too small), MA_ERR_INTERNAL (OpenSSL).
 */
ma_status_t notif_password_hash(const char *password, const unsigned char *salt,
                                size_t salt_len, int iterations, char *buf,
                                size_t size, ma_error_t *err);

/*
 * Returns true when password matches hash, a "$7$" line field as written
 * by notif_password_hash() or mosquitto_passwd.
 */
bool notif_password_verify(const char *password, const char *hash);

/* Metrics (notif_metrics.c).  Counters only grow. */
void notif_metrics_due(int64_t count);
void notif_metrics_published(bool retry);
void notif_metrics_acknowledged(double lag_seconds);
void notif_metrics_rejected(void);
void notif_metrics_set_state(bool database_up, bool mqtt_up);

/*
 * Serves /metrics, /health and /ready on address:port (IPv4).  Errors:
 * MA_ERR_IO (address invalid or the port is taken).
 */
ma_status_t notif_metrics_start(const char *address, int port, ma_error_t *err);
void notif_metrics_stop(void);

#endif /* NOTIFIER_H */
