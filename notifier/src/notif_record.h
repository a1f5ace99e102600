/*
 * notif_record.h - records the broker's PUBACKs as delivered rows of
 * notifier_notification, on a PostgreSQL connection of its own.
 *
 * The statement runs asynchronously (libpq's PQsendQueryParams), so the
 * main loop keeps claiming and publishing on its own connection while
 * PostgreSQL marks the rows.  At most one statement is in progress.  A
 * failed statement puts its ids back in the queue; a crash before they are
 * recorded only causes repeats under the same notification id.
 *
 * Threads: the main thread only.
 */
#ifndef NOTIF_RECORD_H
#define NOTIF_RECORD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "ma/status.h"

typedef struct notif_recorder {
        PGconn *conn;
        const char *conninfo;
        int64_t offset_ms; /* clock.offset, for the delivery lag */
        size_t capacity;   /* of each id array */
        char **queued;     /* acknowledged ids, not yet sent */
        size_t queued_count;
        int64_t queued_since_ms; /* when the oldest queued id arrived */
        char **sending;          /* ids of the statement in progress */
        size_t sending_count;
        int64_t sending_since_ms;
        bool busy;         /* a statement is in progress on conn */
        PGresult *failure; /* its first failed result, until it ends */
} notif_recorder_t;

/*
 * Allocates room for capacity ids in each of the two arrays; connects
 * nothing.  Errors: MA_ERR_NOMEM.
 */
ma_status_t notif_recorder_init(notif_recorder_t *rec, const char *conninfo,
                                int64_t offset_ms, size_t capacity,
                                ma_error_t *err);

/*
 * Opens the recorder's connection (closing an earlier one), retrying
 * until it succeeds or *stop is set.  Errors: those of ma_pg_connect().
 */
ma_status_t notif_recorder_connect(notif_recorder_t *rec,
                                   const volatile sig_atomic_t *stop,
                                   ma_error_t *err);

/* Queues one acknowledged notification id (copied).  Errors: MA_ERR_NOMEM. */
ma_status_t notif_recorder_add(notif_recorder_t *rec, const char *id,
                               ma_error_t *err);

/* Returns the ids acknowledged but not yet recorded, sent or queued. */
size_t notif_recorder_pending(const notif_recorder_t *rec);

/*
 * Sends the statement that marks every queued id delivered, unless one is
 * already in progress or nothing is queued.  Errors: MA_ERR_PG (the ids
 * stay queued).
 */
ma_status_t notif_recorder_send(notif_recorder_t *rec, ma_error_t *err);

/* Returns the socket to wait on while a statement is in progress, else -1. */
int notif_recorder_socket(const notif_recorder_t *rec);

/*
 * Reads what the server has sent, without blocking unless wait is set
 * (then until the statement in progress ends).  When that statement has
 * ended, *finished is set (finished may be NULL), and its ids are freed,
 * or queued again if it failed.  Errors: MA_ERR_PG.
 */
ma_status_t notif_recorder_poll(notif_recorder_t *rec, bool wait,
                                bool *finished, ma_error_t *err);

/* Closes the connection; a statement in progress puts its ids back. */
void notif_recorder_close(notif_recorder_t *rec);

/* Closes the connection and frees every id. */
void notif_recorder_free(notif_recorder_t *rec);

#endif /* NOTIF_RECORD_H */
