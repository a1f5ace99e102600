/*
 * api_query.c - reading the views (for one party of a question, and for the
 * /v1 overview and index) and writing the audit row.  Each party is read with
 * one statement that returns the page and the total count; a page past the
 * end needs a second one for the count, which the caller runs in the same
 * REPEATABLE READ transaction, so the total and the page agree.  Statements
 * are prepared once per connection.  Every value from the request travels as
 * a parameter.  The only SQL text built at run time is the ORDER BY list,
 * which api_order_by() takes from a fixed table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/pg.h"

/* The page and the count read kundhandelse with the filters of
 * api_filters that apply.  Parameters: $1 kund pseudonym, $2 and $3 ärende
 * typ and identifierare, $4 producer, $5 type prefixes, $6 tags, $7 and $8
 * the time range in ms since the epoch, $9 the types a mandate covers,
 * $12 a kundhandelsereferens, each NULL when it does not apply; $10 and
 * $11 the page's offset and limit. */
#define API_FROM " FROM kundhandelse WHERE true"

/* A filter is in the statement only when its parameter is not NULL, so
 * each combination is a statement of its own whose generic plan
 * PostgreSQL can keep.  One statement with "$n IS NULL OR ..." for every
 * filter gets a custom plan, made again on every execution. */
static const struct api_filter {
        int param; /* index into the values; the filter applies when set */
        const char *sql;
} api_filters[] = {
        {0, " AND kund_pseudonym = $1"},
        {1, " AND arende_typ = $2 AND arende_identifierare = $3"},
        {3, " AND producent_organisationsnummer = $4"},
        {4, " AND EXISTS (SELECT 1 FROM unnest($5::text[]) AS p(x)"
            " WHERE kundhandelse_typ = p.x"
            " OR left(kundhandelse_typ, length(p.x) + 1) = p.x || '.')"},
        {5, " AND taggar && $6::text[]"},
        {6, " AND tidpunkt >= 'epoch'::timestamptz"
            " + $7::bigint * interval '1 millisecond'"},
        {7, " AND tidpunkt < 'epoch'::timestamptz"
            " + $8::bigint * interval '1 millisecond'"},
        {8, " AND kundhandelse_typ = ANY ($9::text[])"},
        {11, " AND kundhandelsereferens = $12"},
};

/* Types of $1 to $12 (text, text[], bigint), given when preparing, because
 * a statement need not use every parameter. */
static const Oid api_param_types[] = {25, 25, 25,   25, 1009, 1009,
                                      20, 20, 1009, 20, 20,   25};

/* Columns 0 to 4: producer, id, tidpunkt in ms, ärende typ and
 * identifierare.  Column 5: the event's required attributes as a JSON
 * object.  Columns 6 to 10: the optional ones as JSON values, NULL when
 * absent (api_optional_names), so that they are left out without
 * json_strip_nulls(), which would also drop nulls inside
 * utokadInformation. */
#define API_EVENT_COLUMNS                                                      \
        "SELECT producent_organisationsnummer, kundhandelse_id,"               \
        " (extract(epoch FROM tidpunkt) * 1000)::bigint,"                      \
        " arende_typ, arende_identifierare,"                                   \
        " json_build_object('kundhandelseId', kundhandelse_id,"                \
        "  'rubrik', rubrik, 'beskrivning', beskrivning, 'sprak', sprak,"      \
        "  'producent', producent,"                                            \
        "  'producentOrganisationsnummer', producent_organisationsnummer,"     \
        "  'kundhandelseTyp', kundhandelse_typ,"                               \
        "  'producentarendetKraverKundatgard',"                                \
        "  producentarendet_kraver_kundatgard,"                                \
        "  'producentarendetKlart', producentarendet_klart,"                   \
        "  'version', version, 'taggar', taggar)::text,"                       \
        " referenser::text, to_json(giltig_till)::text,"                       \
        " to_json(atgard_senast)::text, to_json(kundhandelsereferens)::text,"  \
        " utokad_information::text"

#define API_OPTIONAL_FIRST 6
#define API_TOTAL_COLUMN   11

static const char *const api_optional_names[] = {
        "referenser", "giltigTill", "atgardSenast", "kundhandelsereferens",
        "utokadInformation"};

#define API_PARAMS 12

/* ------------------------------------------------------------------------
 * Prepared statements
 */

/* The cache of the connection the thread has borrowed (api_conn_get()),
 * or NULL. */
static _Thread_local api_statements_t *api_statements;

void api_statements_use(api_statements_t *statements)
{
        api_statements = statements;
}

