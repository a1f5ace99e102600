/*
 * producer.c - the producer library: validate, encode, key and publish
 * kundhändelser with librdkafka.  The contract is in ma/producer.h.
 */
#include "ma/producer.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/pseudonym.h"

/* Maximum ce_id length: prefix, a kundhandelseId of 255 code points of up to
 * four bytes each, and a 20-digit sekvens. */
#define MA_CE_ID_MAX 1100
/* Kafka's own limit on topic names. */
#define MA_TOPIC_NAME_MAX 249
/* How long a publish waits per round for room in a full queue. */
#define MA_QUEUE_FULL_POLL_MS 100

struct ma_event_producer {
        rd_kafka_t *rk; /* NULL in a dry run */
        char topic[MA_TOPIC_NAME_MAX + 1];
        char prefix[32];
        char ce_source[64];
        char bootstrap_servers[256];     /* for messages */
        const char *organisationsnummer; /* owned by the catalog */
        const ma_catalog_t *catalog;
        const ma_codec_t *codec;
        ma_validate_limits_t limits;
        ma_pseudonym_key_t *key;
        int delivery_timeout_ms;
        bool dry_run;
        ma_producer_delivery_cb *on_delivery;
        ma_producer_log_cb *on_log;
        void *opaque;

        atomic_uint_fast64_t queued;
        atomic_uint_fast64_t published;
        atomic_uint_fast64_t failed;
        atomic_uint_fast64_t bytes;

        /* The last error librdkafka reported outside a record (for example
         * every broker down), added to delivery failure messages. */
        pthread_mutex_t last_error_lock;
        char last_error[256];
};

void ma_producer_config_init(ma_producer_config_t *config)
{
        memset(config, 0, sizeof(*config));
}

size_t ma_producer_topic_name(const char *topic_prefix,
                              const char *producer_prefix, char *buf,
                              size_t size)
{
        char lower[32];
        size_t i;

        for (i = 0; producer_prefix[i] != '\0' && i + 1 < sizeof(lower); i++)
                lower[i] = (char)tolower((unsigned char)producer_prefix[i]);
        lower[i] = '\0';
        int n = snprintf(buf, size, "%skundhandelser.%s",
                         topic_prefix != NULL ? topic_prefix : "", lower);
        return n < 0 ? 0 : (size_t)n;
}

const char *ma_producer_topic(const ma_event_producer_t *producer)
{
        return producer->topic;
}

/* ------------------------------------------------------------------------
 * librdkafka callbacks: they run on the thread inside rd_kafka_poll() or
 * rd_kafka_flush(), that is inside ma_producer_poll/flush/publish/free.
 */

static void ma_producer_last_error_get(ma_event_producer_t *producer, char *buf,
                                       size_t size)
{
        pthread_mutex_lock(&producer->last_error_lock);
        snprintf(buf, size, "%s", producer->last_error);
        pthread_mutex_unlock(&producer->last_error_lock);
}

static void ma_producer_on_error(rd_kafka_t *rk, int kafka_err,
                                 const char *reason, void *opaque)
{
        ma_event_producer_t *producer = opaque;

        pthread_mutex_lock(&producer->last_error_lock);
        snprintf(producer->last_error, sizeof(producer->last_error), "%s",
                 reason);
        pthread_mutex_unlock(&producer->last_error_lock);
        /* librdkafka's log already has the transport errors; pass on only
         * what it does not log itself. */
        if (producer->on_log != NULL &&
            (kafka_err == RD_KAFKA_RESP_ERR__FATAL ||
             kafka_err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN))
                producer->on_log(3, rd_kafka_err2name(kafka_err), reason,
                                 producer->opaque);
}

static void ma_producer_on_log(const rd_kafka_t *rk, int level,
                               const char *facility, const char *message)
{
        ma_event_producer_t *producer = rd_kafka_opaque(rk);

        if (producer != NULL && producer->on_log != NULL)
                producer->on_log(level, facility, message, producer->opaque);
}

