/*
 * api_endpoints.c - the endpoints of ma-api: kundhandelseFragaSynkron
 * (each party decided and read in one REPEATABLE READ transaction),
 * /v1/oversikt, /v1/index, /v1/historik, /v1/meddelande, /v1/katalog,
 * /v1/kundhandelser/{producent}/{kundhandelseId} and /v1/prenumerationer.
 * api_server.c has already checked the key, the scope and (for POST) the
 * body when these run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_http.h"
#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/log.h"
#include "ma/pg.h"

/* ------------------------------------------------------------------------
 * Error bodies
 */

typedef struct api_problem_type {
        const char *name;
        unsigned int status;
        const char *title;
} api_problem_type_t;

/* The first entry of each status is its default type. */
static const api_problem_type_t api_problem_types[] = {
        {API_PROBLEM_INVALID_REQUEST, 400, "Invalid request"},
        {API_PROBLEM_INVALID_JSON, 400, "Request body is not valid JSON"},
        {API_PROBLEM_CORRELATION_ID, 400, "Missing or invalid correlation id"},
        {API_PROBLEM_API_KEY, 401, "Missing, unknown or revoked API key"},
        {API_PROBLEM_USER_TOKEN, 401, "Missing or invalid user token"},
        {API_PROBLEM_ACCESS_DENIED, 403, "Access to the customer denied"},
        {API_PROBLEM_CONSUMER_INACTIVE, 403, "Consumer not active"},
        {API_PROBLEM_MISSING_SCOPE, 403, "Scope not granted"},
        {API_PROBLEM_NOT_FOUND, 404, "Resource not found"},
        {API_PROBLEM_UNKNOWN_ENDPOINT, 404, "No such endpoint"},
        {API_PROBLEM_METHOD_NOT_ALLOWED, 405, "Method not allowed"},
        {API_PROBLEM_BODY_TOO_LARGE, 413, "Request body too large"},
        {API_PROBLEM_MEDIA_TYPE, 415, "Unsupported media type"},
        {API_PROBLEM_INTERNAL, 500, "Internal error"},
        {API_PROBLEM_AUDIT, 500, "Request could not be audited"},
};

static const api_problem_type_t *api_problem_find(unsigned int status,
                                                  const char *problem)
{
        const size_t count =
                sizeof(api_problem_types) / sizeof(api_problem_types[0]);

        for (size_t i = 0; problem != NULL && i < count; i++)
                if (api_problem_types[i].status == status &&
                    strcmp(api_problem_types[i].name, problem) == 0)
                        return &api_problem_types[i];
        for (size_t i = 0; i < count; i++)
                if (api_problem_types[i].status == status)
                        return &api_problem_types[i];
        return NULL;
}

json_t *api_error_body(api_request_t *request, unsigned int status,
                       const char *problem, const char *message)
{
        const api_problem_type_t *type;
        char uri[96];

        if (strncmp(request->path, "/v1", 3) != 0 ||
            (request->path[3] != '/' && request->path[3] != '\0'))
                return json_pack("{s:s}", "message", message);
        type = api_problem_find(status, problem);
        request->content_type = "application/problem+json";
        if (type == NULL)
                return json_pack("{s:s, s:i, s:s}", "type", "about:blank",
                                 "status", (int)status, "detail", message);
        snprintf(uri, sizeof(uri), "%s%s", API_PROBLEM_URI, type->name);
        return json_pack("{s:s, s:s, s:i, s:s}", "type", uri, "title",
                         type->title, "status", (int)status, "detail", message);
}

/* ------------------------------------------------------------------------
 * The question
 */

/* A copy of fraga for the audit row with every kund.identifierare replaced
 * by its pseudonym. */
static json_t *api_mask_question(json_t *root, const api_question_t *q,
                                 json_t *pseudonyms)
{
        json_t *fraga = json_deep_copy(json_object_get(root, "fraga"));
        json_t *parter = json_object_get(fraga, "parter");

        for (size_t i = 0; i < q->party_count; i++) {
                json_t *kund =
                        json_object_get(json_array_get(parter, i), "kund");

                if (kund != NULL)
                        json_object_set(kund, "identifierare",
                                        json_array_get(pseudonyms, i));
        }
        return fraga;
}

typedef struct api_party_result {
        unsigned int http_status; /* 200, or 403 when denied */
        char message[API_MESSAGE_MAX];
        long long total;
} api_party_result_t;

static bool api_types_overlap(const api_question_t *q, const api_grant_t *grant)
{
        if (q->type_count == 0)
                return true;
        for (size_t i = 0; i < q->type_count; i++)
                for (size_t j = 0; j < grant->allowed_count; j++)
                        if (api_type_matches(q->types[i],
                                             grant->allowed_types[j]))
                                return true;
        return false;
}

/* Decides and reads one party, appending its events to events.  A
 * database failure returns non-MA_OK. */
static ma_status_t
api_answer_party(api_server_t *server, PGconn *conn, const api_question_t *q,
                 const api_party_t *party, const api_consumer_t *consumer,
                 const char *user_pseudonym, api_party_keys_t *keys,
                 api_text_t *events, json_t *disclosed,
                 api_party_result_t *result, ma_error_t *err)
{
        api_grant_t grant;
        ma_status_t status;

        result->http_status = 200;
        if (!keys->known) {
                char found[8][MA_PSEUDONYM_HEX_LEN + 1];
                size_t count;
                int typ = -1;

                status = api_query_case_customers(conn, party, q->producer,
                                                  found, &typ, 8, &count, err);
                if (status != MA_OK)
                        return status;
                if (count == 0)
                        return MA_OK; /* nothing to disclose */
                if (count > 1 || typ < 0) {
                        result->http_status = 403;
                        snprintf(result->message, sizeof(result->message),
                                 "the case has events of several customers; "
                                 "ask with both kund and arende");
                        return MA_OK;
                }
                memcpy(keys->lookup, found[0], sizeof(keys->lookup));
                memcpy(keys->person, found[0], sizeof(keys->person));
                keys->typ = (ma_kund_typ_t)typ;
        }
        status = api_auth_customer(conn, server->config.catalog, consumer,
                                   user_pseudonym, keys->person, keys->typ,
                                   &grant, err);
        if (status != MA_OK)
                return status;
        if (grant.access == API_ACCESS_NONE ||
            (grant.access == API_ACCESS_MANDATE &&
             !api_types_overlap(q, &grant))) {
                result->http_status = 403;
                snprintf(result->message, sizeof(result->message),
                         grant.access == API_ACCESS_NONE
                                 ? "the user may not see this customer's "
                                   "events: no mandate, representation or "
                                   "reading agent applies"
                                 : "the user's mandate does not cover the "
                                   "requested kundhandelseTyper");
                api_grant_clear(&grant);
                return MA_OK;
        }
        status = api_query_party_text(
                conn, q, party, keys->lookup, q->producer,
                grant.access == API_ACCESS_MANDATE ? grant.allowed_types : NULL,
                grant.allowed_count, events, &result->total, disclosed, err);
        api_grant_clear(&grant);
        return status;
}