void api_statements_clear(api_statements_t *statements)
{
        for (size_t i = 0; i < statements->count; i++)
                ma_free(statements->texts[i]);
        statements->count = 0;
}

static void api_statements_reset(api_statements_t *statements, PGconn *conn)
{
        api_statements_clear(statements);
        statements->conn = conn;
        statements->backend_pid = PQbackendPID(conn);
}

/*
 * Writes the name of sql's prepared statement into name, preparing it
 * first when this session has not.  Returns false when it is not prepared:
 * there is no cache, it is full (many sort orders) or PQprepare() failed,
 * whose result is then in *failed (else NULL).
 */
static bool api_statement_name(PGconn *conn, const char *sql, int count,
                               const Oid *types, char name[32],
                               PGresult **failed)
{
        size_t i;
        PGresult *res;
        char *text;

        *failed = NULL;
        if (api_statements == NULL)
                return false;
        if (api_statements->conn != conn ||
            api_statements->backend_pid != PQbackendPID(conn))
                api_statements_reset(api_statements, conn);
        for (i = 0; i < api_statements->count; i++)
                if (strcmp(api_statements->texts[i], sql) == 0)
                        break;
        snprintf(name, 32, "ma_api_%zu", i);
        if (i < api_statements->count)
                return true;
        if (i == API_STATEMENTS_MAX || (text = ma_strdup(sql)) == NULL)
                return false;
        res = PQprepare(conn, name, sql, count, types);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                ma_free(text);
                *failed = res;
                return false;
        }
        PQclear(res);
        api_statements->texts[i] = text;
        api_statements->count++;
        return true;
}

/* The BEGIN statement that api_pg_exec_prepared() sends before its next
 * statement, or NULL. */
static _Thread_local const char *api_begin_deferred;

void api_pg_begin_deferred(const char *begin)
{
        api_begin_deferred = begin;
}

/* Sends the deferred BEGIN and the statement in one round trip (libpq
 * pipeline mode) and returns the statement's result, or BEGIN's when that
 * failed. */
static PGresult *api_pg_exec_after_begin(PGconn *conn, const char *begin,
                                         const char *name, const char *sql,
                                         int count, const Oid *types,
                                         const char *const *params)
{
        PGresult *res, *begun, *result;

        if (!PQenterPipelineMode(conn))
                return NULL;
        PQsendQueryParams(conn, begin, 0, NULL, NULL, NULL, NULL, 0);
        if (name != NULL)
                PQsendQueryPrepared(conn, name, count, params, NULL, NULL, 0);
        else
                PQsendQueryParams(conn, sql, count, types, params, NULL, NULL,
                                  0);
        PQpipelineSync(conn);
        /* Each statement's result is followed by NULL, the sync's is not. */
        begun = PQgetResult(conn);
        while ((res = PQgetResult(conn)) != NULL)
                PQclear(res);
        result = PQgetResult(conn);
        while ((res = PQgetResult(conn)) != NULL)
                PQclear(res);
        PQclear(PQgetResult(conn));
        PQexitPipelineMode(conn);
        if (PQresultStatus(begun) != PGRES_COMMAND_OK) {
                PQclear(result);
                return begun;
        }
        PQclear(begun);
        return result;
}

/* api_pg_exec_prepared() with the parameters' types (NULL: inferred). */
static PGresult *api_pg_exec_typed(PGconn *conn, const char *sql, int count,
                                   const Oid *types, const char *const *params)
{
        const char *begin = api_begin_deferred;
        char name[32];
        PGresult *failed;
        bool prepared;

        /* Prepared outside the transaction, so that a failure cannot
         * abort it. */
        prepared = api_statement_name(conn, sql, count, types, name, &failed);
        if (begin != NULL && failed == NULL) {
                api_begin_deferred = NULL;
                return api_pg_exec_after_begin(conn, begin,
                                               prepared ? name : NULL, sql,
                                               count, types, params);
        }
        if (prepared)
                return PQexecPrepared(conn, name, count, params, NULL, NULL, 0);
        if (failed != NULL)
                return failed;
        return PQexecParams(conn, sql, count, types, params, NULL, NULL, 0);
}

PGresult *api_pg_exec_prepared(PGconn *conn, const char *sql, int count,
                               const char *const *params)
{
        return api_pg_exec_typed(conn, sql, count, NULL, params);
}

/*
 * Returns a PostgreSQL array literal of the strings, each double-quoted
 * with '"' and '\' escaped, owned by the caller; NULL when out of memory.
 */
