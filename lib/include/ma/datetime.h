/*
 * datetime.h - instants, RFC 3339 text and Swedish local time.
 *
 * Swedish local time is Europe/Stockholm: UTC+1, and UTC+2 from 01:00 UTC on
 * the last Sunday of March to 01:00 UTC on the last Sunday of October (the
 * EU rule in force since 1996).  The rule is computed here instead of read
 * from the system's tz database so results do not depend on the host.
 */
#ifndef MA_DATETIME_H
#define MA_DATETIME_H

#include <stddef.h>
#include <stdint.h>

#include "ma/event.h"
#include "ma/status.h"

/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
int64_t ma_days_from_civil(int year, int month, int day);
void ma_civil_from_days(int64_t days, int *year, int *month, int *day);

/*
 * Parses RFC 3339 ("2026-03-29T02:30:00+02:00", "...Z", fractions up to
 * nanoseconds are truncated to milliseconds).  Keeps the stated offset.
 * Errors: MA_ERR_PARSE naming the text and the expected form.
 */
ma_status_t ma_instant_parse_rfc3339(const char *text, ma_instant_t *out,
                                     ma_error_t *err);

/*
 * Parses local Swedish time "YYYY-MM-DD HH:MM:SS" (optionally with .fff).
 * A time in the skipped hour of the spring change is an error that says the
 * local time does not exist; a time in the repeated hour of the autumn
 * change is an error that says it is ambiguous and asks for an offset.
 */
ma_status_t ma_instant_parse_stockholm(const char *text, ma_instant_t *out,
                                       ma_error_t *err);

/* Either form: RFC 3339 when the text has an offset or Z, else Stockholm. */
ma_status_t ma_instant_parse(const char *text, ma_instant_t *out,
                             ma_error_t *err);

/* UTC offset of Europe/Stockholm at an instant, in minutes (60 or 120). */
int32_t ma_stockholm_offset_min(int64_t utc_ms);

/*
 * Formats as RFC 3339 with the instant's own offset, milliseconds only when
 * non-zero: "2026-03-29T03:30:00+02:00".  buf needs at least 32 bytes.
 */
size_t ma_instant_format(const ma_instant_t *instant, char *buf, size_t size);

/* Parses "YYYY-MM-DD" to days since 1970-01-01. */
ma_status_t ma_date_parse(const char *text, int32_t *days_out, ma_error_t *err);
/* Formats days since 1970-01-01 as "YYYY-MM-DD"; buf needs 11 bytes. */
size_t ma_date_format(int32_t days, char *buf, size_t size);

/* Current time in milliseconds since the epoch (CLOCK_REALTIME). */
int64_t ma_now_ms(void);

#endif /* MA_DATETIME_H */
