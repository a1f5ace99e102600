/*
 * status.h - the one status type of the mina-arenden library.
 *
 * Every library function that can fail returns ma_status_t: zero is success,
 * negative values are local failures.  Functions that can explain a failure
 * also take an optional ma_error_t, which they fill with a readable message
 * and, where a client library was involved, that library's own code
 * (rd_kafka_resp_err_t, a libmosquitto return code or a PostgreSQL
 * SQLSTATE).  The library never prints and never exits.
 */
#ifndef MA_STATUS_H
#define MA_STATUS_H

#include <stddef.h>

typedef enum ma_status {
        MA_OK = 0,
        MA_ERR_NOMEM = -1,     /* an allocation failed */
        MA_ERR_INVALID = -2,   /* a value breaks a validation rule */
        MA_ERR_PARSE = -3,     /* text (JSON, CSV, XML, a time) is malformed */
        MA_ERR_IO = -4,        /* a file could not be read or written */
        MA_ERR_NOT_FOUND = -5, /* a name, id or file does not exist */
        MA_ERR_SCHEMA = -6,    /* an Avro schema is invalid or incompatible */
        MA_ERR_TOO_LARGE = -7, /* input exceeds a configured size limit */
        MA_ERR_TRUNCATED = -8, /* binary input ends before its content */
        MA_ERR_FINGERPRINT = -9, /* no known schema has this fingerprint */
        MA_ERR_ENCODING = -10,   /* not Avro single-object encoding */
        MA_ERR_KAFKA = -11,      /* librdkafka reported an error (cause) */
        MA_ERR_PG = -12,         /* PostgreSQL reported an error (sqlstate) */
        MA_ERR_MQTT = -13,       /* libmosquitto reported an error (cause) */
        MA_ERR_TIMEOUT = -14,    /* an operation did not finish in time */
        MA_ERR_CONFIG = -15,     /* a configuration value is invalid */
        MA_ERR_STATE = -16,      /* called in a state that does not allow it */
        MA_ERR_INTERNAL = -17,   /* a bug: an invariant does not hold */
} ma_status_t;

/* Detail of a failure; a caller that does not care passes NULL. */
typedef struct ma_error {
        ma_status_t status;
        int cause;         /* librdkafka or libmosquitto code, else 0 */
        char sqlstate[6];  /* PostgreSQL SQLSTATE, else "" */
        char field[128];   /* field or JSON path of the problem, or "" */
        char message[512]; /* readable text, no identity numbers */
} ma_error_t;

/* Returns the constant name of a status, for example "MA_ERR_INVALID". */
const char *ma_status_name(ma_status_t status);

/* Returns a short lower-case description of a status. */
const char *ma_status_str(ma_status_t status);

/*
 * Fills err (if not NULL) and returns status, so a failure path reads
 * `return ma_error_set(err, MA_ERR_INVALID, "rubrik", "...", ...);`.
 * field may be NULL.  The message is printf-formatted and truncated to fit.
 */
ma_status_t ma_error_set(ma_error_t *err, ma_status_t status, const char *field,
                         const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 4, 5)))
#endif
        ;

/* Clears err to success; err may be NULL. */
void ma_error_clear(ma_error_t *err);

#endif /* MA_STATUS_H */