/* delfragor: one entry per producer asked and party. */
static void api_add_delfragor(api_server_t *server, const api_question_t *q,
                              json_t *parter, const api_party_result_t *result,
                              size_t index, json_t *delfragor)
{
        const ma_catalog_t *catalog = server->config.catalog;
        const char *state = result->http_status == 200 ? "OK" : "NEKAD";

        for (size_t p = 0; p < ma_catalog_producer_count(catalog); p++) {
                const ma_producer_t *producer =
                        ma_catalog_producer_at(catalog, p);
                json_t *entry;

                if (q->producer != NULL &&
                    strcmp(q->producer, producer->organisationsnummer) != 0)
                        continue;
                entry = json_pack("{s:s, s:O, s:s, s:i}", "producent",
                                  producer->organisationsnummer, "part",
                                  json_array_get(parter, index), "status",
                                  state, "httpCode", (int)result->http_status);
                if (entry != NULL && result->http_status != 200)
                        json_object_set_new(entry, "message",
                                            json_string(result->message));
                json_array_append_new(delfragor, entry);
        }
}

ma_status_t api_party_keys_fill(api_server_t *server, const api_party_t *party,
                                api_party_keys_t *keys)
{
        ma_status_t status;

        memset(keys, 0, sizeof(*keys));
        if (!party->has_kund)
                return MA_OK;
        keys->known = true;
        keys->typ = party->kund_typ;
        status = ma_pseudonym_customer(
                server->config.pseudonym_key, party->kund_typ,
                party->kund_identifierare, party->kund_tillagg, keys->lookup);
        if (status != MA_OK)
                return status;
        return ma_pseudonym_customer(server->config.pseudonym_key,
                                     party->kund_typ, party->kund_identifierare,
                                     NULL, keys->person);
}

/* Decides and reads every party in one REPEATABLE READ transaction, then
 * responds 200, 206 (some parties denied) or 403 (all denied).  The
 * audit row of the response commits that transaction. */
static enum MHD_Result api_fraga(api_server_t *server,
                                 struct MHD_Connection *connection,
                                 api_request_t *request, PGconn *conn,
                                 api_outcome_t *outcome, json_t *root,
                                 api_question_t *q)
{
        json_t *fraga = json_object_get(root, "fraga");
        json_t *parter = json_object_get(fraga, "parter");
        json_t *delfragor = json_array();
        /* The body is written as text so that the events, which
         * PostgreSQL returns as JSON, are copied instead of parsed. */
        api_text_t body = {0}, events = {0};
        api_party_keys_t keys;
        api_party_result_t result;
        size_t allowed = 0;
        const char *first_denial = NULL;
        char denial[API_MESSAGE_MAX + 32] = "";
        char number[32];
        ma_error_t err;
        ma_status_t status = MA_OK;

        q->producer = request->producer ? request->producer->organisationsnummer
                                        : NULL;
        outcome->kund_pseudonyms = json_array();
        outcome->disclosed = json_array();
        for (size_t i = 0; i < q->party_count; i++) {
                if (api_party_keys_fill(server, &q->parties[i], &keys) != MA_OK)
                        status = MA_ERR_INTERNAL;
                json_array_append_new(
                        outcome->kund_pseudonyms,
                        json_string(keys.known ? keys.lookup : ""));
        }
        outcome->question =
                api_mask_question(root, q, outcome->kund_pseudonyms);
        /* Not READ ONLY: the audit row joins this transaction and commits
         * with it (api_audit_insert()).  BEGIN travels with the first
         * statement. */
        api_pg_begin_deferred("BEGIN ISOLATION LEVEL REPEATABLE READ");
        api_text_puts(&body, "{\"kundhandelser\":[");
        for (size_t i = 0; status == MA_OK && i < q->party_count; i++) {
                api_party_keys_fill(server, &q->parties[i], &keys);
                memset(&result, 0, sizeof(result));
                events.len = 0;
                api_text_puts(&events, "[");
                status = api_answer_party(
                        server, conn, q, &q->parties[i], &outcome->consumer,
                        outcome->user_pseudonym, &keys, &events,
                        outcome->disclosed, &result, &err);
                if (status != MA_OK)
                        break;
                api_add_delfragor(server, q, parter, &result, i, delfragor);
                if (result.http_status == 200) {
                        api_text_puts(&body, allowed > 0 ? ",{\"part\":"
                                                         : "{\"part\":");
                        api_text_json(&body, json_array_get(parter, i));
                        snprintf(number, sizeof(number), "%lld", result.total);
                        api_text_puts(&body, ",\"totaltAntalKundhandelser\":");
                        api_text_puts(&body, number);
                        api_text_puts(&body, ",\"kundhandelserForPart\":");
                        api_text_append(&body, events.data, events.len);
                        api_text_puts(&body, "]}");
                        allowed++;
                } else if (first_denial == NULL) {
                        snprintf(denial, sizeof(denial), "parter[%zu]: %s", i,
                                 result.message);
                        first_denial = denial;
                }
        }
        api_text_free(&events);
        api_pg_begin_deferred(NULL);
        if (status != MA_OK) {
                if (PQtransactionStatus(conn) != PQTRANS_IDLE)
                        PQclear(PQexec(conn, "ROLLBACK"));
                api_text_free(&body);
                json_decref(delfragor);
                ma_log(MA_LOG_ERROR, "question failed", "correlation_id",
                       request->correlation_id, "error", err.message,
                       "sqlstate", err.sqlstate, NULL);
                return api_error(server, connection, request, conn, outcome,
                                 500,
                                 "could not read the events; try again later");
        }
        if (allowed == 0) {
                api_text_free(&body);
                json_decref(delfragor);
                return api_error(server, connection, request, conn, outcome,
                                 403, "%s", first_denial);
        }
        api_text_puts(&body, "],\"metadata\":");
        api_text_json(&body, fraga);
        api_text_puts(&body, ",\"delfragor\":");
        api_text_json(&body, delfragor);
        api_text_puts(&body, "}");
        json_decref(delfragor);
        return api_answer_text(server, connection, request, conn, outcome,
                               first_denial ? 206 : 200, &body, first_denial);
}