/* Copies header name of rkmessage into buf as a C string ("" if absent). */
static void ma_producer_header_copy(const rd_kafka_message_t *rkmessage,
                                    const char *name, char *buf, size_t size)
{
        rd_kafka_headers_t *headers = NULL;
        const void *value = NULL;
        size_t len = 0;

        buf[0] = '\0';
        if (rd_kafka_message_headers(rkmessage, &headers) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
                return;
        if (rd_kafka_header_get_last(headers, name, &value, &len) !=
                    RD_KAFKA_RESP_ERR_NO_ERROR ||
            value == NULL)
                return;
        if (len >= size)
                len = size - 1;
        memcpy(buf, value, len);
        buf[len] = '\0';
}

static void ma_producer_on_delivery(rd_kafka_t *rk,
                                    const rd_kafka_message_t *rkmessage,
                                    void *opaque)
{
        ma_event_producer_t *producer = opaque;
        char ce_id[MA_CE_ID_MAX];
        char message[1024] = "";
        ma_delivery_t delivery = {
                .tag = rkmessage->_private,
                .status = MA_OK,
                .kafka_err = rkmessage->err,
                .message = message,
                .ce_id = ce_id,
                .topic = producer->topic,
                .partition = rkmessage->partition,
                .offset = rkmessage->offset,
        };

        if (rkmessage->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
                atomic_fetch_add(&producer->published, 1);
                atomic_fetch_add(&producer->bytes, rkmessage->len);
        } else {
                char last_error[256];

                atomic_fetch_add(&producer->failed, 1);
                delivery.status =
                        rkmessage->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT
                                ? MA_ERR_TIMEOUT
                                : MA_ERR_KAFKA;
                ma_producer_last_error_get(producer, last_error,
                                           sizeof(last_error));
                snprintf(message, sizeof(message),
                         "could not deliver event to Kafka topic \"%s\": "
                         "%s%s%s%s",
                         producer->topic, rd_kafka_err2str(rkmessage->err),
                         last_error[0] != '\0' ? " (last Kafka error: " : "",
                         last_error, last_error[0] != '\0' ? ")" : "");
        }
        if (producer->on_delivery == NULL)
                return;
        ma_producer_header_copy(rkmessage, "ce_id", ce_id, sizeof(ce_id));
        producer->on_delivery(&delivery, producer->opaque);
}

/* ------------------------------------------------------------------------
 * Creation
 */

static ma_status_t ma_producer_conf_set(rd_kafka_conf_t *conf, const char *name,
                                        const char *value, ma_error_t *err)
{
        char errstr[512];

        if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) ==
            RD_KAFKA_CONF_OK)
                return MA_OK;
        return ma_error_set(err, MA_ERR_CONFIG, name,
                            "invalid librdkafka property \"%s\": %s", name,
                            errstr);
}

/* Applies one "name=value" override. */
static ma_status_t ma_producer_conf_override(rd_kafka_conf_t *conf,
                                             const char *pair, ma_error_t *err)
{
        const char *eq = strchr(pair, '=');
        char name[128];

        if (eq == NULL || eq == pair || (size_t)(eq - pair) >= sizeof(name))
                return ma_error_set(
                        err, MA_ERR_CONFIG, "rdkafka_overrides",
                        "invalid librdkafka property \"%.100s\": expected "
                        "name=value, for example linger.ms=20",
                        pair);
        memcpy(name, pair, (size_t)(eq - pair));
        name[eq - pair] = '\0';
        return ma_producer_conf_set(conf, name, eq + 1, err);
}

static ma_status_t ma_producer_conf_build(const ma_producer_config_t *config,
                                          ma_event_producer_t *producer,
                                          rd_kafka_conf_t *conf,
                                          ma_error_t *err)
{
        char timeout[24];
        char client_id[64];
        ma_status_t status;

        snprintf(timeout, sizeof(timeout), "%d", producer->delivery_timeout_ms);
        snprintf(client_id, sizeof(client_id), "ma-producer-%s",
                 producer->prefix);
        const char *settings[][2] = {
                {"bootstrap.servers", config->bootstrap_servers},
                {"client.id", client_id},
                {"enable.idempotence", "true"},
                {"acks", "all"},
                {"linger.ms", "5"},
                {"compression.codec",
                 config->compression != NULL ? config->compression : "lz4"},
                {"message.timeout.ms", timeout},
                {"log.queue", "true"},
        };
        for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
                status = ma_producer_conf_set(conf, settings[i][0],
                                              settings[i][1], err);
                if (status != MA_OK)
                        return status;
        }
        for (size_t i = 0; i < config->rdkafka_override_count; i++) {
                status = ma_producer_conf_override(
                        conf, config->rdkafka_overrides[i], err);
                if (status != MA_OK)
                        return status;
        }
        rd_kafka_conf_set_opaque(conf, producer);
        rd_kafka_conf_set_dr_msg_cb(conf, ma_producer_on_delivery);
        rd_kafka_conf_set_error_cb(conf, ma_producer_on_error);
        rd_kafka_conf_set_log_cb(conf, ma_producer_on_log);
        return MA_OK;
}

