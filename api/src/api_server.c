/*
 * api_server.c - the HTTP server of ma-api (libmicrohttpd): routing, the
 * checks every endpoint shares, the audit row and the response.  The
 * endpoints themselves are in api_endpoints.c.
 *
 * Each HTTP connection has a thread of its own.  A request borrows one of
 * http.threads pooled database connections when its handler first needs
 * the database, and returns it when that call of the handler returns.  At
 * most that many requests work on the database at once, and the others
 * wait for a free connection.
 *
 * Request flow of POST [/{producer}]/kundhandelseFragaSynkron:
 *   route (404 unknown producer), method (405), correlation id (400),
 *   API key and, for a consumer with a registered fingerprint, the
 *   TLS client certificate (401, 403 inactive consumer), scope "fraga"
 *   (403),
 *   Content-Type (415), body size (413), JSON and question (400),
 *   user token for private consumers (401), then per party the user's
 *   right to see the customer (a failing delfraga, or 403 when no party
 *   may be seen).  Every response except /health and /ready is preceded
 *   by its audit row.  When that row cannot be written (the database is
 *   unreachable, for one), the response is 500 without data.
 */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "api_http.h"
#include "api_server.h"
#include "api_ui.h"
#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/log.h"
#include "ma/pg.h"
#include "ma/validate.h"

#define API_EVENT_PREFIX       "/v1/kundhandelser/"
#define API_SUBSCRIPTIONS_PATH "/v1/prenumerationer"

/* Scope each route needs; NULL: any active consumer. */
static const char *const api_route_scopes[] = {
        "fraga", "oversikt", "index",         NULL,           "fraga",
        "fraga", "fraga",    "prenumeration", "prenumeration"};

/* The methods a route accepts, as the 405 message names them. */
static const char *api_route_methods(api_route_kind_t route)
{
        if (route == API_ROUTE_KATALOG || route == API_ROUTE_KUNDHANDELSE)
                return "GET";
        if (route == API_ROUTE_PRENUMERATIONER)
                return "GET or POST";
        if (route == API_ROUTE_PRENUMERATION)
                return "DELETE";
        return "POST";
}

/* The same methods as the Allow header of a 405 response (RFC 9110). */
static const char *api_route_allow_header(api_route_kind_t route)
{
        if (route == API_ROUTE_PRENUMERATIONER)
                return "GET, POST";
        return api_route_methods(route);
}

static bool api_route_allows(api_route_kind_t route, const char *method)
{
        bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
        bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;

        if (route == API_ROUTE_KATALOG || route == API_ROUTE_KUNDHANDELSE)
                return get;
        if (route == API_ROUTE_PRENUMERATIONER)
                return get || post;
        if (route == API_ROUTE_PRENUMERATION)
                return strcmp(method, MHD_HTTP_METHOD_DELETE) == 0;
        return post;
}

/* ------------------------------------------------------------------------
 * Database connection pool
 */

/* The slot the calling thread has borrowed, or NULL. */
static _Thread_local api_db_slot_t *api_db_held;

/* Waits for a free slot and marks it busy, preferring one whose
 * connection is open. */
static api_db_slot_t *api_db_borrow(api_server_t *server)
{
        api_db_slot_t *slot = NULL;
        size_t count = (size_t)server->config.threads;

        pthread_mutex_lock(&server->db_lock);
        for (;;) {
                for (size_t i = 0; i < count; i++) {
                        api_db_slot_t *candidate = &server->db_slots[i];

                        if (candidate->busy)
                                continue;
                        if (slot == NULL ||
                            (slot->conn == NULL && candidate->conn != NULL))
                                slot = candidate;
                }
                if (slot != NULL)
                        break;
                pthread_cond_wait(&server->db_freed, &server->db_lock);
        }
        slot->busy = true;
        pthread_mutex_unlock(&server->db_lock);
        return slot;
}

PGconn *api_conn_get(api_server_t *server, ma_error_t *err)
{
        api_db_slot_t *slot = api_db_held;
        ma_pg_retry_t retry;

        if (slot == NULL) {
                slot = api_db_borrow(server);
                api_db_held = slot;
                api_statements_use(&slot->statements);
        }
        if (slot->conn != NULL && PQstatus(slot->conn) == CONNECTION_OK)
                return slot->conn;
        if (slot->conn != NULL) {
                PQreset(slot->conn);
                if (PQstatus(slot->conn) == CONNECTION_OK)
                        return slot->conn;
                PQfinish(slot->conn);
                slot->conn = NULL;
        }
        ma_pg_retry_default(&retry);
        retry.max_attempts = 2;
        if (ma_pg_connect(server->config.database_url, &retry, &slot->conn,
                          err) != MA_OK) {
                slot->conn = NULL;
                api_conn_release(server);
                return NULL;
        }
        return slot->conn;
}

