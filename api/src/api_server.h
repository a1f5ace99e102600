/*
 * api_server.h - starting and stopping the ma-api HTTP server.
 */
#ifndef MA_API_SERVER_H
#define MA_API_SERVER_H

#include <stddef.h>

#include "api.h"

typedef struct api_server_config {
        const char *listen_address; /* numeric IPv4 */
        int port;                   /* 0: a free port */
        const char *database_url;
        size_t body_limit;
        int threads; /* database connections: requests worked on at once */
        int max_connections;
        int idle_timeout_s;
        api_token_rules_t token_rules;
        const ma_catalog_t *catalog;
        const ma_pseudonym_key_t *pseudonym_key;
        /* PEM texts. tls_cert and tls_key both NULL: plain HTTP.
         * tls_client_ca NULL: no client certificate is asked for. */
        const char *tls_cert;
        const char *tls_key;
        const char *tls_client_ca;
} api_server_config_t;

typedef struct api_server api_server_t;

/*
 * Starts listening; each connection is served by a thread of its own, and
 * the requests share config->threads database connections, until
 * api_server_stop().  With tls_cert and tls_key it speaks HTTPS only, and
 * with tls_client_ca it asks every client for a certificate (optional) and
 * verifies it against those CAs.  config's pointers must outlive the
 * server.  Errors: MA_ERR_CONFIG (address, TLS settings), MA_ERR_IO (port
 * or the TLS credentials refused), MA_ERR_NOMEM.
 */
ma_status_t api_server_start(const api_server_config_t *config,
                             api_server_t **server_out, ma_error_t *err);

/* The bound port (useful with port 0). */
int api_server_port(const api_server_t *server);

/* Stops the server and frees it.  Running handlers complete, but open
 * connections are closed, so their responses may not arrive. */
void api_server_stop(api_server_t *server);

#endif /* MA_API_SERVER_H */
