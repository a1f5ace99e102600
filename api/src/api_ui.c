/*
 * api_ui.c - the overview page "Mina ärenden" of ma-api (docs/ui.md).
 *
 * Paths, all under /mina-arenden (and "/", which redirects there):
 *   GET  /mina-arenden/            index.html; other static files by name
 *   GET  /mina-arenden/api/session the demo users and the signed-in session
 *   POST /mina-arenden/api/session sign in: {"anvandare": id, "foretag": n}
 *   DELETE /mina-arenden/api/session sign out
 *   GET  /mina-arenden/api/katalog  as GET /v1/katalog
 *   GET  /mina-arenden/api/arenden  as POST /v1/oversikt for the session
 *   POST /mina-arenden/api/historik as POST /v1/historik: {"arende": {...}}
 *   GET  /mina-arenden/api/handelser Server-Sent Events: "andring" when the
 *                                   customer's events changed
 *
 * The data paths act as the consumer ui.consumer, which must be public,
 * active and have the endpoint's scope.  They run the /v1 endpoints
 * themselves (api_v1_customer, api_v1_katalog), so the user's right to see
 * the customer is decided and audited exactly as for /v1.  Identity
 * numbers stay on the server: the session cookie carries a random id, and
 * a live-update event carries no data, only a counter as its id.
 *
 * Live updates: migration 0300 makes PostgreSQL send NOTIFY ma_kund_changed
 * with the customer's pseudonym.  One listener thread wakes the matching
 * streams.  Between events a stream's content reader waits on a condition
 * variable in its connection's own thread (libmicrohttpd runs a thread per
 * connection, where suspending a connection does not apply), so a waiting
 * browser keeps that thread but no database connection.  Every
 * API_UI_HEARTBEAT_MS each stream sends a comment line; writing to a closed tab
 * fails, and libmicrohttpd then closes the connection and frees the stream.
 */
#include <errno.h>
#include <microhttpd.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "api_http.h"
#include "api_ui.h"
#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/log.h"
#include "ma/pg.h"
#include "ma/validate.h"

#define API_UI_PREFIX          "/mina-arenden"
#define API_UI_COOKIE          "ma_ui_session"
#define API_UI_CHANNEL         "ma_kund_changed"
#define API_UI_SESSION_IDLE_MS (30 * 60 * 1000)
#define API_UI_SESSION_MAX_MS  (12 * 60 * 60 * 1000)
#define API_UI_SESSIONS_MAX    1024
#define API_UI_HEARTBEAT_MS    15000
#define API_UI_WAIT_MS         1000
#define API_UI_USERS_MAX       100
#define API_UI_FORETAG_MAX     20
#define API_UI_FILE_MAX        (1024 * 1024)
#define API_UI_ID_HEX          64

/* ------------------------------------------------------------------------
 * State
 */

typedef struct api_ui_org {
        char identitet[13];
        char *namn;
} api_ui_org_t;

typedef struct api_ui_user {
        char *id;
        char *namn;
        char *beskrivning; /* NULL when absent */
        char identitet[13];
        ma_kund_typ_t typ; /* personnummer or samordningsnummer */
        api_ui_org_t *foretag;
        size_t foretag_count;
} api_ui_user_t;

typedef struct api_ui_session {
        char id[API_UI_ID_HEX + 1]; /* "" : free slot */
        size_t user;
        int foretag; /* index into the user's foretag, -1: the user */
        int64_t created_ms;
        int64_t seen_ms;
        char kund[MA_PSEUDONYM_HEX_LEN + 1]; /* the customer's pseudonym */
} api_ui_session_t;

/* One open live-update stream; the fields are guarded by api_ui.lock. */
typedef struct api_ui_stream {
        struct api_ui_stream *next;
        char session_id[API_UI_ID_HEX + 1];
        char kund[MA_PSEUDONYM_HEX_LEN + 1];
        bool changed;
        bool heartbeat;
        bool ended;
        unsigned long long sent; /* the last event id */
        char out[128];
        size_t out_len, out_pos;
} api_ui_stream_t;

static struct {
        bool started;
        api_ui_config_t config;
        api_ui_user_t *users;
        size_t user_count;
        pthread_mutex_t lock;
        pthread_cond_t wake;        /* a stream has something to send */
        api_ui_session_t *sessions; /* API_UI_SESSIONS_MAX slots */
        api_ui_stream_t *streams;
        volatile sig_atomic_t stopping;
        pthread_t listener;
        bool listener_running;
} api_ui = {.lock = PTHREAD_MUTEX_INITIALIZER,
            .wake = PTHREAD_COND_INITIALIZER};

/* ------------------------------------------------------------------------
 * Demo users
 */

static bool api_ui_id_valid(const char *id)
{
        size_t len = strlen(id);

        if (len == 0 || len > 32)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((id[i] >= 'a' && id[i] <= 'z') ||
                      (id[i] >= '0' && id[i] <= '9') || id[i] == '-' ||
                      id[i] == '_'))
                        return false;
        return true;
}

/* Returns a copy of the non-empty string member key of object, or NULL
 * and a message. */
static char *api_ui_string(json_t *object, const char *key, bool required,
                           const char *where, char *message, size_t size)
{
        json_t *value = json_object_get(object, key);
        const char *text = json_string_value(value);

        if (value == NULL && !required)
                return NULL;
        if (text == NULL || text[0] == '\0') {
                snprintf(message, size, "%s: %s must be a non-empty string",
                         where, key);
                return NULL;
        }
        return ma_strdup(text);
}

static bool api_ui_keys_known(json_t *object, const char *const *keys,
                              const char *where, char *message, size_t size)
{
        const char *key;
        json_t *value;

        json_object_foreach(object, key, value)
        {
                bool known = false;

                for (size_t i = 0; keys[i] != NULL; i++)
                        known = known || strcmp(key, keys[i]) == 0;
                if (!known) {
                        snprintf(message, size,
                                 "%s: unknown attribute \"%.40s\"", where, key);
                        return false;
                }
        }
        (void)value;
        return true;
}