static char *api_pg_array(const char *const *items, size_t count)
{
        size_t len = 3;
        char *out, *p;

        for (size_t i = 0; i < count; i++)
                len += 2 * strlen(items[i]) + 3;
        out = ma_malloc(len);
        if (out == NULL)
                return NULL;
        p = out;
        *p++ = '{';
        for (size_t i = 0; i < count; i++) {
                if (i > 0)
                        *p++ = ',';
                *p++ = '"';
                for (const char *s = items[i]; *s != '\0'; s++) {
                        if (*s == '"' || *s == '\\')
                                *p++ = '\\';
                        *p++ = *s;
                }
                *p++ = '"';
        }
        *p++ = '}';
        *p = '\0';
        return out;
}

typedef struct api_params {
        const char *values[API_PARAMS];
        char *arrays[3]; /* owned: types, tags, allowed types */
        char numbers[4][24];
} api_params_t;

static void api_params_clear(api_params_t *params)
{
        for (size_t i = 0; i < 3; i++)
                ma_free(params->arrays[i]);
}

static bool api_params_fill(api_params_t *params, const api_question_t *q,
                            const api_party_t *party,
                            const char *kund_pseudonym, const char *producer,
                            char *const *allowed_types, size_t allowed_count)
{
        memset(params, 0, sizeof(*params));
        params->values[0] = kund_pseudonym;
        if (party->has_arende) {
                params->values[1] = ma_arende_typ_name(party->arende_typ);
                params->values[2] = party->arende_identifierare;
        }
        params->values[3] = producer;
        if (q->type_count > 0) {
                params->arrays[0] = api_pg_array(q->types, q->type_count);
                if (params->arrays[0] == NULL)
                        return false;
                params->values[4] = params->arrays[0];
        }
        if (q->tag_count > 0) {
                params->arrays[1] = api_pg_array(q->tags, q->tag_count);
                if (params->arrays[1] == NULL)
                        return false;
                params->values[5] = params->arrays[1];
        }
        if (q->has_start) {
                snprintf(params->numbers[0], 24, "%lld",
                         (long long)q->start_utc_ms);
                params->values[6] = params->numbers[0];
        }
        if (q->has_end) {
                snprintf(params->numbers[1], 24, "%lld",
                         (long long)q->end_utc_ms);
                params->values[7] = params->numbers[1];
        }
        if (allowed_types != NULL) {
                params->arrays[2] = api_pg_array(
                        (const char *const *)allowed_types, allowed_count);
                if (params->arrays[2] == NULL)
                        return false;
                params->values[8] = params->arrays[2];
        }
        snprintf(params->numbers[2], 24, "%lld", (long long)q->offset);
        snprintf(params->numbers[3], 24, "%lld", (long long)q->limit);
        params->values[9] = params->numbers[2];
        params->values[10] = params->numbers[3];
        params->values[11] = q->referens;
        return true;
}

/* Writes API_FROM and the filters whose parameters are set. */
static void api_where(const api_params_t *params, char *out, size_t size)
{
        size_t len = (size_t)snprintf(out, size, "%s", API_FROM);

        for (size_t i = 0; i < sizeof(api_filters) / sizeof(api_filters[0]);
             i++)
                if (params->values[api_filters[i].param] != NULL && len < size)
                        len += (size_t)snprintf(out + len, size - len, "%s",
                                                api_filters[i].sql);
}

/* ------------------------------------------------------------------------
 * JSON text
 */

void api_text_append(api_text_t *text, const char *data, size_t size)
{
        if (text->failed)
                return;
        if (text->len + size + 1 > text->cap) {
                size_t cap = text->cap ? text->cap : 4096;
                char *bigger;

                while (cap < text->len + size + 1)
                        cap *= 2;
                bigger = ma_realloc(text->data, cap);
                if (bigger == NULL) {
                        text->failed = true;
                        return;
                }
                text->data = bigger;
                text->cap = cap;
        }
        memcpy(text->data + text->len, data, size);
        text->len += size;
        text->data[text->len] = '\0';
}

void api_text_puts(api_text_t *text, const char *string)
{
        api_text_append(text, string, strlen(string));
}

static int api_text_dump_cb(const char *buffer, size_t size, void *data)
{
        api_text_append(data, buffer, size);
        return 0;
}

void api_text_json(api_text_t *text, const json_t *value)
{
        if (value == NULL ||
            json_dump_callback(value, api_text_dump_cb, text,
                               JSON_COMPACT | JSON_ENCODE_ANY) != 0)
                text->failed = true;
}

