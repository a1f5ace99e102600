/*
 * validate.h - rules beyond the Avro schema: identity numbers, names, times,
 * lengths and text.  Each function checks one thing and, on failure, fills
 * err with the field, the offending value (never an identity number in
 * full, see below) and what would be valid.
 *
 * Identity numbers are 12 digits (century included).  Error messages show
 * only the digit count and which check failed, never the number itself, so
 * that they can be logged.
 */
#ifndef MA_VALIDATE_H
#define MA_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ma/catalog.h"
#include "ma/event.h"
#include "ma/status.h"

/* Luhn check digit over the last ten digits of a 10- or 12-digit number. */
bool ma_luhn_valid(const char *digits, size_t len);

/* A personnummer: 12 digits, real date, valid Luhn. */
ma_status_t ma_validate_personnummer(const char *id, ma_error_t *err);
/* A samordningsnummer: as a personnummer with 60 added to the day. */
ma_status_t ma_validate_samordningsnummer(const char *id, ma_error_t *err);
/*
 * An organisationsnummer, 10 digits (or 12 with the prefix 16): third digit
 * at least 2, valid Luhn.  A sole proprietorship uses the owner's
 * personnummer, typed Personnummer.
 */
ma_status_t ma_validate_organisationsnummer(const char *id, ma_error_t *err);
/* part.kund by its typ. */
ma_status_t ma_validate_kund(ma_kund_typ_t typ, const char *id,
                             ma_error_t *err);

/*
 * An event-type name: PREFIX.SEGMENT.SEGMENT[...]; the prefix is A-Z only,
 * two or more further segments of A-Z, 0-9 and underscore, no å/ä/ö.
 */
ma_status_t ma_validate_event_type_name(const char *name, ma_error_t *err);

/* Valid UTF-8 without NUL or C0 control characters other than \t \n \r. */
bool ma_utf8_valid(const char *text, size_t len);
/* Number of code points in valid UTF-8 text. */
size_t ma_utf8_length(const char *text, size_t len);

/* Limits the validator applies; ma_validate_limits_default() fills them. */
typedef struct ma_validate_limits {
        size_t rubrik_max_chars;      /* 255 */
        size_t beskrivning_max_chars; /* 4000 */
        size_t id_max_chars;          /* 255 */
        size_t tag_max_chars;         /* 100 */
        size_t taggar_max;            /* 100 */
        size_t json_max_bytes;        /* 16384, utokadInformation/referenser */
        int64_t future_max_ms;   /* tidpunkt at most this far ahead: 1 day */
        int64_t past_min_utc_ms; /* tidpunkt not before 1900-01-01 */
} ma_validate_limits_t;
void ma_validate_limits_default(ma_validate_limits_t *limits);

/*
 * Checks the whole event: every rule above, required fields, that
 * utokadInformation and referenser are JSON objects, and, when catalog is
 * not NULL, that the producer exists, the type exists in the catalog and its
 * prefix belongs to the producer identified by producent_organisationsnummer.
 * now_ms is the current time (injectable for tests).  Reports the first
 * problem.
 */
ma_status_t ma_event_validate(const ma_event_t *event,
                              const ma_catalog_t *catalog,
                              const ma_validate_limits_t *limits,
                              int64_t now_ms, ma_error_t *err);

#endif /* MA_VALIDATE_H */
