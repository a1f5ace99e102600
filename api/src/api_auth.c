/*
 * api_auth.c - authorisation of a request against the connection register
 * (schemas/sql/0100_api_register.sql): the consumer's API key, its scopes,
 * the user's token for private consumers, and the user's right to see a
 * customer.  Every statement is parameterised.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ma/alloc.h"
#include "ma/pg.h"

#define API_KEY_PREFIX     "mak_"
#define API_KEY_ID_LEN     16
#define API_KEY_SECRET_LEN 64

static ma_status_t api_deny(api_denial_t *denial, unsigned int http_status,
                            const char *problem, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static ma_status_t api_deny(api_denial_t *denial, unsigned int http_status,
                            const char *problem, const char *fmt, ...)
{
        va_list ap;

        denial->http_status = http_status;
        denial->problem = problem;
        va_start(ap, fmt);
        vsnprintf(denial->message, sizeof(denial->message), fmt, ap);
        va_end(ap);
        return MA_OK;
}

/* Runs a parameterised query expected to return rows. */
static PGresult *api_pg_rows(PGconn *conn, const char *sql, int count,
                             const char *const *params, const char *what,
                             ma_error_t *err)
{
        PGresult *res = api_pg_exec_prepared(conn, sql, count, params);

        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                ma_pg_error(conn, res, what, err);
                PQclear(res);
                return NULL;
        }
        return res;
}

static bool api_is_hex(const char *text, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (!((text[i] >= '0' && text[i] <= '9') ||
                      (text[i] >= 'a' && text[i] <= 'f')))
                        return false;
        return text[len] == '\0' || text[len] == '_';
}

/* Checks the request's certificate fingerprint (NULL: none) against the
 * consumer's.  A consumer without one (NULL or "") always matches, because
 * its API key alone connects it. */
static bool api_cert_matches(const char *registered, const char *presented)
{
        if (registered == NULL || registered[0] == '\0')
                return true;
        return presented != NULL && strlen(registered) == 64 &&
               strlen(presented) == 64 &&
               ma_secure_equal(registered, presented, 64);
}

ma_status_t api_auth_consumer(PGconn *conn, const char *api_key,
                              const char *client_cert_sha256, const char *scope,
                              api_consumer_t *consumer, api_denial_t *denial,
                              ma_error_t *err)
{
        /* One round trip for the key, the consumer and the scope. */
        static const char sql[] =
                "SELECT k.salt, k.key_hash, k.revoked_at IS NOT NULL, "
                "c.consumer_id, c.kind, c.active, "
                "$2::text IS NULL OR EXISTS (SELECT 1 FROM api_scope s "
                "WHERE s.consumer_id = c.consumer_id AND s.scope = $2), "
                "c.client_cert_sha256 "
                "FROM api_key k JOIN api_consumer c USING (consumer_id) "
                "WHERE k.key_id = $1";
        const size_t prefix = strlen(API_KEY_PREFIX);
        char key_id[API_KEY_ID_LEN + 1];
        char *salted;
        size_t salted_len;
        char hash[65];
        const char *params[2] = {key_id, scope};
        PGresult *res;
        bool match, has_scope, cert_ok;

        memset(consumer, 0, sizeof(*consumer));
        denial->http_status = 0;
        if (api_key == NULL || api_key[0] == '\0')
                return api_deny(denial, 401, API_PROBLEM_API_KEY,
                                "missing X-API-Key header: send the API key "
                                "of your connection");
        if (strlen(api_key) !=
                    prefix + API_KEY_ID_LEN + 1 + API_KEY_SECRET_LEN ||
            strncmp(api_key, API_KEY_PREFIX, prefix) != 0 ||
            !api_is_hex(api_key + prefix, API_KEY_ID_LEN) ||
            !api_is_hex(api_key + prefix + API_KEY_ID_LEN + 1,
                        API_KEY_SECRET_LEN))
                return api_deny(denial, 401, API_PROBLEM_API_KEY,
                                "invalid X-API-Key: not a key issued by "
                                "ma-admin");
        memcpy(key_id, api_key + prefix, API_KEY_ID_LEN);
        key_id[API_KEY_ID_LEN] = '\0';
        res = api_pg_rows(conn, sql, 2, params, "could not look up API key",
                          err);
        if (res == NULL)
                return MA_ERR_PG;
        if (PQntuples(res) != 1) {
                PQclear(res);
                return api_deny(denial, 401, API_PROBLEM_API_KEY,
                                "invalid X-API-Key: unknown key");
        }
        salted_len = strlen(PQgetvalue(res, 0, 0)) + strlen(api_key) + 1;
        salted = ma_malloc(salted_len);
        if (salted == NULL) {
                PQclear(res);
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        }
        snprintf(salted, salted_len, "%s%s", PQgetvalue(res, 0, 0), api_key);
        ma_sha256_hex(salted, strlen(salted), hash);
        ma_free(salted);
        match = strlen(PQgetvalue(res, 0, 1)) == 64 &&
                ma_secure_equal(hash, PQgetvalue(res, 0, 1), 64);
        if (!match || strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
                PQclear(res);
                return api_deny(denial, 401, API_PROBLEM_API_KEY,
                                "invalid X-API-Key: unknown or revoked key");
        }
        snprintf(consumer->consumer_id, sizeof(consumer->consumer_id), "%s",
                 PQgetvalue(res, 0, 3));
        memcpy(consumer->key_id, key_id, sizeof(consumer->key_id));
        consumer->is_private = strcmp(PQgetvalue(res, 0, 4), "private") == 0;
        consumer->active = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
        has_scope = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
        cert_ok = PQgetisnull(res, 0, 7) ||
                  api_cert_matches(PQgetvalue(res, 0, 7), client_cert_sha256);
        PQclear(res);
        /* Part of check a, so answered like a key that does not connect;
         * the audit row names the consumer whose key was used. */
        if (!cert_ok)
                return api_deny(denial, 401, API_PROBLEM_API_KEY,
                                "invalid X-API-Key for this connection: "
                                "consumer \"%s\" must connect over TLS "
                                "with its registered client certificate",
                                consumer->consumer_id);
        if (!consumer->active)
                return api_deny(denial, 403, API_PROBLEM_CONSUMER_INACTIVE,
                                "consumer \"%s\" is not active in the "
                                "connection register",
                                consumer->consumer_id);
        if (!has_scope)
                return api_deny(denial, 403, API_PROBLEM_MISSING_SCOPE,
                                "consumer \"%s\" lacks the scope \"%s\" for "
                                "this endpoint",
                                consumer->consumer_id, scope);
        return MA_OK;
}