static ma_status_t ma_producer_kafka_open(const ma_producer_config_t *config,
                                          ma_event_producer_t *producer,
                                          ma_error_t *err)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512];
        ma_status_t status;

        if (conf == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory creating Kafka settings");
        status = ma_producer_conf_build(config, producer, conf, err);
        if (status != MA_OK) {
                rd_kafka_conf_destroy(conf);
                return status;
        }
        /* On success rd_kafka_new() owns conf. */
        producer->rk =
                rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (producer->rk == NULL) {
                rd_kafka_conf_destroy(conf);
                return ma_error_set(err, MA_ERR_KAFKA, NULL,
                                    "could not create Kafka producer: %s",
                                    errstr);
        }
        rd_kafka_set_log_queue(producer->rk, NULL);
        return MA_OK;
}

/* Kafka topic names allow ASCII letters, digits, '.', '_' and '-'. */
static bool ma_producer_topic_valid(const char *topic)
{
        for (const char *c = topic; *c != '\0'; c++) {
                if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' &&
                    *c != '-')
                        return false;
        }
        return true;
}

static ma_status_t ma_producer_config_check(const ma_producer_config_t *config,
                                            ma_error_t *err)
{
        if (config->catalog == NULL)
                return ma_error_set(err, MA_ERR_CONFIG, "catalog",
                                    "missing event type catalog");
        if (config->codec == NULL)
                return ma_error_set(err, MA_ERR_CONFIG, "codec",
                                    "missing Avro codec");
        if (config->producer_prefix == NULL ||
            config->producer_prefix[0] == '\0')
                return ma_error_set(err, MA_ERR_CONFIG, "producer_prefix",
                                    "missing producer prefix: set the "
                                    "event-type prefix of a catalog "
                                    "producer, for example SKV");
        if (!config->dry_run && (config->bootstrap_servers == NULL ||
                                 config->bootstrap_servers[0] == '\0'))
                return ma_error_set(err, MA_ERR_CONFIG, "bootstrap_servers",
                                    "missing Kafka bootstrap servers: set "
                                    "host:port[,host:port]");
        if (config->delivery_timeout_ms < 0)
                return ma_error_set(err, MA_ERR_CONFIG, "delivery_timeout_ms",
                                    "invalid delivery timeout %d ms: must be "
                                    "positive (0 selects %d ms)",
                                    config->delivery_timeout_ms,
                                    MA_PRODUCER_DELIVERY_TIMEOUT_DEFAULT_MS);
        return MA_OK;
}

/* Fills the fields of producer that come from config and the catalog. */
static ma_status_t ma_producer_setup(const ma_producer_config_t *config,
                                     ma_event_producer_t *producer,
                                     ma_error_t *err)
{
        const char *topic_prefix = config->topic_prefix != NULL
                                           ? config->topic_prefix
                                           : MA_PRODUCER_TOPIC_PREFIX_DEFAULT;
        const ma_producer_t *entry = ma_catalog_find_prefix(
                config->catalog, config->producer_prefix);

        if (entry == NULL)
                return ma_error_set(err, MA_ERR_NOT_FOUND, "producer_prefix",
                                    "producer prefix \"%.31s\" not found in "
                                    "the catalog: use the prefix of a "
                                    "producer listed there",
                                    config->producer_prefix);
        snprintf(producer->prefix, sizeof(producer->prefix), "%s",
                 entry->prefix);
        producer->organisationsnummer = entry->organisationsnummer;
        snprintf(producer->ce_source, sizeof(producer->ce_source), "%s%s",
                 MA_CE_SOURCE_PREFIX, entry->organisationsnummer);

        size_t len = ma_producer_topic_name(topic_prefix, entry->prefix,
                                            producer->topic,
                                            sizeof(producer->topic));
        if (len >= sizeof(producer->topic) ||
            !ma_producer_topic_valid(producer->topic))
                return ma_error_set(err, MA_ERR_CONFIG, "topic_prefix",
                                    "invalid topic prefix \"%.100s\": the "
                                    "topic name must be at most %d ASCII "
                                    "letters, digits, '.', '_' or '-'",
                                    topic_prefix, MA_TOPIC_NAME_MAX);

        snprintf(producer->bootstrap_servers,
                 sizeof(producer->bootstrap_servers), "%s",
                 config->bootstrap_servers != NULL ? config->bootstrap_servers
                                                   : "");
        producer->catalog = config->catalog;
        producer->codec = config->codec;
        if (config->limits != NULL)
                producer->limits = *config->limits;
        else
                ma_validate_limits_default(&producer->limits);
        producer->delivery_timeout_ms =
                config->delivery_timeout_ms > 0
                        ? config->delivery_timeout_ms
                        : MA_PRODUCER_DELIVERY_TIMEOUT_DEFAULT_MS;
        producer->dry_run = config->dry_run;
        producer->on_delivery = config->on_delivery;
        producer->on_log = config->on_log;
        producer->opaque = config->opaque;
        return ma_pseudonym_key_new(config->pseudonym_secret,
                                    config->pseudonym_secret_len,
                                    &producer->key, err);
}

