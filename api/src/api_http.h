/*
 * api_http.h - what the HTTP server (api_server.c) and the endpoints
 * (api_endpoints.c) of ma-api share: the request state, the outcome that
 * goes into the audit row, and the functions that respond.
 *
 * Threads: every HTTP connection has a thread of its own, and a request
 * and its outcome belong to that thread.  A request borrows one database
 * connection of the server's pool for the time its handler runs.
 */
#ifndef MA_API_HTTP_H
#define MA_API_HTTP_H

#include <microhttpd.h>
#include <pthread.h>

#include "api.h"
#include "api_server.h"

#define API_ENDPOINT           "kundhandelseFragaSynkron"
#define API_CORRELATION_HEADER "skv_client_correlation_id"
#define API_PATH_MAX           128

/* One database connection of the pool and the statements prepared on it. */
typedef struct api_db_slot {
        PGconn *conn; /* NULL until first used, or after a failure */
        api_statements_t statements;
        bool busy;
} api_db_slot_t;

struct api_server {
        api_server_config_t config;
        struct MHD_Daemon *daemon;
        api_db_slot_t *db_slots; /* config.threads of them */
        pthread_mutex_t db_lock;
        pthread_cond_t db_freed;
        int port;
        bool tls_client_ca; /* client certificates asked for and verified */
};

typedef enum api_route_kind {
        API_ROUTE_FRAGA = 0,       /* [/{producer}]/kundhandelseFragaSynkron */
        API_ROUTE_OVERSIKT,        /* POST /v1/oversikt */
        API_ROUTE_INDEX,           /* POST /v1/index */
        API_ROUTE_KATALOG,         /* GET /v1/katalog */
        API_ROUTE_HISTORIK,        /* POST /v1/historik */
        API_ROUTE_MEDDELANDE,      /* POST /v1/meddelande */
        API_ROUTE_KUNDHANDELSE,    /* GET /v1/kundhandelser/{producent}/{id} */
        API_ROUTE_PRENUMERATIONER, /* GET and POST /v1/prenumerationer */
        API_ROUTE_PRENUMERATION,   /* DELETE /v1/prenumerationer/{id} */
} api_route_kind_t;

typedef struct api_request {
        char method[16];
        char path[API_PATH_MAX];
        char correlation_id[API_CORRELATION_MAX + 1]; /* "" when invalid */
        api_route_kind_t route;
        const ma_producer_t *producer; /* NULL: all producers */
        char *body;
        size_t len, cap;
        bool too_large;
        bool answered;
        int64_t started_ms;
        unsigned int status;
        size_t disclosed;
        char consumer_id[64];
        const char *content_type; /* of the response; NULL: JSON */
        const char *allow;        /* Allow header of a 405 response */
} api_request_t;

/* Everything the audit row and the log line need about one response. */
typedef struct api_outcome {
        api_consumer_t consumer;
        bool have_consumer;
        char user_pseudonym[MA_PSEUDONYM_HEX_LEN + 1];
        json_t *kund_pseudonyms; /* owned */
        json_t *question;        /* owned, masked */
        json_t *disclosed;       /* owned */
} api_outcome_t;

/* Pseudonyms of each party's customer: exact (with tillagg) for lookups,
 * and without tillagg for the register checks. */
typedef struct api_party_keys {
        char lookup[MA_PSEUDONYM_HEX_LEN + 1];
        char person[MA_PSEUDONYM_HEX_LEN + 1];
        ma_kund_typ_t typ;
        bool known;
} api_party_keys_t;

/*
 * Returns the database connection the calling thread has borrowed from the
 * pool, borrowing one first (waiting while all are busy) and opening it
 * when needed; NULL with err filled when the database cannot be reached.
 * The connection stays with the thread until api_conn_release().
 */
PGconn *api_conn_get(api_server_t *server, ma_error_t *err);

/* Returns the calling thread's connection, if any, to the pool, rolling
 * back a transaction left open. */
void api_conn_release(api_server_t *server);