void api_text_free(api_text_t *text)
{
        ma_free(text->data);
        memset(text, 0, sizeof(*text));
}

/* Removes members that are JSON null: optional attributes are left out. */
static void api_drop_nulls(json_t *object)
{
        const char *key;
        json_t *value;
        void *tmp;

        json_object_foreach_safe(object, tmp, key, value)
        {
                if (json_is_null(value))
                        json_object_del(object, key);
        }
}

/* The event's part: the kund as the question named it (the view holds
 * only its pseudonym) and the event's own ärende. */
static void api_event_part(api_text_t *out, const char *kund_json,
                           PGresult *res, int row)
{
        api_text_puts(out, "{");
        if (kund_json != NULL) {
                api_text_puts(out, "\"kund\":");
                api_text_puts(out, kund_json);
        }
        if (!PQgetisnull(res, row, 3)) {
                json_t *arende = json_pack("{s:s, s:s}", "identifierare",
                                           PQgetvalue(res, row, 4), "typ",
                                           PQgetvalue(res, row, 3));

                api_text_puts(out, kund_json != NULL ? ",\"arende\":"
                                                     : "\"arende\":");
                api_text_json(out, arende);
                json_decref(arende);
        }
        api_text_puts(out, "}");
}

/*
 * Appends the events of res to out as JSON objects separated by commas
 * (a comma first unless out is empty or ends with '['): the database's
 * object of the
 * required attributes with the optional ones, tidpunkt in Swedish time
 * and part added.  Appends [producent, kundhandelseId] pairs to
 * disclosed.
 */
static ma_status_t api_events_text(const api_party_t *party, PGresult *res,
                                   api_text_t *out, json_t *disclosed,
                                   ma_error_t *err)
{
        json_t *kund = NULL;
        char *kund_json = NULL;

        if (party->has_kund) {
                kund = json_pack("{s:s, s:s}", "identifierare",
                                 party->kund_identifierare, "typ",
                                 ma_kund_typ_name(party->kund_typ));
                if (kund != NULL && party->kund_tillagg != NULL)
                        json_object_set_new(kund, "tillagg",
                                            json_string(party->kund_tillagg));
                kund_json = kund ? json_dumps(kund, JSON_COMPACT) : NULL;
                json_decref(kund);
                if (kund_json == NULL)
                        return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                            "out of memory");
        }
        for (int row = 0; row < PQntuples(res); row++) {
                const char *object = PQgetvalue(res, row, 5);
                size_t len = strlen(object);
                ma_instant_t instant;
                char when[64];

                if (len < 2 || object[len - 1] != '}') {
                        free(kund_json);
                        return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                            "could not read event \"%s\": "
                                            "the database returned no JSON "
                                            "object",
                                            PQgetvalue(res, row, 1));
                }
                if (out->len > 0 && out->data[out->len - 1] != '[')
                        api_text_puts(out, ",");
                api_text_append(out, object, len - 1);
                for (int i = 0; i < 5; i++) {
                        if (PQgetisnull(res, row, API_OPTIONAL_FIRST + i))
                                continue;
                        api_text_puts(out, ",\"");
                        api_text_puts(out, api_optional_names[i]);
                        api_text_puts(out, "\":");
                        api_text_puts(out, PQgetvalue(res, row,
                                                      API_OPTIONAL_FIRST + i));
                }
                instant.utc_ms = strtoll(PQgetvalue(res, row, 2), NULL, 10);
                instant.offset_min = ma_stockholm_offset_min(instant.utc_ms);
                ma_instant_format(&instant, when, sizeof(when));
                api_text_puts(out, ",\"tidpunkt\":\"");
                api_text_puts(out, when);
                api_text_puts(out, "\",\"part\":");
                api_event_part(out, kund_json, res, row);
                api_text_puts(out, "}");
                json_array_append_new(
                        disclosed, json_pack("[s, s]", PQgetvalue(res, row, 0),
                                             PQgetvalue(res, row, 1)));
        }
        free(kund_json);
        if (out->failed)
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        return MA_OK;
}

/* api_events_text() into a JSON array of events. */
static ma_status_t api_append_events(const api_party_t *party, PGresult *res,
                                     json_t *events, json_t *disclosed,
                                     ma_error_t *err)
{
        api_text_t text = {0};
        json_t *parsed;
        ma_status_t status;

        api_text_puts(&text, "[");
        status = api_events_text(party, res, &text, disclosed, err);
        api_text_puts(&text, "]");
        if (status != MA_OK || text.failed) {
                api_text_free(&text);
                return status != MA_OK ? status
                                       : ma_error_set(err, MA_ERR_NOMEM, NULL,
                                                      "out of memory");
        }
        parsed = json_loadb(text.data, text.len, 0, NULL);
        api_text_free(&text);
        if (parsed == NULL)
                return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                    "could not read events: the database "
                                    "returned invalid JSON");
        json_array_extend(events, parsed);
        json_decref(parsed);
        return MA_OK;
}

