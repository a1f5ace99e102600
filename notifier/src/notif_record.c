/*
 * notif_record.c - marks acknowledged notifications delivered, on a
 * connection of its own and without blocking the main loop (see
 * notif_record.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ma/alloc.h"
#include "ma/datetime.h"
#include "ma/log.h"
#include "ma/pg.h"
#include "notif_record.h"
#include "notifier.h"

/*
 * Marks the acknowledged ids delivered, each with one probe of the primary
 * key.  "Not delivered and not cancelled" means "pending" (the table's
 * CHECK allows only these three states).  It is written that way so that
 * no partial index on pending rows matches, because the planner chose
 * those from stale statistics: it compared every pending row with the
 * whole array of = ANY, or read them all into a hash join.  The lag counts
 * from when the row was due.  A reminder's due time is on the shifted
 * clock of clock.offset, so the offset is added back.
 */
static const char notif_record_sql[] =
        "UPDATE notifier_notification n "
        "   SET state = 'delivered', delivered_at = now() "
        "  FROM unnest($1::uuid[]) AS acked (notification_id) "
        " WHERE n.notification_id = acked.notification_id "
        "   AND n.state <> 'delivered' AND n.state <> 'cancelled' "
        "RETURNING extract(epoch FROM now() - n.due_at + "
        "   CASE WHEN n.reason = 'reminder' "
        "        THEN $2::bigint * interval '1 millisecond' "
        "        ELSE interval '0' END)";

ma_status_t notif_recorder_init(notif_recorder_t *rec, const char *conninfo,
                                int64_t offset_ms, size_t capacity,
                                ma_error_t *err)
{
        memset(rec, 0, sizeof(*rec));
        rec->conninfo = conninfo;
        rec->offset_ms = offset_ms;
        rec->capacity = capacity;
        rec->queued = ma_calloc(capacity, sizeof(rec->queued[0]));
        rec->sending = ma_calloc(capacity, sizeof(rec->sending[0]));
        if (rec->queued == NULL || rec->sending == NULL) {
                notif_recorder_free(rec);
                return ma_error_set(err, MA_ERR_NOMEM, NULL,
                                    "could not allocate the PUBACK queue");
        }
        return MA_OK;
}

ma_status_t notif_recorder_connect(notif_recorder_t *rec,
                                   const volatile sig_atomic_t *stop,
                                   ma_error_t *err)
{
        ma_pg_retry_t retry;
        ma_status_t status;

        notif_recorder_close(rec);
        ma_pg_retry_default(&retry);
        retry.stop = stop;
        status = ma_pg_connect(rec->conninfo, &retry, &rec->conn, err);
        if (status != MA_OK)
                return status;
        /* A delivery mark lost in a server crash leaves its row pending,
         * so it is published again under the same id. */
        status = ma_pg_exec(rec->conn, "SET synchronous_commit = off", err);
        /* Each acknowledged id is one probe of the primary key
         * (notif_record_sql).  The table's statistics are often stale,
         * because a burst of rows is inserted and marked within seconds:
         * the planner then read all rows into a hash or a merge join, or
         * scanned the table once for every id.  This connection runs
         * nothing else. */
        if (status == MA_OK)
                status = ma_pg_exec(rec->conn,
                                    "SET enable_hashjoin = off; "
                                    "SET enable_mergejoin = off; "
                                    "SET enable_seqscan = off; "
                                    "SET enable_bitmapscan = off",
                                    err);
        if (status != MA_OK) {
                PQfinish(rec->conn);
                rec->conn = NULL;
        }
        return status;
}

ma_status_t notif_recorder_add(notif_recorder_t *rec, const char *id,
                               ma_error_t *err)
{
        char *copy;

        /* The caller keeps the pending ids below max-inflight, which is
         * below the capacity. */
        if (rec->queued_count >= rec->capacity)
                return ma_error_set(err, MA_ERR_INTERNAL, NULL,
                                    "PUBACK queue full at %zu ids",
                                    rec->capacity);
        copy = ma_strdup(id);
        if (copy == NULL)
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        if (rec->queued_count == 0)
                rec->queued_since_ms = ma_now_ms();
        rec->queued[rec->queued_count++] = copy;
        return MA_OK;
}

size_t notif_recorder_pending(const notif_recorder_t *rec)
{
        return rec->queued_count + rec->sending_count;
}

int notif_recorder_socket(const notif_recorder_t *rec)
{
        return rec->busy && rec->conn != NULL ? PQsocket(rec->conn) : -1;
}

/* Moves the ids of the statement in progress back to the queue. */
static void notif_recorder_requeue(notif_recorder_t *rec)
{
        if (rec->sending_count == 0)
                return;
        memcpy(rec->queued + rec->queued_count, rec->sending,
               rec->sending_count * sizeof(rec->sending[0]));
        if (rec->queued_count == 0 ||
            rec->sending_since_ms < rec->queued_since_ms)
                rec->queued_since_ms = rec->sending_since_ms;
        rec->queued_count += rec->sending_count;
        rec->sending_count = 0;
}

