/*
 * producer.h - the producer library: validates kundhändelser, encodes them
 * as Avro and publishes them to the producer's Kafka topic.
 *
 * A case system can link this library directly; the ma-produce command and
 * the HTTP gateway are built on it.  One ma_event_producer_t publishes for one
 * producer of the catalog (one event-type prefix such as "SKV"):
 *
 *   topic  <topic prefix>kundhandelser.<producer prefix in lower case>,
 *          for example "ma.kundhandelser.skv";
 *   key    ma_pseudonym_event_key(): the HMAC pseudonym of part.kund (or of
 *          part.arende), never an identity number;
 *   value  Avro single-object encoding (ma_codec_encode());
 *   headers CloudEvents 1.0 in Kafka binary mode: ce_specversion "1.0",
 *          ce_id "<producer prefix>:<kundhandelseId>:<sekvens>",
 *          ce_source "urn:minaarenden:producent:<organisationsnummer>",
 *          ce_type "se.minaarenden.kundhandelse.v1" or
 *          "se.minaarenden.aterkallelse.v1", ce_time (tidpunkt, RFC 3339),
 *          ce_subject (kundhandelseTyp, events only) and
 *          content-type "application/avro".
 *
 * librdkafka runs with enable.idempotence=true and acks=all, so an event
 * counts as published only when every in-sync replica has it, and retries
 * inside librdkafka neither duplicate nor reorder records of a partition.
 * Publishing is asynchronous: ma_producer_publish() queues the record and
 * the delivery callback later reports, once per queued record, whether the
 * broker acknowledged it.
 *
 * Threads: ma_producer_publish(), ma_producer_poll(), ma_producer_flush()
 * and ma_producer_stats() may be called from several threads at once
 * (librdkafka's producer is thread-safe and the counters are atomic).  The
 * delivery and log callbacks run on whichever thread is inside
 * ma_producer_poll(), ma_producer_flush() or ma_producer_free(), or inside
 * ma_producer_publish() while it waits for a full queue.  When several
 * threads do so at once, callbacks run concurrently and must be
 * thread-safe.  Callbacks must not call ma_producer_free().  One thread
 * calls ma_producer_free(), after all others stopped using the producer.
 * ma_producer_check_topic() also serves callbacks.
 */
#ifndef MA_PRODUCER_H
#define MA_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ma/catalog.h"
#include "ma/codec.h"
#include "ma/event.h"
#include "ma/status.h"
#include "ma/validate.h"

/* Outcome of one published record, passed to the delivery callback. */
typedef struct ma_delivery {
        void *tag; /* the tag given to ma_producer_publish() */
        /* MA_OK: acknowledged.  MA_ERR_TIMEOUT: not acknowledged within the
         * delivery timeout, typically because Kafka is unreachable.
         * MA_ERR_KAFKA: the broker rejected the record (kafka_err says
         * why), or it was purged by ma_producer_free(). */
        ma_status_t status;
        int kafka_err;       /* rd_kafka_resp_err_t, 0 on success */
        const char *message; /* why it failed, "" on success */
        const char *ce_id;   /* the record's ce_id header */
        const char *topic;
        int32_t partition; /* -1 when not known */
        int64_t offset;    /* -1 when not known */
} ma_delivery_t;

typedef void ma_producer_delivery_cb(const ma_delivery_t *delivery,
                                     void *opaque);

/*
 * Receives librdkafka's log lines (level as syslog: 0 emergency to
 * 7 debug) and the broker errors it reports outside any one record.
 */
typedef void ma_producer_log_cb(int level, const char *facility,
                                const char *message, void *opaque);

typedef struct ma_producer_config {
        /* Kafka bootstrap servers, "host:port[,host:port]".  Required
         * unless dry_run. */
        const char *bootstrap_servers;
        /* Prepended to every topic name; default "ma.". */
        const char *topic_prefix;
        /* The producer's event-type prefix in the catalog, e.g. "SKV". */
        const char *producer_prefix;
        /* Secret of the customer pseudonyms, at least 16 bytes.  Copied. */
        const void *pseudonym_secret;
        size_t pseudonym_secret_len;
        /* Borrowed; both must outlive the producer. */
        const ma_catalog_t *catalog;
        const ma_codec_t *codec;
        /* NULL: ma_validate_limits_default().  Copied. */
        const ma_validate_limits_t *limits;
        /* librdkafka properties as "name=value", applied last, so they
         * override the settings above (except the delivery callback). */
        const char *const *rdkafka_overrides;
        size_t rdkafka_override_count;
        /* How long librdkafka keeps trying to deliver a record before
         * reporting it failed (message.timeout.ms), in milliseconds;
         * default 30000. */
        int delivery_timeout_ms;
        /* compression.codec: "none", "lz4", "zstd", ...; default "lz4". */
        const char *compression;
        /* Validate, encode and key every event but send nothing: no Kafka
         * connection is made and the delivery callback reports success
         * from within ma_producer_publish(). */
        bool dry_run;
        ma_producer_delivery_cb *on_delivery; /* may be NULL */
        ma_producer_log_cb *on_log;           /* NULL: logs are dropped */
        void *opaque;                         /* passed to both callbacks */
} ma_producer_config_t;

