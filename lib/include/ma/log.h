/*
 * log.h - structured logging for the programs: one logfmt line per event.
 *
 *   ts=2026-12-04T15:47:36.123Z level=info component=processor
 *   msg="batch committed" topic=kh.skv events=250
 *
 * (one line in the output).  ts is UTC with milliseconds.  Values that are
 * empty or contain a space, '=', '"', a control character or a non-ASCII
 * byte are quoted, with \" \\ \n \r \t and \u00XX escapes inside.  Bytes
 * that are not valid UTF-8 are written as \xNN.  Keys are reduced to
 * A-Z a-z 0-9 _ . - (others become '_').  The level is checked
 * before anything is formatted.  Never pass an identity number, secret or
 * key as a value.
 *
 * The library itself never logs; these functions are for programs.
 * Threads: call ma_log_init() before starting threads; after that any
 * thread may log, and each line is written with one locked write.
 */
#ifndef MA_LOG_H
#define MA_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum ma_log_level {
        MA_LOG_DEBUG = 0,
        MA_LOG_INFO = 1,
        MA_LOG_WARN = 2,
        MA_LOG_ERROR = 3,
} ma_log_level_t;

/*
 * Sets the component name (copied, at most 63 bytes), the lowest level
 * written and the output (NULL: stderr).  Defaults before the first call:
 * component "ma", level info, stderr.
 */
void ma_log_init(const char *component, ma_log_level_t level, FILE *out);
void ma_log_set_level(ma_log_level_t level);

/* Parses "debug", "info", "warn" or "error"; -1 when unknown. */
int ma_log_level_parse(const char *name);
const char *ma_log_level_name(ma_log_level_t level);

/* True when a line at level would be written. */
bool ma_log_enabled(ma_log_level_t level);

/* A typed key=value field; build them with MA_LOG_STR and MA_LOG_INT. */
typedef struct ma_log_field {
        const char *key;
        const char *str; /* NULL for a number */
        int64_t num;
} ma_log_field_t;

/* A string field; NULL logs as "".  A function, not a macro, so that an
 * array argument does not trip -Waddress. */
static inline ma_log_field_t ma_log_str_field(const char *key,
                                              const char *value)
{
        ma_log_field_t field = {key, value != NULL ? value : "", 0};

        return field;
}

#define MA_LOG_STR(k, v) ma_log_str_field((k), (v))
#define MA_LOG_INT(k, v) ((ma_log_field_t){(k), NULL, (int64_t)(v)})

/* Writes one line with msg and count fields. */
void ma_log_fields(ma_log_level_t level, const char *msg,
                   const ma_log_field_t *fields, size_t count);

/*
 * Writes one line with msg and string fields given as key, value pairs
 * ending with NULL: ma_log(MA_LOG_INFO, "started", "topic", t, NULL).
 */
void ma_log(ma_log_level_t level, const char *msg, ...)
#if defined(__GNUC__)
        __attribute__((sentinel))
#endif
        ;

/*
 * Logs with typed fields, formatting nothing when level is off:
 * MA_LOG_AT(MA_LOG_WARN, "retrying", MA_LOG_STR("topic", t),
 *           MA_LOG_INT("attempt", n));  At least one field is needed.
 */
#define MA_LOG_AT(level, msg, ...)                                             \
        do {                                                                   \
                if (ma_log_enabled(level)) {                                   \
                        const ma_log_field_t ma_log_fields_[] = {__VA_ARGS__}; \
                        ma_log_fields((level), (msg), ma_log_fields_,          \
                                      sizeof(ma_log_fields_) /                 \
                                              sizeof(ma_log_fields_[0]));      \
                }                                                              \
        } while (0)

/*
 * Appends key=value in logfmt to buf (NUL-terminated, cut at size).
 * Returns the length the full text needs.  Exposed for tests.
 */
size_t ma_log_format_pair(char *buf, size_t size, const char *key,
                          const char *value);

#endif /* MA_LOG_H */