ma_status_t api_auth_user(PGconn *conn, const api_consumer_t *consumer,
                          const char *authorization, const char *anvandare,
                          const api_token_rules_t *rules, int64_t now_s,
                          api_denial_t *denial, ma_error_t *err)
{
        static const char sql[] = "SELECT issuer, alg, key_material "
                                  "FROM api_idp_key "
                                  "WHERE kid = $1 AND active";
        const char *kid;
        const char *params[1];
        api_jwt_t jwt;
        PGresult *res;
        char message[API_MESSAGE_MAX];
        bool ok;

        denial->http_status = 0;
        if (!consumer->is_private)
                return MA_OK;
        if (authorization == NULL || strncmp(authorization, "Bearer ", 7) != 0)
                return api_deny(denial, 401, API_PROBLEM_USER_TOKEN,
                                "missing user token: a private consumer must "
                                "send \"Authorization: Bearer <token>\" from "
                                "the identity provider");
        if (!api_jwt_decode(authorization + 7, &jwt, message, sizeof(message)))
                return api_deny(denial, 401, API_PROBLEM_USER_TOKEN, "%s",
                                message);
        kid = json_string_value(json_object_get(jwt.header, "kid"));
        if (kid == NULL) {
                api_jwt_clear(&jwt);
                return api_deny(denial, 401, API_PROBLEM_USER_TOKEN,
                                "user token has no kid header naming the "
                                "identity provider's key");
        }
        params[0] = kid;
        res = api_pg_rows(conn, sql, 1, params,
                          "could not look up identity-provider key", err);
        if (res == NULL) {
                api_jwt_clear(&jwt);
                return MA_ERR_PG;
        }
        if (PQntuples(res) != 1) {
                /* kid points into jwt, so format before clearing it. */
                api_deny(denial, 401, API_PROBLEM_USER_TOKEN,
                         "user token key \"%.64s\" is not a registered "
                         "identity-provider key",
                         kid);
                PQclear(res);
                api_jwt_clear(&jwt);
                return MA_OK;
        }
        ok = api_jwt_verify_signature(&jwt, PQgetvalue(res, 0, 1),
                                      PQgetvalue(res, 0, 2), message,
                                      sizeof(message)) &&
             api_jwt_check_claims(&jwt, PQgetvalue(res, 0, 0), anvandare,
                                  consumer->consumer_id, now_s, rules->leeway_s,
                                  rules->max_lifetime_s, message,
                                  sizeof(message));
        PQclear(res);
        api_jwt_clear(&jwt);
        if (!ok)
                return api_deny(denial, 401, API_PROBLEM_USER_TOKEN, "%s",
                                message);
        return MA_OK;
}

void api_grant_clear(api_grant_t *grant)
{
        for (size_t i = 0; i < grant->allowed_count; i++)
                ma_free(grant->allowed_types[i]);
        ma_free(grant->allowed_types);
        memset(grant, 0, sizeof(*grant));
}

const char *api_access_name(api_access_t access)
{
        switch (access) {
        case API_ACCESS_SELF:
                return "self";
        case API_ACCESS_REPRESENTATIVE:
                return "representative";
        case API_ACCESS_READING_AGENT:
                return "reading_agent";
        case API_ACCESS_MANDATE:
                return "mandate";
        default:
                return "none";
        }
}