/*
 * Pseudonymises the user into the outcome and checks the user's token.
 * Returns true when the request may go on; otherwise *result holds the
 * queued error response (500, or the denial's problem).
 */
static bool api_user_allowed(api_server_t *server,
                             struct MHD_Connection *connection,
                             api_request_t *request, PGconn *conn,
                             api_outcome_t *outcome, const api_question_t *user,
                             enum MHD_Result *result)
{
        api_denial_t denial;
        ma_error_t err;

        ma_pseudonym_customer(server->config.pseudonym_key, user->anvandare_typ,
                              user->anvandare, NULL, outcome->user_pseudonym);
        if (api_auth_user(
                    conn, &outcome->consumer,
                    MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION),
                    user->anvandare, &server->config.token_rules,
                    ma_now_ms() / 1000, &denial, &err) != MA_OK) {
                *result = api_error(server, connection, request, conn, outcome,
                                    500, "could not check the user token");
                return false;
        }
        if (denial.http_status != 0) {
                *result = api_problem(server, connection, request, conn,
                                      outcome, denial.http_status,
                                      denial.problem, "%s", denial.message);
                return false;
        }
        return true;
}

/* Parses the question, checks the user's token and runs api_fraga(). */
enum MHD_Result api_post_fraga(api_server_t *server,
                               struct MHD_Connection *connection,
                               api_request_t *request, PGconn *conn,
                               api_outcome_t *outcome, json_t *root)
{
        api_question_t *q = ma_malloc(sizeof(*q));
        char message[API_MESSAGE_MAX];
        enum MHD_Result result;

        if (q == NULL)
                return MHD_NO;
        if (!api_question_parse(root, q, message, sizeof(message))) {
                result = api_error(server, connection, request, conn, outcome,
                                   400, "%s", message);
                goto done;
        }
        if (!api_user_allowed(server, connection, request, conn, outcome, q,
                              &result))
                goto done;
        result = api_fraga(server, connection, request, conn, outcome, root, q);
done:
        ma_free(q);
        return result;
}

/* ------------------------------------------------------------------------
 * The /v1 endpoints
 */

static json_t *api_katalog_types(const ma_process_t *process)
{
        json_t *types = json_array();

        for (size_t i = 0; i < process->event_type_count; i++) {
                const ma_event_type_t *type = &process->event_types[i];
                json_t *entry = json_pack(
                        "{s:s, s:s, s:b, s:b, s:s}", "namn", type->name,
                        "beskrivning", type->description, "kraverKundatgard",
                        type->customer_has_ball, "klart", type->case_finished,
                        "notifiering",
                        ma_notification_kind_name(type->notification));

                if (entry != NULL && type->authorisation_object_type != NULL)
                        json_object_set_new(
                                entry, "behorighetsobjektstyp",
                                json_string(type->authorisation_object_type));
                json_array_append_new(types, entry);
        }
        return types;
}

/* The catalog as JSON: producers, their processes and event types. */
static json_t *api_katalog_json(const ma_catalog_t *catalog)
{
        json_t *producers = json_array();

        for (size_t p = 0; p < ma_catalog_producer_count(catalog); p++) {
                const ma_producer_t *producer =
                        ma_catalog_producer_at(catalog, p);
                json_t *processes = json_array();

                for (size_t i = 0; i < producer->process_count; i++) {
                        const ma_process_t *process = &producer->processes[i];

                        json_array_append_new(
                                processes,
                                json_pack("{s:s, s:s, s:o}", "namn",
                                          process->name, "beskrivning",
                                          process->description,
                                          "kundhandelseTyper",
                                          api_katalog_types(process)));
                }
                json_array_append_new(
                        producers,
                        json_pack("{s:s, s:s, s:s, s:s, s:o}",
                                  "organisationsnummer",
                                  producer->organisationsnummer, "namn",
                                  producer->name, "prefix", producer->prefix,
                                  "typ", ma_producer_kind_name(producer->kind),
                                  "processer", processes));
        }
        return json_pack("{s:o}", "producenter", producers);
}

enum MHD_Result api_v1_katalog(api_server_t *server,
                               struct MHD_Connection *connection,
                               api_request_t *request, PGconn *conn,
                               api_outcome_t *outcome)
{
        return api_answer(server, connection, request, conn, outcome, 200,
                          api_katalog_json(server->config.catalog), NULL);
}

/* Checks that the body has what the route needs and nothing it would
 * ignore: /v1/historik needs arende, /v1/meddelande a
 * kundhandelsereferens, and the others take neither. */
static bool api_v1_body_fits(const api_request_t *request,
                             const api_subject_t *subject, char *message,
                             size_t size)
{
        bool wants_arende = request->route == API_ROUTE_HISTORIK;
        bool wants_referens = request->route == API_ROUTE_MEDDELANDE;

        if (subject->party.has_arende != wants_arende) {
                snprintf(message, size,
                         wants_arende ? "arende is missing: %s needs the case"
                                      : "arende is not used by %s",
                         request->path);
                return false;
        }
        if ((subject->question.referens != NULL) != wants_referens) {
                snprintf(message, size,
                         wants_referens
                                 ? "kundhandelsereferens is missing: %s "
                                   "needs the message reference"
                                 : "kundhandelsereferens is not used by %s",
                         request->path);
                return false;
        }
        return true;
}

/* Reads what the route returns about the customer, once authorised.
 * *total is set for the routes that return events. */