ma_status_t ma_producer_new(const ma_producer_config_t *config,
                            ma_event_producer_t **producer_out, ma_error_t *err)
{
        ma_event_producer_t *producer;
        ma_status_t status;

        *producer_out = NULL;
        status = ma_producer_config_check(config, err);
        if (status != MA_OK)
                return status;
        if (config->pseudonym_secret == NULL)
                return ma_error_set(err, MA_ERR_CONFIG, "pseudonym_secret",
                                    "missing pseudonym secret: set at least "
                                    "16 bytes");
        producer = ma_calloc(1, sizeof(*producer));
        if (producer == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "out of memory creating producer");
        pthread_mutex_init(&producer->last_error_lock, NULL);
        status = ma_producer_setup(config, producer, err);
        if (status == MA_OK && !producer->dry_run)
                status = ma_producer_kafka_open(config, producer, err);
        if (status != MA_OK) {
                ma_producer_free(producer);
                return status;
        }
        *producer_out = producer;
        return MA_OK;
}

void ma_producer_free(ma_event_producer_t *producer)
{
        if (producer == NULL)
                return;
        if (producer->rk != NULL) {
                /* Purged records are reported failed by the flush. */
                rd_kafka_purge(producer->rk, RD_KAFKA_PURGE_F_QUEUE |
                                                     RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_flush(producer->rk, 1000);
                rd_kafka_destroy(producer->rk);
        }
        ma_pseudonym_key_free(producer->key);
        pthread_mutex_destroy(&producer->last_error_lock);
        ma_free(producer);
}

/* ------------------------------------------------------------------------
 * Publishing
 */

/* The record's parts other than the value. */
typedef struct ma_record_meta {
        char key[MA_PSEUDONYM_HEX_LEN + 1];
        char ce_id[MA_CE_ID_MAX];
        char ce_time[40];
        const char *ce_type;
        const char *ce_subject; /* NULL for a retraction */
} ma_record_meta_t;

static ma_status_t ma_producer_check(ma_event_producer_t *producer,
                                     const ma_event_t *event, ma_error_t *err)
{
        ma_status_t status = ma_event_validate(
                event, producer->catalog, &producer->limits, ma_now_ms(), err);

        if (status != MA_OK)
                return status;
        /* Another producer's event would land on this producer's topic. */
        if (strcmp(event->producent_organisationsnummer,
                   producer->organisationsnummer) != 0)
                return ma_error_set(
                        err, MA_ERR_INVALID, "producentOrganisationsnummer",
                        "invalid producentOrganisationsnummer \"%.12s\": "
                        "this producer publishes only for %s (prefix %s)",
                        event->producent_organisationsnummer,
                        producer->organisationsnummer, producer->prefix);
        return MA_OK;
}

/*
 * Writes prefix ":" id ":" sekvens (decimal) into out, as snprintf("%s:%s:
 * %lld") would, without its per-call cost.  False when it does not fit.
 */
static bool ma_producer_ce_id(const char *prefix, const char *id,
                              int64_t sekvens, char out[MA_CE_ID_MAX])
{
        size_t prefix_len = strlen(prefix);
        size_t id_len = strlen(id);
        char digits[24];
        size_t n = sizeof(digits);
        /* Negated in unsigned arithmetic so INT64_MIN works too. */
        uint64_t magnitude =
                sekvens < 0 ? 0 - (uint64_t)sekvens : (uint64_t)sekvens;

        do {
                digits[--n] = (char)('0' + magnitude % 10);
                magnitude /= 10;
        } while (magnitude > 0);
        if (sekvens < 0)
                digits[--n] = '-';
        size_t total = prefix_len + 1 + id_len + 1 + (sizeof(digits) - n);
        if (total >= MA_CE_ID_MAX)
                return false;
        memcpy(out, prefix, prefix_len);
        out[prefix_len] = ':';
        memcpy(out + prefix_len + 1, id, id_len);
        out[prefix_len + 1 + id_len] = ':';
        memcpy(out + prefix_len + 2 + id_len, digits + n, sizeof(digits) - n);
        out[total] = '\0';
        return true;
}

static ma_status_t ma_producer_meta(ma_event_producer_t *producer,
                                    const ma_event_t *event,
                                    ma_record_meta_t *meta, ma_error_t *err)
{
        ma_status_t status =
                ma_pseudonym_event_key(producer->key, event, meta->key);

        if (status != MA_OK)
                return ma_error_set(err, status, "part",
                                    "could not compute the record key: the "
                                    "event needs part.kund or part.arende");
        if (!ma_producer_ce_id(producer->prefix, event->kundhandelse_id,
                               event->sekvens, meta->ce_id))
                return ma_error_set(err, MA_ERR_INVALID, "kundhandelseId",
                                    "kundhandelseId is too long: at most "
                                    "255 characters");
        ma_instant_format(&event->tidpunkt, meta->ce_time,
                          sizeof(meta->ce_time));
        if (event->kind == MA_EVENT_RETRACT) {
                meta->ce_type = MA_CE_TYPE_ATERKALLELSE;
                meta->ce_subject = NULL;
        } else {
                meta->ce_type = MA_CE_TYPE_KUNDHANDELSE;
                meta->ce_subject = event->kundhandelse_typ;
        }
        return MA_OK;
}

static rd_kafka_resp_err_t ma_producer_send(ma_event_producer_t *producer,
                                            const ma_buf_t *value,
                                            const ma_record_meta_t *meta,
                                            void *tag)
{
        /* ce_subject is last so a retraction can leave it out. */
        rd_kafka_vu_t vus[] = {
                {.vtype = RD_KAFKA_VTYPE_TOPIC, .u.cstr = producer->topic},
                {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
                {.vtype = RD_KAFKA_VTYPE_VALUE,
                 .u.mem = {value->data, value->len}},
                {.vtype = RD_KAFKA_VTYPE_KEY,
                 .u.mem = {(void *)meta->key, MA_PSEUDONYM_HEX_LEN}},
                {.vtype = RD_KAFKA_VTYPE_OPAQUE, .u.ptr = tag},
                {.vtype = RD_KAFKA_VTYPE_HEADER,
                 .u.header = {"ce_specversion", "1.0", -1}},
                {.vtype = RD_KAFKA_VTYPE_HEADER,
                 .u.header = {"ce_id", meta->ce_id, -1}},
                {.vtype = RD_KAFKA_VTYPE_HEADER,
                 .u.header = {"ce_source", producer->ce_source, -1}},
                {.vtype = RD_KAFKA_VTYPE_HEADER,
                 .u.header = {"ce_type", meta->ce_type, -1}},
                {.vtype = RD_KAFKA_VTYPE_HEADER,
                 .u.header = {"ce_time", meta->ce_time, -1}},
                {.vtype = RD_KAFKA_VTYPE_HEADER,
                 .u.header = {"content-type", MA_CODEC_CONTENT_TYPE, -1}},
                {.vtype = RD_KAFKA_VTYPE_HEADER,
                 .u.header = {"ce_subject", meta->ce_subject, -1}},
        };
        size_t count = sizeof(vus) / sizeof(vus[0]);
        rd_kafka_error_t *error;
        rd_kafka_resp_err_t code;

        if (meta->ce_subject == NULL)
                count--;
        error = rd_kafka_produceva(producer->rk, vus, count);
        if (error == NULL)
                return RD_KAFKA_RESP_ERR_NO_ERROR;
        code = rd_kafka_error_code(error);
        rd_kafka_error_destroy(error);
        return code;
}

/* Queues the record, serving callbacks while librdkafka's queue is full. */
static ma_status_t ma_producer_enqueue(ma_event_producer_t *producer,
                                       const ma_buf_t *value,
                                       const ma_record_meta_t *meta, void *tag,
                                       ma_error_t *err)
{
        int64_t deadline = ma_now_ms() + producer->delivery_timeout_ms;
        rd_kafka_resp_err_t code;

        for (;;) {
                code = ma_producer_send(producer, value, meta, tag);
                if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                if (ma_now_ms() >= deadline)
                        return ma_error_set(
                                err, MA_ERR_TIMEOUT, NULL,
                                "could not queue event for Kafka topic "
                                "\"%s\": the send queue stayed full for "
                                "%d ms; check that Kafka is reachable",
                                producer->topic, producer->delivery_timeout_ms);
                rd_kafka_poll(producer->rk, MA_QUEUE_FULL_POLL_MS);
        }
        if (code == RD_KAFKA_RESP_ERR_NO_ERROR)
                return MA_OK;

        ma_status_t status =
                ma_error_set(err, MA_ERR_KAFKA, NULL,
                             "could not queue event for Kafka topic \"%s\": %s",
                             producer->topic, rd_kafka_err2str(code));
        if (err != NULL)
                err->cause = code;
        return status;
}

/* A dry run reports success at once, as the header promises. */
static void ma_producer_dry_deliver(ma_event_producer_t *producer,
                                    const ma_buf_t *value,
                                    const ma_record_meta_t *meta, void *tag)
{
        ma_delivery_t delivery = {
                .tag = tag,
                .status = MA_OK,
                .message = "",
                .ce_id = meta->ce_id,
                .topic = producer->topic,
                .partition = -1,
                .offset = -1,
        };

        atomic_fetch_add(&producer->published, 1);
        atomic_fetch_add(&producer->bytes, value->len);
        if (producer->on_delivery != NULL)
                producer->on_delivery(&delivery, producer->opaque);
}

static ma_status_t ma_producer_fatal_check(ma_event_producer_t *producer,
                                           ma_error_t *err)
{
        char reason[256];
        rd_kafka_resp_err_t code;

        if (producer->rk == NULL)
                return MA_OK;
        code = rd_kafka_fatal_error(producer->rk, reason, sizeof(reason));
        if (code == RD_KAFKA_RESP_ERR_NO_ERROR)
                return MA_OK;
        ma_status_t status = ma_error_set(
                err, MA_ERR_KAFKA, NULL,
                "cannot publish: the Kafka producer has a fatal error: %s; "
                "restart the producer",
                reason);
        if (err != NULL)
                err->cause = code;
        return status;
}

ma_status_t ma_producer_publish(ma_event_producer_t *producer,
                                const ma_event_t *event, void *tag,
                                ma_error_t *err)
{
        ma_record_meta_t meta;
        ma_buf_t value = {0};
        ma_status_t status;

        status = ma_producer_fatal_check(producer, err);
        if (status == MA_OK)
                status = ma_producer_check(producer, event, err);
        if (status == MA_OK)
                status = ma_producer_meta(producer, event, &meta, err);
        if (status == MA_OK)
                status = ma_codec_encode(producer->codec, event, &value, err);
        if (status != MA_OK)
                goto done;

        atomic_fetch_add(&producer->queued, 1);
        if (producer->dry_run) {
                ma_producer_dry_deliver(producer, &value, &meta, tag);
                goto done;
        }
        status = ma_producer_enqueue(producer, &value, &meta, tag, err);
        if (status != MA_OK)
                atomic_fetch_sub(&producer->queued, 1);
done:
        ma_buf_free(&value);
        return status;
}

int ma_producer_poll(ma_event_producer_t *producer, int timeout_ms)
{
        if (producer->rk == NULL)
                return 0;
        return rd_kafka_poll(producer->rk, timeout_ms);
}

ma_status_t ma_producer_flush(ma_event_producer_t *producer, int timeout_ms,
                              ma_error_t *err)
{
        if (producer->rk == NULL)
                return MA_OK;
        if (rd_kafka_flush(producer->rk, timeout_ms) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
                return MA_OK;
        return ma_error_set(err, MA_ERR_TIMEOUT, NULL,
                            "timed out after %d ms waiting for Kafka to "
                            "acknowledge %d records of topic \"%s\"",
                            timeout_ms, rd_kafka_outq_len(producer->rk),
                            producer->topic);
}

void ma_producer_stats(const ma_event_producer_t *producer,
                       ma_producer_stats_t *stats)
{
        stats->queued = atomic_load(&producer->queued);
        stats->published = atomic_load(&producer->published);
        stats->failed = atomic_load(&producer->failed);
        stats->bytes = atomic_load(&producer->bytes);
        /* The three loads are not one snapshot: a record queued and
         * reported between them must not make the difference negative. */
        uint64_t done = stats->published + stats->failed;
        stats->outstanding = done < stats->queued ? stats->queued - done : 0;
}

/* Time between metadata requests while a topic is not (yet) available. */
#define MA_TOPIC_CHECK_RETRY_MS 250

static ma_status_t ma_producer_unreachable(ma_event_producer_t *producer,
                                           rd_kafka_resp_err_t code,
                                           int timeout_ms, ma_error_t *err)
{
        char last_error[256];

        rd_kafka_poll(producer->rk, 0); /* serves error_cb */
        ma_producer_last_error_get(producer, last_error, sizeof(last_error));
        ma_status_t status = ma_error_set(
                err, MA_ERR_KAFKA, NULL,
                "could not reach Kafka at %s within %d ms: %s%s%s%s; check "
                "that Kafka runs and --bootstrap-servers is right",
                producer->bootstrap_servers, timeout_ms, rd_kafka_err2str(code),
                last_error[0] != '\0' ? " (last Kafka error: " : "", last_error,
                last_error[0] != '\0' ? ")" : "");
        if (err != NULL)
                err->cause = code;
        return status;
}

/* The topic's own error in metadata, or UNKNOWN_TOPIC_OR_PART if absent. */
static rd_kafka_resp_err_t
ma_producer_topic_error(const struct rd_kafka_metadata *metadata)
{
        if (metadata->topic_cnt != 1)
                return RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        return metadata->topics[0].err;
}

/*
 * A topic created a moment ago may not be in every broker's metadata yet,
 * and a new partition may have no leader yet, so a topic error is retried
 * until timeout_ms before it is reported.
 */
ma_status_t ma_producer_check_topic(ma_event_producer_t *producer,
                                    int timeout_ms, ma_error_t *err)
{
        const struct rd_kafka_metadata *metadata = NULL;
        int64_t deadline = ma_now_ms() + timeout_ms;
        rd_kafka_topic_t *rkt;
        rd_kafka_resp_err_t code;

        if (producer->rk == NULL)
                return MA_OK;
        rkt = rd_kafka_topic_new(producer->rk, producer->topic, NULL);
        if (rkt == NULL)
                return ma_error_set(err, MA_ERR_KAFKA, NULL,
                                    "could not look up Kafka topic \"%s\": %s",
                                    producer->topic,
                                    rd_kafka_err2str(rd_kafka_last_error()));
        for (;;) {
                int64_t left = deadline - ma_now_ms();

                code = rd_kafka_metadata(producer->rk, 0, rkt, &metadata,
                                         (int)(left > 0 ? left : 1));
                if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
                        rd_kafka_topic_destroy(rkt);
                        return ma_producer_unreachable(producer, code,
                                                       timeout_ms, err);
                }
                code = ma_producer_topic_error(metadata);
                rd_kafka_metadata_destroy(metadata);
                if (code == RD_KAFKA_RESP_ERR_NO_ERROR ||
                    ma_now_ms() + MA_TOPIC_CHECK_RETRY_MS >= deadline)
                        break;
                rd_kafka_poll(producer->rk, MA_TOPIC_CHECK_RETRY_MS);
        }
        rd_kafka_topic_destroy(rkt);
        if (code == RD_KAFKA_RESP_ERR_NO_ERROR)
                return MA_OK;
        return ma_error_set(
                err,
                code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                        ? MA_ERR_NOT_FOUND
                        : MA_ERR_KAFKA,
                "topic",
                "Kafka topic \"%s\" is not available at %s after %d ms: %s; "
                "create it first (producers do not create topics)",
                producer->topic, producer->bootstrap_servers, timeout_ms,
                rd_kafka_err2str(code));
}
