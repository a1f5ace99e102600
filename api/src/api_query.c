/*
 * api_query.c - reading the views (for one party of a question, and for the
 * /v1 overview and index) and writing the audit row.  Each party is read with
 * two statements (the total count and the page) that the caller runs inside one
 * REPEATABLE READ transaction, so the total and the page agree.  Every value
 * from the request travels as a parameter.  The only SQL text built at run time
 * is the ORDER BY list, which api_order_by() takes from a fixed table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/pg.h"

/* Filters shared by the count and the page.  $1 kund pseudonym, $2 and $3
 * ärende typ and identifierare, $4 producer, $5 type prefixes, $6 tags,
 * $7 and $8 the time range in ms since the epoch, $9 the types a mandate
 * covers, $12 a kundhandelsereferens; each NULL when it does not apply.
 * $10 and $11 are the page's offset and limit. */
#define API_WHERE                                                              \
        " FROM kundhandelse"                                                   \
        " WHERE ($1::text IS NULL OR kund_pseudonym = $1)"                     \
        " AND ($2::text IS NULL OR (arende_typ = $2"                           \
        "      AND arende_identifierare = $3))"                                \
        " AND ($4::text IS NULL OR producent_organisationsnummer = $4)"        \
        " AND ($5::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest($5::text[])" \
        "      AS p(x) WHERE kundhandelse_typ = p.x"                           \
        "      OR left(kundhandelse_typ, length(p.x) + 1) = p.x || '.'))"      \
        " AND ($6::text[] IS NULL OR taggar && $6::text[])"                    \
        " AND ($7::bigint IS NULL OR tidpunkt >= 'epoch'::timestamptz"         \
        "      + $7::bigint * interval '1 millisecond')"                       \
        " AND ($8::bigint IS NULL OR tidpunkt < 'epoch'::timestamptz"          \
        "      + $8::bigint * interval '1 millisecond')"                       \
        " AND ($9::text[] IS NULL OR kundhandelse_typ = ANY ($9::text[]))"     \
        " AND ($12::text IS NULL OR kundhandelsereferens = $12)"

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
        "  'version', version, 'utokadInformation', utokad_information,"       \
        "  'referenser', referenser, 'taggar', taggar,"                        \
        "  'giltigTill', giltig_till, 'atgardSenast', atgard_senast,"          \
        "  'kundhandelsereferens', kundhandelsereferens)::text"

#define API_PARAMS 12

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
static json_t *api_event_part(const api_party_t *party, PGresult *res, int row)
{
        json_t *part = json_object();

        if (part == NULL)
                return NULL;
        if (party->has_kund) {
                json_t *kund = json_pack("{s:s, s:s}", "identifierare",
                                         party->kund_identifierare, "typ",
                                         ma_kund_typ_name(party->kund_typ));

                if (kund != NULL && party->kund_tillagg != NULL)
                        json_object_set_new(kund, "tillagg",
                                            json_string(party->kund_tillagg));
                json_object_set_new(part, "kund", kund);
        }
        if (!PQgetisnull(res, row, 3))
                json_object_set_new(part, "arende",
                                    json_pack("{s:s, s:s}", "identifierare",
                                              PQgetvalue(res, row, 4), "typ",
                                              PQgetvalue(res, row, 3)));
        return part;
}

static ma_status_t api_append_events(const api_party_t *party, PGresult *res,
                                     json_t *events, json_t *disclosed,
                                     ma_error_t *err)
{
        for (int row = 0; row < PQntuples(res); row++) {
                json_t *event = json_loads(PQgetvalue(res, row, 5), 0, NULL);
                ma_instant_t instant;
                char when[40];

                if (event == NULL)
                        return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                            "could not read event \"%s\": the "
                                            "database returned invalid JSON",
                                            PQgetvalue(res, row, 1));
                api_drop_nulls(event);
                instant.utc_ms = strtoll(PQgetvalue(res, row, 2), NULL, 10);
                instant.offset_min = ma_stockholm_offset_min(instant.utc_ms);
                ma_instant_format(&instant, when, sizeof(when));
                json_object_set_new(event, "tidpunkt", json_string(when));
                json_object_set_new(event, "part",
                                    api_event_part(party, res, row));
                json_array_append_new(events, event);
                json_array_append_new(disclosed,
                                      json_pack("{s:s, s:s}", "producent",
                                                PQgetvalue(res, row, 0),
                                                "kundhandelseId",
                                                PQgetvalue(res, row, 1)));
        }
        return MA_OK;
}

ma_status_t api_query_party(PGconn *conn, const api_question_t *q,
                            const api_party_t *party,
                            const char *kund_pseudonym, const char *producer,
                            char *const *allowed_types, size_t allowed_count,
                            json_t *events, long long *total_out,
                            json_t *disclosed, ma_error_t *err)
{
        static const char count_sql[] =
                "SELECT count(*)" API_WHERE " AND $10::bigint >= 0"
                " AND $11::bigint > 0";
        char order[512];
        char page_sql[sizeof(API_EVENT_COLUMNS API_WHERE) + 600];
        api_params_t params;
        PGresult *res;
        ma_status_t status;

        if (!api_params_fill(&params, q, party, kund_pseudonym, producer,
                             allowed_types, allowed_count)) {
                api_params_clear(&params);
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        }
        res = PQexecParams(conn, count_sql, API_PARAMS, NULL, params.values,
                           NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                status = ma_pg_error(conn, res, "could not count events", err);
                PQclear(res);
                api_params_clear(&params);
                return status;
        }
        *total_out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        api_order_by(q, order, sizeof(order));
        snprintf(page_sql, sizeof(page_sql),
                 "%s%s ORDER BY %s OFFSET $10::bigint LIMIT $11::bigint",
                 API_EVENT_COLUMNS, API_WHERE, order);
        res = PQexecParams(conn, page_sql, API_PARAMS, NULL, params.values,
                           NULL, NULL, 0);
        api_params_clear(&params);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                status = ma_pg_error(conn, res, "could not read events", err);
                PQclear(res);
                return status;
        }
        status = api_append_events(party, res, events, disclosed, err);
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
        PGresult *res = PQexecParams(conn, sql, 3, NULL, params, NULL, NULL, 0);
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
                " FROM arende WHERE kund_pseudonym = $1"
                " AND ($2::text[] IS NULL"
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
        res = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
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
                json_array_append_new(disclosed,
                                      json_pack("{s:s, s:s}", "producent",
                                                PQgetvalue(res, row, 0),
                                                "kundhandelseId",
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
        res = PQexecParams(conn, allowed ? mandate_sql : full_sql,
                           allowed ? 2 : 1, NULL, params, NULL, NULL, 0);
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
                json_array_append_new(disclosed,
                                      json_pack("{s:s}", "producent", org));
        }
        PQclear(res);
        return MA_OK;
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
        res = PQexecParams(conn, sql, 11, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
                status = ma_pg_error(conn, res, "could not write audit row",
                                     err);
        PQclear(res);
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
        PGresult *res = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
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
        PGresult *res = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
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