/* Sets every field of config to its default (NULL, 0 or false). */
void ma_producer_config_init(ma_producer_config_t *config);

/*
 * The publishing client.  Named ma_event_producer_t because catalog.h's
 * ma_producer_t is a producer entry of the catalog.
 */
typedef struct ma_event_producer ma_event_producer_t;

/*
 * Creates a producer.  Checks that producer_prefix names a producer in the
 * catalog and that every librdkafka property is accepted; connects lazily.
 * On success *producer_out is owned by the caller (ma_producer_free()).
 * Errors: MA_ERR_CONFIG (a setting is missing or invalid, err->field names
 * it), MA_ERR_NOT_FOUND (prefix not in the catalog), MA_ERR_KAFKA (librdkafka
 * could not create the client), MA_ERR_NOMEM.
 */
ma_status_t ma_producer_new(const ma_producer_config_t *config,
                            ma_event_producer_t **producer_out,
                            ma_error_t *err);

/*
 * Purges records not yet delivered (each is reported failed to the delivery
 * callback) and frees the producer.  Call ma_producer_flush() first to wait
 * for them instead.  producer may be NULL.
 */
void ma_producer_free(ma_event_producer_t *producer);

/*
 * Validates event (ma_event_validate() with the catalog, and that its
 * producent_organisationsnummer is this producer's), encodes it, computes
 * its key and queues it for the topic.  tag is handed back in the delivery
 * report.  The event is not retained.  When librdkafka's queue is full this
 * serves callbacks and retries for at most the delivery timeout.
 * Returns MA_OK when the record is queued: the delivery callback reports
 * exactly once for it later.  Otherwise nothing is queued, no delivery is
 * reported, and the error is one of MA_ERR_INVALID or MA_ERR_PARSE (the
 * event breaks a rule; err->field names the field), MA_ERR_TIMEOUT (the
 * queue stayed full), MA_ERR_KAFKA (librdkafka rejected the record or has a
 * fatal error), MA_ERR_NOMEM.
 */
ma_status_t ma_producer_publish(ma_event_producer_t *producer,
                                const ma_event_t *event, void *tag,
                                ma_error_t *err);

/*
 * Serves delivery reports and logs for at most timeout_ms (0: only what is
 * ready).  Returns the number of events served.
 */
int ma_producer_poll(ma_event_producer_t *producer, int timeout_ms);

/*
 * Waits up to timeout_ms for every queued record to be reported.
 * Errors: MA_ERR_TIMEOUT with the number still outstanding in the message.
 */
ma_status_t ma_producer_flush(ma_event_producer_t *producer, int timeout_ms,
                              ma_error_t *err);

/*
 * Requests the metadata of the producer's topic from Kafka, waiting at most
 * timeout_ms.  A topic error is retried until then, because a topic created
 * a moment ago may not be visible yet.  The CLI calls it before reading
 * input, so a missing topic or an unreachable Kafka stops the run early.
 * Producers never create topics.  A dry run returns MA_OK at once. Errors:
 * MA_ERR_NOT_FOUND (the topic does not exist), MA_ERR_KAFKA (Kafka did not
 * answer; the message names the bootstrap servers and the last error librdkafka
 * reported).
 */
ma_status_t ma_producer_check_topic(ma_event_producer_t *producer,
                                    int timeout_ms, ma_error_t *err);

typedef struct ma_producer_stats {
        uint64_t queued;      /* records accepted by ma_producer_publish() */
        uint64_t published;   /* acknowledged by the broker (acks=all) */
        uint64_t failed;      /* reported failed */
        uint64_t bytes;       /* value bytes of acknowledged records */
        uint64_t outstanding; /* queued - published - failed */
} ma_producer_stats_t;

void ma_producer_stats(const ma_event_producer_t *producer,
                       ma_producer_stats_t *stats);

/* The topic this producer writes, e.g. "ma.kundhandelser.skv". */
const char *ma_producer_topic(const ma_event_producer_t *producer);

/*
 * Writes the topic name for topic_prefix and producer_prefix into buf.
 * Returns the length it needs (as snprintf).
 */
size_t ma_producer_topic_name(const char *topic_prefix,
                              const char *producer_prefix, char *buf,
                              size_t size);

#define MA_PRODUCER_TOPIC_PREFIX_DEFAULT        "ma."
#define MA_PRODUCER_DELIVERY_TIMEOUT_DEFAULT_MS 30000
#define MA_CE_TYPE_KUNDHANDELSE                 "se.minaarenden.kundhandelse.v1"
#define MA_CE_TYPE_ATERKALLELSE                 "se.minaarenden.aterkallelse.v1"
#define MA_CE_SOURCE_PREFIX                     "urn:minaarenden:producent:"

#endif /* MA_PRODUCER_H */