void api_conn_release(api_server_t *server)
{
        api_db_slot_t *slot = api_db_held;
        PGconn *conn;

        api_pg_begin_deferred(NULL);
        if (slot == NULL)
                return;
        conn = slot->conn;
        /* Every handler ends its transaction (the audit row commits it);
         * this only keeps a handler's bug from reaching the next request. */
        if (conn != NULL && PQpipelineStatus(conn) != PQ_PIPELINE_OFF) {
                PQfinish(conn);
                slot->conn = conn = NULL;
        }
        if (conn != NULL && PQtransactionStatus(conn) != PQTRANS_IDLE) {
                ma_log(MA_LOG_WARN,
                       "request left a transaction open, "
                       "rolling back",
                       NULL);
                PQclear(PQexec(conn, "ROLLBACK"));
                if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
                        PQfinish(conn);
                        slot->conn = NULL;
                }
        }
        api_statements_use(NULL);
        api_db_held = NULL;
        pthread_mutex_lock(&server->db_lock);
        slot->busy = false;
        pthread_cond_signal(&server->db_freed);
        pthread_mutex_unlock(&server->db_lock);
}

/* ------------------------------------------------------------------------
 * Responses, audit and log
 */

void api_mask_digits(const char *text, char *out, size_t size)
{
        size_t n = 0;

        for (size_t i = 0; text[i] != '\0' && n + 1 < size; i++) {
                size_t run = 0;

                while (text[i + run] >= '0' && text[i + run] <= '9')
                        run++;
                if (run >= 10) {
                        for (size_t j = 0; j < run && n + 1 < size; j++)
                                out[n++] = '*';
                        i += run - 1;
                } else if ((unsigned char)text[i] < 0x20 ||
                           (unsigned char)text[i] >= 0x7f) {
                        out[n++] = '?';
                } else {
                        out[n++] = text[i];
                }
        }
        out[n] = '\0';
}

static const char *api_decision(unsigned int status)
{
        if (status == 206)
                return "partial";
        if (status >= 200 && status < 300)
                return "allowed";
        if (status == 401 || status == 403)
                return "denied";
        if (status >= 500)
                return "failed";
        return "rejected";
}

/* Queues text (len bytes, copied) as the response. */
static enum MHD_Result api_queue_text(struct MHD_Connection *connection,
                                      api_request_t *request,
                                      unsigned int status, const char *text,
                                      size_t len)
{
        struct MHD_Response *response;
        enum MHD_Result result;

        request->answered = true;
        request->status = status;
        if (text == NULL)
                return MHD_NO;
        response = MHD_create_response_from_buffer(len, (void *)text,
                                                   MHD_RESPMEM_MUST_COPY);
        if (response == NULL)
                return MHD_NO;
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                request->content_type != NULL
                                        ? request->content_type
                                        : "application/json");
        MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL,
                                "no-store");
        if (request->correlation_id[0] != '\0')
                MHD_add_response_header(response, API_CORRELATION_HEADER,
                                        request->correlation_id);
        if (status == 405 && request->allow != NULL)
                MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW,
                                        request->allow);
        result = MHD_queue_response(connection, status, response);
        MHD_destroy_response(response);
        return result;
}

static enum MHD_Result api_queue(struct MHD_Connection *connection,
                                 api_request_t *request, unsigned int status,
                                 json_t *body)
{
        char *text = json_dumps(body, JSON_COMPACT);
        enum MHD_Result result;

        json_decref(body);
        result = api_queue_text(connection, request, status, text,
                                text != NULL ? strlen(text) : 0);
        free(text);
        return result;
}

static void api_outcome_clear(api_outcome_t *outcome)
{
        json_decref(outcome->kund_pseudonyms);
        json_decref(outcome->question);
        json_decref(outcome->disclosed);
        memset(outcome, 0, sizeof(*outcome));
}

/* Writes the audit row of the response; false (logged) when it could not
 * be written. */