static bool api_ui_org_parse(json_t *entry, api_ui_org_t *org,
                             const char *where, char *message, size_t size)
{
        static const char *const keys[] = {"identitet", "namn", NULL};
        const char *identitet;

        if (!json_is_object(entry)) {
                snprintf(message, size, "%s must be an object", where);
                return false;
        }
        if (!api_ui_keys_known(entry, keys, where, message, size))
                return false;
        identitet = json_string_value(json_object_get(entry, "identitet"));
        if (identitet == NULL || strlen(identitet) >= sizeof(org->identitet) ||
            ma_validate_organisationsnummer(identitet, NULL) != MA_OK) {
                snprintf(message, size,
                         "%s: identitet must be a valid organisationsnummer "
                         "(10 digits, or 12 with the prefix 16)",
                         where);
                return false;
        }
        snprintf(org->identitet, sizeof(org->identitet), "%s", identitet);
        org->namn = api_ui_string(entry, "namn", true, where, message, size);
        return org->namn != NULL;
}

static bool api_ui_user_parse(json_t *entry, api_ui_user_t *user,
                              const char *where, char *message, size_t size)
{
        static const char *const keys[] = {
                "id", "namn", "identitet", "beskrivning", "foretag", NULL};
        const char *identitet;
        json_t *foretag;

        if (!json_is_object(entry)) {
                snprintf(message, size, "%s must be an object", where);
                return false;
        }
        if (!api_ui_keys_known(entry, keys, where, message, size))
                return false;
        user->id = api_ui_string(entry, "id", true, where, message, size);
        if (user->id == NULL)
                return false;
        if (!api_ui_id_valid(user->id)) {
                snprintf(message, size,
                         "%s: id must be 1 to 32 characters a-z, 0-9, - or _",
                         where);
                return false;
        }
        user->namn = api_ui_string(entry, "namn", true, where, message, size);
        if (user->namn == NULL)
                return false;
        user->beskrivning = api_ui_string(entry, "beskrivning", false, where,
                                          message, size);
        if (user->beskrivning == NULL &&
            json_object_get(entry, "beskrivning") != NULL)
                return false;
        identitet = json_string_value(json_object_get(entry, "identitet"));
        if (identitet != NULL && strlen(identitet) == 12 &&
            ma_validate_personnummer(identitet, NULL) == MA_OK)
                user->typ = MA_KUND_PERSONNUMMER;
        else if (identitet != NULL && strlen(identitet) == 12 &&
                 ma_validate_samordningsnummer(identitet, NULL) == MA_OK)
                user->typ = MA_KUND_SAMORDNINGSNUMMER;
        else {
                snprintf(message, size,
                         "%s: identitet must be a valid personnummer or "
                         "samordningsnummer of 12 digits",
                         where);
                return false;
        }
        snprintf(user->identitet, sizeof(user->identitet), "%s", identitet);
        foretag = json_object_get(entry, "foretag");
        if (foretag == NULL)
                return true;
        if (!json_is_array(foretag) ||
            json_array_size(foretag) > API_UI_FORETAG_MAX) {
                snprintf(message, size,
                         "%s: foretag must be an array of at most %d "
                         "organisations",
                         where, API_UI_FORETAG_MAX);
                return false;
        }
        user->foretag =
                ma_calloc(json_array_size(foretag) + 1, sizeof(api_ui_org_t));
        if (user->foretag == NULL) {
                snprintf(message, size, "out of memory");
                return false;
        }
        for (size_t i = 0; i < json_array_size(foretag); i++) {
                char org_where[96];

                snprintf(org_where, sizeof(org_where), "%s.foretag[%zu]", where,
                         i);
                user->foretag_count++;
                if (!api_ui_org_parse(json_array_get(foretag, i),
                                      &user->foretag[i], org_where, message,
                                      size))
                        return false;
        }
        return true;
}

static void api_ui_users_free(void)
{
        for (size_t i = 0; i < api_ui.user_count; i++) {
                api_ui_user_t *user = &api_ui.users[i];

                for (size_t j = 0; j < user->foretag_count; j++)
                        ma_free(user->foretag[j].namn);
                ma_free(user->foretag);
                ma_free(user->id);
                ma_free(user->namn);
                ma_free(user->beskrivning);
        }
        ma_free(api_ui.users);
        api_ui.users = NULL;
        api_ui.user_count = 0;
}

static ma_status_t api_ui_users_load(const char *path, ma_error_t *err)
{
        json_error_t json_err;
        json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &json_err);
        char message[API_MESSAGE_MAX] = "";
        bool ok = true;

        if (root == NULL) {
                api_mask_digits(json_err.text, message, sizeof(message));
                return ma_error_set(err, MA_ERR_CONFIG, "ui.demo-users",
                                    "could not read the demo users file "
                                    "\"%s\": %s (line %d); fix the file or "
                                    "leave ui.demo-users empty",
                                    path, message, json_err.line);
        }
        if (!json_is_array(root) || json_array_size(root) == 0 ||
            json_array_size(root) > API_UI_USERS_MAX) {
                json_decref(root);
                return ma_error_set(err, MA_ERR_CONFIG, "ui.demo-users",
                                    "invalid demo users file \"%s\": expected "
                                    "an array of 1 to %d users",
                                    path, API_UI_USERS_MAX);
        }
        api_ui.users = ma_calloc(json_array_size(root), sizeof(api_ui_user_t));
        if (api_ui.users == NULL) {
                json_decref(root);
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        }
        for (size_t i = 0; ok && i < json_array_size(root); i++) {
                char where[32];

                snprintf(where, sizeof(where), "[%zu]", i);
                api_ui.user_count++;
                ok = api_ui_user_parse(json_array_get(root, i),
                                       &api_ui.users[i], where, message,
                                       sizeof(message));
                for (size_t j = 0; ok && j < i; j++)
                        if (strcmp(api_ui.users[j].id, api_ui.users[i].id) ==
                            0) {
                                snprintf(message, sizeof(message),
                                         "%s: id \"%s\" is not unique", where,
                                         api_ui.users[i].id);
                                ok = false;
                        }
        }
        json_decref(root);
        if (!ok) {
                api_ui_users_free();
                return ma_error_set(err, MA_ERR_CONFIG, "ui.demo-users",
                                    "invalid demo users file \"%s\": %s", path,
                                    message);
        }
        return MA_OK;
}