/* Reads one party's page and total.  *res_out is NULL when the page is
 * empty. */
static ma_status_t
api_query_page(PGconn *conn, const api_question_t *q, const api_party_t *party,
               const char *kund_pseudonym, const char *producer,
               char *const *allowed_types, size_t allowed_count,
               PGresult **res_out, long long *total_out, ma_error_t *err)
{
        char where[1024];
        char order[512];
        char page_sql[sizeof(API_EVENT_COLUMNS) + sizeof(where) +
                      2 * sizeof(order) + 256];
        char count_sql[sizeof(where) + 32];
        api_params_t params;
        PGresult *res;
        ma_status_t status;

        if (!api_params_fill(&params, q, party, kund_pseudonym, producer,
                             allowed_types, allowed_count)) {
                api_params_clear(&params);
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        }
        api_where(&params, where, sizeof(where));
        /* The page carries the total as a window count taken before
         * OFFSET and LIMIT; the inner query sorts the rows, the outer one
         * builds JSON for the page's rows only. */
        api_order_by(q, order, sizeof(order));
        snprintf(page_sql, sizeof(page_sql),
                 "%s, total FROM (SELECT kundhandelse.*, count(*) OVER ()"
                 " AS total%s ORDER BY %s OFFSET $10::bigint"
                 " LIMIT $11::bigint) AS kundhandelse ORDER BY %s",
                 API_EVENT_COLUMNS, where, order, order);
        res = api_pg_exec_typed(conn, page_sql, API_PARAMS, api_param_types,
                                params.values);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                status = ma_pg_error(conn, res, "could not read events", err);
                PQclear(res);
                api_params_clear(&params);
                return status;
        }
        if (PQntuples(res) > 0) {
                *total_out =
                        strtoll(PQgetvalue(res, 0, API_TOTAL_COLUMN), NULL, 10);
        } else if (q->offset == 0) {
                *total_out = 0;
        } else {
                /* An offset past the end returns no row to carry the
                 * total. */
                PQclear(res);
                snprintf(count_sql, sizeof(count_sql), "SELECT count(*)%s",
                         where);
                res = api_pg_exec_typed(conn, count_sql, API_PARAMS,
                                        api_param_types, params.values);
                if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                        status = ma_pg_error(conn, res,
                                             "could not count events", err);
                        PQclear(res);
                        api_params_clear(&params);
                        return status;
                }
                *total_out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
                PQclear(res);
                res = NULL;
        }
        api_params_clear(&params);
        if (res != NULL && PQntuples(res) == 0) {
                PQclear(res);
                res = NULL;
        }
        *res_out = res;
        return MA_OK;
}

ma_status_t api_query_party(PGconn *conn, const api_question_t *q,
                            const api_party_t *party,
                            const char *kund_pseudonym, const char *producer,
                            char *const *allowed_types, size_t allowed_count,
                            json_t *events, long long *total_out,
                            json_t *disclosed, ma_error_t *err)
{
        PGresult *res;
        ma_status_t status = api_query_page(
                conn, q, party, kund_pseudonym, producer, allowed_types,
                allowed_count, &res, total_out, err);

        if (status == MA_OK && res != NULL)
                status = api_append_events(party, res, events, disclosed, err);
        PQclear(res);
        return status;
}

ma_status_t
api_query_party_text(PGconn *conn, const api_question_t *q,
                     const api_party_t *party, const char *kund_pseudonym,
                     const char *producer, char *const *allowed_types,
                     size_t allowed_count, api_text_t *events,
                     long long *total_out, json_t *disclosed, ma_error_t *err)
{
        PGresult *res;
        ma_status_t status = api_query_page(
                conn, q, party, kund_pseudonym, producer, allowed_types,
                allowed_count, &res, total_out, err);

        if (status == MA_OK && res != NULL)
                status = api_events_text(party, res, events, disclosed, err);
        PQclear(res);
        return status;
}