static bool api_audit_write(api_server_t *server, api_request_t *request,
                            PGconn *conn, const api_outcome_t *outcome,
                            unsigned int status, const char *error)
{
        char correlation[API_CORRELATION_MAX + 1];
        char path[API_PATH_MAX];
        api_audit_row_t row = {0};
        ma_error_t err;

        api_mask_digits(request->correlation_id, correlation,
                        sizeof(correlation));
        api_mask_digits(request->path, path, sizeof(path));
        row.correlation_id = correlation[0] ? correlation : NULL;
        row.endpoint = path;
        if (outcome->have_consumer) {
                row.consumer_id = outcome->consumer.consumer_id;
                /* The overview page acts as its consumer without a key. */
                row.key_id = outcome->consumer.key_id[0]
                                     ? outcome->consumer.key_id
                                     : NULL;
                snprintf(request->consumer_id, sizeof(request->consumer_id),
                         "%s", outcome->consumer.consumer_id);
        }
        row.user_pseudonym =
                outcome->user_pseudonym[0] ? outcome->user_pseudonym : NULL;
        row.kund_pseudonyms = outcome->kund_pseudonyms;
        row.question = outcome->question;
        row.disclosed = status < 300 ? outcome->disclosed : NULL;
        row.decision = api_decision(status);
        row.http_status = status;
        row.error = error;
        if (conn == NULL)
                conn = api_conn_get(server, &err);
        if (conn == NULL || api_audit_insert(conn, &row, &err) != MA_OK) {
                ma_log(MA_LOG_ERROR, "audit row not written, answering 500",
                       "correlation_id", correlation, "error", err.message,
                       "sqlstate", err.sqlstate, NULL);
                return false;
        }
        if (status < 300 && outcome->disclosed != NULL)
                request->disclosed = json_array_size(outcome->disclosed);
        return true;
}

static enum MHD_Result
api_answer_audit_failed(struct MHD_Connection *connection,
                        api_request_t *request, api_outcome_t *outcome)
{
        api_outcome_clear(outcome);
        return api_queue(connection, request, 500,
                         api_error_body(request, 500, API_PROBLEM_AUDIT,
                                        "could not record the request in the "
                                        "audit log; try again later"));
}

/*
 * Writes the audit row and queues the response: body on success, or a 500
 * without data when the audit row cannot be written.  error is the
 * message of a failed request (NULL for 200).  Takes body.
 */
enum MHD_Result api_answer(api_server_t *server,
                           struct MHD_Connection *connection,
                           api_request_t *request, PGconn *conn,
                           api_outcome_t *outcome, unsigned int status,
                           json_t *body, const char *error)
{
        if (!api_audit_write(server, request, conn, outcome, status, error)) {
                json_decref(body);
                return api_answer_audit_failed(connection, request, outcome);
        }
        api_outcome_clear(outcome);
        return api_queue(connection, request, status, body);
}

enum MHD_Result api_answer_text(api_server_t *server,
                                struct MHD_Connection *connection,
                                api_request_t *request, PGconn *conn,
                                api_outcome_t *outcome, unsigned int status,
                                api_text_t *body, const char *error)
{
        enum MHD_Result result;

        if (body->failed) {
                api_text_free(body);
                return api_error(server, connection, request, conn, outcome,
                                 500,
                                 "could not build the response: out of "
                                 "memory");
        }
        if (!api_audit_write(server, request, conn, outcome, status, error)) {
                api_text_free(body);
                return api_answer_audit_failed(connection, request, outcome);
        }
        api_outcome_clear(outcome);
        result = api_queue_text(connection, request, status, body->data,
                                body->len);
        api_text_free(body);
        return result;
}

static enum MHD_Result api_error_v(api_server_t *server,
                                   struct MHD_Connection *connection,
                                   api_request_t *request, PGconn *conn,
                                   api_outcome_t *outcome, unsigned int status,
                                   const char *problem, const char *fmt,
                                   va_list ap)
{
        char message[API_MESSAGE_MAX];

        vsnprintf(message, sizeof(message), fmt, ap);
        /* Request text quoted in a message may be cut inside a UTF-8
         * sequence or be no UTF-8 at all; JSON and the audit table need
         * valid UTF-8. */
        if (!ma_utf8_valid(message, strlen(message)))
                for (char *p = message; *p != '\0'; p++)
                        if ((unsigned char)*p >= 0x80 ||
                            (unsigned char)*p < 0x20)
                                *p = '?';
        return api_answer(server, connection, request, conn, outcome, status,
                          api_error_body(request, status, problem, message),
                          message);
}

