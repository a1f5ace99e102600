/*
 * gateway.c - the HTTP server of ma-gateway (libmicrohttpd).
 *
 * Each connection has its own thread (MHD_USE_THREAD_PER_CONNECTION)
 * because a POST blocks until Kafka has acknowledged every event of the
 * request.  One ma_event_producer_t per catalog producer is created on the
 * first request for it.  A poll thread per producer serves its delivery
 * reports, and each report counts down the batch its request waits on.
 *
 * Request flow of POST /kundhandelser:
 *   headers: API key (401/403), Content-Type (415), Content-Length (413);
 *   body:    size limit (413), JSON array of 1..GW_BATCH_MAX objects (400);
 *   each event in order: parse (400), owner (403), validation (400);
 *   publish all, wait for every delivery report up to the ack timeout:
 *   201 when all were acknowledged, 503 otherwise.
 */
#include <errno.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "ma/alloc.h"
#include "ma/catalog.h"
#include "ma/codec.h"
#include "ma/datetime.h"
#include "ma/event.h"
#include "ma/input.h"
#include "ma/log.h"
#include "ma/producer.h"
#include "ma/validate.h"

#define GW_WITHHELD       "(identity number withheld)"
#define GW_VALUE_MAX      200 /* bytes of a value echoed in a 400 body */
#define GW_REQUEST_ID_MAX 64
#define GW_POLL_MS        100
#define GW_RETRY_AFTER_S  "5"

/* ------------------------------------------------------------------------
 * Server state
 */

/* Status codes counted in GET /metrics. */
static const unsigned int gw_metric_codes[] = {
        200, 201, 400, 401, 403, 404, 405, 413, 415, 500, 503,
};
#define GW_METRIC_CODE_COUNT                                                   \
        (sizeof(gw_metric_codes) / sizeof(gw_metric_codes[0]))

typedef struct gw_metrics {
        atomic_uint_fast64_t requests[GW_METRIC_CODE_COUNT + 1]; /* + other */
        atomic_uint_fast64_t events_accepted; /* acknowledged, responded 201 */
        atomic_uint_fast64_t
                events_failed; /* not acknowledged, responded 503 */
        atomic_uint_fast64_t
                events_rejected;        /* in requests responded 400/403 */
        atomic_uint_fast64_t published; /* every acknowledgement */
} gw_metrics_t;

/* A catalog producer and its Kafka client, created on first use. */
typedef struct gw_slot {
        const ma_producer_t *entry;
        ma_event_producer_t *producer;
        pthread_t poll_thread;
        bool polling;
} gw_slot_t;

struct gw_server {
        gw_config_t config;
        ma_catalog_t *catalog;
        ma_codec_t *codec;
        gw_keys_t *keys;
        rd_kafka_t *probe; /* metadata requests of GET /ready */
        struct MHD_Daemon *daemon;
        int port;

        pthread_mutex_t slots_lock;
        gw_slot_t *slots; /* one per catalog producer, same order */
        size_t slot_count;

        atomic_bool stopping; /* ends the poll threads */
        atomic_bool draining; /* shutdown began: send Connection: close */
        atomic_long in_flight;
        atomic_uint_fast64_t next_request;
        uint32_t instance; /* random, makes request ids unique per start */
        gw_metrics_t metrics;
};

/*
 * The delivery reports of one request.  refs counts the request and every
 * record not yet reported.  The last release frees the batch, so a request
 * that timed out can return while reports are still to come.
 */
typedef struct gw_batch {
        pthread_mutex_t lock;
        pthread_cond_t done;
        size_t pending;
        size_t acked;
        size_t failed;
        int refs;
        char first_error[512];
} gw_batch_t;

/* State of one HTTP request, kept in MHD's per-request pointer. */
typedef struct gw_request {
        char id[GW_REQUEST_ID_MAX + 1];
        int64_t started_ms;
        bool answered;
        unsigned int status;
        gw_key_identity_t identity;
        char *body;
        size_t len;
        size_t cap;
        bool too_large;
        size_t events; /* in the body, once parsed */
        size_t acked;  /* acknowledged by Kafka */
        char method[8];
        char path[128];     /* scrubbed of identity numbers */
        bool is_probe;      /* a GET of /health, /ready or /metrics */
        long problem_index; /* of a 400 or 403 for one event, else -1 */
        char problem_field[128];
} gw_request_t;

/* ------------------------------------------------------------------------
 * Identity numbers in echoed text
 */

static bool gw_is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/*
 * True when a run of n digits has the form of an organisationsnummer:
 * 10 digits with 2 or more as the third, or the same behind "16".  A
 * personnummer or samordningsnummer has a month digit of 0 or 1 there.
 */
static bool gw_is_organisation_number(const char *digits, size_t n)
{
        if (n == 10)
                return digits[2] >= '2';
        if (n == 12)
                return digits[0] == '1' && digits[1] == '6' && digits[4] >= '2';
        return false;
}

/*
 * Finds a possible identity number in text: a run of 10 or more digits,
 * with at most one '-' or '+' separator, that is not an organisationsnummer.
 * The check digit is not required, because a mistyped personnummer still
 * identifies a person.  Sets *start and *end to the run's bytes.
 */
static bool gw_find_identity(const char *text, size_t len, size_t *start,
                             size_t *end)
{
        size_t i = 0;

        while (i < len) {
                char digits[12];
                size_t n = 0, j = i, separators = 0;

                if (!gw_is_digit(text[i])) {
                        i++;
                        continue;
                }
                while (j < len && (gw_is_digit(text[j]) ||
                                   ((text[j] == '-' || text[j] == '+') &&
                                    separators == 0 && j + 1 < len &&
                                    gw_is_digit(text[j + 1])))) {
                        if (gw_is_digit(text[j])) {
                                if (n < sizeof(digits))
                                        digits[n] = text[j];
                                n++;
                        } else {
                                separators++;
                        }
                        j++;
                }
                if (n >= 10 && !gw_is_organisation_number(digits, n)) {
                        *start = i;
                        *end = j;
                        return true;
                }
                i = j;
        }
        return false;
}

/* Copies text into out with every identity number replaced. */
static void gw_scrub(const char *text, char *out, size_t size)
{
        size_t len = strlen(text), pos = 0, used = 0;
        size_t start, end;

        out[0] = '\0';
        while (pos < len && used + 1 < size) {
                size_t chunk;
                int n;

                if (gw_find_identity(text + pos, len - pos, &start, &end)) {
                        chunk = start;
                } else {
                        chunk = len - pos;
                        end = chunk;
                }
                n = snprintf(out + used, size - used, "%.*s%s", (int)chunk,
                             text + pos, chunk < len - pos ? GW_WITHHELD : "");
                if (n < 0 || (size_t)n >= size - used)
                        break;
                used += (size_t)n;
                pos += end;
        }
}

