/*
 * gateway.h - internals of ma-gateway, the HTTP gateway for case systems
 * that cannot speak Kafka: the API key store (gateway_keys.c) and the HTTP
 * server (gateway.c).  gateway_main.c reads the configuration and runs them.
 */
#ifndef MA_GATEWAY_H
#define MA_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ma/status.h"

/* ---- API key store (gateway_keys.c) ----
 *
 * The interface hides where keys live so that the register can move from
 * the key file into PostgreSQL without touching the server.
 */

#define GW_KEY_PREFIX_MAX 10 /* as the catalog's event-type prefix */
#define GW_KEY_ID_LEN     16 /* hex digits */
#define GW_KEY_MAX        64 /* "<16 hex>.<43 base64url>" is 60 */
#define GW_KEY_TIME_MAX   32 /* RFC 3339 in UTC with NUL */
/* How often a running gateway looks for a changed key file. */
#define GW_KEY_REFRESH_MS 1000

/* One stored key: everything but the key itself. */
typedef struct gw_key_record {
        char key_id[GW_KEY_ID_LEN + 1];
        char prefix[GW_KEY_PREFIX_MAX + 1]; /* the producer's prefix */
        char salt[33];                      /* 16 random bytes, hex */
        char sha256[65];                    /* SHA-256 of salt ":" key, hex */
        char created[GW_KEY_TIME_MAX];
        char revoked[GW_KEY_TIME_MAX]; /* "" while the key is valid */
} gw_key_record_t;

/* The producer a presented key belongs to. */
typedef struct gw_key_identity {
        char key_id[GW_KEY_ID_LEN + 1];
        char prefix[GW_KEY_PREFIX_MAX + 1];
} gw_key_identity_t;

typedef enum gw_auth {
        GW_AUTH_OK = 0,
        GW_AUTH_MISSING = 1, /* no key presented */
        GW_AUTH_UNKNOWN = 2, /* malformed, not stored, or the wrong secret */
        GW_AUTH_REVOKED = 3, /* stored and matching, but revoked */
} gw_auth_t;

typedef struct gw_keys gw_keys_t;

/* Returns true for 1 to GW_KEY_PREFIX_MAX letters A-Z. */
bool gw_keys_prefix_valid(const char *prefix);

/*
 * Loads the key file at path; a missing file is an empty store.
 * Errors: MA_ERR_IO, MA_ERR_PARSE (names the line), MA_ERR_NOMEM.
 */
ma_status_t gw_keys_open(const char *path, gw_keys_t **keys_out,
                         ma_error_t *err);
void gw_keys_close(gw_keys_t *keys);

/*
 * Reloads the key file when it changed since the last load.  Without force
 * it looks at the file at most once per GW_KEY_REFRESH_MS.  A file that
 * fails to load is reported once and the keys loaded before stay in force.
 * *reloaded (may be NULL) tells whether new keys were loaded.
 * Thread-safe.
 */
ma_status_t gw_keys_refresh(gw_keys_t *keys, bool force, bool *reloaded,
                            ma_error_t *err);

/*
 * Checks a presented key against the loaded records in constant time for
 * the secret part.  Fills identity on GW_AUTH_OK and GW_AUTH_REVOKED.
 * Thread-safe.
 */
gw_auth_t gw_keys_authenticate(gw_keys_t *keys, const char *api_key,
                               gw_key_identity_t *identity);

/*
 * Creates a key for the producer with this prefix and stores its hash in
 * the file at path (created with mode 0600 if missing).  The key is written
 * to key and exists nowhere else: show it once.  record_out may be NULL.
 * Errors: MA_ERR_INVALID (prefix), MA_ERR_IO, MA_ERR_PARSE, MA_ERR_NOMEM,
 * MA_ERR_INTERNAL (the random generator failed).
 */
ma_status_t gw_keys_add(const char *path, const char *prefix,
                        char key[GW_KEY_MAX + 1], gw_key_record_t *record_out,
                        ma_error_t *err);

/*
 * Marks the key key_id revoked.  Revoking a revoked key keeps its first
 * time of revocation.  Errors: MA_ERR_NOT_FOUND, MA_ERR_IO, MA_ERR_PARSE.
 */
ma_status_t gw_keys_revoke(const char *path, const char *key_id,
                           gw_key_record_t *record_out, ma_error_t *err);

/* Reads every record; free *records_out with ma_free(). */
ma_status_t gw_keys_list(const char *path, gw_key_record_t **records_out,
                         size_t *count_out, ma_error_t *err);

/* ---- HTTP server (gateway.c) ---- */

/* Settings of the server; the strings are borrowed for its lifetime. */
typedef struct gw_config {
        const char *listen_address; /* numeric IPv4 or IPv6 address */
        int port;                   /* 0: any free port */
        const char *key_file;
        const char *catalog_path;
        const char *schema_dir;
        const char *bootstrap_servers;
        const char *topic_prefix;
        const char *pseudonym_secret;
        int ack_timeout_ms;   /* wait for Kafka's acknowledgements */
        size_t body_limit;    /* bytes of one request body */
        int max_connections;  /* concurrent HTTP connections */
        int idle_timeout_s;   /* close idle HTTP connections after this */
        int ready_timeout_ms; /* metadata request of GET /ready */
} gw_config_t;

/* Largest number of events in one request. */
#define GW_BATCH_MAX 1000

typedef struct gw_server gw_server_t;

/*
 * Loads the catalog, schemas and keys, and starts listening.  Kafka is
 * connected lazily, so a server starts while Kafka is down (GET /ready
 * then answers 503).  Errors: MA_ERR_CONFIG, MA_ERR_IO, MA_ERR_PARSE,
 * MA_ERR_SCHEMA, MA_ERR_KAFKA, MA_ERR_NOMEM, each with a message.
 */
ma_status_t gw_server_start(const gw_config_t *config, gw_server_t **server_out,
                            ma_error_t *err);

/* The port the server listens on (useful after port 0). */
int gw_server_port(const gw_server_t *server);

/*
 * Stops accepting connections, waits up to drain_ms for requests in flight
 * to be answered, closes every connection, waits up to the ack timeout for
 * Kafka to acknowledge what is still queued, and frees the server.
 * Returns the number of records Kafka had not acknowledged at the end.
 */
uint64_t gw_server_stop(gw_server_t *server, int drain_ms);

#endif /* MA_GATEWAY_H */
