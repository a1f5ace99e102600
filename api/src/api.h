/*
 * api.h - internals of ma-api, the query API: the parsed question
 * (api_fraga.c), user tokens (api_jwt.c), authorisation against the
 * connection register (api_auth.c), the view queries (api_query.c) and the
 * HTTP server (api_server.c).
 *
 * Threads: every function here works on its arguments only, except that
 * api_pg_exec_prepared() and api_pg_begin_deferred() keep state per
 * thread.  The server lends a thread one PGconn of its pool at a time.
 */
#ifndef MA_API_H
#define MA_API_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ma/catalog.h"
#include "ma/event.h"
#include "ma/pseudonym.h"
#include "ma/status.h"

#define API_PARTS_MAX       100
#define API_TYPES_MAX       100
#define API_TAGS_MAX        100
#define API_SORT_MAX        7
#define API_LIMIT_MAX       1000
#define API_CORRELATION_MAX 200
#define API_MESSAGE_MAX     512

/*
 * Problem types of the /v1 endpoints (RFC 9457).  The type URI is
 * API_PROBLEM_URI followed by one of these names; docs/api.md lists them
 * and they do not change once published.
 */
#define API_PROBLEM_URI                "urn:mina-arenden:problem:"
#define API_PROBLEM_INVALID_REQUEST    "invalid-request"
#define API_PROBLEM_INVALID_JSON       "invalid-json"
#define API_PROBLEM_CORRELATION_ID     "invalid-correlation-id"
#define API_PROBLEM_API_KEY            "invalid-api-key"
#define API_PROBLEM_USER_TOKEN         "invalid-user-token"
#define API_PROBLEM_CONSUMER_INACTIVE  "consumer-inactive"
#define API_PROBLEM_MISSING_SCOPE      "missing-scope"
#define API_PROBLEM_ACCESS_DENIED      "access-denied"
#define API_PROBLEM_UNKNOWN_ENDPOINT   "unknown-endpoint"
#define API_PROBLEM_NOT_FOUND          "not-found"
#define API_PROBLEM_METHOD_NOT_ALLOWED "method-not-allowed"
#define API_PROBLEM_BODY_TOO_LARGE     "body-too-large"
#define API_PROBLEM_MEDIA_TYPE         "unsupported-media-type"
#define API_PROBLEM_INTERNAL           "internal-error"
#define API_PROBLEM_AUDIT              "audit-unavailable"

/* ------------------------------------------------------------------------
 * The question (api_fraga.c)
 */

typedef enum api_sort_attribute {
        API_SORT_RUBRIK = 0,
        API_SORT_BESKRIVNING,
        API_SORT_PRODUCENT,
        API_SORT_TIDPUNKT,
        API_SORT_KUNDHANDELSETYP,
        API_SORT_KRAVER_KUNDATGARD,
        API_SORT_KLART,
} api_sort_attribute_t;

typedef struct api_sort {
        api_sort_attribute_t attribute;
        bool ascending; /* stigande */
} api_sort_t;

/* One element of fraga.parter; strings point into the request's JSON. */
typedef struct api_party {
        bool has_kund;
        ma_kund_typ_t kund_typ;
        const char *kund_identifierare;
        const char *kund_tillagg; /* NULL when absent */
        bool has_arende;
        ma_arende_typ_t arende_typ;
        const char *arende_identifierare;
} api_party_t;

/* A validated question.  Strings are borrowed from the JSON document. */
typedef struct api_question {
        api_party_t parties[API_PARTS_MAX];
        size_t party_count;
        const char *types[API_TYPES_MAX];
        size_t type_count;
        const char *tags[API_TAGS_MAX];
        size_t tag_count;
        bool has_start;
        int64_t start_utc_ms; /* first instant of startDatum, Swedish time */
        bool has_end;
        int64_t end_utc_ms; /* first instant after slutDatum */
        api_sort_t sort[API_SORT_MAX];
        size_t sort_count;
        bool has_paging;
        int64_t offset;
        int64_t limit;
        const char *producer;        /* organisationsnummer, NULL: all; set by
                                        the server from the path */
        const char *referens;        /* kundhandelsereferens, NULL: any;
                                        set by /v1/meddelande only */
        const char *anvandare;       /* 12 digits, valid checksum */
        ma_kund_typ_t anvandare_typ; /* personnummer or samordningsnummer */
} api_question_t;

