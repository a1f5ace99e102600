/*
 * api_endpoints.c - the endpoints of ma-api: kundhandelseFragaSynkron
 * (each party decided and read in one REPEATABLE READ transaction) and
 * /v1/oversikt, /v1/index and /v1/katalog.  api_server.c has already
 * checked the key, the scope and the body when these run.
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
        json_t *events;
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

/* Decides and reads one party.  A database failure returns non-MA_OK. */
static ma_status_t
api_answer_party(api_server_t *server, PGconn *conn, const api_question_t *q,
                 const api_party_t *party, const api_consumer_t *consumer,
                 const char *user_pseudonym, api_party_keys_t *keys,
                 json_t *disclosed, api_party_result_t *result, ma_error_t *err)
{
        api_grant_t grant;
        ma_status_t status;

        result->events = json_array();
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
        status = api_query_party(
                conn, q, party, keys->lookup, q->producer,
                grant.access == API_ACCESS_MANDATE ? grant.allowed_types : NULL,
                grant.allowed_count, result->events, &result->total, disclosed,
                err);
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
 * responds 200, 206 (some parties denied) or 403 (all denied). */
static enum MHD_Result api_fraga(api_server_t *server,
                                 struct MHD_Connection *connection,
                                 api_request_t *request, PGconn *conn,
                                 api_outcome_t *outcome, json_t *root,
                                 api_question_t *q)
{
        json_t *parter =
                json_object_get(json_object_get(root, "fraga"), "parter");
        json_t *kundhandelser = json_array(), *delfragor = json_array();
        api_party_keys_t keys;
        api_party_result_t result;
        size_t allowed = 0;
        const char *first_denial = NULL;
        char denial[API_MESSAGE_MAX + 32] = "";
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
        if (status == MA_OK)
                status = ma_pg_exec(conn,
                                    "BEGIN ISOLATION LEVEL REPEATABLE READ "
                                    "READ ONLY",
                                    &err);
        for (size_t i = 0; status == MA_OK && i < q->party_count; i++) {
                api_party_keys_fill(server, &q->parties[i], &keys);
                memset(&result, 0, sizeof(result));
                status = api_answer_party(server, conn, q, &q->parties[i],
                                          &outcome->consumer,
                                          outcome->user_pseudonym, &keys,
                                          outcome->disclosed, &result, &err);
                if (status != MA_OK) {
                        json_decref(result.events);
                        break;
                }
                api_add_delfragor(server, q, parter, &result, i, delfragor);
                if (result.http_status == 200) {
                        allowed++;
                        json_array_append_new(
                                kundhandelser,
                                json_pack("{s:O, s:I, s:O}", "part",
                                          json_array_get(parter, i),
                                          "totaltAntalKundhandelser",
                                          (json_int_t)result.total,
                                          "kundhandelserForPart",
                                          result.events));
                } else if (first_denial == NULL) {
                        snprintf(denial, sizeof(denial), "parter[%zu]: %s", i,
                                 result.message);
                        first_denial = denial;
                }
                json_decref(result.events);
        }
        if (status != MA_OK) {
                PQclear(PQexec(conn, "ROLLBACK"));
                json_decref(kundhandelser);
                json_decref(delfragor);
                ma_log(MA_LOG_ERROR, "question failed", "correlation_id",
                       request->correlation_id, "error", err.message,
                       "sqlstate", err.sqlstate, NULL);
                return api_error(server, connection, request, conn, outcome,
                                 500,
                                 "could not read the events; try again later");
        }
        ma_pg_exec(conn, "COMMIT", NULL);
        if (allowed == 0) {
                json_decref(kundhandelser);
                json_decref(delfragor);
                return api_error(server, connection, request, conn, outcome,
                                 403, "%s", first_denial);
        }
        return api_answer(server, connection, request, conn, outcome,
                          first_denial ? 206 : 200,
                          json_pack("{s:o, s:O, s:o}", "kundhandelser",
                                    kundhandelser, "metadata",
                                    json_object_get(root, "fraga"), "delfragor",
                                    delfragor),
                          first_denial);
}

/* Parses the question, checks the user's token and runs api_fraga(). */
enum MHD_Result api_post_fraga(api_server_t *server,
                               struct MHD_Connection *connection,
                               api_request_t *request, PGconn *conn,
                               api_outcome_t *outcome, json_t *root)
{
        api_denial_t denial;
        api_question_t *q = ma_malloc(sizeof(*q));
        char message[API_MESSAGE_MAX];
        enum MHD_Result result;
        ma_error_t err;

        if (q == NULL)
                return MHD_NO;
        if (!api_question_parse(root, q, message, sizeof(message))) {
                result = api_error(server, connection, request, conn, outcome,
                                   400, "%s", message);
                goto done;
        }
        ma_pseudonym_customer(server->config.pseudonym_key, q->anvandare_typ,
                              q->anvandare, NULL, outcome->user_pseudonym);
        if (api_auth_user(
                    conn, &outcome->consumer,
                    MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION),
                    q->anvandare, &server->config.token_rules,
                    ma_now_ms() / 1000, &denial, &err) != MA_OK) {
                result = api_error(server, connection, request, conn, outcome,
                                   500, "could not check the user token");
                goto done;
        }
        if (denial.http_status != 0) {
                result = api_error(server, connection, request, conn, outcome,
                                   denial.http_status, "%s", denial.message);
                goto done;
        }
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
        api_denial_t denial;
        char message[API_MESSAGE_MAX];
        json_t *items, *body;
        long long total = -1;
        ma_error_t err;
        ma_status_t status;

        if (!api_subject_parse(root, &subject, message, sizeof(message)) ||
            !api_v1_body_fits(request, &subject, message, sizeof(message)))
                return api_error(server, connection, request, conn, outcome,
                                 400, "%s", message);
        ma_pseudonym_customer(
                server->config.pseudonym_key, subject.question.anvandare_typ,
                subject.question.anvandare, NULL, outcome->user_pseudonym);
        if (api_auth_user(
                    conn, &outcome->consumer,
                    MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION),
                    subject.question.anvandare, &server->config.token_rules,
                    ma_now_ms() / 1000, &denial, &err) != MA_OK)
                return api_error(server, connection, request, conn, outcome,
                                 500, "could not check the user token");
        if (denial.http_status != 0)
                return api_error(server, connection, request, conn, outcome,
                                 denial.http_status, "%s", denial.message);
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
