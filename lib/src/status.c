/*
 * status.c - names and messages of ma_status_t, and ma_error_t helpers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ma/status.h"

typedef struct ma_status_desc {
        ma_status_t status;
        const char *name;
        const char *str;
} ma_status_desc_t;

static const ma_status_desc_t ma_status_table[] = {
        {MA_OK, "MA_OK", "success"},
        {MA_ERR_NOMEM, "MA_ERR_NOMEM", "out of memory"},
        {MA_ERR_INVALID, "MA_ERR_INVALID", "invalid value"},
        {MA_ERR_PARSE, "MA_ERR_PARSE", "malformed input"},
        {MA_ERR_IO, "MA_ERR_IO", "input/output error"},
        {MA_ERR_NOT_FOUND, "MA_ERR_NOT_FOUND", "not found"},
        {MA_ERR_SCHEMA, "MA_ERR_SCHEMA", "invalid or incompatible schema"},
        {MA_ERR_TOO_LARGE, "MA_ERR_TOO_LARGE", "input too large"},
        {MA_ERR_TRUNCATED, "MA_ERR_TRUNCATED", "input truncated"},
        {MA_ERR_FINGERPRINT, "MA_ERR_FINGERPRINT",
         "unknown schema fingerprint"},
        {MA_ERR_ENCODING, "MA_ERR_ENCODING", "not Avro single-object encoding"},
        {MA_ERR_KAFKA, "MA_ERR_KAFKA", "Kafka error"},
        {MA_ERR_PG, "MA_ERR_PG", "PostgreSQL error"},
        {MA_ERR_MQTT, "MA_ERR_MQTT", "MQTT error"},
        {MA_ERR_TIMEOUT, "MA_ERR_TIMEOUT", "timed out"},
        {MA_ERR_CONFIG, "MA_ERR_CONFIG", "invalid configuration"},
        {MA_ERR_STATE, "MA_ERR_STATE", "operation not allowed in this state"},
        {MA_ERR_INTERNAL, "MA_ERR_INTERNAL", "internal error"},
};

static const ma_status_desc_t *ma_status_find(ma_status_t status)
{
        size_t i;

        for (i = 0; i < sizeof(ma_status_table) / sizeof(ma_status_table[0]);
             i++) {
                if (ma_status_table[i].status == status)
                        return &ma_status_table[i];
        }
        return NULL;
}

const char *ma_status_name(ma_status_t status)
{
        const ma_status_desc_t *desc = ma_status_find(status);

        return desc ? desc->name : "MA_ERR_UNKNOWN";
}

const char *ma_status_str(ma_status_t status)
{
        const ma_status_desc_t *desc = ma_status_find(status);

        return desc ? desc->str : "unknown status";
}

ma_status_t ma_error_set(ma_error_t *err, ma_status_t status, const char *field,
                         const char *fmt, ...)
{
        va_list ap;

        if (err == NULL)
                return status;
        err->status = status;
        err->cause = 0;
        err->sqlstate[0] = '\0';
        snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
        return status;
}

void ma_error_clear(ma_error_t *err)
{
        if (err != NULL)
                memset(err, 0, sizeof(*err));
}