ma_status_t api_query_case_customers(PGconn *conn, const api_party_t *party,
                                     const char *producer,
                                     char out[][MA_PSEUDONYM_HEX_LEN + 1],
                                     int *typ_out, size_t max,
                                     size_t *count_out, ma_error_t *err)
{
        static const char sql[] =
                "SELECT DISTINCT kund_pseudonym, kund_typ FROM kundhandelse"
                " WHERE arende_typ = $1 AND arende_identifierare = $2"
                " AND ($3::text IS NULL OR producent_organisationsnummer = $3)"
                " AND kund_pseudonym IS NOT NULL"
                " ORDER BY 1 LIMIT 8";
        const char *params[3] = {ma_arende_typ_name(party->arende_typ),
                                 party->arende_identifierare, producer};
        PGresult *res = api_pg_exec_prepared(conn, sql, 3, params);
        ma_status_t status;

        *count_out = 0;
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                status = ma_pg_error(conn, res,
                                     "could not look up the case's customers",
                                     err);
                PQclear(res);
                return status;
        }
        for (int row = 0; row < PQntuples(res) && *count_out < max; row++) {
                snprintf(out[*count_out], MA_PSEUDONYM_HEX_LEN + 1, "%s",
                         PQgetvalue(res, row, 0));
                if (*count_out == 0)
                        *typ_out = ma_kund_typ_parse(PQgetvalue(res, row, 1));
                (*count_out)++;
        }
        PQclear(res);
        return MA_OK;
}

/* Formats ms since the epoch as RFC 3339 with the Swedish offset. */
static json_t *api_swedish_time(const char *utc_ms_text)
{
        ma_instant_t instant;
        char when[40];

        instant.utc_ms = strtoll(utc_ms_text, NULL, 10);
        instant.offset_min = ma_stockholm_offset_min(instant.utc_ms);
        ma_instant_format(&instant, when, sizeof(when));
        return json_string(when);
}

ma_status_t api_query_overview(PGconn *conn, const char *kund_pseudonym,
                               char *const *allowed_types, size_t allowed_count,
                               json_t *cases, json_t *disclosed,
                               ma_error_t *err)
{
        static const char sql[] =
                "SELECT producent_organisationsnummer, latest_kundhandelse_id,"
                " (extract(epoch FROM opened_at) * 1000)::bigint,"
                " (extract(epoch FROM updated_at) * 1000)::bigint,"
                " json_build_object('producent', producent_organisationsnummer,"
                "  'arende', json_build_object('typ', arende_typ,"
                "   'identifierare', arende_identifierare),"
                "  'senasteKundhandelse', json_build_object("
                "   'kundhandelseId', latest_kundhandelse_id,"
                "   'kundhandelseTyp', latest_kundhandelse_typ,"
                "   'rubrik', latest_rubrik),"
                "  'kundenHarBollen', customer_has_ball, 'klart', finished,"
                "  'nastaDeadline', next_deadline, 'giltigTill', giltig_till,"
                "  'antalKundhandelser', event_count)::text"
                " FROM ma_kund_arenden($1) WHERE ($2::text[] IS NULL"
                "      OR latest_kundhandelse_typ = ANY ($2::text[]))"
                " ORDER BY updated_at DESC, producent_organisationsnummer,"
                " arende_typ, arende_identifierare LIMIT 1000";
        char *allowed = NULL;
        const char *params[2] = {kund_pseudonym, NULL};
        PGresult *res;
        ma_status_t status;

        if (allowed_types != NULL) {
                allowed = api_pg_array((const char *const *)allowed_types,
                                       allowed_count);
                if (allowed == NULL)
                        return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                            "out of memory");
                params[1] = allowed;
        }
        res = api_pg_exec_prepared(conn, sql, 2, params);
        ma_free(allowed);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                status = ma_pg_error(conn, res, "could not read cases", err);
                PQclear(res);
                return status;
        }
        for (int row = 0; row < PQntuples(res); row++) {
                json_t *entry = json_loads(PQgetvalue(res, row, 4), 0, NULL);

                if (entry == NULL)
                        continue;
                api_drop_nulls(entry);
                json_object_set_new(entry, "oppnad",
                                    api_swedish_time(PQgetvalue(res, row, 2)));
                json_object_set_new(entry, "uppdaterad",
                                    api_swedish_time(PQgetvalue(res, row, 3)));
                json_array_append_new(cases, entry);
                json_array_append_new(
                        disclosed, json_pack("[s, s]", PQgetvalue(res, row, 0),
                                             PQgetvalue(res, row, 1)));
        }
        PQclear(res);
        return MA_OK;
}