/* ------------------------------------------------------------------------
 * Sessions
 */

static bool api_ui_random_hex(char *out, size_t bytes)
{
        static const char hex[] = "0123456789abcdef";
        unsigned char raw[32];

        if (bytes > sizeof(raw) || RAND_bytes(raw, (int)bytes) != 1)
                return false;
        for (size_t i = 0; i < bytes; i++) {
                out[2 * i] = hex[raw[i] >> 4];
                out[2 * i + 1] = hex[raw[i] & 15];
        }
        out[2 * bytes] = '\0';
        return true;
}

static bool api_ui_session_expired(const api_ui_session_t *session, int64_t now)
{
        return session->id[0] == '\0' ||
               now - session->seen_ms > API_UI_SESSION_IDLE_MS ||
               now - session->created_ms > API_UI_SESSION_MAX_MS;
}

/* The customer a session acts for: the user, or one of their foretag. */
static void api_ui_session_customer(const api_ui_session_t *session,
                                    const char **identitet, ma_kund_typ_t *typ)
{
        const api_ui_user_t *user = &api_ui.users[session->user];

        if (session->foretag >= 0) {
                *identitet = user->foretag[session->foretag].identitet;
                *typ = MA_KUND_ORGANISATIONSNUMMER;
        } else {
                *identitet = user->identitet;
                *typ = user->typ;
        }
}

/* Creates a session in a free or expired slot, else replaces the one
 * seen least recently.  Caller holds api_ui.lock. */
static bool api_ui_session_create(size_t user, int foretag,
                                  api_ui_session_t *out)
{
        int64_t now = ma_now_ms();
        api_ui_session_t *slot = &api_ui.sessions[0];
        const char *identitet;
        ma_kund_typ_t typ;

        for (size_t i = 0; i < API_UI_SESSIONS_MAX; i++) {
                api_ui_session_t *session = &api_ui.sessions[i];

                if (api_ui_session_expired(session, now)) {
                        slot = session;
                        break;
                }
                if (session->seen_ms < slot->seen_ms)
                        slot = session;
        }
        memset(slot, 0, sizeof(*slot));
        if (!api_ui_random_hex(slot->id, API_UI_ID_HEX / 2)) {
                slot->id[0] = '\0';
                return false;
        }
        slot->user = user;
        slot->foretag = foretag;
        slot->created_ms = slot->seen_ms = now;
        api_ui_session_customer(slot, &identitet, &typ);
        if (ma_pseudonym_customer(api_ui.config.pseudonym_key, typ, identitet,
                                  NULL, slot->kund) != MA_OK) {
                slot->id[0] = '\0';
                return false;
        }
        *out = *slot;
        return true;
}

/* Returns the unexpired session with id, or NULL.  Caller holds
 * api_ui.lock. */
static api_ui_session_t *api_ui_session_find_locked(const char *id)
{
        int64_t now = ma_now_ms();

        if (id == NULL || strlen(id) != API_UI_ID_HEX)
                return NULL;
        for (size_t i = 0; i < API_UI_SESSIONS_MAX; i++) {
                api_ui_session_t *session = &api_ui.sessions[i];

                if (session->id[0] != '\0' &&
                    ma_secure_equal(session->id, id, API_UI_ID_HEX) &&
                    !api_ui_session_expired(session, now))
                        return session;
        }
        return NULL;
}

static bool api_ui_session_get(struct MHD_Connection *connection,
                               api_ui_session_t *out)
{
        const char *id = MHD_lookup_connection_value(
                connection, MHD_COOKIE_KIND, API_UI_COOKIE);
        api_ui_session_t *session;

        pthread_mutex_lock(&api_ui.lock);
        session = api_ui_session_find_locked(id);
        if (session != NULL) {
                session->seen_ms = ma_now_ms();
                *out = *session;
        }
        pthread_mutex_unlock(&api_ui.lock);
        return session != NULL;
}

/* ------------------------------------------------------------------------
 * Responses that are not audited: files, redirects, the session
 */

static void api_ui_headers(struct MHD_Response *response)
{
        MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(response, "X-Frame-Options", "DENY");
        MHD_add_response_header(
                response, "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
}

static enum MHD_Result api_ui_queue(struct MHD_Connection *connection,
                                    api_request_t *request, unsigned int status,
                                    const char *content_type, const char *data,
                                    size_t len, const char *cookie)
{
        struct MHD_Response *response;
        enum MHD_Result result;

        request->answered = true;
        request->status = status;
        response = MHD_create_response_from_buffer(len, (void *)data,
                                                   MHD_RESPMEM_MUST_COPY);
        if (response == NULL)
                return MHD_NO;
        if (content_type != NULL)
                MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                        content_type);
        MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL,
                                "no-cache");
        if (cookie != NULL)
                MHD_add_response_header(response, MHD_HTTP_HEADER_SET_COOKIE,
                                        cookie);
        api_ui_headers(response);
        result = MHD_queue_response(connection, status, response);
        MHD_destroy_response(response);
        return result;
}

/* Queues body (taken) as JSON. */
static enum MHD_Result api_ui_json(struct MHD_Connection *connection,
                                   api_request_t *request, unsigned int status,
                                   json_t *body, const char *cookie)
{
        char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
        enum MHD_Result result;

        json_decref(body);
        if (text == NULL)
                return MHD_NO;
        result = api_ui_queue(connection, request, status, "application/json",
                              text, strlen(text), cookie);
        free(text);
        return result;
}

static enum MHD_Result api_ui_message(struct MHD_Connection *connection,
                                      api_request_t *request,
                                      unsigned int status, const char *message)
{
        return api_ui_json(connection, request, status,
                           json_pack("{s:s}", "message", message), NULL);
}

static enum MHD_Result api_ui_redirect(struct MHD_Connection *connection,
                                       api_request_t *request)
{
        struct MHD_Response *response =
                MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        enum MHD_Result result;

        request->answered = true;
        request->status = MHD_HTTP_FOUND;
        if (response == NULL)
                return MHD_NO;
        MHD_add_response_header(response, MHD_HTTP_HEADER_LOCATION,
                                API_UI_PREFIX "/");
        result = MHD_queue_response(connection, MHD_HTTP_FOUND, response);
        MHD_destroy_response(response);
        return result;
}