enum MHD_Result api_problem(api_server_t *server,
                            struct MHD_Connection *connection,
                            api_request_t *request, PGconn *conn,
                            api_outcome_t *outcome, unsigned int status,
                            const char *problem, const char *fmt, ...)
{
        enum MHD_Result result;
        va_list ap;

        va_start(ap, fmt);
        result = api_error_v(server, connection, request, conn, outcome, status,
                             problem, fmt, ap);
        va_end(ap);
        return result;
}

enum MHD_Result api_error(api_server_t *server,
                          struct MHD_Connection *connection,
                          api_request_t *request, PGconn *conn,
                          api_outcome_t *outcome, unsigned int status,
                          const char *fmt, ...)
{
        enum MHD_Result result;
        va_list ap;

        va_start(ap, fmt);
        result = api_error_v(server, connection, request, conn, outcome, status,
                             NULL, fmt, ap);
        va_end(ap);
        return result;
}

/*
 * Writes the lower-case hex SHA-256 of the DER encoding of the connection's
 * client certificate into out.  Returns false unless the server verifies
 * client certificates, the client sent one, and it verifies against
 * tls.client-ca (chain, validity dates).  Only the fingerprint leaves this
 * function.
 */
static bool api_client_cert_sha256(const api_server_t *server,
                                   struct MHD_Connection *connection,
                                   char out[65])
{
        const union MHD_ConnectionInfo *info;
        const gnutls_datum_t *peers;
        gnutls_session_t session;
        unsigned int verify = 0, count = 0;

        if (!server->tls_client_ca)
                return false;
        info = MHD_get_connection_info(connection,
                                       MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (info == NULL || info->tls_session == NULL)
                return false;
        session = (gnutls_session_t)info->tls_session;
        if (gnutls_certificate_type_get(session) != GNUTLS_CRT_X509 ||
            gnutls_certificate_verify_peers2(session, &verify) !=
                    GNUTLS_E_SUCCESS ||
            verify != 0)
                return false;
        peers = gnutls_certificate_get_peers(session, &count);
        if (peers == NULL || count == 0 || peers[0].size == 0)
                return false;
        ma_sha256_hex(peers[0].data, peers[0].size, out);
        return true;
}

/* Checks what every endpoint needs (database, correlation id, API key,
 * scope, Content-Type, body size, JSON), then runs the route. */
static enum MHD_Result api_handle(api_server_t *server,
                                  struct MHD_Connection *connection,
                                  api_request_t *request)
{
        api_outcome_t outcome = {0};
        api_denial_t denial;
        const char *scope = api_route_scopes[request->route];
        json_t *root;
        json_error_t json_err;
        const char *content_type;
        char cert_sha256[65];
        bool have_cert;
        enum MHD_Result result;
        ma_error_t err;
        PGconn *conn;

        if (api_ui_owns(request->path))
                return api_ui_handle(server, connection, request);
        conn = api_conn_get(server, &err);
        if (conn == NULL) {
                ma_log(MA_LOG_ERROR, "database connection failed", "error",
                       err.message, NULL);
                return api_queue(connection, request, 500,
                                 api_error_body(request, 500,
                                                API_PROBLEM_INTERNAL,
                                                "could not connect to the "
                                                "database; try again later"));
        }
        if (request->correlation_id[0] == '\0')
                return api_problem(server, connection, request, conn, &outcome,
                                   400, API_PROBLEM_CORRELATION_ID,
                                   "missing or invalid " API_CORRELATION_HEADER
                                   " header: send 1 to %d printable ASCII "
                                   "characters",
                                   API_CORRELATION_MAX);
        have_cert = api_client_cert_sha256(server, connection, cert_sha256);
        if (api_auth_consumer(conn,
                              MHD_lookup_connection_value(
                                      connection, MHD_HEADER_KIND, "X-API-Key"),
                              have_cert ? cert_sha256 : NULL, scope,
                              &outcome.consumer, &denial, &err) != MA_OK)
                return api_error(server, connection, request, conn, &outcome,
                                 500, "could not check the API key");
        outcome.have_consumer = outcome.consumer.consumer_id[0] != '\0';
        if (denial.http_status != 0)
                return api_problem(server, connection, request, conn, &outcome,
                                   denial.http_status, denial.problem, "%s",
                                   denial.message);
        if (request->route == API_ROUTE_KATALOG)
                return api_v1_katalog(server, connection, request, conn,
                                      &outcome);
        if (request->route == API_ROUTE_KUNDHANDELSE)
                return api_v1_event(server, connection, request, conn,
                                    &outcome);
        if (request->route == API_ROUTE_PRENUMERATION)
                return api_v1_subscription_end(server, connection, request,
                                               conn, &outcome);
        if (request->route == API_ROUTE_PRENUMERATIONER &&
            strcmp(request->method, MHD_HTTP_METHOD_GET) == 0)
                return api_v1_subscription_list(server, connection, request,
                                                conn, &outcome);
        content_type = MHD_lookup_connection_value(
                connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (content_type == NULL ||
            strncasecmp(content_type, "application/json", 16) != 0 ||
            (content_type[16] != '\0' && content_type[16] != ';'))
                return api_problem(server, connection, request, conn, &outcome,
                                   415, API_PROBLEM_MEDIA_TYPE,
                                   "Content-Type must be application/json");
        if (request->too_large)
                return api_problem(
                        server, connection, request, conn, &outcome, 413,
                        API_PROBLEM_BODY_TOO_LARGE,
                        "request body exceeds the limit of %zu bytes",
                        server->config.body_limit);
        root = json_loadb(request->body ? request->body : "", request->len,
                          JSON_REJECT_DUPLICATES, &json_err);
        if (root == NULL)
                return api_problem(server, connection, request, conn, &outcome,
                                   400, API_PROBLEM_INVALID_JSON,
                                   "request body is not valid JSON: %s at "
                                   "line %d, column %d",
                                   json_err.text, json_err.line,
                                   json_err.column);
        if (request->route == API_ROUTE_FRAGA)
                result = api_post_fraga(server, connection, request, conn,
                                        &outcome, root);
        else if (request->route == API_ROUTE_PRENUMERATIONER)
                result = api_v1_subscription_create(server, connection, request,
                                                    conn, &outcome, root);
        else
                result = api_v1_customer(server, connection, request, conn,
                                         &outcome, root);
        json_decref(root);
        return result;
}

/* ------------------------------------------------------------------------
 * Routing and the libmicrohttpd callbacks
 */

static bool api_correlation_valid(const char *id)
{
        size_t len = id ? strlen(id) : 0;

        if (len == 0 || len > API_CORRELATION_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)id[i] < 0x20 || (unsigned char)id[i] > 0x7e)
                        return false;
        return true;
}

/* Finds a producer by its event-type prefix or its organisationsnummer. */
static const ma_producer_t *api_find_producer(api_server_t *server,
                                              const char *segment)
{
        const ma_producer_t *producer =
                ma_catalog_find_prefix(server->config.catalog, segment);

        if (producer == NULL)
                producer = ma_catalog_find_producer(server->config.catalog,
                                                    segment);
        return producer;
}

/* Resolves "/v1/kundhandelser/{producer}/{kundhandelseId}": one segment
 * each, the whole path within API_PATH_MAX so that request->path keeps
 * the id whole. */
static bool api_route_event(api_server_t *server, const char *url,
                            api_request_t *request)
{
        const char *rest = url + strlen(API_EVENT_PREFIX);
        const char *slash = strchr(rest, '/');
        char segment[32];
        size_t len = slash != NULL ? (size_t)(slash - rest) : 0;

        if (strlen(url) >= API_PATH_MAX || len == 0 || len >= sizeof(segment) ||
            slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
                return false;
        memcpy(segment, rest, len);
        segment[len] = '\0';
        request->route = API_ROUTE_KUNDHANDELSE;
        request->producer = api_find_producer(server, segment);
        return request->producer != NULL;
}

/* Resolves "/kundhandelseFragaSynkron" and "/{producer}/...", where
 * producer is an event-type prefix or an organisationsnummer. */
static bool api_route(api_server_t *server, const char *url,
                      api_request_t *request)
{
        const char *slash;
        char segment[32];
        size_t len;

        static const struct {
                const char *path;
                api_route_kind_t route;
        } v1[] = {{"/v1/oversikt", API_ROUTE_OVERSIKT},
                  {"/v1/index", API_ROUTE_INDEX},
                  {"/v1/katalog", API_ROUTE_KATALOG},
                  {"/v1/historik", API_ROUTE_HISTORIK},
                  {"/v1/meddelande", API_ROUTE_MEDDELANDE}};

        for (size_t i = 0; i < sizeof(v1) / sizeof(v1[0]); i++)
                if (strcmp(url, v1[i].path) == 0) {
                        request->route = v1[i].route;
                        return true;
                }
        if (strncmp(url, API_EVENT_PREFIX, strlen(API_EVENT_PREFIX)) == 0)
                return api_route_event(server, url, request);
        if (strcmp(url, API_SUBSCRIPTIONS_PATH) == 0) {
                request->route = API_ROUTE_PRENUMERATIONER;
                return true;
        }
        if (strncmp(url, API_SUBSCRIPTIONS_PATH "/",
                    strlen(API_SUBSCRIPTIONS_PATH "/")) == 0) {
                /* The id is checked by the endpoint, so that a malformed
                 * one is a 404 of that endpoint. */
                request->route = API_ROUTE_PRENUMERATION;
                return strlen(url) < API_PATH_MAX &&
                       url[strlen(API_SUBSCRIPTIONS_PATH "/")] != '\0';
        }
        if (strcmp(url, "/" API_ENDPOINT) == 0)
                return true;
        slash = strchr(url + 1, '/');
        if (url[0] != '/' || slash == NULL ||
            strcmp(slash, "/" API_ENDPOINT) != 0)
                return false;
        len = (size_t)(slash - url - 1);
        if (len == 0 || len >= sizeof(segment))
                return false;
        memcpy(segment, url + 1, len);
        segment[len] = '\0';
        request->producer = api_find_producer(server, segment);
        return request->producer != NULL;
}

static bool api_body_append(api_server_t *server, api_request_t *request,
                            const char *data, size_t size)
{
        if (request->too_large)
                return true;
        if (size > server->config.body_limit - request->len) {
                request->too_large = true;
                ma_free(request->body);
                request->body = NULL;
                request->len = request->cap = 0;
                return true;
        }
        if (request->len + size > request->cap) {
                size_t cap = request->cap ? request->cap : 4096;
                char *bigger;

                while (cap < request->len + size)
                        cap *= 2;
                if (cap > server->config.body_limit)
                        cap = server->config.body_limit;
                bigger = ma_realloc(request->body, cap);
                if (bigger == NULL)
                        return false;
                request->body = bigger;
                request->cap = cap;
        }
        memcpy(request->body + request->len, data, size);
        request->len += size;
        return true;
}

static enum MHD_Result api_get(api_server_t *server,
                               struct MHD_Connection *connection,
                               api_request_t *request, const char *url)
{
        PGconn *conn;
        PGresult *res;
        bool ready;
        ma_error_t err;

        if (strcmp(url, "/health") == 0)
                return api_queue(connection, request, 200,
                                 json_pack("{s:s}", "status", "ok"));
        conn = api_conn_get(server, &err);
        res = conn ? PQexec(conn, "SELECT 1 FROM api_audit LIMIT 0") : NULL;
        ready = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        return api_queue(connection, request, ready ? 200 : 503,
                         json_pack("{s:s}", "status",
                                   ready ? "ready" : "database unavailable"));
}

static api_request_t *api_request_new(struct MHD_Connection *connection,
                                      const char *method, const char *url)
{
        api_request_t *request = ma_calloc(1, sizeof(*request));
        const char *correlation;

        if (request == NULL)
                return NULL;
        request->started_ms = ma_now_ms();
        snprintf(request->method, sizeof(request->method), "%s", method);
        snprintf(request->path, sizeof(request->path), "%s", url);
        correlation = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                  API_CORRELATION_HEADER);
        if (api_correlation_valid(correlation))
                snprintf(request->correlation_id,
                         sizeof(request->correlation_id), "%s", correlation);
        return request;
}

static enum MHD_Result api_on_first(api_server_t *server,
                                    struct MHD_Connection *connection,
                                    api_request_t *request, const char *url,
                                    const char *method)
{
        api_outcome_t outcome = {0};
        const char *length;

        if (api_ui_owns(url))
                return api_ui_on_first(server, connection, request, method);
        if (strcmp(url, "/health") == 0 || strcmp(url, "/ready") == 0) {
                if (strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
                        request->allow = "GET";
                        return api_queue(
                                connection, request, 405,
                                json_pack("{s:s}", "message", "use GET"));
                }
                return api_get(server, connection, request, url);
        }
        if (!api_route(server, url, request))
                return api_problem(
                        server, connection, request, NULL, &outcome, 404,
                        API_PROBLEM_UNKNOWN_ENDPOINT,
                        "no endpoint %.64s: use POST "
                        "/" API_ENDPOINT " or /{producer}/" API_ENDPOINT
                        " with a producer's prefix or "
                        "organisationsnummer from the catalog, POST "
                        "/v1/oversikt, /v1/index, /v1/historik or "
                        "/v1/meddelande, GET /v1/katalog or "
                        "/v1/kundhandelser/{producent}/{kundhandelseId}, "
                        "or /v1/prenumerationer",
                        request->path);
        if (!api_route_allows(request->route, method)) {
                request->allow = api_route_allow_header(request->route);
                return api_problem(server, connection, request, NULL, &outcome,
                                   405, API_PROBLEM_METHOD_NOT_ALLOWED,
                                   "method %.15s not allowed: use %s",
                                   request->method,
                                   api_route_methods(request->route));
        }
        length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
        /* Rejected before the body is read; the connection is closed
         * afterwards instead of reading the rest. */
        if (length != NULL &&
            strtoull(length, NULL, 10) > server->config.body_limit)
                return api_problem(server, connection, request, NULL, &outcome,
                                   413, API_PROBLEM_BODY_TOO_LARGE,
                                   "request body of %llu bytes exceeds the "
                                   "limit of %zu bytes",
                                   strtoull(length, NULL, 10),
                                   server->config.body_limit);
        return MHD_YES;
}

static enum MHD_Result api_on_request_step(api_server_t *server,
                                           struct MHD_Connection *connection,
                                           const char *url, const char *method,
                                           const char *upload_data,
                                           size_t *upload_data_size,
                                           void **con_cls)
{
        api_request_t *request = *con_cls;

        if (request == NULL) {
                request = api_request_new(connection, method, url);
                if (request == NULL)
                        return MHD_NO;
                *con_cls = request;
                return api_on_first(server, connection, request, url, method);
        }
        if (request->answered) {
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                if (!api_body_append(server, request, upload_data,
                                     *upload_data_size))
                        return MHD_NO;
                *upload_data_size = 0;
                return MHD_YES;
        }
        return api_handle(server, connection, request);
}

/* libmicrohttpd's access handler, on the connection's thread.  The
 * database connection a step borrowed goes back to the pool when the step
 * ends, so an idle keep-alive connection keeps none. */
static enum MHD_Result
api_on_request(void *cls, struct MHD_Connection *connection, const char *url,
               const char *method, const char *version, const char *upload_data,
               size_t *upload_data_size, void **con_cls)
{
        api_server_t *server = cls;
        enum MHD_Result result;

        (void)version;
        result = api_on_request_step(server, connection, url, method,
                                     upload_data, upload_data_size, con_cls);
        api_conn_release(server);
        return result;
}

/* Logs one line per request: client errors at info, 5xx at warn. */
static void api_on_completed(void *cls, struct MHD_Connection *connection,
                             void **con_cls,
                             enum MHD_RequestTerminationCode code)
{
        api_request_t *request = *con_cls;
        char correlation[API_CORRELATION_MAX + 1];
        char path[API_PATH_MAX];
        bool probe;

        if (request == NULL)
                return;
        probe = strcmp(request->path, "/health") == 0 ||
                strcmp(request->path, "/ready") == 0;
        api_mask_digits(request->correlation_id, correlation,
                        sizeof(correlation));
        api_mask_digits(request->path, path, sizeof(path));
        MA_LOG_AT(
                probe                    ? MA_LOG_DEBUG
                : request->status >= 500 ? MA_LOG_WARN
                                         : MA_LOG_INFO,
                "request", MA_LOG_STR("method", request->method),
                MA_LOG_STR("path", path), MA_LOG_INT("status", request->status),
                MA_LOG_STR("consumer", request->consumer_id),
                MA_LOG_STR("correlation_id", correlation),
                MA_LOG_INT("disclosed", request->disclosed),
                MA_LOG_INT("ms", ma_now_ms() - request->started_ms),
                MA_LOG_STR("completed",
                           code == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "yes"
                                                                       : "no"));
        ma_free(request->body);
        ma_free(request);
        *con_cls = NULL;
}

static void api_on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        char line[256];

        vsnprintf(line, sizeof(line), fmt, ap);
        line[strcspn(line, "\n")] = '\0';
        ma_log(MA_LOG_WARN, "libmicrohttpd", "detail", line, NULL);
}