ma_status_t api_query_index(PGconn *conn, const ma_catalog_t *catalog,
                            const char *kund_pseudonym,
                            char *const *allowed_types, size_t allowed_count,
                            json_t *producers, json_t *disclosed,
                            ma_error_t *err)
{
        static const char full_sql[] =
                "SELECT producent_organisationsnummer, event_count,"
                " (extract(epoch FROM first_seen) * 1000)::bigint,"
                " (extract(epoch FROM last_seen) * 1000)::bigint"
                " FROM kund_index WHERE kund_pseudonym = $1"
                " ORDER BY last_seen DESC, producent_organisationsnummer";
        /* A mandate covers only some types, so the index is counted from
         * the events instead of read from kund_index. */
        static const char mandate_sql[] =
                "SELECT producent_organisationsnummer, count(*),"
                " (extract(epoch FROM min(tidpunkt)) * 1000)::bigint,"
                " (extract(epoch FROM max(tidpunkt)) * 1000)::bigint"
                " FROM kundhandelse WHERE kund_pseudonym = $1"
                " AND kundhandelse_typ = ANY ($2::text[])"
                " GROUP BY producent_organisationsnummer"
                " ORDER BY max(tidpunkt) DESC, producent_organisationsnummer";
        char *allowed = NULL;
        const char *params[2] = {kund_pseudonym, NULL};
        PGresult *res;
        ma_status_t status;

        if (allowed_types != NULL) {
                allowed = api_pg_array((const char *const *)allowed_types,
                                       allowed_count);
                if (allowed == NULL)
                        return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                            "out of memory");
                params[1] = allowed;
        }
        res = api_pg_exec_prepared(conn, allowed ? mandate_sql : full_sql,
                                   allowed ? 2 : 1, params);
        ma_free(allowed);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                status = ma_pg_error(conn, res,
                                     "could not read the customer index", err);
                PQclear(res);
                return status;
        }
        for (int row = 0; row < PQntuples(res); row++) {
                const char *org = PQgetvalue(res, row, 0);
                const ma_producer_t *producer =
                        ma_catalog_find_producer(catalog, org);
                json_t *entry = json_pack(
                        "{s:s, s:I}", "producent", org, "antalKundhandelser",
                        (json_int_t)strtoll(PQgetvalue(res, row, 1), NULL, 10));

                if (entry == NULL)
                        continue;
                if (producer != NULL)
                        json_object_set_new(entry, "namn",
                                            json_string(producer->name));
                json_object_set_new(entry, "forsta",
                                    api_swedish_time(PQgetvalue(res, row, 2)));
                json_object_set_new(entry, "senaste",
                                    api_swedish_time(PQgetvalue(res, row, 3)));
                json_array_append_new(producers, entry);
                json_array_append_new(disclosed, json_pack("[s]", org));
        }
        PQclear(res);
        return MA_OK;
}

/*
 * Inserts the audit row into the open transaction and commits both in one
 * round trip (libpq pipeline mode).  The transaction is rolled back when
 * either fails.
 */