static ma_status_t api_exists(PGconn *conn, const char *sql,
                              const char *const *params, bool *found,
                              ma_error_t *err)
{
        PGresult *res = api_pg_rows(conn, sql, 2, params,
                                    "could not look up the register", err);

        if (res == NULL)
                return MA_ERR_PG;
        *found = PQntuples(res) > 0;
        PQclear(res);
        return MA_OK;
}

static bool api_text_in(const char *text, char *const *list, size_t count)
{
        for (size_t i = 0; i < count; i++)
                if (strcmp(text, list[i]) == 0)
                        return true;
        return false;
}

/* Fills grant->allowed_types with every catalog type whose authorisation
 * object type is among the mandates' objekttyper (rows of res, column 0,
 * each a PostgreSQL text[] literal unnested by the query). */
static ma_status_t api_mandate_types(const ma_catalog_t *catalog, PGresult *res,
                                     api_grant_t *grant, ma_error_t *err)
{
        size_t cap = 0;

        for (size_t p = 0; p < ma_catalog_producer_count(catalog); p++) {
                const ma_producer_t *producer =
                        ma_catalog_producer_at(catalog, p);

                for (size_t i = 0; i < producer->process_count; i++)
                        cap += producer->processes[i].event_type_count;
        }
        grant->allowed_types = ma_calloc(cap ? cap : 1, sizeof(char *));
        if (grant->allowed_types == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        for (size_t p = 0; p < ma_catalog_producer_count(catalog); p++) {
                const ma_producer_t *producer =
                        ma_catalog_producer_at(catalog, p);

                for (size_t i = 0; i < producer->process_count; i++) {
                        const ma_process_t *process = &producer->processes[i];

                        for (size_t j = 0; j < process->event_type_count; j++) {
                                const ma_event_type_t *type =
                                        &process->event_types[j];
                                bool covered = false;

                                for (int r = 0; r < PQntuples(res); r++)
                                        if (type->authorisation_object_type &&
                                            strcmp(PQgetvalue(res, r, 0),
                                                   type->authorisation_object_type) ==
                                                    0)
                                                covered = true;
                                if (!covered ||
                                    api_text_in(type->name,
                                                grant->allowed_types,
                                                grant->allowed_count))
                                        continue;
                                grant->allowed_types[grant->allowed_count] =
                                        ma_strdup(type->name);
                                if (grant->allowed_types
                                            [grant->allowed_count] == NULL)
                                        return ma_error_set(err, MA_ERR_NOMEM,
                                                            NULL,
                                                            "out of memory");
                                grant->allowed_count++;
                        }
                }
        }
        return MA_OK;
}

ma_status_t api_auth_customer(PGconn *conn, const ma_catalog_t *catalog,
                              const api_consumer_t *consumer,
                              const char *user_pseudonym,
                              const char *kund_pseudonym,
                              ma_kund_typ_t kund_typ, api_grant_t *grant,
                              ma_error_t *err)
{
        static const char representative_sql[] =
                "SELECT 1 FROM api_representative "
                "WHERE person_pseudonym = $1 AND organisation_pseudonym = $2 "
                "AND giltig_fran <= now() "
                "AND (giltig_till IS NULL OR giltig_till > now())";
        static const char agent_sql[] =
                "SELECT 1 FROM api_reading_agent "
                "WHERE consumer_id = $1 AND kund_pseudonym = $2 "
                "AND giltig_fran <= now() "
                "AND (giltig_till IS NULL OR giltig_till > now())";
        static const char mandate_sql[] =
                "SELECT DISTINCT unnest(objekttyper) FROM api_fullmakt "
                "WHERE havare_pseudonym = $1 AND givare_pseudonym = $2 "
                "AND revoked_at IS NULL "
                "AND giltig_fran <= now() AND giltig_till > now()";
        const char *user_params[2] = {user_pseudonym, kund_pseudonym};
        const char *agent_params[2] = {consumer->consumer_id, kund_pseudonym};
        PGresult *res;
        ma_status_t status;
        bool found;

        memset(grant, 0, sizeof(*grant));
        if (strcmp(user_pseudonym, kund_pseudonym) == 0) {
                grant->access = API_ACCESS_SELF;
                return MA_OK;
        }
        if (kund_typ == MA_KUND_ORGANISATIONSNUMMER) {
                status = api_exists(conn, representative_sql, user_params,
                                    &found, err);
                if (status != MA_OK)
                        return status;
                if (found) {
                        grant->access = API_ACCESS_REPRESENTATIVE;
                        return MA_OK;
                }
        }
        status = api_exists(conn, agent_sql, agent_params, &found, err);
        if (status != MA_OK)
                return status;
        if (found) {
                grant->access = API_ACCESS_READING_AGENT;
                return MA_OK;
        }
        res = api_pg_rows(conn, mandate_sql, 2, user_params,
                          "could not look up mandates", err);
        if (res == NULL)
                return MA_ERR_PG;
        if (PQntuples(res) > 0) {
                status = api_mandate_types(catalog, res, grant, err);
                if (status != MA_OK) {
                        PQclear(res);
                        api_grant_clear(grant);
                        return status;
                }
                grant->access = API_ACCESS_MANDATE;
        }
        PQclear(res);
        return MA_OK;
}