/* Closes the pool's connections and frees server. */
static void api_db_pool_free(api_server_t *server)
{
        for (int i = 0; i < server->config.threads; i++) {
                PQfinish(server->db_slots[i].conn);
                api_statements_clear(&server->db_slots[i].statements);
        }
        pthread_cond_destroy(&server->db_freed);
        pthread_mutex_destroy(&server->db_lock);
        ma_free(server->db_slots);
        ma_free(server);
}

/* The TLS options of MHD_start_daemon() as an MHD_OPTION_ARRAY list,
 * ended by MHD_OPTION_END; the flag MHD_USE_TLS goes with them. */
static unsigned int api_tls_options(const api_server_config_t *config,
                                    struct MHD_OptionItem options[4])
{
        size_t n = 0;

        if (config->tls_cert == NULL)
                return 0;
        options[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
                                               (void *)config->tls_cert};
        options[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
                                               (void *)config->tls_key};
        /* With a trust list libmicrohttpd requests a client certificate
         * but does not require one, so api_client_cert_sha256() verifies
         * it. */
        if (config->tls_client_ca != NULL)
                options[n++] =
                        (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0,
                                                (void *)config->tls_client_ca};
        options[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
        return MHD_USE_TLS;
}

ma_status_t api_server_start(const api_server_config_t *config,
                             api_server_t **server_out, ma_error_t *err)
{
        api_server_t *server;
        struct sockaddr_in addr = {0};
        struct MHD_OptionItem tls_options[4] = {{MHD_OPTION_END, 0, NULL}};
        unsigned int tls_flag;
        const union MHD_DaemonInfo *info;

        if ((config->tls_cert == NULL) != (config->tls_key == NULL) ||
            (config->tls_client_ca != NULL && config->tls_cert == NULL))
                return ma_error_set(err, MA_ERR_CONFIG, "tls.cert",
                                    "incomplete TLS settings: give tls.cert "
                                    "and tls.key together, and tls.client-ca "
                                    "only with them");
        if (config->tls_cert != NULL &&
            MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
                return ma_error_set(err, MA_ERR_CONFIG, "tls.cert",
                                    "this libmicrohttpd has no TLS support: "
                                    "install one built with GnuTLS or leave "
                                    "tls.cert empty");
        tls_flag = api_tls_options(config, tls_options);
        server = ma_calloc(1, sizeof(*server));
        if (server == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        server->config = *config;
        server->tls_client_ca = config->tls_client_ca != NULL;
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t)config->port);
        if (inet_pton(AF_INET, config->listen_address, &addr.sin_addr) != 1) {
                ma_free(server);
                return ma_error_set(err, MA_ERR_CONFIG, "listen.address",
                                    "invalid listen address \"%s\": give a "
                                    "numeric IPv4 address such as 127.0.0.1",
                                    config->listen_address);
        }
        server->db_slots =
                ma_calloc((size_t)config->threads, sizeof(*server->db_slots));
        if (server->db_slots == NULL) {
                ma_free(server);
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        }
        pthread_mutex_init(&server->db_lock, NULL);
        pthread_cond_init(&server->db_freed, NULL);
        /* A thread per connection, so a request never waits behind
         * another connection's request as it does when one pool thread
         * serves both.  The database pool bounds the parallel work. */
        server->daemon = MHD_start_daemon(
                MHD_USE_INTERNAL_POLLING_THREAD |
                        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
                        tls_flag,
                (uint16_t)config->port, NULL, NULL, api_on_request, server,
                MHD_OPTION_EXTERNAL_LOGGER, api_on_mhd_log, server,
                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                MHD_OPTION_CONNECTION_LIMIT,
                (unsigned int)config->max_connections,
                MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned int)config->idle_timeout_s,
                MHD_OPTION_NOTIFY_COMPLETED, api_on_completed, server,
                MHD_OPTION_ARRAY, tls_options, MHD_OPTION_END);
        if (server->daemon == NULL) {
                api_db_pool_free(server);
                return ma_error_set(err, MA_ERR_IO, "listen.port",
                                    "could not listen on %s port %d: the port "
                                    "may be in use; choose another%s",
                                    config->listen_address, config->port,
                                    tls_flag ? ", or the TLS certificate, key "
                                               "or client CA was rejected "
                                               "(see the libmicrohttpd "
                                               "log line)"
                                             : "");
        }
        info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
        server->port = info != NULL ? info->port : config->port;
        *server_out = server;
        return MA_OK;
}

int api_server_port(const api_server_t *server)
{
        return server->port;
}

void api_server_stop(api_server_t *server)
{
        if (server == NULL)
                return;
        /* Ends the connection threads before their pool is closed. */
        MHD_stop_daemon(server->daemon);
        api_db_pool_free(server);
}