static ma_status_t api_v1_read(api_server_t *server, PGconn *conn,
                               api_request_t *request,
                               const api_subject_t *subject, const char *lookup,
                               const api_grant_t *grant, json_t *items,
                               long long *total, json_t *disclosed,
                               ma_error_t *err)
{
        char *const *allowed = grant->access == API_ACCESS_MANDATE
                                       ? grant->allowed_types
                                       : NULL;
        api_question_t *q;
        ma_status_t status;

        if (request->route == API_ROUTE_OVERSIKT)
                return api_query_overview(conn, lookup, allowed,
                                          grant->allowed_count, items,
                                          disclosed, err);
        if (request->route == API_ROUTE_INDEX)
                return api_query_index(conn, server->config.catalog, lookup,
                                       allowed, grant->allowed_count, items,
                                       disclosed, err);
        /* History and message lookup: the case's or the reference's events,
         * oldest first. */
        q = ma_malloc(sizeof(*q));
        if (q == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        *q = subject->question;
        q->offset = 0;
        q->limit = API_LIMIT_MAX;
        q->sort[0].attribute = API_SORT_TIDPUNKT;
        q->sort[0].ascending = true;
        q->sort_count = 1;
        status = api_query_party(conn, q, &subject->party, lookup, NULL,
                                 allowed, grant->allowed_count, items, total,
                                 disclosed, err);
        ma_free(q);
        return status;
}

/* The JSON member that contains the route's list. */
static const char *api_v1_list_name(api_route_kind_t route)
{
        switch (route) {
        case API_ROUTE_OVERSIKT:
                return "arenden";
        case API_ROUTE_INDEX:
                return "producenter";
        default:
                return "kundhandelser";
        }
}

/* The masked question of the audit row: pseudonym, case, reference. */
static json_t *api_v1_audit_question(const api_subject_t *subject,
                                     const api_party_keys_t *keys)
{
        json_t *question = json_pack("{s:s, s:s}", "kund", keys->lookup, "typ",
                                     ma_kund_typ_name(keys->typ));

        if (question != NULL && subject->party.has_arende)
                json_object_set_new(
                        question, "arende",
                        json_pack(
                                "{s:s, s:s}", "identifierare",
                                subject->party.arende_identifierare, "typ",
                                ma_arende_typ_name(subject->party.arende_typ)));
        if (question != NULL && subject->question.referens != NULL)
                json_object_set_new(question, "kundhandelsereferens",
                                    json_string(subject->question.referens));
        return question;
}

/* POST /v1/oversikt, /v1/index, /v1/historik and /v1/meddelande: the
 * user's right to see the customer is decided as for a party of a
 * question. */
enum MHD_Result api_v1_customer(api_server_t *server,
                                struct MHD_Connection *connection,
                                api_request_t *request, PGconn *conn,
                                api_outcome_t *outcome, json_t *root)
{
        api_subject_t subject;
        api_party_keys_t keys;
        api_grant_t grant = {0};
        enum MHD_Result result;
        char message[API_MESSAGE_MAX];
        json_t *items, *body;
        long long total = -1;
        ma_error_t err;
        ma_status_t status;

        if (!api_subject_parse(root, &subject, message, sizeof(message)) ||
            !api_v1_body_fits(request, &subject, message, sizeof(message)))
                return api_error(server, connection, request, conn, outcome,
                                 400, "%s", message);
        if (!api_user_allowed(server, connection, request, conn, outcome,
                              &subject.question, &result))
                return result;
        if (api_party_keys_fill(server, &subject.party, &keys) != MA_OK)
                return api_error(server, connection, request, conn, outcome,
                                 500, "could not pseudonymise the customer");
        outcome->kund_pseudonyms = json_pack("[s]", keys.lookup);
        outcome->question = api_v1_audit_question(&subject, &keys);
        outcome->disclosed = json_array();
        items = json_array();
        status = ma_pg_exec(
                conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &err);
        if (status == MA_OK)
                status = api_auth_customer(conn, server->config.catalog,
                                           &outcome->consumer,
                                           outcome->user_pseudonym, keys.person,
                                           keys.typ, &grant, &err);
        if (status == MA_OK && grant.access != API_ACCESS_NONE)
                status = api_v1_read(server, conn, request, &subject,
                                     keys.lookup, &grant, items, &total,
                                     outcome->disclosed, &err);
        ma_pg_exec(conn, status == MA_OK ? "COMMIT" : "ROLLBACK", NULL);
        if (status != MA_OK) {
                json_decref(items);
                api_grant_clear(&grant);
                ma_log(MA_LOG_ERROR, "read failed", "correlation_id",
                       request->correlation_id, "error", err.message,
                       "sqlstate", err.sqlstate, NULL);
                return api_error(server, connection, request, conn, outcome,
                                 500,
                                 "could not read the views; try again "
                                 "later");
        }
        if (grant.access == API_ACCESS_NONE) {
                json_decref(items);
                return api_error(server, connection, request, conn, outcome,
                                 403,
                                 "the user may not see this customer: no "
                                 "mandate, representation or reading agent "
                                 "applies");
        }
        body = json_pack("{s:o, s:s}", api_v1_list_name(request->route), items,
                         "atkomst", api_access_name(grant.access));
        api_grant_clear(&grant);
        if (body != NULL && total >= 0)
                json_object_set_new(body, "totaltAntalKundhandelser",
                                    json_integer(total));
        return api_answer(server, connection, request, conn, outcome, 200, body,
                          NULL);
}

/* ------------------------------------------------------------------------
 * GET /v1/kundhandelser/{producent}/{kundhandelseId}
 */

#define API_EVENT_PREFIX "/v1/kundhandelser/"
#define API_USER_HEADER  "X-Anvandare"

/* Whether the grant lets the user see an event of type. */
static bool api_grant_covers(const api_grant_t *grant, const char *type)
{
        if (grant->access == API_ACCESS_NONE)
                return false;
        if (grant->access != API_ACCESS_MANDATE)
                return true;
        for (size_t i = 0; i < grant->allowed_count; i++)
                if (strcmp(grant->allowed_types[i], type) == 0)
                        return true;
        return false;
}

/* Decides and reads the event in one REPEATABLE READ transaction.  Sets
 * *access to API_ACCESS_NONE when the event is absent or the user may not
 * see it, which the caller answers alike so that existence is not
 * revealed. */
static ma_status_t api_v1_event_read(api_server_t *server, PGconn *conn,
                                     const char *producer, const char *id,
                                     api_outcome_t *outcome, json_t *events,
                                     api_access_t *access, ma_error_t *err)
{
        char kund[MA_PSEUDONYM_HEX_LEN + 1] = "";
        char type[256];
        int typ = -1;
        bool found = false;
        api_grant_t grant = {0};
        ma_status_t status;

        *access = API_ACCESS_NONE;
        status = ma_pg_exec(
                conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
        if (status == MA_OK)
                status = api_query_event_owner(conn, producer, id, &found, kund,
                                               &typ, type, sizeof(type), err);
        if (status == MA_OK && found && typ >= 0) {
                json_array_append_new(outcome->kund_pseudonyms,
                                      json_string(kund));
                status = api_auth_customer(conn, server->config.catalog,
                                           &outcome->consumer,
                                           outcome->user_pseudonym, kund,
                                           (ma_kund_typ_t)typ, &grant, err);
        }
        if (status == MA_OK && api_grant_covers(&grant, type)) {
                *access = grant.access;
                status = api_query_event(conn, producer, id, events,
                                         outcome->disclosed, err);
        }
        api_grant_clear(&grant);
        ma_pg_exec(conn, status == MA_OK ? "COMMIT" : "ROLLBACK", NULL);
        return status;
}

/* The event a notification's hamta.path names.  The user comes in the
 * X-Anvandare header, since a GET has no body; a private consumer's
 * token must name the same user. */
enum MHD_Result api_v1_event(api_server_t *server,
                             struct MHD_Connection *connection,
                             api_request_t *request, PGconn *conn,
                             api_outcome_t *outcome)
{
        const char *producer = request->producer->organisationsnummer;
        const char *id = strchr(request->path + strlen(API_EVENT_PREFIX), '/');
        const char *user = MHD_lookup_connection_value(
                connection, MHD_HEADER_KIND, API_USER_HEADER);
        api_subject_t *subject;
        char message[API_MESSAGE_MAX];
        json_t *root, *events, *event;
        api_access_t access;
        enum MHD_Result result;
        ma_error_t err;
        ma_status_t status;

        id++; /* api_route() checked that the path has both segments */
        if (user == NULL)
                return api_error(server, connection, request, conn, outcome,
                                 400,
                                 "missing " API_USER_HEADER " header: send "
                                 "the user's personnummer or "
                                 "samordningsnummer (12 digits)");
        subject = ma_malloc(sizeof(*subject));
        root = json_pack("{s:s}", "anvandare", user);
        if (subject == NULL || root == NULL) {
                ma_free(subject);
                json_decref(root);
                return MHD_NO;
        }
        if (!api_subject_parse(root, subject, message, sizeof(message))) {
                result = api_error(server, connection, request, conn, outcome,
                                   400, API_USER_HEADER " header: %s", message);
                goto done;
        }
        if (!api_user_allowed(server, connection, request, conn, outcome,
                              &subject->question, &result))
                goto done;
        outcome->kund_pseudonyms = json_array();
        /* The id stays out: it is request text that may hold an identity
         * number, and the audit row's endpoint has it with digits masked. */
        outcome->question = json_pack("{s:s}", "producent", producer);
        outcome->disclosed = json_array();
        events = json_array();
        status = api_v1_event_read(server, conn, producer, id, outcome, events,
                                   &access, &err);
        if (status != MA_OK) {
                json_decref(events);
                ma_log(MA_LOG_ERROR, "read failed", "correlation_id",
                       request->correlation_id, "error", err.message,
                       "sqlstate", err.sqlstate, NULL);
                result = api_error(server, connection, request, conn, outcome,
                                   500,
                                   "could not read the views; try again "
                                   "later");
        } else if (access == API_ACCESS_NONE || json_array_size(events) != 1) {
                json_decref(events);
                result = api_error(server, connection, request, conn, outcome,
                                   404,
                                   "no kundhandelse with that id from "
                                   "producer %s that this user may see",
                                   producer);
        } else {
                /* The view keeps only the customer's pseudonym; the
                 * identity number is known when the customer is the user. */
                event = json_array_get(events, 0);
                if (access == API_ACCESS_SELF)
                        json_object_set_new(
                                json_object_get(event, "part"), "kund",
                                json_pack("{s:s, s:s}", "identifierare",
                                          subject->question.anvandare, "typ",
                                          ma_kund_typ_name(
                                                  subject->question
                                                          .anvandare_typ)));
                result = api_answer(
                        server, connection, request, conn, outcome, 200,
                        json_pack("{s:O, s:s}", "kundhandelse", event,
                                  "atkomst", api_access_name(access)),
                        NULL);
                json_decref(events);
        }
done:
        json_decref(root);
        ma_free(subject);
        return result;
}

/* ------------------------------------------------------------------------
 * Subscriptions: POST and GET /v1/prenumerationer, DELETE
 * /v1/prenumerationer/{prenumerationId}.  Rows of notifier_subscription
 * (0200_notifier.sql), owned by the consumer that created them.
 */

#define API_SUBSCRIPTION_PREFIX     "/v1/prenumerationer/"
#define API_SUBSCRIPTION_FILTER_MAX 100
#define API_CONSENT_MAX             200
#define API_PAGE_DEFAULT            100

/* The row as the API shows it; the customer stays a pseudonym and is left
 * out.  Columns: id, producers, type prefixes, kinds, consent, active,
 * created, each array as JSON text. */
#define API_SUBSCRIPTION_COLUMNS                                               \
        "subscription_id::text, to_json(producers)::text,"                     \
        " to_json(type_prefixes)::text, to_json(kinds)::text,"                 \
        " consent_reference, active,"                                          \
        " (extract(epoch FROM created_at) * 1000)::bigint"

static json_t *api_subscription_json(PGresult *res, int row)
{
        static const char *const arrays[] = {
                "producenter", "kundhandelseTypPrefix", "notifieringar"};
        ma_instant_t created;
        char when[40];
        json_t *entry = json_pack("{s:s, s:s, s:b}", "prenumerationId",
                                  PQgetvalue(res, row, 0), "samtyckesreferens",
                                  PQgetvalue(res, row, 4), "aktiv",
                                  strcmp(PQgetvalue(res, row, 5), "t") == 0);

        if (entry == NULL)
                return NULL;
        for (int i = 0; i < 3; i++)
                if (!PQgetisnull(res, row, 1 + i))
                        json_object_set_new(
                                entry, arrays[i],
                                json_loads(PQgetvalue(res, row, 1 + i), 0,
                                           NULL));
        created.utc_ms = strtoll(PQgetvalue(res, row, 6), NULL, 10);
        created.offset_min = ma_stockholm_offset_min(created.utc_ms);
        ma_instant_format(&created, when, sizeof(when));
        json_object_set_new(entry, "skapad", json_string(when));
        return entry;
}

/* Reads an optional array of at most API_SUBSCRIPTION_FILTER_MAX strings;
 * an absent member leaves *out NULL.  An empty array is refused: it would
 * match nothing. */
static bool api_string_array(json_t *root, const char *name, json_t **out,
                             char *message, size_t size)
{
        json_t *array = json_object_get(root, name), *item;
        size_t i;

        *out = NULL;
        if (array == NULL)
                return true;
        if (!json_is_array(array) || json_array_size(array) == 0 ||
            json_array_size(array) > API_SUBSCRIPTION_FILTER_MAX) {
                snprintf(message, size,
                         "%s must be an array of 1 to %d strings; leave it "
                         "out to match all",
                         name, API_SUBSCRIPTION_FILTER_MAX);
                return false;
        }
        json_array_foreach(array, i, item)
        {
                if (!json_is_string(item)) {
                        snprintf(message, size, "%s[%zu] must be a string",
                                 name, i);
                        return false;
                }
        }
        *out = array;
        return true;
}

/* The filters of a new subscription, checked against the catalog.
 * producers holds organisationsnummer (a prefix is translated). */
typedef struct api_subscription_filters {
        json_t *producers; /* owned, or NULL: all */
        json_t *prefixes;  /* borrowed, or NULL: all */
        json_t *kinds;     /* borrowed, or NULL: the table's default */
        const char *consent;
} api_subscription_filters_t;

/* Whether prefix matches at least one event type of the catalog, and,
 * with a mandate grant, whether the mandates cover every type it matches. */
static bool api_prefix_check(const ma_catalog_t *catalog, const char *prefix,
                             const api_grant_t *grant, bool *covered)
{
        bool known = false;

        *covered = true;
        for (size_t p = 0; p < ma_catalog_producer_count(catalog); p++) {
                const ma_producer_t *producer =
                        ma_catalog_producer_at(catalog, p);

                for (size_t i = 0; i < producer->process_count; i++) {
                        const ma_process_t *process = &producer->processes[i];

                        for (size_t t = 0; t < process->event_type_count; t++) {
                                const char *type = process->event_types[t].name;

                                if (!api_type_matches(prefix, type))
                                        continue;
                                known = true;
                                if (grant != NULL &&
                                    !api_grant_covers(grant, type))
                                        *covered = false;
                        }
                }
        }
        return known;
}

/* The number of characters (code points) of valid UTF-8 text. */
static size_t api_utf8_length(const char *text)
{
        size_t count = 0;

        for (; *text != '\0'; text++)
                if (((unsigned char)*text & 0xC0) != 0x80)
                        count++;
        return count;
}

static bool api_subscription_parse(const ma_catalog_t *catalog, json_t *root,
                                   api_subscription_filters_t *filters,
                                   char *message, size_t size)
{
        static const char *const kinds[] = {"decision", "action_required",
                                            "expiring", "service"};
        json_t *consent = json_object_get(root, "samtyckesreferens");
        json_t *producers, *item;
        size_t i;

        memset(filters, 0, sizeof(*filters));
        if (!json_is_string(consent) ||
            api_utf8_length(json_string_value(consent)) == 0 ||
            api_utf8_length(json_string_value(consent)) > API_CONSENT_MAX) {
                snprintf(message, size,
                         "samtyckesreferens is required: the reference of "
                         "the customer's consent, 1 to %d characters",
                         API_CONSENT_MAX);
                return false;
        }
        filters->consent = json_string_value(consent);
        if (!api_string_array(root, "producenter", &producers, message, size) ||
            !api_string_array(root, "kundhandelseTypPrefix", &filters->prefixes,
                              message, size) ||
            !api_string_array(root, "notifieringar", &filters->kinds, message,
                              size))
                return false;
        json_array_foreach(filters->kinds, i, item)
        {
                size_t k = 0;

                while (k < 4 && strcmp(json_string_value(item), kinds[k]) != 0)
                        k++;
                if (k == 4) {
                        snprintf(message, size,
                                 "notifieringar[%zu] is not a notification "
                                 "kind: use decision, action_required, "
                                 "expiring or service",
                                 i);
                        return false;
                }
        }
        json_array_foreach(filters->prefixes, i, item)
        {
                bool covered;

                if (!api_prefix_check(catalog, json_string_value(item), NULL,
                                      &covered)) {
                        snprintf(message, size,
                                 "kundhandelseTypPrefix[%zu] matches no event "
                                 "type of the catalog (GET /v1/katalog)",
                                 i);
                        return false;
                }
        }
        if (producers == NULL)
                return true;
        filters->producers = json_array();
        json_array_foreach(producers, i, item)
        {
                const ma_producer_t *producer = ma_catalog_find_producer(
                        catalog, json_string_value(item));

                if (producer == NULL)
                        producer = ma_catalog_find_prefix(
                                catalog, json_string_value(item));
                if (producer == NULL) {
                        snprintf(message, size,
                                 "producenter[%zu] is not a producer of the "
                                 "catalog: give its organisationsnummer or "
                                 "prefix (GET /v1/katalog)",
                                 i);
                        json_decref(filters->producers);
                        filters->producers = NULL;
                        return false;
                }
                json_array_append_new(
                        filters->producers,
                        json_string(producer->organisationsnummer));
        }
        return true;
}

/* Copies anvandare and kund into a body api_subject_parse() accepts. */
static json_t *api_subscription_subject(json_t *root)
{
        json_t *subject = json_object();

        if (subject == NULL)
                return NULL;
        if (json_object_get(root, "anvandare") != NULL)
                json_object_set(subject, "anvandare",
                                json_object_get(root, "anvandare"));
        if (json_object_get(root, "kund") != NULL)
                json_object_set(subject, "kund", json_object_get(root, "kund"));
        return subject;
}

static bool api_subscription_keys_known(json_t *root, char *message,
                                        size_t size)
{
        static const char *const keys[] = {"anvandare",
                                           "kund",
                                           "samtyckesreferens",
                                           "producenter",
                                           "kundhandelseTypPrefix",
                                           "notifieringar",
                                           NULL};
        const char *key;
        json_t *value;

        if (!json_is_object(root)) {
                snprintf(message, size, "request body must be a JSON object");
                return false;
        }
        json_object_foreach(root, key, value)
        {
                size_t k = 0;

                while (keys[k] != NULL && strcmp(keys[k], key) != 0)
                        k++;
                if (keys[k] == NULL) {
                        snprintf(message, size,
                                 "unknown attribute \"%.64s\" in the request",
                                 key);
                        return false;
                }
        }
        return true;
}

/* With a mandate, the subscription is limited to what the mandates cover:
 * given prefixes must lie inside them, and without prefixes the covered
 * types become the filter.  Returns the prefixes to store (new reference),
 * or NULL with *denied set. */
static json_t *api_subscription_scope(const ma_catalog_t *catalog,
                                      const api_grant_t *grant,
                                      json_t *prefixes, bool *denied)
{
        json_t *item, *out;
        size_t i;

        *denied = false;
        if (grant->access != API_ACCESS_MANDATE)
                return prefixes != NULL ? json_incref(prefixes) : json_null();
        if (prefixes != NULL) {
                json_array_foreach(prefixes, i, item)
                {
                        bool covered;

                        api_prefix_check(catalog, json_string_value(item),
                                         grant, &covered);
                        if (!covered) {
                                *denied = true;
                                return NULL;
                        }
                }
                return json_incref(prefixes);
        }
        if (grant->allowed_count == 0) {
                *denied = true;
                return NULL;
        }
        out = json_array();
        for (i = 0; i < grant->allowed_count; i++)
                json_array_append_new(out,
                                      json_string(grant->allowed_types[i]));
        return out;
}

/* A JSON array parameter as text[], NULL staying NULL (ARRAY() of no rows
 * would be an empty array, which matches nothing). */
#define API_TEXT_ARRAY(param)                                                  \
        "CASE WHEN " param "::jsonb IS NULL THEN NULL ELSE ARRAY(SELECT"       \
        " jsonb_array_elements_text(" param "::jsonb)) END"

static ma_status_t api_subscription_insert(PGconn *conn, const char *consumer,
                                           const char *kund,
                                           const api_subscription_filters_t *f,
                                           json_t *prefixes, json_t *created,
                                           ma_error_t *err)
{
        static const char sql[] =
                "INSERT INTO notifier_subscription (consumer_id,"
                " kund_pseudonym, producers, type_prefixes, kinds,"
                " consent_reference) VALUES ($1, $2,"
                " " API_TEXT_ARRAY("$3") ", " API_TEXT_ARRAY(
                        "$4") ","
                              " COALESCE(" API_TEXT_ARRAY(
                                      "$5") ","
                                            "  "
                                            "'{decision,action_required,"
                                            "expiring,service}'), $6)"
                                            " RETURNING"
                                            " " API_SUBSCRIPTION_COLUMNS;
        char *texts[3] = {NULL, NULL, NULL};
        json_t *arrays[3] = {f->producers, prefixes, f->kinds};
        const char *params[6];
        PGresult *res;
        ma_status_t status = MA_OK;

        for (int i = 0; i < 3; i++)
                if (arrays[i] != NULL && json_is_array(arrays[i]))
                        texts[i] = json_dumps(arrays[i], JSON_COMPACT);
        params[0] = consumer;
        params[1] = kund;
        params[2] = texts[0];
        params[3] = texts[1];
        params[4] = texts[2];
        params[5] = f->consent;
        res = PQexecParams(conn, sql, 6, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
                status = ma_pg_error(conn, res,
                                     "could not create the subscription", err);
        else
                json_object_set_new(created, "prenumeration",
                                    api_subscription_json(res, 0));
        PQclear(res);
        for (int i = 0; i < 3; i++)
                free(texts[i]);
        return status;
}

enum MHD_Result api_v1_subscription_create(api_server_t *server,
                                           struct MHD_Connection *connection,
                                           api_request_t *request, PGconn *conn,
                                           api_outcome_t *outcome, json_t *root)
{
        const ma_catalog_t *catalog = server->config.catalog;
        api_subscription_filters_t filters = {0};
        api_subject_t *subject = ma_malloc(sizeof(*subject));
        json_t *subject_json = api_subscription_subject(root);
        json_t *prefixes = NULL, *body = json_object();
        api_party_keys_t keys;
        api_grant_t grant = {0};
        char message[API_MESSAGE_MAX];
        enum MHD_Result result;
        bool denied = false;
        ma_error_t err;
        ma_status_t status;

        if (subject == NULL || subject_json == NULL || body == NULL) {
                result = MHD_NO;
                goto done;
        }
        if (!api_subscription_keys_known(root, message, sizeof(message)) ||
            !api_subject_parse(subject_json, subject, message,
                               sizeof(message)) ||
            !api_subscription_parse(catalog, root, &filters, message,
                                    sizeof(message))) {
                result = api_error(server, connection, request, conn, outcome,
                                   400, "%s", message);
                goto done;
        }
        if (!api_user_allowed(server, connection, request, conn, outcome,
                              &subject->question, &result))
                goto done;
        if (api_party_keys_fill(server, &subject->party, &keys) != MA_OK) {
                result = api_error(server, connection, request, conn, outcome,
                                   500, "could not pseudonymise the customer");
                goto done;
        }
        outcome->kund_pseudonyms = json_pack("[s]", keys.lookup);
        outcome->question =
                json_pack("{s:s, s:s, s:s, s:O?, s:O?, s:O?}", "kund",
                          keys.lookup, "typ", ma_kund_typ_name(keys.typ),
                          "samtyckesreferens", filters.consent, "producenter",
                          filters.producers, "kundhandelseTypPrefix",
                          filters.prefixes, "notifieringar", filters.kinds);
        status = ma_pg_exec(conn, "BEGIN", &err);
        if (status == MA_OK)
                status = api_auth_customer(conn, catalog, &outcome->consumer,
                                           outcome->user_pseudonym, keys.person,
                                           keys.typ, &grant, &err);
        if (status == MA_OK && grant.access != API_ACCESS_NONE)
                prefixes = api_subscription_scope(catalog, &grant,
                                                  filters.prefixes, &denied);
        if (status == MA_OK && grant.access != API_ACCESS_NONE && !denied)
                status = api_subscription_insert(
                        conn, outcome->consumer.consumer_id, keys.lookup,
                        &filters, prefixes, body, &err);
        ma_pg_exec(conn, status == MA_OK ? "COMMIT" : "ROLLBACK", NULL);
        if (status != MA_OK) {
                ma_log(MA_LOG_ERROR, "subscription not created",
                       "correlation_id", request->correlation_id, "error",
                       err.message, "sqlstate", err.sqlstate, NULL);
                result = api_error(server, connection, request, conn, outcome,
                                   500,
                                   "could not create the subscription; try "
                                   "again later");
        } else if (grant.access == API_ACCESS_NONE) {
                result = api_error(server, connection, request, conn, outcome,
                                   403,
                                   "the user may not see this customer: no "
                                   "mandate, representation or reading agent "
                                   "applies");
        } else if (denied) {
                result = api_error(server, connection, request, conn, outcome,
                                   403,
                                   "the user's mandate does not cover every "
                                   "event type of kundhandelseTypPrefix");
        } else {
                result = api_answer(server, connection, request, conn, outcome,
                                    201, body, NULL);
                body = NULL;
        }
done:
        api_grant_clear(&grant);
        json_decref(prefixes);
        json_decref(filters.producers);
        json_decref(subject_json);
        json_decref(body);
        ma_free(subject);
        return result;
}

/* Whether text is a UUID in the canonical 8-4-4-4-12 hex form, so it can
 * be compared with a uuid column without a cast error. */
static bool api_uuid_valid(const char *text)
{
        static const char form[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
        size_t i;

        for (i = 0; form[i] != '\0'; i++) {
                char c = text[i];

                if (form[i] == '-' ? c != '-'
                                   : !((c >= '0' && c <= '9') ||
                                       (c >= 'a' && c <= 'f') ||
                                       (c >= 'A' && c <= 'F')))
                        return false;
        }
        return text[i] == '\0';
}

/* Parses ?antal= (1 to API_LIMIT_MAX) and ?efter= (a prenumerationId,
 * the cursor of the previous page). */
static bool api_page_args(struct MHD_Connection *connection, long *limit,
                          const char **after, char *message, size_t size)
{
        const char *text = MHD_lookup_connection_value(
                connection, MHD_GET_ARGUMENT_KIND, "antal");
        char *end;

        *limit = API_PAGE_DEFAULT;
        *after = MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND,
                                             "efter");
        if (text != NULL) {
                *limit = strtol(text, &end, 10);
                if (end == text || *end != '\0' || *limit < 1 ||
                    *limit > API_LIMIT_MAX) {
                        snprintf(message, size,
                                 "antal must be an integer from 1 to %d",
                                 API_LIMIT_MAX);
                        return false;
                }
        }
        if (*after != NULL && !api_uuid_valid(*after)) {
                snprintf(message, size,
                         "efter must be the prenumerationId that ended the "
                         "previous page");
                return false;
        }
        return true;
}

/* The consumer's subscriptions, active and ended, ordered by id; a page
 * that may have a successor carries "nasta", the efter of the next. */
enum MHD_Result api_v1_subscription_list(api_server_t *server,
                                         struct MHD_Connection *connection,
                                         api_request_t *request, PGconn *conn,
                                         api_outcome_t *outcome)
{
        static const char sql[] =
                "SELECT " API_SUBSCRIPTION_COLUMNS
                " FROM notifier_subscription WHERE consumer_id = $1"
                " AND ($2::uuid IS NULL OR subscription_id > $2::uuid)"
                " ORDER BY subscription_id LIMIT $3::bigint";
        char message[API_MESSAGE_MAX], limit_text[24];
        const char *after, *params[3];
        json_t *items, *body;
        long limit;
        PGresult *res;
        ma_error_t err;

        if (!api_page_args(connection, &limit, &after, message,
                           sizeof(message)))
                return api_error(server, connection, request, conn, outcome,
                                 400, "%s", message);
        outcome->question =
                json_pack("{s:i, s:s?}", "antal", (int)limit, "efter", after);
        snprintf(limit_text, sizeof(limit_text), "%ld", limit + 1);
        params[0] = outcome->consumer.consumer_id;
        params[1] = after;
        params[2] = limit_text;
        res = PQexecParams(conn, sql, 3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                ma_pg_error(conn, res, "could not list the subscriptions",
                            &err);
                PQclear(res);
                ma_log(MA_LOG_ERROR, "read failed", "correlation_id",
                       request->correlation_id, "error", err.message,
                       "sqlstate", err.sqlstate, NULL);
                return api_error(server, connection, request, conn, outcome,
                                 500,
                                 "could not list the subscriptions; try "
                                 "again later");
        }
        items = json_array();
        for (int row = 0; row < PQntuples(res) && row < limit; row++)
                json_array_append_new(items, api_subscription_json(res, row));
        body = json_pack("{s:o}", "prenumerationer", items);
        if (body != NULL && PQntuples(res) > limit)
                json_object_set_new(
                        body, "nasta",
                        json_string(PQgetvalue(res, (int)limit - 1, 0)));
        PQclear(res);
        return api_answer(server, connection, request, conn, outcome, 200, body,
                          NULL);
}

/* Ends one of the consumer's subscriptions (active = false, which cancels
 * its pending notifications: 0201_notifier_subscription_end.sql).  An id
 * of another consumer is answered as unknown. */
enum MHD_Result api_v1_subscription_end(api_server_t *server,
                                        struct MHD_Connection *connection,
                                        api_request_t *request, PGconn *conn,
                                        api_outcome_t *outcome)
{
        static const char sql[] =
                "UPDATE notifier_subscription SET active = false"
                " WHERE subscription_id = $1::uuid AND consumer_id = $2"
                " RETURNING " API_SUBSCRIPTION_COLUMNS;
        const char *id = request->path + strlen(API_SUBSCRIPTION_PREFIX);
        const char *params[2] = {id, outcome->consumer.consumer_id};
        json_t *body;
        PGresult *res;
        ma_error_t err;

        if (api_uuid_valid(id))
                outcome->question = json_pack("{s:s}", "prenumerationId", id);
        else
                return api_error(server, connection, request, conn, outcome,
                                 404,
                                 "no subscription with that id: give a "
                                 "prenumerationId from GET "
                                 "/v1/prenumerationer");
        res = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                ma_pg_error(conn, res, "could not end the subscription", &err);
                PQclear(res);
                ma_log(MA_LOG_ERROR, "subscription not ended", "correlation_id",
                       request->correlation_id, "error", err.message,
                       "sqlstate", err.sqlstate, NULL);
                return api_error(server, connection, request, conn, outcome,
                                 500,
                                 "could not end the subscription; try again "
                                 "later");
        }
        if (PQntuples(res) != 1) {
                PQclear(res);
                return api_error(server, connection, request, conn, outcome,
                                 404,
                                 "no subscription with that id for this "
                                 "consumer: give a prenumerationId from GET "
                                 "/v1/prenumerationer");
        }
        body = json_pack("{s:o}", "prenumeration",
                         api_subscription_json(res, 0));
        PQclear(res);
        return api_answer(server, connection, request, conn, outcome, 200, body,
                          NULL);
}