/* Copies text for a log line, audit row or message with every run of ten
 * or more digits masked and control characters replaced, so that an
 * identity number in a correlation id, URL or parser message is never
 * stored. */
void api_mask_digits(const char *text, char *out, size_t size);

/*
 * Writes the audit row and queues the response: body on success, or a 500
 * without data when the audit row cannot be written.  error is the
 * message of a failed request (NULL for 200).  Takes body and clears
 * outcome.  conn may be NULL to use the thread's connection.
 */
enum MHD_Result api_answer(api_server_t *server,
                           struct MHD_Connection *connection,
                           api_request_t *request, PGconn *conn,
                           api_outcome_t *outcome, unsigned int status,
                           json_t *body, const char *error);

/* api_answer() with a body already serialised; takes and frees body.  A
 * body whose allocation failed gets a 500 response instead. */
enum MHD_Result api_answer_text(api_server_t *server,
                                struct MHD_Connection *connection,
                                api_request_t *request, PGconn *conn,
                                api_outcome_t *outcome, unsigned int status,
                                api_text_t *body, const char *error);

/*
 * Returns the body of an error response (new reference).  Under /v1 it is
 * an RFC 9457 problem {type, title, status, detail} and
 * request->content_type becomes application/problem+json; problem names
 * the type, and NULL or an unknown name gives the status's default type.
 * Elsewhere it is the national standard's {"message": message}.
 */
json_t *api_error_body(api_request_t *request, unsigned int status,
                       const char *problem, const char *message);

/* api_answer() with the error body of api_error_body(), its message
 * formatted from fmt; api_error() uses the status's default problem. */
enum MHD_Result
api_problem(api_server_t *server, struct MHD_Connection *connection,
            api_request_t *request, PGconn *conn, api_outcome_t *outcome,
            unsigned int status, const char *problem, const char *fmt, ...)
        __attribute__((format(printf, 8, 9)));
enum MHD_Result
api_error(api_server_t *server, struct MHD_Connection *connection,
          api_request_t *request, PGconn *conn, api_outcome_t *outcome,
          unsigned int status, const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));

/* Fills keys with the pseudonyms of party's customer (none without kund). */
ma_status_t api_party_keys_fill(api_server_t *server, const api_party_t *party,
                                api_party_keys_t *keys);

/* The endpoints, called once the key, the scope and (except for katalog)
 * the body have passed; root stays the caller's. */
enum MHD_Result api_post_fraga(api_server_t *server,
                               struct MHD_Connection *connection,
                               api_request_t *request, PGconn *conn,
                               api_outcome_t *outcome, json_t *root);
enum MHD_Result api_v1_customer(api_server_t *server,
                                struct MHD_Connection *connection,
                                api_request_t *request, PGconn *conn,
                                api_outcome_t *outcome, json_t *root);
enum MHD_Result api_v1_katalog(api_server_t *server,
                               struct MHD_Connection *connection,
                               api_request_t *request, PGconn *conn,
                               api_outcome_t *outcome);

/* GET /v1/kundhandelser/{producent}/{kundhandelseId} and the
 * subscriptions under /v1/prenumerationer (api_endpoints.c). */
enum MHD_Result api_v1_event(api_server_t *server,
                             struct MHD_Connection *connection,
                             api_request_t *request, PGconn *conn,
                             api_outcome_t *outcome);
enum MHD_Result api_v1_subscription_create(api_server_t *server,
                                           struct MHD_Connection *connection,
                                           api_request_t *request, PGconn *conn,
                                           api_outcome_t *outcome,
                                           json_t *root);
enum MHD_Result api_v1_subscription_list(api_server_t *server,
                                         struct MHD_Connection *connection,
                                         api_request_t *request, PGconn *conn,
                                         api_outcome_t *outcome);
enum MHD_Result api_v1_subscription_end(api_server_t *server,
                                        struct MHD_Connection *connection,
                                        api_request_t *request, PGconn *conn,
                                        api_outcome_t *outcome);

#endif /* MA_API_HTTP_H */