/* ------------------------------------------------------------------------
 * Responses
 */

static size_t gw_metric_index(unsigned int status)
{
        for (size_t i = 0; i < GW_METRIC_CODE_COUNT; i++) {
                if (gw_metric_codes[i] == status)
                        return i;
        }
        return GW_METRIC_CODE_COUNT;
}

static enum MHD_Result gw_queue(gw_server_t *server,
                                struct MHD_Connection *connection,
                                gw_request_t *request, unsigned int status,
                                const char *content_type, char *body,
                                const char *allow)
{
        struct MHD_Response *response;
        enum MHD_Result result;

        response = MHD_create_response_from_buffer(strlen(body), body,
                                                   MHD_RESPMEM_MUST_FREE);
        if (response == NULL) {
                free(body);
                return MHD_NO;
        }
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                content_type);
        MHD_add_response_header(response, "X-Request-Id", request->id);
        MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL,
                                "no-store");
        if (allow != NULL)
                MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow);
        if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
                MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER,
                                        GW_RETRY_AFTER_S);
        if (atomic_load(&server->draining))
                MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION,
                                        "close");
        result = MHD_queue_response(connection, status, response);
        MHD_destroy_response(response);
        request->answered = true;
        request->status = status;
        atomic_fetch_add(&server->metrics.requests[gw_metric_index(status)], 1);
        return result;
}

/* Queues a JSON body; takes ownership of object. */
static enum MHD_Result gw_queue_json(gw_server_t *server,
                                     struct MHD_Connection *connection,
                                     gw_request_t *request, unsigned int status,
                                     json_t *object, const char *allow)
{
        char *text =
                object ? json_dumps(object, JSON_COMPACT | JSON_PRESERVE_ORDER)
                       : NULL;

        json_decref(object);
        if (text == NULL)
                return MHD_NO;
        return gw_queue(server, connection, request, status,
                        "application/json; charset=utf-8", text, allow);
}