static const char *api_ui_content_type(const char *name)
{
        const char *dot = strrchr(name, '.');

        if (dot == NULL)
                return NULL;
        if (strcmp(dot, ".html") == 0)
                return "text/html; charset=utf-8";
        if (strcmp(dot, ".css") == 0)
                return "text/css; charset=utf-8";
        if (strcmp(dot, ".js") == 0)
                return "text/javascript; charset=utf-8";
        if (strcmp(dot, ".svg") == 0)
                return "image/svg+xml";
        return NULL;
}

/* Serves a file of ui.dir whose name is [a-z0-9_-]+ plus a known
 * extension, so a request can reach no other file. */
static enum MHD_Result api_ui_file(struct MHD_Connection *connection,
                                   api_request_t *request, const char *name)
{
        const char *type = api_ui_content_type(name);
        char path[4096];
        char *data;
        size_t len;
        FILE *file;

        for (const char *p = name; *p != '\0' && *p != '.'; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                      *p == '-' || *p == '_'))
                        type = NULL;
        if (type == NULL || name[0] == '.' ||
            strchr(name, '.') != strrchr(name, '.'))
                return api_ui_message(connection, request, 404,
                                      "no such file of the page");
        snprintf(path, sizeof(path), "%s/%s", api_ui.config.dir, name);
        file = fopen(path, "rb");
        if (file == NULL)
                return api_ui_message(connection, request, 404,
                                      "no such file of the page");
        data = ma_malloc(API_UI_FILE_MAX);
        len = data != NULL ? fread(data, 1, API_UI_FILE_MAX, file) : 0;
        if (data == NULL || ferror(file) || !feof(file)) {
                fclose(file);
                ma_free(data);
                ma_log(MA_LOG_ERROR,
                       "page file not served: unreadable or "
                       "over 1 MiB",
                       "path", path, NULL);
                return api_ui_message(connection, request, 500,
                                      "could not read a file of the page");
        }
        fclose(file);
        {
                enum MHD_Result result = api_ui_queue(connection, request, 200,
                                                      type, data, len, NULL);

                ma_free(data);
                return result;
        }
}

/* ------------------------------------------------------------------------
 * Sign-in
 */

static json_t *api_ui_session_json(const api_ui_session_t *session)
{
        const api_ui_user_t *user = &api_ui.users[session->user];
        json_t *kund;

        if (session->foretag >= 0)
                kund = json_pack("{s:s, s:s, s:s}", "namn",
                                 user->foretag[session->foretag].namn,
                                 "identitet",
                                 user->foretag[session->foretag].identitet,
                                 "typ", "Organisationsnummer");
        else
                kund = json_pack("{s:s, s:s, s:s}", "namn", user->namn,
                                 "identitet", user->identitet, "typ",
                                 ma_kund_typ_name(user->typ));
        /* The page may show the user's own number; nothing else of the
         * session leaves the server. */
        return json_pack("{s:s, s:s, s:s, s:o}", "id", user->id, "namn",
                         user->namn, "identitet", user->identitet, "kund",
                         kund);
}

/* GET: the demo users (without identity numbers) and the session. */
static enum MHD_Result
api_ui_session_describe(struct MHD_Connection *connection,
                        api_request_t *request)
{
        json_t *users = json_array();
        api_ui_session_t session;
        json_t *body;

        for (size_t i = 0; i < api_ui.user_count; i++) {
                const api_ui_user_t *user = &api_ui.users[i];
                json_t *foretag = json_array();

                for (size_t j = 0; j < user->foretag_count; j++)
                        json_array_append_new(foretag,
                                              json_pack("{s:s}", "namn",
                                                        user->foretag[j].namn));
                json_array_append_new(
                        users,
                        json_pack("{s:s, s:s, s:s?, s:o}", "id", user->id,
                                  "namn", user->namn, "beskrivning",
                                  user->beskrivning, "foretag", foretag));
        }
        body = json_pack("{s:b, s:o}", "inloggning", api_ui.user_count > 0,
                         "anvandare", users);
        if (body != NULL && api_ui_session_get(connection, &session))
                json_object_set_new(body, "session",
                                    api_ui_session_json(&session));
        return api_ui_json(connection, request, 200, body, NULL);
}

/* Whether Origin, when sent, is this host, so another site cannot sign a
 * browser in (SameSite=Strict keeps its cookie from other sites too). */