/*
 * Parses and validates the body of a kundhandelseFragaSynkron request.
 * root stays owned by the caller and must outlive q.  On failure returns
 * false and writes a message naming the JSON path and the problem into
 * message; it never contains an identity number.
 */
bool api_question_parse(json_t *root, api_question_t *q, char *message,
                        size_t size);

/* The body of the /v1 endpoints: the user and the customer asked about. */
typedef struct api_subject {
        api_question_t question; /* anvandare, anvandare_typ, referens */
        api_party_t party;       /* kund always, arende when given */
} api_subject_t;

/*
 * Parses {"anvandare": ..., "kund": {...}, "arende": {...},
 * "kundhandelsereferens": ...}, where kund, arende and the reference are
 * optional.  Without kund the customer is the user.  Strings are borrowed
 * from root.  On failure returns false with a message naming the
 * attribute.
 */
bool api_subject_parse(json_t *root, api_subject_t *subject, char *message,
                       size_t size);

/*
 * Returns true when type is pattern or starts with pattern followed by '.':
 * "X.BYGGLOV" matches "X.BYGGLOV" and "X.BYGGLOV.BESLUT", not "X.BYGGLOVX".
 */
bool api_type_matches(const char *pattern, const char *type);

/*
 * The UTC instant at which a Swedish calendar day (days since 1970-01-01)
 * begins: local midnight with the Stockholm offset of that day.
 */
int64_t api_stockholm_day_start_ms(int64_t days);

/* The standard's name of a sort attribute ("RUBRIK", ...). */
const char *api_sort_attribute_name(api_sort_attribute_t attribute);

/*
 * Writes the ORDER BY list for q's sorting into buf: the requested keys,
 * then tidpunkt descending, producer and id so that ties are stable.
 * Only fixed column expressions are written, never request text.
 */
void api_order_by(const api_question_t *q, char *buf, size_t size);

/* ------------------------------------------------------------------------
 * User tokens (api_jwt.c)
 */

typedef struct api_jwt {
        json_t *header;           /* owned */
        json_t *payload;          /* owned */
        char *signing_input;      /* "<header>.<payload>", owned */
        unsigned char *signature; /* decoded, owned */
        size_t signature_len;
} api_jwt_t;

/*
 * Splits a compact JWS into its parts and decodes them.  Returns false
 * with a message when the token is malformed.  Free with api_jwt_clear().
 */
bool api_jwt_decode(const char *token, api_jwt_t *jwt, char *message,
                    size_t size);
void api_jwt_clear(api_jwt_t *jwt);

/*
 * Verifies the signature with alg ("HS256": key is the shared secret;
 * "EdDSA" or "ES256": key is a PEM public key).  The header's alg must
 * equal alg, so a token cannot choose a weaker algorithm.
 */
bool api_jwt_verify_signature(const api_jwt_t *jwt, const char *alg,
                              const char *key, char *message, size_t size);

/*
 * Checks the claims: iss equals issuer, sub equals subject, aud (a string
 * or an array) names audience, the consumer the token was issued for, so
 * one consumer cannot present another's tokens; exp is after now, nbf and
 * iat (when present) are not after now plus leeway_s, and the lifetime
 * exp - iat (iat is required) is at most max_lifetime_s.
 */
bool api_jwt_check_claims(const api_jwt_t *jwt, const char *issuer,
                          const char *subject, const char *audience,
                          int64_t now_s, int64_t leeway_s,
                          int64_t max_lifetime_s, char *message, size_t size);

/* Decodes base64url without padding; returns the length, or -1. */
long api_base64url_decode(const char *in, size_t len, unsigned char *out,
                          size_t size);

/* ------------------------------------------------------------------------
 * Authorisation (api_auth.c)
 */

typedef struct api_consumer {
        char consumer_id[64];
        char key_id[17];
        bool is_private;
        bool active;
} api_consumer_t;

/* Outcome of a check, with the HTTP status to respond with when it failed. */
typedef struct api_denial {
        unsigned int http_status; /* 0: allowed */
        const char *problem;      /* problem type, an API_PROBLEM_... name */
        char message[API_MESSAGE_MAX];
} api_denial_t;

