/*
 * pg.h - PostgreSQL helpers: connecting with retry, versioned migrations and
 * mapping libpq failures into ma_error_t.
 *
 * Failures carry the server's SQLSTATE in err->sqlstate (or "" when libpq
 * failed before the server sent a response, e.g. a lost connection) so callers
 * can tell a serialization failure (40001), a deadlock (40P01) or a lost
 * connection (class 08 or "") from a broken statement.
 *
 * Threads: a PGconn belongs to one thread at a time; these functions keep no
 * state of their own.
 */
#ifndef MA_PG_H
#define MA_PG_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "ma/status.h"

/* How ma_pg_connect() retries; ma_pg_retry_default() fills it. */
typedef struct ma_pg_retry {
        int max_attempts;       /* 0: until stop is set */
        int initial_backoff_ms; /* 250 */
        int max_backoff_ms;     /* 10000; the wait doubles up to this */
        /* Optional: set by a signal handler to give up early (MA_ERR_STATE). */
        const volatile sig_atomic_t *stop;
} ma_pg_retry_t;

void ma_pg_retry_default(ma_pg_retry_t *retry);

/*
 * Connects to conninfo (a libpq URI or key=value string), retrying with
 * exponential backoff while the server is unreachable or starting up.  A
 * failure the server states (bad password, unknown database) is not
 * retried.  retry may be NULL for the defaults.  On success *conn_out is
 * owned by the caller (PQfinish()); server notices on it are discarded
 * instead of printed.  Errors: MA_ERR_PG (sqlstate when the
 * server sent one), MA_ERR_STATE (stop was set), MA_ERR_NOMEM.  The message
 * never repeats the conninfo, which may hold a password.
 */
ma_status_t ma_pg_connect(const char *conninfo, const ma_pg_retry_t *retry,
                          PGconn **conn_out, ma_error_t *err);

/*
 * Fills err from a failed result (or from the connection when result is
 * NULL) and returns MA_ERR_PG.  what names the action ("could not apply
 * migration \"0001_views.sql\""); the server's primary message follows.
 */
ma_status_t ma_pg_error(PGconn *conn, const PGresult *result, const char *what,
                        ma_error_t *err);

/*
 * Runs one or more SQL commands that return no rows (simple query protocol).
 * Errors: MA_ERR_PG.
 */
ma_status_t ma_pg_exec(PGconn *conn, const char *sql, ma_error_t *err);

/*
 * Returns true when err describes a failure worth retrying on a new
 * connection or in a new transaction: a lost connection (SQLSTATE class 08
 * or none), serialization failure, deadlock, or the server shutting down
 * (57P01..57P03).
 */
bool ma_pg_error_is_transient(const ma_error_t *err);

/*
 * Applies every migration file <dir>/NNNN_name.sql not yet recorded in the
 * table schema_migrations, in file-name order, each in its own transaction
 * together with its row (version = the file name, plus the SHA-256 of its
 * text).  A session advisory lock serialises concurrent callers (several
 * processor instances starting at once).  An applied file whose text has
 * changed since is an error: migrations are append-only, so add a new file
 * instead.  *applied_out (may be NULL) receives the number applied now.
 * Errors: MA_ERR_IO (dir or a file unreadable), MA_ERR_PG, MA_ERR_SCHEMA
 * (changed file), MA_ERR_NOMEM.
 */
ma_status_t ma_pg_migrate(PGconn *conn, const char *dir, int *applied_out,
                          ma_error_t *err);

#endif /* MA_PG_H */
