/*
 * api_ui.h - the overview page "Mina ärenden" that ma-api serves under
 * /mina-arenden/: static files, demo sign-in with server-side sessions, the
 * page's data requests (authorised and audited like /v1) and live updates
 * by Server-Sent Events.  docs/ui.md describes the design.
 *
 * Threads: api_ui_start(), api_ui_stop() and api_ui_free() are called by
 * the main thread; the request functions by libmicrohttpd's worker
 * threads.  One listener thread of its own waits for PostgreSQL
 * notifications and wakes the streams.
 */
#ifndef MA_API_UI_H
#define MA_API_UI_H

#include <stdbool.h>

#include "api_http.h"

typedef struct api_ui_config {
        const char *dir;          /* folder of index.html, app.js, ... */
        const char *consumer_id;  /* the public consumer the page acts as */
        const char *demo_users;   /* JSON file; NULL or "": no sign-in */
        const char *database_url; /* for the listener's own connection */
        const ma_pseudonym_key_t *pseudonym_key;
} api_ui_config_t;

/*
 * Loads the demo users (when configured) and starts the listener thread.
 * config's strings must outlive api_ui_free().  Errors: MA_ERR_CONFIG for
 * an unreadable or invalid demo users file (the message names the entry
 * and attribute, never an identity number), MA_ERR_NOMEM, MA_ERR_INTERNAL
 * when the thread cannot start.  Without a successful start the page's
 * paths answer 404.
 */
ma_status_t api_ui_start(const api_ui_config_t *config, ma_error_t *err);

/* Ends every live-update stream and stops the listener thread; call
 * before api_server_stop() so that no connection stays suspended. */
void api_ui_stop(void);

/* Frees the sessions and users; call after api_server_stop(). */
void api_ui_free(void);

/* Whether url is the page's ("/", "/mina-arenden" and below). */
bool api_ui_owns(const char *url);

/* First call of a request: checks the path and the method (404, 405),
 * then MHD_YES to read the body. */
enum MHD_Result api_ui_on_first(api_server_t *server,
                                struct MHD_Connection *connection,
                                api_request_t *request, const char *method);

/* Responds once the body has been read. */
enum MHD_Result api_ui_handle(api_server_t *server,
                              struct MHD_Connection *connection,
                              api_request_t *request);

#endif /* MA_API_UI_H */