static bool api_ui_same_origin(struct MHD_Connection *connection)
{
        const char *origin = MHD_lookup_connection_value(
                connection, MHD_HEADER_KIND, "Origin");
        const char *host = MHD_lookup_connection_value(
                connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
        const char *rest;

        if (origin == NULL)
                return true;
        if (host == NULL)
                return false;
        if (strncmp(origin, "http://", 7) == 0)
                rest = origin + 7;
        else if (strncmp(origin, "https://", 8) == 0)
                rest = origin + 8;
        else
                return false;
        return strcmp(rest, host) == 0;
}

static bool api_ui_is_json(struct MHD_Connection *connection)
{
        const char *type = MHD_lookup_connection_value(
                connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);

        return type != NULL && strncasecmp(type, "application/json", 16) == 0 &&
               (type[16] == '\0' || type[16] == ';');
}

/* POST {"anvandare": id, "foretag": index or null}. */
static enum MHD_Result api_ui_sign_in(struct MHD_Connection *connection,
                                      api_request_t *request)
{
        json_t *root, *foretag_json;
        const char *id;
        size_t user = api_ui.user_count;
        int foretag = -1;
        api_ui_session_t session;
        char cookie[160];
        bool created;

        if (api_ui.user_count == 0)
                return api_ui_message(connection, request, 403,
                                      "sign-in is not configured: start "
                                      "ma-api with --ui.demo-users");
        if (!api_ui_same_origin(connection) || !api_ui_is_json(connection))
                return api_ui_message(connection, request, 403,
                                      "sign in from the page itself");
        root = json_loadb(request->body ? request->body : "", request->len,
                          JSON_REJECT_DUPLICATES, NULL);
        id = json_string_value(json_object_get(root, "anvandare"));
        for (size_t i = 0; id != NULL && i < api_ui.user_count; i++)
                if (strcmp(api_ui.users[i].id, id) == 0)
                        user = i;
        foretag_json = json_object_get(root, "foretag");
        if (user < api_ui.user_count && json_is_integer(foretag_json)) {
                json_int_t index = json_integer_value(foretag_json);

                if (index >= 0 &&
                    (size_t)index < api_ui.users[user].foretag_count)
                        foretag = (int)index;
                else
                        user = api_ui.user_count;
        } else if (foretag_json != NULL && !json_is_null(foretag_json)) {
                user = api_ui.user_count;
        }
        json_decref(root);
        if (user >= api_ui.user_count)
                return api_ui_message(connection, request, 400,
                                      "unknown user or organisation: choose "
                                      "one of the listed demo users");
        pthread_mutex_lock(&api_ui.lock);
        created = api_ui_session_create(user, foretag, &session);
        pthread_mutex_unlock(&api_ui.lock);
        if (!created)
                return api_ui_message(connection, request, 500,
                                      "could not create a session");
        MA_LOG_AT(MA_LOG_INFO, "page sign-in",
                  MA_LOG_STR("user", api_ui.users[user].id),
                  MA_LOG_INT("acting_for_organisation", foretag >= 0));
        snprintf(cookie, sizeof(cookie),
                 API_UI_COOKIE "=%s; Path=" API_UI_PREFIX
                               "/; HttpOnly; SameSite=Strict",
                 session.id);
        return api_ui_json(
                connection, request, 201,
                json_pack("{s:o}", "session", api_ui_session_json(&session)),
                cookie);
}

static enum MHD_Result api_ui_sign_out(struct MHD_Connection *connection,
                                       api_request_t *request)
{
        const char *id = MHD_lookup_connection_value(
                connection, MHD_COOKIE_KIND, API_UI_COOKIE);
        api_ui_session_t *session;

        if (!api_ui_same_origin(connection))
                return api_ui_message(connection, request, 403,
                                      "sign out from the page itself");
        pthread_mutex_lock(&api_ui.lock);
        session = api_ui_session_find_locked(id);
        if (session != NULL)
                memset(session, 0, sizeof(*session));
        pthread_mutex_unlock(&api_ui.lock);
        return api_ui_queue(connection, request, 200, "application/json", "{}",
                            2,
                            API_UI_COOKIE "=; Path=" API_UI_PREFIX
                                          "/; Max-Age=0; HttpOnly; "
                                          "SameSite=Strict");
}

/* ------------------------------------------------------------------------
 * Data requests, authorised and audited as /v1
 */

/* Loads ui.consumer from the connection register and checks scope
 * (NULL: none).  A denial (403) when the consumer is unknown, inactive,
 * private or lacks the scope: the page vouches for its users itself, which
 * only a public consumer may do.  The register is keyed here by consumer
 * id, since the page has no API key, so api_auth_consumer() cannot be used. */
static ma_status_t api_ui_consumer(PGconn *conn, const char *scope,
                                   api_consumer_t *consumer,
                                   api_denial_t *denial, ma_error_t *err)
{
        static const char sql[] =
                "SELECT c.kind, c.active, $2::text IS NULL OR EXISTS ("
                " SELECT 1 FROM api_scope s WHERE s.consumer_id = c.consumer_id"
                " AND s.scope = $2::text)"
                " FROM api_consumer c WHERE c.consumer_id = $1";
        const char *params[2] = {api_ui.config.consumer_id, scope};
        PGresult *res = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
        ma_status_t status = MA_OK;

        memset(consumer, 0, sizeof(*consumer));
        memset(denial, 0, sizeof(*denial));
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
                status = ma_pg_error(conn, res, "could not look up consumer",
                                     err);
        } else if (PQntuples(res) != 1) {
                denial->http_status = 403;
                snprintf(denial->message, sizeof(denial->message),
                         "consumer \"%s\" of the page (ui.consumer) is not in "
                         "the connection register: register it with "
                         "ma-admin",
                         api_ui.config.consumer_id);
        } else {
                snprintf(consumer->consumer_id, sizeof(consumer->consumer_id),
                         "%s", api_ui.config.consumer_id);
                consumer->is_private =
                        strcmp(PQgetvalue(res, 0, 0), "private") == 0;
                consumer->active = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
                if (!consumer->active || consumer->is_private) {
                        denial->http_status = 403;
                        snprintf(denial->message, sizeof(denial->message),
                                 "consumer \"%s\" of the page (ui.consumer) "
                                 "is %s: the page needs an active public "
                                 "consumer",
                                 consumer->consumer_id,
                                 consumer->active ? "private" : "not active");
                } else if (strcmp(PQgetvalue(res, 0, 2), "t") != 0) {
                        denial->http_status = 403;
                        snprintf(denial->message, sizeof(denial->message),
                                 "consumer \"%s\" lacks the scope \"%s\" "
                                 "for this part of the page",
                                 consumer->consumer_id, scope);
                }
        }
        PQclear(res);
        return status;
}

/* The /v1 body of the session: the user asking about the customer. */
static json_t *api_ui_subject(const api_ui_session_t *session)
{
        const api_ui_user_t *user = &api_ui.users[session->user];
        const char *identitet;
        ma_kund_typ_t typ;

        api_ui_session_customer(session, &identitet, &typ);
        return json_pack("{s:s, s:{s:s, s:s}}", "anvandare", user->identitet,
                         "kund", "identifierare", identitet, "typ",
                         ma_kund_typ_name(typ));
}

typedef enum api_ui_route {
        API_UI_NONE = 0,
        API_UI_REDIRECT,
        API_UI_FILE,
        API_UI_SESSION,
        API_UI_KATALOG,
        API_UI_ARENDEN,
        API_UI_HISTORIK,
        API_UI_HANDELSER,
} api_ui_route_t;

static enum MHD_Result api_ui_stream_open(api_server_t *server,
                                          struct MHD_Connection *connection,
                                          api_request_t *request, PGconn *conn,
                                          api_outcome_t *outcome,
                                          const api_ui_session_t *session);