static ma_status_t api_audit_commit(PGconn *conn, const char *sql,
                                    const char *const *params, ma_error_t *err)
{
        char name[32];
        PGresult *res, *insert = NULL, *commit = NULL;
        ma_status_t status = MA_OK;
        bool prepared = api_statement_name(conn, sql, 11, NULL, name, &res);

        PQclear(res);
        if (!PQenterPipelineMode(conn))
                return ma_pg_error(conn, NULL, "could not write audit row",
                                   err);
        if (prepared)
                PQsendQueryPrepared(conn, name, 11, params, NULL, NULL, 0);
        else
                PQsendQueryParams(conn, sql, 11, NULL, params, NULL, NULL, 0);
        PQsendQueryParams(conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
        PQpipelineSync(conn);
        /* Each statement's result is followed by NULL, the sync's is not. */
        for (int i = 0; i < 2; i++) {
                res = PQgetResult(conn);
                if (i == 0)
                        insert = res;
                else
                        commit = res;
                while ((res = PQgetResult(conn)) != NULL)
                        PQclear(res);
        }
        res = PQgetResult(conn);
        PQclear(res);
        PQexitPipelineMode(conn);
        if (PQresultStatus(insert) != PGRES_COMMAND_OK)
                status = ma_pg_error(conn, insert, "could not write audit row",
                                     err);
        else if (PQresultStatus(commit) != PGRES_COMMAND_OK)
                status = ma_pg_error(conn, commit,
                                     "could not commit the audit row", err);
        PQclear(insert);
        PQclear(commit);
        if (PQtransactionStatus(conn) != PQTRANS_IDLE)
                PQclear(PQexec(conn, "ROLLBACK"));
        return status;
}

ma_status_t api_audit_insert(PGconn *conn, const api_audit_row_t *row,
                             ma_error_t *err)
{
        static const char sql[] =
                "INSERT INTO api_audit (correlation_id, endpoint, consumer_id,"
                " key_id, user_pseudonym, kund_pseudonyms, question,"
                " disclosed, disclosed_count, decision, http_status, error)"
                " VALUES ($1, $2, $3, $4, $5,"
                " ARRAY(SELECT jsonb_array_elements_text($6::jsonb)),"
                " $7::jsonb, $8::jsonb, jsonb_array_length($8::jsonb), $9,"
                " $10::integer, $11)";
        char *kunder = row->kund_pseudonyms
                               ? json_dumps(row->kund_pseudonyms, JSON_COMPACT)
                               : NULL;
        char *question =
                row->question ? json_dumps(row->question, JSON_COMPACT) : NULL;
        char *disclosed = row->disclosed
                                  ? json_dumps(row->disclosed, JSON_COMPACT)
                                  : NULL;
        char http_status[8];
        const char *params[11];
        PGresult *res;
        ma_status_t status = MA_OK;

        snprintf(http_status, sizeof(http_status), "%u", row->http_status);
        params[0] = row->correlation_id;
        params[1] = row->endpoint;
        params[2] = row->consumer_id;
        params[3] = row->key_id;
        params[4] = row->user_pseudonym;
        params[5] = kunder ? kunder : "[]";
        params[6] = question;
        params[7] = disclosed ? disclosed : "[]";
        params[8] = row->decision;
        params[9] = http_status;
        params[10] = row->error;
        if (PQtransactionStatus(conn) == PQTRANS_INTRANS) {
                status = api_audit_commit(conn, sql, params, err);
        } else {
                res = api_pg_exec_prepared(conn, sql, 11, params);
                if (PQresultStatus(res) != PGRES_COMMAND_OK)
                        status = ma_pg_error(conn, res,
                                             "could not write audit row", err);
                PQclear(res);
        }
        free(kunder);
        free(question);
        free(disclosed);
        return status;
}

/*
 * Looks up whose event (producer, kundhandelse_id) is and its type, so the
 * caller can authorise before reading it.  *found is false when the view
 * has no such event or it has no customer.
 */
ma_status_t api_query_event_owner(PGconn *conn, const char *producer,
                                  const char *kundhandelse_id, bool *found,
                                  char kund_pseudonym[MA_PSEUDONYM_HEX_LEN + 1],
                                  int *kund_typ, char *type, size_t type_size,
                                  ma_error_t *err)
{
        static const char sql[] =
                "SELECT kund_pseudonym, kund_typ, kundhandelse_typ"
                " FROM kundhandelse WHERE producent_organisationsnummer = $1"
                " AND kundhandelse_id = $2 AND kund_pseudonym IS NOT NULL";
        const char *params[2] = {producer, kundhandelse_id};
        PGresult *res = api_pg_exec_prepared(conn, sql, 2, params);
        ma_status_t status;

        *found = false;
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                status = ma_pg_error(conn, res, "could not look up the event",
                                     err);
                PQclear(res);
                return status;
        }
        if (PQntuples(res) == 1) {
                *found = true;
                snprintf(kund_pseudonym, MA_PSEUDONYM_HEX_LEN + 1, "%s",
                         PQgetvalue(res, 0, 0));
                *kund_typ = ma_kund_typ_parse(PQgetvalue(res, 0, 1));
                snprintf(type, type_size, "%s", PQgetvalue(res, 0, 2));
        }
        PQclear(res);
        return MA_OK;
}

/*
 * Appends the event (producer, kundhandelse_id) to events in the
 * standard's attributes, its part holding only the event's ärende (the
 * view keeps the customer as a pseudonym), and records it in disclosed.
 */
ma_status_t api_query_event(PGconn *conn, const char *producer,
                            const char *kundhandelse_id, json_t *events,
                            json_t *disclosed, ma_error_t *err)
{
        static const char sql[] = API_EVENT_COLUMNS
                " FROM kundhandelse WHERE producent_organisationsnummer = $1"
                " AND kundhandelse_id = $2";
        const char *params[2] = {producer, kundhandelse_id};
        const api_party_t no_kund = {0};
        PGresult *res = api_pg_exec_prepared(conn, sql, 2, params);
        ma_status_t status;

        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                status =
                        ma_pg_error(conn, res, "could not read the event", err);
                PQclear(res);
                return status;
        }
        status = api_append_events(&no_kund, res, events, disclosed, err);
        PQclear(res);
        return status;
}