/* Queues {"message": ...}; message must not contain an identity number. */
static enum MHD_Result
gw_queue_message(gw_server_t *server, struct MHD_Connection *connection,
                 gw_request_t *request, unsigned int status, const char *allow,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static enum MHD_Result gw_queue_message(gw_server_t *server,
                                        struct MHD_Connection *connection,
                                        gw_request_t *request,
                                        unsigned int status, const char *allow,
                                        const char *fmt, ...)
{
        char message[768];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        return gw_queue_json(server, connection, request, status,
                             json_pack("{s:s}", "message", message), allow);
}

/* The problem with one event: its index, field, value and message. */
typedef struct gw_problem {
        unsigned int status; /* 400 or 403 */
        long index;          /* -1: the body as a whole */
        char field[128];
        json_t *value; /* owned; NULL for null */
        char message[600];
} gw_problem_t;

static enum MHD_Result gw_queue_problem(gw_server_t *server,
                                        struct MHD_Connection *connection,
                                        gw_request_t *request,
                                        gw_problem_t *problem)
{
        char message[sizeof(problem->message) + 64];
        json_t *body;

        gw_scrub(problem->message, message, sizeof(message));
        body = json_pack(
                "{s:s, s:o, s:o, s:o}", "message", message, "index",
                problem->index >= 0 ? json_integer(problem->index)
                                    : json_null(),
                "field",
                problem->field[0] ? json_string(problem->field) : json_null(),
                "value", problem->value ? problem->value : json_null());
        problem->value = NULL; /* json_pack "o" took the reference */
        request->problem_index = problem->index;
        snprintf(request->problem_field, sizeof(request->problem_field), "%s",
                 problem->field);
        return gw_queue_json(server, connection, request, problem->status, body,
                             NULL);
}

/* ------------------------------------------------------------------------
 * The value named by a problem
 */

/*
 * Returns the member of root at a path such as "part.kund.identifierare"
 * or "taggar[2]", or NULL.  The parser's field names are the JSON names.
 */
static json_t *gw_json_lookup(json_t *root, const char *path)
{
        json_t *node = root;
        char segment[64];
        const char *p = path;

        while (node != NULL && *p != '\0') {
                size_t n = strcspn(p, ".[");

                if (n > 0) {
                        if (n >= sizeof(segment))
                                return NULL;
                        memcpy(segment, p, n);
                        segment[n] = '\0';
                        node = json_object_get(node, segment);
                        p += n;
                }
                if (*p == '[') {
                        char *end;
                        long index = strtol(p + 1, &end, 10);

                        if (*end != ']' || index < 0)
                                return NULL;
                        node = json_array_get(node, (size_t)index);
                        p = end + 1;
                }
                if (*p == '.')
                        p++;
        }
        return node;
}

/* Cuts text to at most max bytes without splitting a UTF-8 sequence. */
static size_t gw_utf8_cut(const char *text, size_t len, size_t max)
{
        if (len <= max)
                return len;
        while (max > 0 && ((unsigned char)text[max] & 0xC0) == 0x80)
                max--;
        return max;
}

/*
 * Returns the value to echo for field of event: the JSON value itself for
 * scalars, else shortened text (compact JSON for objects and arrays).
 * Returns GW_WITHHELD instead for part and part.kund fields and for any
 * value that contains a possible identity number (gw_find_identity()).
 */
static json_t *gw_problem_value(json_t *event, const char *field)
{
        json_t *node;
        char *text;
        const char *shown;
        size_t len, start, end;
        json_t *value;

        if (field == NULL || field[0] == '\0')
                return NULL;
        /* "part" as a whole contains part.kund. */
        if (strcmp(field, "part") == 0 || strncmp(field, "part.kund", 9) == 0)
                return json_string(GW_WITHHELD);
        node = gw_json_lookup(event, field);
        if (node == NULL)
                return NULL;
        if (json_is_string(node)) {
                shown = json_string_value(node);
                len = json_string_length(node);
                text = NULL;
        } else {
                text = json_dumps(node, JSON_COMPACT | JSON_ENCODE_ANY);
                if (text == NULL)
                        return NULL;
                shown = text;
                len = strlen(text);
        }
        if (gw_find_identity(shown, len, &start, &end)) {
                value = json_string(GW_WITHHELD);
        } else if (!json_is_string(node) && len <= GW_VALUE_MAX &&
                   !json_is_object(node) && !json_is_array(node)) {
                value = json_incref(node);
        } else {
                size_t cut = gw_utf8_cut(shown, len, GW_VALUE_MAX);
                value = json_stringn_nocheck(shown, cut);
        }
        free(text);
        return value;
}

/* ------------------------------------------------------------------------
 * Producers and delivery reports
 */

static void gw_batch_release(gw_batch_t *batch)
{
        bool last;

        pthread_mutex_lock(&batch->lock);
        last = --batch->refs == 0;
        pthread_mutex_unlock(&batch->lock);
        if (last) {
                pthread_cond_destroy(&batch->done);
                pthread_mutex_destroy(&batch->lock);
                ma_free(batch);
        }
}

static gw_batch_t *gw_batch_new(void)
{
        gw_batch_t *batch = ma_calloc(1, sizeof(*batch));
        pthread_condattr_t attr;

        if (batch == NULL)
                return NULL;
        pthread_mutex_init(&batch->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&batch->done, &attr);
        pthread_condattr_destroy(&attr);
        batch->refs = 1;
        return batch;
}

/* Runs on a poll thread (or inside publish/flush/free). */
static void gw_on_delivery(const ma_delivery_t *delivery, void *opaque)
{
        gw_server_t *server = opaque;
        gw_batch_t *batch = delivery->tag;

        if (delivery->status == MA_OK)
                atomic_fetch_add(&server->metrics.published, 1);
        pthread_mutex_lock(&batch->lock);
        if (delivery->status == MA_OK) {
                batch->acked++;
        } else {
                batch->failed++;
                if (batch->first_error[0] == '\0')
                        snprintf(batch->first_error, sizeof(batch->first_error),
                                 "%s", delivery->message);
        }
        batch->pending--;
        if (batch->pending == 0)
                pthread_cond_broadcast(&batch->done);
        pthread_mutex_unlock(&batch->lock);
        gw_batch_release(batch);
}

static void gw_on_kafka_log(int level, const char *facility,
                            const char *message, void *opaque)
{
        /* librdkafka levels are syslog levels: 3 error, 4 warning. */
        ma_log_level_t mapped = level <= 4 ? MA_LOG_WARN : MA_LOG_DEBUG;

        MA_LOG_AT(mapped, "kafka log", MA_LOG_STR("facility", facility),
                  MA_LOG_STR("detail", message));
}

static void *gw_poll_main(void *arg)
{
        gw_server_t *server = ((void **)arg)[0];
        gw_slot_t *slot = ((void **)arg)[1];

        ma_free(arg);
        while (!atomic_load(&server->stopping))
                ma_producer_poll(slot->producer, GW_POLL_MS);
        return NULL;
}

/* Returns the slot of the producer with prefix, creating its client. */
static gw_slot_t *gw_slot_get(gw_server_t *server, const char *prefix,
                              ma_error_t *err)
{
        gw_slot_t *slot = NULL;
        ma_producer_config_t config;
        void **arg;

        pthread_mutex_lock(&server->slots_lock);
        for (size_t i = 0; i < server->slot_count; i++) {
                if (strcmp(server->slots[i].entry->prefix, prefix) == 0)
                        slot = &server->slots[i];
        }
        if (slot == NULL) {
                ma_error_set(err, MA_ERR_NOT_FOUND, "prefix",
                             "producer prefix \"%s\" is not in the catalog",
                             prefix);
                goto out;
        }
        if (slot->producer != NULL)
                goto out;
        ma_producer_config_init(&config);
        config.bootstrap_servers = server->config.bootstrap_servers;
        config.topic_prefix = server->config.topic_prefix;
        config.producer_prefix = prefix;
        config.pseudonym_secret = server->config.pseudonym_secret;
        config.pseudonym_secret_len = strlen(server->config.pseudonym_secret);
        config.catalog = server->catalog;
        config.codec = server->codec;
        /* librdkafka gives up on a record when the request stops waiting. */
        config.delivery_timeout_ms = server->config.ack_timeout_ms;
        config.on_delivery = gw_on_delivery;
        config.on_log = gw_on_kafka_log;
        config.opaque = server;
        if (ma_producer_new(&config, &slot->producer, err) != MA_OK) {
                slot->producer = NULL;
                slot = NULL;
                goto out;
        }
        arg = ma_malloc(2 * sizeof(void *));
        if (arg != NULL) {
                arg[0] = server;
                arg[1] = slot;
        }
        if (arg == NULL ||
            pthread_create(&slot->poll_thread, NULL, gw_poll_main, arg) != 0) {
                ma_free(arg);
                ma_producer_free(slot->producer);
                slot->producer = NULL;
                slot = NULL;
                ma_error_set(err, MA_ERR_NOMEM, NULL,
                             "could not start the Kafka poll thread");
                goto out;
        }
        slot->polling = true;
        ma_log(MA_LOG_INFO, "kafka producer created", "producer", prefix,
               "topic", ma_producer_topic(slot->producer), NULL);
out:
        pthread_mutex_unlock(&server->slots_lock);
        return slot;
}

/* ------------------------------------------------------------------------
 * POST /kundhandelser
 */

/* Checks that an event belongs to the key's producer (403 otherwise). */
static bool gw_check_owner(const ma_event_t *event,
                           const ma_producer_t *producer, json_t *object,
                           long index, gw_problem_t *problem)
{
        const char *type = event->kundhandelse_typ;
        const char *orgnr = event->producent_organisationsnummer;

        /* Malformed values are left to validation, which responds 400. */
        if (orgnr != NULL &&
            ma_validate_organisationsnummer(orgnr, NULL) == MA_OK &&
            strcmp(orgnr, producer->organisationsnummer) != 0) {
                problem->status = MHD_HTTP_FORBIDDEN;
                problem->index = index;
                snprintf(problem->field, sizeof(problem->field),
                         "producentOrganisationsnummer");
                problem->value = gw_problem_value(object, problem->field);
                snprintf(problem->message, sizeof(problem->message),
                         "event %ld names another producer: the API key "
                         "belongs to producer %s (organisationsnummer %s); "
                         "send each producer's events with its own key",
                         index, producer->prefix,
                         producer->organisationsnummer);
                return false;
        }
        if (type != NULL && ma_validate_event_type_name(type, NULL) == MA_OK) {
                size_t n = strcspn(type, ".");

                if (strlen(producer->prefix) != n ||
                    strncmp(type, producer->prefix, n) != 0) {
                        problem->status = MHD_HTTP_FORBIDDEN;
                        problem->index = index;
                        snprintf(problem->field, sizeof(problem->field),
                                 "kundhandelseTyp");
                        problem->value =
                                gw_problem_value(object, problem->field);
                        snprintf(problem->message, sizeof(problem->message),
                                 "event %ld has a kundhandelseTyp of another "
                                 "producer: the API key belongs to producer "
                                 "%s, so every type must start with \"%s.\"",
                                 index, producer->prefix, producer->prefix);
                        return false;
                }
        }
        return true;
}

static void gw_problem_from_error(gw_problem_t *problem, long index,
                                  json_t *object, const ma_error_t *err)
{
        problem->status = MHD_HTTP_BAD_REQUEST;
        problem->index = index;
        snprintf(problem->field, sizeof(problem->field), "%s", err->field);
        problem->value = gw_problem_value(object, err->field);
        snprintf(problem->message, sizeof(problem->message),
                 "invalid event %ld: %s", index, err->message);
}

/*
 * Parses and checks every event of the body into events (count entries).
 * Returns false with problem filled at the first event that fails.
 */
static bool gw_parse_events(gw_server_t *server, const ma_producer_t *producer,
                            json_t *array, ma_event_t *events,
                            gw_problem_t *problem)
{
        ma_input_defaults_t defaults = {
                .producent = producer->name,
                .producent_organisationsnummer = producer->organisationsnummer,
                .sprak = "sv",
                .version = "6.1",
        };
        ma_validate_limits_t limits;
        int64_t now = ma_now_ms();
        size_t count = json_array_size(array);

        ma_validate_limits_default(&limits);
        for (size_t i = 0; i < count; i++) {
                json_t *object = json_array_get(array, i);
                ma_error_t err;
                char *text;
                ma_status_t status;

                ma_error_clear(&err);
                if (!json_is_object(object)) {
                        problem->status = MHD_HTTP_BAD_REQUEST;
                        problem->index = (long)i;
                        snprintf(problem->message, sizeof(problem->message),
                                 "invalid event %zu: expected a JSON object "
                                 "in the JSON Lines shape",
                                 i);
                        return false;
                }
                text = json_dumps(object, JSON_COMPACT);
                if (text == NULL) {
                        problem->status = MHD_HTTP_BAD_REQUEST;
                        problem->index = (long)i;
                        snprintf(problem->message, sizeof(problem->message),
                                 "could not read event %zu", i);
                        return false;
                }
                status = ma_input_json_event(text, strlen(text), &defaults,
                                             &events[i], &err);
                free(text);
                if (status != MA_OK) {
                        gw_problem_from_error(problem, (long)i, object, &err);
                        return false;
                }
                if (!gw_check_owner(&events[i], producer, object, (long)i,
                                    problem))
                        return false;
                status = ma_event_validate(&events[i], server->catalog, &limits,
                                           now, &err);
                if (status != MA_OK) {
                        gw_problem_from_error(problem, (long)i, object, &err);
                        return false;
                }
        }
        return true;
}

/* Parses the body as a JSON array of 1..GW_BATCH_MAX elements. */
static json_t *gw_parse_body(const gw_request_t *request, gw_problem_t *problem)
{
        json_error_t jerr;
        json_t *root = json_loadb(request->body, request->len,
                                  JSON_REJECT_DUPLICATES, &jerr);

        problem->status = MHD_HTTP_BAD_REQUEST;
        problem->index = -1;
        if (root == NULL) {
                snprintf(problem->message, sizeof(problem->message),
                         "invalid JSON body at line %d, column %d: %s",
                         jerr.line, jerr.column, jerr.text);
                return NULL;
        }
        if (!json_is_array(root) || json_array_size(root) == 0 ||
            json_array_size(root) > GW_BATCH_MAX) {
                snprintf(problem->message, sizeof(problem->message),
                         "invalid body: expected a JSON array of 1 to %d "
                         "events, got %s of %zu",
                         GW_BATCH_MAX,
                         json_is_array(root) ? "an array" : "a non-array value",
                         json_is_array(root) ? json_array_size(root) : 0);
                json_decref(root);
                return NULL;
        }
        return root;
}

/*
 * Publishes events and waits for their delivery reports.  Returns the
 * number acknowledged; failure explains a shortfall.  *invalid is set when
 * the producer library rejected event *index as invalid.
 */
static size_t gw_publish(gw_server_t *server, gw_slot_t *slot,
                         const ma_event_t *events, size_t count,
                         ma_error_t *failure, bool *invalid, size_t *index)
{
        gw_batch_t *batch = gw_batch_new();
        struct timespec deadline;
        size_t acked, queued = 0;
        ma_error_t err = {0};

        *invalid = false;
        ma_error_clear(failure);
        if (batch == NULL) {
                ma_error_set(failure, MA_ERR_NOMEM, NULL, "out of memory");
                return 0;
        }
        /* The wait ends ack_timeout_ms after the first publish, however
         * long a full queue held up the later ones. */
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += server->config.ack_timeout_ms / 1000;
        deadline.tv_nsec +=
                (long)(server->config.ack_timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
        }
        for (; queued < count; queued++) {
                pthread_mutex_lock(&batch->lock);
                batch->pending++;
                batch->refs++;
                pthread_mutex_unlock(&batch->lock);
                if (ma_producer_publish(slot->producer, &events[queued], batch,
                                        &err) == MA_OK)
                        continue;
                /*
                 * Not queued, so no report will come for it.  NOTE: after a
                 * fatal error of the idempotent producer every publish fails
                 * here until ma-gateway is restarted; the client sees 503.
                 */
                pthread_mutex_lock(&batch->lock);
                batch->pending--;
                batch->refs--;
                pthread_mutex_unlock(&batch->lock);
                *invalid = err.status == MA_ERR_INVALID ||
                           err.status == MA_ERR_PARSE;
                *index = queued;
                *failure = err;
                break;
        }

        pthread_mutex_lock(&batch->lock);
        while (batch->pending > 0) {
                if (pthread_cond_timedwait(&batch->done, &batch->lock,
                                           &deadline) == ETIMEDOUT)
                        break;
        }
        acked = batch->acked;
        if (queued == count && acked < count) {
                if (batch->first_error[0] != '\0')
                        ma_error_set(failure, MA_ERR_KAFKA, NULL, "%s",
                                     batch->first_error);
                else
                        ma_error_set(failure, MA_ERR_TIMEOUT, NULL,
                                     "no delivery report within %d ms",
                                     server->config.ack_timeout_ms);
        }
        pthread_mutex_unlock(&batch->lock);
        gw_batch_release(batch);
        return acked;
}

/* Logs and queues 503 for a request that Kafka did not fully acknowledge. */
static enum MHD_Result
gw_queue_unacknowledged(gw_server_t *server, struct MHD_Connection *connection,
                        gw_request_t *request, const ma_producer_t *producer,
                        size_t acked, const ma_error_t *failure)
{
        char reason[600];
        char message[800];
        const char *reason_text = reason;

        gw_scrub(failure->message, reason, sizeof(reason));
        MA_LOG_AT(MA_LOG_WARN, "kafka did not acknowledge events",
                  MA_LOG_STR("request_id", request->id),
                  MA_LOG_STR("producer", producer->prefix),
                  MA_LOG_INT("events", request->events),
                  MA_LOG_INT("acknowledged", acked),
                  MA_LOG_STR("error", reason_text));
        snprintf(message, sizeof(message),
                 "could not publish: Kafka acknowledged %zu of %zu events: "
                 "%s; retry the whole request, which is safe because an "
                 "event with the same kundhandelseId and sekvens replaces "
                 "its earlier copy",
                 acked, request->events, reason);
        return gw_queue_json(server, connection, request,
                             MHD_HTTP_SERVICE_UNAVAILABLE,
                             json_pack("{s:s, s:I, s:I}", "message", message,
                                       "antal", (json_int_t)request->events,
                                       "bekraftade", (json_int_t)acked),
                             NULL);
}

static enum MHD_Result gw_post_events(gw_server_t *server,
                                      struct MHD_Connection *connection,
                                      gw_request_t *request)
{
        gw_problem_t problem = {0};
        const ma_producer_t *producer = ma_catalog_find_prefix(
                server->catalog, request->identity.prefix);
        ma_event_t *events = NULL;
        json_t *array;
        size_t count = 0, acked, index = 0;
        enum MHD_Result result;
        gw_slot_t *slot;
        ma_error_t err;
        bool invalid;

        if (producer == NULL)
                return gw_queue_message(
                        server, connection, request, MHD_HTTP_FORBIDDEN, NULL,
                        "the API key %s belongs to producer %s, which is not "
                        "in the catalog; ask the operator to add the producer "
                        "or revoke the key",
                        request->identity.key_id, request->identity.prefix);
        array = gw_parse_body(request, &problem);
        if (array == NULL)
                return gw_queue_problem(server, connection, request, &problem);
        count = json_array_size(array);
        request->events = count;
        events = ma_calloc(count, sizeof(*events));
        if (events == NULL) {
                json_decref(array);
                return gw_queue_message(server, connection, request,
                                        MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                                        "out of memory; retry later");
        }
        for (size_t i = 0; i < count; i++)
                ma_event_init(&events[i]);
        if (!gw_parse_events(server, producer, array, events, &problem)) {
                atomic_fetch_add(&server->metrics.events_rejected, count);
                result =
                        gw_queue_problem(server, connection, request, &problem);
                goto out;
        }

        slot = gw_slot_get(server, producer->prefix, &err);
        if (slot == NULL) {
                atomic_fetch_add(&server->metrics.events_failed, count);
                ma_log(MA_LOG_ERROR, "could not create kafka producer",
                       "request_id", request->id, "producer", producer->prefix,
                       "error", err.message, NULL);
                result = gw_queue_message(
                        server, connection, request,
                        MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                        "could not publish: the Kafka producer could not be "
                        "created; retry later");
                goto out;
        }
        acked = gw_publish(server, slot, events, count, &err, &invalid, &index);
        request->acked = acked;
        if (acked == count) {
                atomic_fetch_add(&server->metrics.events_accepted, count);
                result = gw_queue_json(
                        server, connection, request, MHD_HTTP_CREATED,
                        json_pack("{s:I}", "antal", (json_int_t)count), NULL);
                goto out;
        }
        if (invalid) {
                /* Only when the producer library is stricter than the check
                 * above; events before index may have been published. */
                gw_problem_from_error(&problem, (long)index,
                                      json_array_get(array, index), &err);
                atomic_fetch_add(&server->metrics.events_rejected, count);
                result =
                        gw_queue_problem(server, connection, request, &problem);
                goto out;
        }
        atomic_fetch_add(&server->metrics.events_failed, count - acked);
        result = gw_queue_unacknowledged(server, connection, request, producer,
                                         acked, &err);
out:
        for (size_t i = 0; i < count; i++)
                ma_event_clear(&events[i]);
        ma_free(events);
        json_decref(array);
        return result;
}

/* ------------------------------------------------------------------------
 * GET endpoints
 */

static enum MHD_Result gw_get_ready(gw_server_t *server,
                                    struct MHD_Connection *connection,
                                    gw_request_t *request)
{
        const struct rd_kafka_metadata *metadata = NULL;
        rd_kafka_resp_err_t code;
        int brokers;

        code = rd_kafka_metadata(server->probe, 0, NULL, &metadata,
                                 server->config.ready_timeout_ms);
        if (code != RD_KAFKA_RESP_ERR_NO_ERROR)
                return gw_queue_message(
                        server, connection, request,
                        MHD_HTTP_SERVICE_UNAVAILABLE, NULL,
                        "not ready: Kafka metadata request to %s failed: %s",
                        server->config.bootstrap_servers,
                        rd_kafka_err2str(code));
        brokers = metadata->broker_cnt;
        rd_kafka_metadata_destroy(metadata);
        return gw_queue_json(
                server, connection, request, MHD_HTTP_OK,
                json_pack("{s:s, s:i}", "status", "ready", "brokers", brokers),
                NULL);
}

static void gw_metrics_line(char **text, size_t *len, size_t *cap,
                            const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Appends to a growing text; on allocation failure the text is dropped. */
static void gw_metrics_line(char **text, size_t *len, size_t *cap,
                            const char *fmt, ...)
{
        va_list ap;
        int n;

        if (*text == NULL)
                return;
        for (;;) {
                va_start(ap, fmt);
                n = vsnprintf(*text + *len, *cap - *len, fmt, ap);
                va_end(ap);
                if (n < 0) {
                        free(*text);
                        *text = NULL;
                        return;
                }
                if ((size_t)n < *cap - *len)
                        break;
                char *bigger = realloc(*text, *cap * 2 + (size_t)n);
                if (bigger == NULL) {
                        free(*text);
                        *text = NULL;
                        return;
                }
                *text = bigger;
                *cap = *cap * 2 + (size_t)n;
        }
        *len += (size_t)n;
}

static enum MHD_Result gw_get_metrics(gw_server_t *server,
                                      struct MHD_Connection *connection,
                                      gw_request_t *request)
{
        const gw_metrics_t *m = &server->metrics;
        size_t len = 0, cap = 4096;
        char *text = malloc(cap); /* MHD frees it with free() */

        gw_metrics_line(&text, &len, &cap,
                        "# HELP ma_gateway_requests_total HTTP requests "
                        "answered, by status code.\n"
                        "# TYPE ma_gateway_requests_total counter\n");
        for (size_t i = 0; i <= GW_METRIC_CODE_COUNT; i++) {
                char code[8];

                if (i < GW_METRIC_CODE_COUNT)
                        snprintf(code, sizeof(code), "%u", gw_metric_codes[i]);
                else
                        snprintf(code, sizeof(code), "other");
                gw_metrics_line(
                        &text, &len, &cap,
                        "ma_gateway_requests_total{code=\"%s\"} %llu\n", code,
                        (unsigned long long)atomic_load(&m->requests[i]));
        }
        gw_metrics_line(
                &text, &len, &cap,
                "# HELP ma_gateway_events_accepted_total Events acknowledged "
                "by Kafka in requests answered 201.\n"
                "# TYPE ma_gateway_events_accepted_total counter\n"
                "ma_gateway_events_accepted_total %llu\n"
                "# HELP ma_gateway_events_failed_total Events of requests "
                "answered 503 that Kafka did not acknowledge.\n"
                "# TYPE ma_gateway_events_failed_total counter\n"
                "ma_gateway_events_failed_total %llu\n"
                "# HELP ma_gateway_events_rejected_total Events of requests "
                "answered 400 or 403 after the body was read.\n"
                "# TYPE ma_gateway_events_rejected_total counter\n"
                "ma_gateway_events_rejected_total %llu\n"
                "# HELP ma_gateway_kafka_acknowledged_total Delivery reports "
                "with success, including late ones after a 503.\n"
                "# TYPE ma_gateway_kafka_acknowledged_total counter\n"
                "ma_gateway_kafka_acknowledged_total %llu\n"
                "# HELP ma_gateway_requests_in_flight Requests being served.\n"
                "# TYPE ma_gateway_requests_in_flight gauge\n"
                "ma_gateway_requests_in_flight %ld\n",
                (unsigned long long)atomic_load(&m->events_accepted),
                (unsigned long long)atomic_load(&m->events_failed),
                (unsigned long long)atomic_load(&m->events_rejected),
                (unsigned long long)atomic_load(&m->published),
                atomic_load(&server->in_flight));
        if (text == NULL)
                return MHD_NO;
        return gw_queue(server, connection, request, MHD_HTTP_OK,
                        "text/plain; version=0.0.4; charset=utf-8", text, NULL);
}

/* ------------------------------------------------------------------------
 * Request dispatch
 */

/* A client's X-Request-Id is reused when it is short, plain text and
 * contains nothing that looks like an identity number, because it is logged. */
static bool gw_request_id_valid(const char *id)
{
        size_t len = strlen(id), start, end;

        if (len == 0 || len > GW_REQUEST_ID_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = id[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      gw_is_digit(c) || c == '-' || c == '_' || c == '.'))
                        return false;
        }
        return !gw_find_identity(id, len, &start, &end);
}

static gw_request_t *gw_request_new(gw_server_t *server,
                                    struct MHD_Connection *connection,
                                    const char *method, const char *url)
{
        gw_request_t *request = ma_calloc(1, sizeof(*request));
        const char *id;

        if (request == NULL)
                return NULL;
        request->started_ms = ma_now_ms();
        id = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                         "X-Request-Id");
        if (id != NULL && gw_request_id_valid(id))
                snprintf(request->id, sizeof(request->id), "%s", id);
        else
                snprintf(request->id, sizeof(request->id), "%08x-%08llx",
                         server->instance,
                         (unsigned long long)atomic_fetch_add(
                                 &server->next_request, 1));
        snprintf(request->method, sizeof(request->method), "%s", method);
        request->problem_index = -1;
        gw_scrub(url, request->path, sizeof(request->path));
        atomic_fetch_add(&server->in_flight, 1);
        return request;
}