/* Checks the session, the consumer and the scope, then runs the /v1
 * endpoint of route with the session's user and customer. */
static enum MHD_Result api_ui_data(api_server_t *server,
                                   struct MHD_Connection *connection,
                                   api_request_t *request, api_ui_route_t route)
{
        static const char *const scopes[] = {
                [API_UI_KATALOG] = NULL,
                [API_UI_ARENDEN] = "oversikt",
                [API_UI_HISTORIK] = "fraga",
                [API_UI_HANDELSER] = "oversikt",
        };
        api_outcome_t outcome = {0};
        api_denial_t denial = {0};
        api_ui_session_t session;
        json_t *root = NULL, *body;
        enum MHD_Result result;
        ma_error_t err;
        PGconn *conn = api_conn_get(server, &err);

        if (conn == NULL) {
                ma_log(MA_LOG_ERROR, "database connection failed", "error",
                       err.message, NULL);
                return api_ui_message(connection, request, 500,
                                      "could not connect to the database; "
                                      "try again later");
        }
        if (!api_ui_session_get(connection, &session))
                return api_error(server, connection, request, conn, &outcome,
                                 401,
                                 "not signed in, or the session has expired: "
                                 "sign in again");
        if (api_ui_consumer(conn, scopes[route], &outcome.consumer, &denial,
                            &err) != MA_OK)
                return api_error(server, connection, request, conn, &outcome,
                                 500, "could not check the page's consumer");
        outcome.have_consumer = outcome.consumer.consumer_id[0] != '\0';
        if (denial.http_status != 0)
                return api_error(server, connection, request, conn, &outcome,
                                 denial.http_status, "%s", denial.message);
        if (route == API_UI_KATALOG)
                return api_v1_katalog(server, connection, request, conn,
                                      &outcome);
        if (route == API_UI_HANDELSER)
                return api_ui_stream_open(server, connection, request, conn,
                                          &outcome, &session);
        root = api_ui_subject(&session);
        if (route == API_UI_HISTORIK) {
                if (!api_ui_is_json(connection))
                        return api_error(server, connection, request, conn,
                                         &outcome, 415,
                                         "Content-Type must be "
                                         "application/json");
                body = json_loadb(request->body ? request->body : "",
                                  request->len, JSON_REJECT_DUPLICATES, NULL);
                if (root != NULL && json_object_get(body, "arende") != NULL)
                        json_object_set(root, "arende",
                                        json_object_get(body, "arende"));
                json_decref(body);
                request->route = API_ROUTE_HISTORIK;
        } else {
                request->route = API_ROUTE_OVERSIKT;
        }
        if (root == NULL)
                return MHD_NO;
        result = api_v1_customer(server, connection, request, conn, &outcome,
                                 root);
        json_decref(root);
        return result;
}

/* ------------------------------------------------------------------------
 * Live updates
 */

/* Appends one frame to the stream's output.  Caller holds api_ui.lock. */
static void api_ui_stream_put(api_ui_stream_t *stream, const char *frame)
{
        size_t len = strlen(frame);

        if (stream->out_pos == stream->out_len)
                stream->out_pos = stream->out_len = 0;
        if (len <= sizeof(stream->out) - stream->out_len) {
                memcpy(stream->out + stream->out_len, frame, len);
                stream->out_len += len;
        }
}

/*
 * libmicrohttpd's content reader of a stream, on the connection's thread.
 * With nothing to send, it waits until api_ui_wake() or api_ui_stop()
 * signals, at most API_UI_WAIT_MS at a time so that a session that ended
 * is noticed.
 */
static ssize_t api_ui_stream_read(void *cls, uint64_t pos, char *buf,
                                  size_t max)
{
        api_ui_stream_t *stream = cls;
        ssize_t result = 0;

        (void)pos;
        pthread_mutex_lock(&api_ui.lock);
        while (result == 0 && stream->out_pos == stream->out_len) {
                if (api_ui.stopping || stream->ended) {
                        result = MHD_CONTENT_READER_END_OF_STREAM;
                } else if (api_ui_session_find_locked(stream->session_id) ==
                           NULL) {
                        /* Signed out or expired: send utloggad, then end. */
                        api_ui_stream_put(stream,
                                          "event: utloggad\ndata: {}\n\n");
                        stream->ended = true;
                } else if (stream->changed) {
                        char frame[96];

                        stream->changed = false;
                        stream->heartbeat = false;
                        snprintf(frame, sizeof(frame),
                                 "id: %llu\nevent: andring\ndata: {}\n\n",
                                 ++stream->sent);
                        api_ui_stream_put(stream, frame);
                } else if (stream->heartbeat) {
                        stream->heartbeat = false;
                        api_ui_stream_put(stream, ": ping\n\n");
                } else {
                        struct timespec until;

                        clock_gettime(CLOCK_REALTIME, &until);
                        until.tv_nsec += API_UI_WAIT_MS % 1000 * 1000000L;
                        until.tv_sec += API_UI_WAIT_MS / 1000 +
                                        until.tv_nsec / 1000000000L;
                        until.tv_nsec %= 1000000000L;
                        pthread_cond_timedwait(&api_ui.wake, &api_ui.lock,
                                               &until);
                }
        }
        if (result == 0 && stream->out_pos < stream->out_len) {
                size_t n = stream->out_len - stream->out_pos;

                if (n > max)
                        n = max;
                memcpy(buf, stream->out + stream->out_pos, n);
                stream->out_pos += n;
                result = (ssize_t)n;
        }
        pthread_mutex_unlock(&api_ui.lock);
        return result;
}

/* Called by libmicrohttpd once the connection is gone. */
static void api_ui_stream_free(void *cls)
{
        api_ui_stream_t *stream = cls;

        pthread_mutex_lock(&api_ui.lock);
        for (api_ui_stream_t **p = &api_ui.streams; *p != NULL; p = &(*p)->next)
                if (*p == stream) {
                        *p = stream->next;
                        break;
                }
        pthread_mutex_unlock(&api_ui.lock);
        ma_free(stream);
}