/*
 * Looks up the consumer of an X-API-Key value and compares the salted
 * hash in constant time.  client_cert_sha256 is the lower-case hex SHA-256
 * of the DER encoding of the request's verified TLS client certificate, or
 * NULL when there is none (plain HTTP, no certificate, or one that did not
 * verify against tls.client-ca).  A consumer with a registered fingerprint
 * is connected only when the two are equal (compared in constant time).
 * 401 for a missing, malformed, unknown or revoked key or a missing or
 * different client certificate, 403 for a consumer that is not active or,
 * when scope is not NULL, lacks scope.  Returns MA_ERR_PG only for database
 * failures; a denial is MA_OK with denial->http_status set.
 */
ma_status_t api_auth_consumer(PGconn *conn, const char *api_key,
                              const char *client_cert_sha256, const char *scope,
                              api_consumer_t *consumer, api_denial_t *denial,
                              ma_error_t *err);

/* Settings of user-token checks. */
typedef struct api_token_rules {
        int64_t leeway_s;
        int64_t max_lifetime_s;
} api_token_rules_t;

/*
 * For a private consumer, verifies the user's token (from "Authorization:
 * Bearer ...") against the identity-provider key its kid names: signature,
 * issuer, subject == anvandare, expiry and lifetime.  401 when anything
 * fails.  Public consumers pass without a token.
 */
ma_status_t api_auth_user(PGconn *conn, const api_consumer_t *consumer,
                          const char *authorization, const char *anvandare,
                          const api_token_rules_t *rules, int64_t now_s,
                          api_denial_t *denial, ma_error_t *err);

/* Why the user may see a customer. */
typedef enum api_access {
        API_ACCESS_NONE = 0,
        API_ACCESS_SELF,
        API_ACCESS_REPRESENTATIVE,
        API_ACCESS_READING_AGENT,
        API_ACCESS_MANDATE, /* only event types in allowed_types */
} api_access_t;

typedef struct api_grant {
        api_access_t access;
        /* API_ACCESS_MANDATE: event types of the catalog that the valid
         * mandates cover, owned (ma_free each and the array). */
        char **allowed_types;
        size_t allowed_count;
} api_grant_t;

void api_grant_clear(api_grant_t *grant);

/*
 * Decides whether user_pseudonym may see kund_pseudonym (a customer of
 * kund_typ) through consumer, in order: the user is the customer, a
 * registered representative of an organisation, the consumer is the
 * customer's reading agent, or valid mandates from the customer.
 */
ma_status_t api_auth_customer(PGconn *conn, const ma_catalog_t *catalog,
                              const api_consumer_t *consumer,
                              const char *user_pseudonym,
                              const char *kund_pseudonym,
                              ma_kund_typ_t kund_typ, api_grant_t *grant,
                              ma_error_t *err);

const char *api_access_name(api_access_t access);

/* ------------------------------------------------------------------------
 * Queries (api_query.c)
 */

/* A growable JSON text.  After a failed allocation, failed is set and
 * appending does nothing; data is NUL-terminated otherwise. */
typedef struct api_text {
        char *data;
        size_t len, cap;
        bool failed;
} api_text_t;

void api_text_append(api_text_t *text, const char *data, size_t size);
void api_text_puts(api_text_t *text, const char *string);
/* Appends value as compact JSON. */
void api_text_json(api_text_t *text, const json_t *value);
void api_text_free(api_text_t *text);

/*
 * Reads one party's events: the total count and the requested page, with
 * type, tag and date filters, restricted to producer (an organisationsnummer,
 * or NULL for all) and, when allowed_types is not NULL, to those types.
 * kund_pseudonym and arende may each be NULL but not both.  Appends the
 * events (JSON objects in the standard's attributes) to events and
 * [producent, kundhandelseId] pairs to disclosed.
 */
ma_status_t api_query_party(PGconn *conn, const api_question_t *q,
                            const api_party_t *party,
                            const char *kund_pseudonym, const char *producer,
                            char *const *allowed_types, size_t allowed_count,
                            json_t *events, long long *total_out,
                            json_t *disclosed, ma_error_t *err);

/*
 * api_query_party() writing the events as JSON text into events (a comma
 * before each unless events is empty or ends with '['), which spares
 * building and serialising a JSON tree per event.
 */
ma_status_t
api_query_party_text(PGconn *conn, const api_question_t *q,
                     const api_party_t *party, const char *kund_pseudonym,
                     const char *producer, char *const *allowed_types,
                     size_t allowed_count, api_text_t *events,
                     long long *total_out, json_t *disclosed, ma_error_t *err);