static char *notif_recorder_array(const notif_recorder_t *rec)
{
        size_t size = 3, len = 0, i;
        char *array;

        for (i = 0; i < rec->sending_count; i++)
                size += strlen(rec->sending[i]) + 1;
        array = ma_malloc(size);
        if (array == NULL)
                return NULL;
        array[len++] = '{';
        for (i = 0; i < rec->sending_count; i++) {
                size_t id_len = strlen(rec->sending[i]);

                if (i > 0)
                        array[len++] = ',';
                memcpy(array + len, rec->sending[i], id_len);
                len += id_len;
        }
        array[len++] = '}';
        array[len] = '\0';
        return array;
}

ma_status_t notif_recorder_send(notif_recorder_t *rec, ma_error_t *err)
{
        char offset[32];
        const char *params[2];
        char **swap;
        char *array;
        int sent;

        if (rec->busy || rec->queued_count == 0)
                return MA_OK;
        if (rec->conn == NULL)
                return ma_error_set(err, MA_ERR_PG, NULL,
                                    "could not mark notifications delivered: "
                                    "no database connection");
        swap = rec->sending;
        rec->sending = rec->queued;
        rec->sending_count = rec->queued_count;
        rec->sending_since_ms = rec->queued_since_ms;
        rec->queued = swap;
        rec->queued_count = 0;
        array = notif_recorder_array(rec);
        if (array == NULL) {
                notif_recorder_requeue(rec);
                return ma_error_set(err, MA_ERR_NOMEM, NULL, "out of memory");
        }
        snprintf(offset, sizeof(offset), "%" PRId64, rec->offset_ms);
        params[0] = array;
        params[1] = offset;
        sent = PQsendQueryParams(rec->conn, notif_record_sql, 2, NULL, params,
                                 NULL, NULL, 0);
        ma_free(array);
        if (!sent) {
                notif_recorder_requeue(rec);
                return ma_pg_error(rec->conn, NULL,
                                   "could not mark notifications delivered",
                                   err);
        }
        rec->busy = true;
        return MA_OK;
}

/* Takes one result of the statement in progress. */
static void notif_recorder_take(notif_recorder_t *rec, PGresult *result)
{
        int row;

        if (PQresultStatus(result) != PGRES_TUPLES_OK) {
                if (rec->failure == NULL)
                        rec->failure = result;
                else
                        PQclear(result);
                return;
        }
        for (row = 0; row < PQntuples(result); row++) {
                double lag = strtod(PQgetvalue(result, row, 0), NULL);

                notif_metrics_acknowledged(lag < 0 ? 0 : lag);
        }
        MA_LOG_AT(MA_LOG_DEBUG, "notifications delivered",
                  MA_LOG_INT("acknowledged", rec->sending_count),
                  MA_LOG_INT("marked", PQntuples(result)));
        PQclear(result);
}

/* Ends the statement in progress: frees its ids, or queues them again. */
static ma_status_t notif_recorder_end(notif_recorder_t *rec, ma_error_t *err)
{
        ma_status_t status = MA_OK;
        size_t i;

        rec->busy = false;
        if (rec->failure != NULL) {
                status = ma_pg_error(rec->conn, rec->failure,
                                     "could not mark notifications delivered",
                                     err);
                PQclear(rec->failure);
                rec->failure = NULL;
                notif_recorder_requeue(rec);
                return status;
        }
        for (i = 0; i < rec->sending_count; i++)
                ma_free(rec->sending[i]);
        rec->sending_count = 0;
        return status;
}

ma_status_t notif_recorder_poll(notif_recorder_t *rec, bool wait,
                                bool *finished, ma_error_t *err)
{
        PGresult *result;

        if (finished != NULL)
                *finished = false;
        if (!rec->busy)
                return MA_OK;
        if (!wait && !PQconsumeInput(rec->conn)) {
                ma_status_t status = ma_pg_error(
                        rec->conn, NULL,
                        "could not mark notifications delivered", err);

                notif_recorder_close(rec);
                return status;
        }
        while (wait || !PQisBusy(rec->conn)) {
                result = PQgetResult(rec->conn);
                if (result == NULL) {
                        if (finished != NULL)
                                *finished = true;
                        return notif_recorder_end(rec, err);
                }
                notif_recorder_take(rec, result);
        }
        return MA_OK;
}

void notif_recorder_close(notif_recorder_t *rec)
{
        if (rec->failure != NULL)
                PQclear(rec->failure);
        rec->failure = NULL;
        rec->busy = false;
        notif_recorder_requeue(rec);
        if (rec->conn != NULL)
                PQfinish(rec->conn);
        rec->conn = NULL;
}

void notif_recorder_free(notif_recorder_t *rec)
{
        size_t i;

        notif_recorder_close(rec);
        if (rec->queued != NULL)
                for (i = 0; i < rec->queued_count; i++)
                        ma_free(rec->queued[i]);
        ma_free(rec->queued);
        ma_free(rec->sending);
        rec->queued = NULL;
        rec->sending = NULL;
        rec->queued_count = 0;
}