/* Marks the streams of kund (all streams when NULL) changed, or only due
 * for a heartbeat, and wakes those that wait. */
static void api_ui_wake(const char *kund, bool heartbeat)
{
        pthread_mutex_lock(&api_ui.lock);
        for (api_ui_stream_t *s = api_ui.streams; s != NULL; s = s->next) {
                if (kund != NULL && strcmp(s->kund, kund) != 0)
                        continue;
                if (heartbeat)
                        s->heartbeat = true;
                else
                        s->changed = true;
        }
        pthread_cond_broadcast(&api_ui.wake);
        pthread_mutex_unlock(&api_ui.lock);
}

/* Decides the user's right to see the customer as every other data
 * request does, writes the audit row and starts the stream. */
static enum MHD_Result api_ui_stream_open(api_server_t *server,
                                          struct MHD_Connection *connection,
                                          api_request_t *request, PGconn *conn,
                                          api_outcome_t *outcome,
                                          const api_ui_session_t *session)
{
        const api_ui_user_t *user = &api_ui.users[session->user];
        const char *identitet;
        ma_kund_typ_t typ;
        api_grant_t grant = {0};
        api_access_t access;
        api_audit_row_t row = {0};
        api_ui_stream_t *stream;
        struct MHD_Response *response;
        enum MHD_Result result;
        ma_error_t err;
        ma_status_t status;

        api_ui_session_customer(session, &identitet, &typ);
        ma_pseudonym_customer(api_ui.config.pseudonym_key, user->typ,
                              user->identitet, NULL, outcome->user_pseudonym);
        outcome->kund_pseudonyms = json_pack("[s]", session->kund);
        outcome->question = json_pack("{s:s, s:s}", "kund", session->kund,
                                      "typ", ma_kund_typ_name(typ));
        status = api_auth_customer(conn, server->config.catalog,
                                   &outcome->consumer, outcome->user_pseudonym,
                                   session->kund, typ, &grant, &err);
        access = grant.access;
        api_grant_clear(&grant);
        if (status != MA_OK)
                return api_error(server, connection, request, conn, outcome,
                                 500, "could not check the user's rights");
        if (access == API_ACCESS_NONE)
                return api_error(server, connection, request, conn, outcome,
                                 403,
                                 "the user may not see this customer: no "
                                 "mandate, representation or reading agent "
                                 "applies");
        row.correlation_id = request->correlation_id;
        row.endpoint = request->path;
        row.consumer_id = outcome->consumer.consumer_id;
        row.user_pseudonym = outcome->user_pseudonym;
        row.kund_pseudonyms = outcome->kund_pseudonyms;
        row.question = outcome->question;
        row.decision = "allowed";
        row.http_status = 200;
        status = api_audit_insert(conn, &row, &err);
        json_decref(outcome->kund_pseudonyms);
        json_decref(outcome->question);
        outcome->kund_pseudonyms = outcome->question = NULL;
        if (status != MA_OK) {
                ma_log(MA_LOG_ERROR, "audit row not written, answering 500",
                       "correlation_id", request->correlation_id, "error",
                       err.message, NULL);
                return api_ui_message(connection, request, 500,
                                      "could not record the request in the "
                                      "audit log; try again later");
        }
        snprintf(request->consumer_id, sizeof(request->consumer_id), "%s",
                 outcome->consumer.consumer_id);
        stream = ma_calloc(1, sizeof(*stream));
        if (stream == NULL)
                return MHD_NO;
        memcpy(stream->session_id, session->id, sizeof(stream->session_id));
        memcpy(stream->kund, session->kund, sizeof(stream->kund));
        /* The browser reconnects after 5 s when the stream breaks. */
        api_ui_stream_put(stream, "retry: 5000\n\n");
        response = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 512,
                                                     api_ui_stream_read, stream,
                                                     api_ui_stream_free);
        if (response == NULL) {
                ma_free(stream);
                return MHD_NO;
        }
        pthread_mutex_lock(&api_ui.lock);
        stream->next = api_ui.streams;
        api_ui.streams = stream;
        pthread_mutex_unlock(&api_ui.lock);
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "text/event-stream");
        MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL,
                                "no-store");
        MHD_add_response_header(response, "X-Accel-Buffering", "no");
        api_ui_headers(response);
        request->answered = true;
        request->status = 200;
        result = MHD_queue_response(connection, 200, response);
        MHD_destroy_response(response);
        return result;
}

/* The listener thread: LISTEN on its own connection, wake the streams of
 * each notified customer, and send heartbeats.  After a reconnect every
 * stream is woken, because notifications in between are lost. */
static void *api_ui_listen(void *arg)
{
        PGconn *conn = NULL;
        int64_t next_heartbeat = ma_now_ms() + API_UI_HEARTBEAT_MS;
        ma_pg_retry_t retry;
        ma_error_t err;

        (void)arg;
        ma_pg_retry_default(&retry);
        retry.stop = &api_ui.stopping;
        while (!api_ui.stopping) {
                struct pollfd fd = {0};
                PGnotify *notify;

                if (conn == NULL) {
                        if (ma_pg_connect(api_ui.config.database_url, &retry,
                                          &conn, &err) != MA_OK ||
                            ma_pg_exec(conn, "LISTEN " API_UI_CHANNEL, &err) !=
                                    MA_OK) {
                                if (!api_ui.stopping)
                                        ma_log(MA_LOG_ERROR,
                                               "page listener failed", "error",
                                               err.message, NULL);
                                PQfinish(conn);
                                conn = NULL;
                                continue;
                        }
                        ma_log(MA_LOG_INFO, "page listener connected",
                               "channel", API_UI_CHANNEL, NULL);
                        api_ui_wake(NULL, false);
                }
                fd.fd = PQsocket(conn);
                fd.events = POLLIN;
                if (poll(&fd, 1, 1000) < 0 && errno != EINTR)
                        break;
                if (PQconsumeInput(conn) == 0) {
                        ma_log(MA_LOG_WARN,
                               "page listener lost its connection, "
                               "reconnecting",
                               "error", PQerrorMessage(conn), NULL);
                        PQfinish(conn);
                        conn = NULL;
                        continue;
                }
                while ((notify = PQnotifies(conn)) != NULL) {
                        api_ui_wake(notify->extra, false);
                        PQfreemem(notify);
                }
                if (ma_now_ms() >= next_heartbeat) {
                        api_ui_wake(NULL, true);
                        next_heartbeat = ma_now_ms() + API_UI_HEARTBEAT_MS;
                }
        }
        PQfinish(conn);
        return NULL;
}