/*
 * Lists the distinct customers (pseudonyms) of the events of a case, so an
 * arende-only party can be authorised by its customer.  Returns the count
 * found (at most max) in *count_out, and the kund typ of the first.
 */
ma_status_t api_query_case_customers(PGconn *conn, const api_party_t *party,
                                     const char *producer,
                                     char out[][MA_PSEUDONYM_HEX_LEN + 1],
                                     int *typ_out, size_t max,
                                     size_t *count_out, ma_error_t *err);

/*
 * Appends the customer's cases from the arende view to cases, newest
 * first, at most 1000; with allowed_types, only cases whose latest event
 * has one of them.  Appends {producent, kundhandelseId} of each case's
 * latest event to disclosed.
 */
ma_status_t api_query_overview(PGconn *conn, const char *kund_pseudonym,
                               char *const *allowed_types, size_t allowed_count,
                               json_t *cases, json_t *disclosed,
                               ma_error_t *err);

/*
 * Appends, per producer with current events of the customer, the producer
 * (organisationsnummer and name from catalog), the event count and the
 * first and last tidpunkt.  With allowed_types, counts only those types.
 */
ma_status_t api_query_index(PGconn *conn, const ma_catalog_t *catalog,
                            const char *kund_pseudonym,
                            char *const *allowed_types, size_t allowed_count,
                            json_t *producers, json_t *disclosed,
                            ma_error_t *err);

/*
 * api_query_event_owner() finds whose event (producer, kundhandelse_id) is
 * and its type, so the caller can authorise before api_query_event()
 * appends the event itself to events.
 */
ma_status_t api_query_event_owner(PGconn *conn, const char *producer,
                                  const char *kundhandelse_id, bool *found,
                                  char kund_pseudonym[MA_PSEUDONYM_HEX_LEN + 1],
                                  int *kund_typ, char *type, size_t type_size,
                                  ma_error_t *err);
ma_status_t api_query_event(PGconn *conn, const char *producer,
                            const char *kundhandelse_id, json_t *events,
                            json_t *disclosed, ma_error_t *err);

#define API_STATEMENTS_MAX 64

/* The statements prepared in the current session of one pooled database
 * connection.  A new or reset connection (another backend process) starts
 * with none. */
typedef struct api_statements {
        const PGconn *conn;
        int backend_pid;
        char *texts[API_STATEMENTS_MAX];
        size_t count;
} api_statements_t;

/* Makes api_pg_exec_prepared() on the calling thread keep its prepared
 * statements in statements, the cache of the connection the thread has
 * borrowed (NULL when it has borrowed none). */
void api_statements_use(api_statements_t *statements);

/* Frees the cached statement texts; the connection keeps its statements
 * until its session ends. */
void api_statements_clear(api_statements_t *statements);

/*
 * Runs sql like PQexecParams(), but prepares it once per session of the
 * connection when a cache is set by api_statements_use() (at most
 * API_STATEMENTS_MAX statements).  Otherwise it is planned per call.
 * Returns the result as PQexecPrepared() does.
 */
PGresult *api_pg_exec_prepared(PGconn *conn, const char *sql, int count,
                               const char *const *params);

/*
 * Makes the thread's next api_pg_exec_prepared() send begin (a BEGIN
 * statement) in the same round trip as its statement; NULL cancels it.
 * The caller cancels it when no statement followed, before anything else
 * runs on the connection.
 */
void api_pg_begin_deferred(const char *begin);

/* One row of api_audit. */
typedef struct api_audit_row {
        const char *correlation_id;
        const char *endpoint;
        const char *consumer_id;
        const char *key_id;
        const char *user_pseudonym;
        json_t *kund_pseudonyms; /* array of strings, or NULL */
        json_t *question;        /* masked question, or NULL */
        json_t *disclosed;       /* array, or NULL */
        const char *decision;
        unsigned int http_status;
        const char *error;
} api_audit_row_t;

/*
 * Writes row.  Inside an open transaction, the row joins it and one round
 * trip inserts the row and commits.  When either fails, the transaction is
 * rolled back and nothing is written.
 */
ma_status_t api_audit_insert(PGconn *conn, const api_audit_row_t *row,
                             ma_error_t *err);

#endif /* MA_API_H */
