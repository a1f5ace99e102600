/*
 * proc_classify.c - decides for one record whether it is applied or sent to
 * the dead-letter topic, and why.
 *
 * The checks run from the cheapest to the most specific so the reason names
 * the first thing wrong: decoding, the rules of ma_event_validate without
 * the catalog, then the producer, the type's prefix and the type itself,
 * and finally ma_event_validate with the catalog as a backstop.
 */
#include <stdio.h>
#include <string.h>

#include "processor.h"

const char *proc_reason_code(proc_reason_t reason)
{
        switch (reason) {
        case PROC_ACCEPT:
                return "ACCEPT";
        case PROC_REJECT_DECODE:
                return "DECODE";
        case PROC_REJECT_FINGERPRINT:
                return "FINGERPRINT";
        case PROC_REJECT_VALIDATION:
                return "VALIDATION";
        case PROC_REJECT_UNKNOWN_PRODUCER:
                return "UNKNOWN_PRODUCER";
        case PROC_REJECT_UNKNOWN_TYPE:
                return "UNKNOWN_TYPE";
        case PROC_REJECT_FOREIGN_PREFIX:
                return "FOREIGN_PREFIX";
        }
        return "UNKNOWN";
}

static ma_status_t proc_reject(ma_event_t *event, proc_reason_t reason,
                               proc_reason_t *reason_out, char *detail,
                               size_t detail_size, const char *text)
{
        ma_event_clear(event);
        *reason_out = reason;
        snprintf(detail, detail_size, "%s", text);
        return MA_OK;
}

/* Compares the prefix of a type name (up to the first '.') with prefix. */
static bool proc_type_has_prefix(const char *type_name, const char *prefix)
{
        size_t len = strlen(prefix);

        return strncmp(type_name, prefix, len) == 0 && type_name[len] == '.';
}

ma_status_t proc_classify(const ma_codec_t *codec, const ma_catalog_t *catalog,
                          const ma_validate_limits_t *limits, const void *value,
                          size_t len, int64_t now_ms, ma_event_t *event,
                          proc_reason_t *reason_out, char *detail,
                          size_t detail_size)
{
        const ma_producer_t *producer;
        ma_error_t err;
        ma_status_t status;
        char text[700];

        *reason_out = PROC_ACCEPT;
        detail[0] = '\0';
        ma_error_clear(&err);
        if (value == NULL || len == 0)
                return proc_reject(event, PROC_REJECT_DECODE, reason_out,
                                   detail, detail_size,
                                   "the record has no value");

        status = ma_codec_decode(codec, value, len, event, &err);
        if (status == MA_ERR_NOMEM)
                return status;
        if (status == MA_ERR_FINGERPRINT)
                return proc_reject(event, PROC_REJECT_FINGERPRINT, reason_out,
                                   detail, detail_size, err.message);
        if (status != MA_OK)
                return proc_reject(event, PROC_REJECT_DECODE, reason_out,
                                   detail, detail_size, err.message);

        status = ma_event_validate(event, NULL, limits, now_ms, &err);
        if (status == MA_ERR_NOMEM)
                return status;
        if (status != MA_OK)
                return proc_reject(event, PROC_REJECT_VALIDATION, reason_out,
                                   detail, detail_size, err.message);

        producer = ma_catalog_find_producer(
                catalog, event->producent_organisationsnummer);
        if (producer == NULL) {
                /* An organisationsnummer identifies a legal person, not a
                 * private one, so it may be shown. */
                snprintf(text, sizeof(text),
                         "producer \"%s\" is not in the event type catalog",
                         event->producent_organisationsnummer);
                return proc_reject(event, PROC_REJECT_UNKNOWN_PRODUCER,
                                   reason_out, detail, detail_size, text);
        }

        if (event->kind == MA_EVENT_PUBLISH) {
                if (!proc_type_has_prefix(event->kundhandelse_typ,
                                          producer->prefix)) {
                        snprintf(text, sizeof(text),
                                 "kundhandelseTyp \"%s\" does not start with "
                                 "the prefix \"%s.\" of producer \"%s\"",
                                 event->kundhandelse_typ, producer->prefix,
                                 producer->organisationsnummer);
                        return proc_reject(event, PROC_REJECT_FOREIGN_PREFIX,
                                           reason_out, detail, detail_size,
                                           text);
                }
                if (ma_catalog_find_type(catalog, event->kundhandelse_typ) ==
                    NULL) {
                        snprintf(text, sizeof(text),
                                 "kundhandelseTyp \"%s\" is not in the event "
                                 "type catalog",
                                 event->kundhandelse_typ);
                        return proc_reject(event, PROC_REJECT_UNKNOWN_TYPE,
                                           reason_out, detail, detail_size,
                                           text);
                }
        }

        status = ma_event_validate(event, catalog, limits, now_ms, &err);
        if (status == MA_ERR_NOMEM)
                return status;
        if (status != MA_OK)
                return proc_reject(event, PROC_REJECT_VALIDATION, reason_out,
                                   detail, detail_size, err.message);
        return MA_OK;
}