/* ------------------------------------------------------------------------
 * Routing
 */

bool api_ui_owns(const char *url)
{
        size_t len = strlen(API_UI_PREFIX);

        return strcmp(url, "/") == 0 ||
               (strncmp(url, API_UI_PREFIX, len) == 0 &&
                (url[len] == '\0' || url[len] == '/'));
}

/* The route of path, and for files the name in *name. */
static api_ui_route_t api_ui_route(const char *path, const char **name)
{
        static const struct {
                const char *path;
                api_ui_route_t route;
        } routes[] = {{"/api/session", API_UI_SESSION},
                      {"/api/katalog", API_UI_KATALOG},
                      {"/api/arenden", API_UI_ARENDEN},
                      {"/api/historik", API_UI_HISTORIK},
                      {"/api/handelser", API_UI_HANDELSER}};
        const char *rest = path + strlen(API_UI_PREFIX);

        *name = NULL;
        if (strcmp(path, "/") == 0 || strcmp(path, API_UI_PREFIX) == 0)
                return API_UI_REDIRECT;
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
                if (strcmp(rest, routes[i].path) == 0)
                        return routes[i].route;
        if (strncmp(rest, "/api/", 5) == 0 || strchr(rest + 1, '/') != NULL)
                return API_UI_NONE;
        *name = rest[1] == '\0' ? "index.html" : rest + 1;
        return API_UI_FILE;
}

static bool api_ui_method_allowed(api_ui_route_t route, const char *method)
{
        if (route == API_UI_SESSION)
                return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                       strcmp(method, MHD_HTTP_METHOD_POST) == 0 ||
                       strcmp(method, MHD_HTTP_METHOD_DELETE) == 0;
        if (route == API_UI_HISTORIK)
                return strcmp(method, MHD_HTTP_METHOD_POST) == 0;
        return strcmp(method, MHD_HTTP_METHOD_GET) == 0;
}

enum MHD_Result api_ui_on_first(api_server_t *server,
                                struct MHD_Connection *connection,
                                api_request_t *request, const char *method)
{
        const char *name;
        api_ui_route_t route = api_ui_route(request->path, &name);
        const char *length;

        (void)server;
        if (!api_ui.started || route == API_UI_NONE ||
            strlen(request->path) >= API_PATH_MAX - 1)
                return api_ui_message(connection, request, 404,
                                      "no such page: the overview page is at "
                                      "/mina-arenden/");
        if (!api_ui_method_allowed(route, method))
                return api_ui_message(connection, request, 405,
                                      "method not allowed on this path of "
                                      "the page");
        length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length != NULL &&
            strtoull(length, NULL, 10) > server->config.body_limit)
                return api_ui_message(connection, request, 413,
                                      "request body too large");
        return MHD_YES;
}

enum MHD_Result api_ui_handle(api_server_t *server,
                              struct MHD_Connection *connection,
                              api_request_t *request)
{
        const char *name;
        api_ui_route_t route = api_ui_route(request->path, &name);

        /* The page's own requests name themselves in the audit log when
         * they send no correlation id. */
        if (request->correlation_id[0] == '\0') {
                memcpy(request->correlation_id, "ui-", 3);
                if (!api_ui_random_hex(request->correlation_id + 3, 8))
                        request->correlation_id[0] = '\0';
        }
        if (request->too_large)
                return api_ui_message(connection, request, 413,
                                      "request body too large");
        if (api_ui.stopping)
                return api_ui_message(connection, request, 503,
                                      "the server is stopping");
        switch (route) {
        case API_UI_REDIRECT:
                return api_ui_redirect(connection, request);
        case API_UI_FILE:
                return api_ui_file(connection, request, name);
        case API_UI_SESSION:
                if (strcmp(request->method, MHD_HTTP_METHOD_POST) == 0)
                        return api_ui_sign_in(connection, request);
                if (strcmp(request->method, MHD_HTTP_METHOD_DELETE) == 0)
                        return api_ui_sign_out(connection, request);
                return api_ui_session_describe(connection, request);
        case API_UI_NONE:
                return api_ui_message(connection, request, 404, "no such page");
        default:
                if (api_ui.user_count == 0)
                        return api_ui_message(connection, request, 401,
                                              "sign-in is not configured");
                return api_ui_data(server, connection, request, route);
        }
}

/* ------------------------------------------------------------------------
 * Start and stop
 */

ma_status_t api_ui_start(const api_ui_config_t *config, ma_error_t *err)
{
        ma_status_t status;

        api_ui.config = *config;
        api_ui.stopping = 0;
        api_ui.sessions =
                ma_calloc(API_UI_SESSIONS_MAX, sizeof(api_ui_session_t));
        if (api_ui.sessions == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        if (config->demo_users != NULL && config->demo_users[0] != '\0') {
                status = api_ui_users_load(config->demo_users, err);
                if (status != MA_OK)
                        return status;
        }
        if (pthread_create(&api_ui.listener, NULL, api_ui_listen, NULL) != 0)
                return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                    "could not start the page's listener "
                                    "thread");
        api_ui.listener_running = true;
        api_ui.started = true;
        return MA_OK;
}

void api_ui_stop(void)
{
        api_ui.stopping = 1;
        pthread_mutex_lock(&api_ui.lock);
        for (api_ui_stream_t *s = api_ui.streams; s != NULL; s = s->next)
                s->ended = true;
        pthread_cond_broadcast(&api_ui.wake);
        pthread_mutex_unlock(&api_ui.lock);
        if (api_ui.listener_running)
                pthread_join(api_ui.listener, NULL);
        api_ui.listener_running = false;
}

void api_ui_free(void)
{
        api_ui.started = false;
        api_ui_users_free();
        ma_free(api_ui.sessions);
        api_ui.sessions = NULL;
}