/* True when the media type of Content-Type is application/json. */
static bool gw_content_type_json(const char *value)
{
        size_t n;

        if (value == NULL)
                return false;
        while (*value == ' ' || *value == '\t')
                value++;
        n = strcspn(value, "; \t");
        return n == strlen("application/json") &&
               strncasecmp(value, "application/json", n) == 0;
}

/* Checks key, content type and declared length before the body is read. */
static enum MHD_Result gw_post_headers(gw_server_t *server,
                                       struct MHD_Connection *connection,
                                       gw_request_t *request)
{
        const char *key = MHD_lookup_connection_value(
                connection, MHD_HEADER_KIND, "X-API-Key");
        const char *length = MHD_lookup_connection_value(
                connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        ma_error_t err;
        bool reloaded;

        if (gw_keys_refresh(server->keys, false, &reloaded, &err) != MA_OK)
                ma_log(MA_LOG_ERROR,
                       "could not reload key file, keys loaded before stay "
                       "in force",
                       "error", err.message, NULL);
        else if (reloaded)
                ma_log(MA_LOG_INFO, "key file reloaded", "file",
                       server->config.key_file, NULL);
        switch (gw_keys_authenticate(server->keys, key, &request->identity)) {
        case GW_AUTH_OK:
                break;
        case GW_AUTH_MISSING:
                return gw_queue_message(
                        server, connection, request, MHD_HTTP_UNAUTHORIZED,
                        NULL,
                        "missing API key: send the producer's key in the "
                        "X-API-Key header");
        case GW_AUTH_UNKNOWN:
                return gw_queue_message(
                        server, connection, request, MHD_HTTP_UNAUTHORIZED,
                        NULL,
                        "invalid API key: the key in X-API-Key is not known; "
                        "check it or ask the operator for a new one");
        case GW_AUTH_REVOKED:
                return gw_queue_message(
                        server, connection, request, MHD_HTTP_FORBIDDEN, NULL,
                        "API key %s is revoked; ask the operator for a new "
                        "key",
                        request->identity.key_id);
        }
        if (!gw_content_type_json(MHD_lookup_connection_value(
                    connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
                return gw_queue_message(
                        server, connection, request,
                        MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, NULL,
                        "unsupported Content-Type: send a JSON array of "
                        "events as application/json");
        if (length != NULL) {
                char *end;
                unsigned long long declared = strtoull(length, &end, 10);

                if (*end == '\0' && declared > server->config.body_limit)
                        return gw_queue_message(
                                server, connection, request,
                                MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                                "request body of %llu bytes exceeds the limit "
                                "of %zu bytes; send fewer events per request",
                                declared, server->config.body_limit);
        }
        return MHD_YES;
}

/* Appends a piece of the body, or marks the request too large. */
static bool gw_body_append(gw_server_t *server, gw_request_t *request,
                           const char *data, size_t size)
{
        if (request->too_large)
                return true;
        if (size > server->config.body_limit - request->len) {
                request->too_large = true;
                ma_free(request->body);
                request->body = NULL;
                request->len = request->cap = 0;
                return true;
        }
        if (request->len + size > request->cap) {
                size_t cap = request->cap ? request->cap : 16384;
                char *bigger;

                while (cap < request->len + size)
                        cap *= 2;
                if (cap > server->config.body_limit)
                        cap = server->config.body_limit;
                bigger = ma_realloc(request->body, cap);
                if (bigger == NULL)
                        return false;
                request->body = bigger;
                request->cap = cap;
        }
        memcpy(request->body + request->len, data, size);
        request->len += size;
        return true;
}

static enum MHD_Result gw_route_get(gw_server_t *server,
                                    struct MHD_Connection *connection,
                                    gw_request_t *request, const char *url)
{
        if (strcmp(url, "/health") == 0)
                return gw_queue_json(server, connection, request, MHD_HTTP_OK,
                                     json_pack("{s:s}", "status", "ok"), NULL);
        if (strcmp(url, "/ready") == 0)
                return gw_get_ready(server, connection, request);
        return gw_get_metrics(server, connection, request);
}

static enum MHD_Result
gw_on_request(void *cls, struct MHD_Connection *connection, const char *url,
              const char *method, const char *version, const char *upload_data,
              size_t *upload_data_size, void **con_cls)
{
        gw_server_t *server = cls;
        gw_request_t *request = *con_cls;
        bool is_post_route = strcmp(url, "/kundhandelser") == 0;
        bool is_get_route = strcmp(url, "/health") == 0 ||
                            strcmp(url, "/ready") == 0 ||
                            strcmp(url, "/metrics") == 0;
        bool is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                      strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

        if (request == NULL) {
                request = gw_request_new(server, connection, method, url);
                if (request == NULL)
                        return MHD_NO;
                *con_cls = request;
                if (!is_post_route && !is_get_route)
                        return gw_queue_message(
                                server, connection, request, MHD_HTTP_NOT_FOUND,
                                NULL,
                                "no endpoint \"%s\": use POST /kundhandelser, "
                                "GET /health, /ready or /metrics",
                                request->path);
                if (is_get_route && !is_get)
                        return gw_queue_message(
                                server, connection, request,
                                MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD",
                                "method %s not allowed on %s: use GET",
                                request->method, request->path);
                if (is_post_route && strcmp(method, MHD_HTTP_METHOD_POST) != 0)
                        return gw_queue_message(
                                server, connection, request,
                                MHD_HTTP_METHOD_NOT_ALLOWED, "POST",
                                "method %s not allowed on %s: use POST",
                                request->method, request->path);
                if (is_get_route) {
                        request->is_probe = true;
                        return gw_route_get(server, connection, request, url);
                }
                return gw_post_headers(server, connection, request);
        }
        if (request->answered) {
                /* An early answer (401, 413, ...): discard the body. */
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                if (!gw_body_append(server, request, upload_data,
                                    *upload_data_size))
                        return MHD_NO;
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (request->too_large)
                return gw_queue_message(
                        server, connection, request, MHD_HTTP_CONTENT_TOO_LARGE,
                        NULL,
                        "request body exceeds the limit of %zu bytes; send "
                        "fewer events per request",
                        server->config.body_limit);
        return gw_post_events(server, connection, request);
}

/*
 * Logs one line per request.  POST /kundhandelser and wrong requests log at
 * info and the gateway's own failures (5xx) at warn.  GET /health, /ready
 * and /metrics log at debug whatever their status, because probes repeat
 * every few seconds.  The field of a 400 or 403 is logged, its value never,
 * because it may be an identity number.
 */
static void gw_log_request(const gw_request_t *request,
                           enum MHD_RequestTerminationCode code)
{
        ma_log_level_t level = MA_LOG_DEBUG;
        ma_log_field_t fields[12];
        size_t count = 0;

        if (request->is_probe)
                level = MA_LOG_DEBUG;
        else if (request->status >= 500)
                level = MA_LOG_WARN;
        else
                level = MA_LOG_INFO;
        if (!ma_log_enabled(level))
                return;
        fields[count++] = MA_LOG_STR("request_id", request->id);
        fields[count++] = MA_LOG_STR("method", request->method);
        fields[count++] = MA_LOG_STR("path", request->path);
        fields[count++] = MA_LOG_STR(
                "producer",
                request->identity.prefix[0] ? request->identity.prefix : "-");
        fields[count++] = MA_LOG_STR(
                "key_id",
                request->identity.key_id[0] ? request->identity.key_id : "-");
        fields[count++] = MA_LOG_INT("status", request->status);
        fields[count++] = MA_LOG_INT("events", request->events);
        fields[count++] = MA_LOG_INT("acknowledged", request->acked);
        if (request->problem_index >= 0)
                fields[count++] = MA_LOG_INT("index", request->problem_index);
        if (request->problem_field[0] != '\0')
                fields[count++] = MA_LOG_STR("field", request->problem_field);
        fields[count++] =
                MA_LOG_INT("duration_ms", ma_now_ms() - request->started_ms);
        fields[count++] = MA_LOG_STR("completed",
                                     code == MHD_REQUEST_TERMINATED_COMPLETED_OK
                                             ? "yes"
                                             : "no, connection ended early");
        ma_log_fields(level, "request", fields, count);
}

static void gw_on_completed(void *cls, struct MHD_Connection *connection,
                            void **con_cls,
                            enum MHD_RequestTerminationCode code)
{
        gw_server_t *server = cls;
        gw_request_t *request = *con_cls;

        if (request == NULL)
                return;
        *con_cls = NULL;
        gw_log_request(request, code);
        ma_free(request->body);
        ma_free(request);
        atomic_fetch_sub(&server->in_flight, 1);
}

static void gw_on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        char message[512];
        size_t len;

        vsnprintf(message, sizeof(message), fmt, ap);
        len = strlen(message);
        while (len > 0 && message[len - 1] == '\n')
                message[--len] = '\0';
        ma_log(MA_LOG_WARN, "http server log", "detail", message, NULL);
}

/* ------------------------------------------------------------------------
 * Start and stop
 */

static void gw_on_probe_log(const rd_kafka_t *rk, int level,
                            const char *facility, const char *message)
{
        gw_on_kafka_log(level, facility, message, NULL);
}

static ma_status_t gw_probe_open(gw_server_t *server, ma_error_t *err)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char errstr[512];

        if (rd_kafka_conf_set(conf, "bootstrap.servers",
                              server->config.bootstrap_servers, errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "client.id", "ma-gateway-ready", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) !=
                    RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(conf);
                return ma_error_set(err, MA_ERR_CONFIG, "kafka.brokers",
                                    "invalid Kafka setting: %s", errstr);
        }
        rd_kafka_conf_set_log_cb(conf, gw_on_probe_log);
        server->probe =
                rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (server->probe == NULL) {
                rd_kafka_conf_destroy(conf);
                return ma_error_set(err, MA_ERR_KAFKA, NULL,
                                    "could not create the Kafka client of "
                                    "GET /ready: %s",
                                    errstr);
        }
        return MA_OK;
}

static ma_status_t gw_resolve_listen(const gw_config_t *config,
                                     struct sockaddr_storage *addr, bool *ipv6,
                                     ma_error_t *err)
{
        struct addrinfo hints = {0}, *found = NULL;
        char port[8];
        int rc;

        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
        hints.ai_socktype = SOCK_STREAM;
        snprintf(port, sizeof(port), "%d", config->port);
        rc = getaddrinfo(config->listen_address, port, &hints, &found);
        if (rc != 0 || found == NULL)
                return ma_error_set(err, MA_ERR_CONFIG, "listen.address",
                                    "invalid listen address \"%s\": %s; give "
                                    "a numeric IPv4 or IPv6 address such as "
                                    "127.0.0.1",
                                    config->listen_address, gai_strerror(rc));
        memcpy(addr, found->ai_addr, found->ai_addrlen);
        *ipv6 = found->ai_family == AF_INET6;
        freeaddrinfo(found);
        return MA_OK;
}

static ma_status_t gw_daemon_start(gw_server_t *server, ma_error_t *err)
{
        struct sockaddr_storage addr;
        unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
                             MHD_USE_ERROR_LOG;
        const union MHD_DaemonInfo *info;
        bool ipv6 = false;
        ma_status_t status;

        status = gw_resolve_listen(&server->config, &addr, &ipv6, err);
        if (status != MA_OK)
                return status;
        if (ipv6)
                flags |= MHD_USE_IPv6;
        /* The logger goes first so that MHD reports option errors there. */
        server->daemon = MHD_start_daemon(
                flags, (uint16_t)server->config.port, NULL, NULL, gw_on_request,
                server, MHD_OPTION_EXTERNAL_LOGGER, gw_on_mhd_log, server,
                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                MHD_OPTION_CONNECTION_LIMIT,
                (unsigned int)server->config.max_connections,
                MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned int)server->config.idle_timeout_s,
                MHD_OPTION_NOTIFY_COMPLETED, gw_on_completed, server,
                MHD_OPTION_END);
        if (server->daemon == NULL)
                return ma_error_set(err, MA_ERR_IO, "listen.port",
                                    "could not listen on %s port %d: the "
                                    "address may be in use or not local; "
                                    "choose another port or address",
                                    server->config.listen_address,
                                    server->config.port);
        info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
        server->port = info != NULL ? info->port : server->config.port;
        return MA_OK;
}

static ma_status_t gw_slots_create(gw_server_t *server, ma_error_t *err)
{
        server->slot_count = ma_catalog_producer_count(server->catalog);
        server->slots = ma_calloc(server->slot_count ? server->slot_count : 1,
                                  sizeof(*server->slots));
        if (server->slots == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        for (size_t i = 0; i < server->slot_count; i++)
                server->slots[i].entry =
                        ma_catalog_producer_at(server->catalog, i);
        return MA_OK;
}

ma_status_t gw_server_start(const gw_config_t *config, gw_server_t **server_out,
                            ma_error_t *err)
{
        gw_server_t *server = ma_calloc(1, sizeof(*server));
        uint32_t instance;
        ma_status_t status;

        *server_out = NULL;
        if (server == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        server->config = *config;
        pthread_mutex_init(&server->slots_lock, NULL);
        instance = (uint32_t)ma_now_ms() ^ ((uint32_t)getpid() << 16);
        server->instance = instance;
        status = ma_catalog_load(config->catalog_path, &server->catalog, err);
        if (status == MA_OK)
                status = ma_codec_open(config->schema_dir, 0, &server->codec,
                                       err);
        if (status == MA_OK)
                status = gw_keys_open(config->key_file, &server->keys, err);
        if (status == MA_OK)
                status = gw_slots_create(server, err);
        if (status == MA_OK)
                status = gw_probe_open(server, err);
        if (status == MA_OK)
                status = gw_daemon_start(server, err);
        if (status != MA_OK) {
                gw_server_stop(server, 0);
                return status;
        }
        *server_out = server;
        return MA_OK;
}

int gw_server_port(const gw_server_t *server)
{
        return server->port;
}

/* Waits until no request is in flight or drain_ms passed. */
static void gw_drain(gw_server_t *server, int drain_ms)
{
        int64_t deadline = ma_now_ms() + drain_ms;

        while (atomic_load(&server->in_flight) > 0 && ma_now_ms() < deadline) {
                struct timespec pause = {0, 20 * 1000000L};
                nanosleep(&pause, NULL);
        }
}

uint64_t gw_server_stop(gw_server_t *server, int drain_ms)
{
        uint64_t unacknowledged = 0;

        if (server == NULL)
                return 0;
        atomic_store(&server->draining, true);
        if (server->daemon != NULL) {
                MHD_socket listener = MHD_quiesce_daemon(server->daemon);

                if (listener != MHD_INVALID_SOCKET)
                        close(listener);
                gw_drain(server, drain_ms);
                if (atomic_load(&server->in_flight) > 0)
                        MA_LOG_AT(MA_LOG_WARN,
                                  "requests still in flight after drain "
                                  "timeout, closing their connections",
                                  MA_LOG_INT("in_flight",
                                             atomic_load(&server->in_flight)));
                MHD_stop_daemon(server->daemon);
        }
        for (size_t i = 0; i < server->slot_count; i++) {
                gw_slot_t *slot = &server->slots[i];
                ma_error_t err;

                if (slot->producer == NULL)
                        continue;
                if (ma_producer_flush(slot->producer,
                                      server->config.ack_timeout_ms,
                                      &err) != MA_OK)
                        ma_log(MA_LOG_WARN, "kafka flush timed out", "producer",
                               slot->entry->prefix, "error", err.message, NULL);
        }
        atomic_store(&server->stopping, true);
        for (size_t i = 0; i < server->slot_count; i++) {
                gw_slot_t *slot = &server->slots[i];
                ma_producer_stats_t stats;

                if (slot->producer == NULL)
                        continue;
                if (slot->polling)
                        pthread_join(slot->poll_thread, NULL);
                ma_producer_stats(slot->producer, &stats);
                unacknowledged += stats.outstanding;
                ma_producer_free(slot->producer);
        }
        if (server->probe != NULL)
                rd_kafka_destroy(server->probe);
        ma_free(server->slots);
        gw_keys_close(server->keys);
        ma_codec_close(server->codec);
        ma_catalog_free(server->catalog);
        pthread_mutex_destroy(&server->slots_lock);
        ma_free(server);
        return unacknowledged;
}
