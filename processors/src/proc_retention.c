/*
 * proc_retention.c - retention (gallring) of the views.
 *
 * Each step is one transaction around ma_retention_delete() (schemas/sql/
 * 0002_retention.sql): up to retention.batch expired events, their version
 * rows, and the case state and customer index rows they touched, deleted
 * or recomputed together, so a crash leaves either all of a step or none.
 * Steps run on the main thread between batches, one per turn of the poll
 * loop, so a long run does not keep the consumer from polling.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ma/datetime.h"
#include "ma/log.h"
#include "processor.h"

static const char *const proc_retention_tables[PROC_RETENTION_COUNTS] = {
        "kundhandelse", "kundhandelse_version", "arende",
        "kund_index",   "arende_recomputed",    "kund_index_recomputed"};

const char *proc_retention_table(int index)
{
        if (index < 0 || index >= PROC_RETENTION_COUNTS)
                return "";
        return proc_retention_tables[index];
}

ma_status_t proc_retention_step(proc_t *proc,
                                int64_t counts[PROC_RETENTION_COUNTS],
                                bool *more, ma_error_t *err)
{
        /* Column order of the result, mapped to PROC_RETENTION_*. */
        static const int columns[PROC_RETENTION_COUNTS] = {1, 2, 3, 5, 4, 6};
        char limit[16];
        const char *values[2];
        PGresult *result;
        ma_status_t status;
        int i;

        *more = false;
        snprintf(limit, sizeof(limit), "%d", proc->settings.retention_batch);
        values[0] = proc->settings.retention_now;
        values[1] = limit;
        status = ma_pg_exec(proc->pg, "BEGIN", err);
        if (status != MA_OK)
                return status;
        result = PQexecParams(proc->pg,
                              "SELECT * FROM ma_retention_delete("
                              "coalesce($1::timestamptz, now()), $2)",
                              2, NULL, values, NULL, NULL, 0);
        if (result == NULL || PQresultStatus(result) != PGRES_TUPLES_OK ||
            PQntuples(result) != 1) {
                status = ma_pg_error(proc->pg, result,
                                     "could not delete expired events", err);
                PQclear(result);
                if (PQstatus(proc->pg) == CONNECTION_OK)
                        ma_pg_exec(proc->pg, "ROLLBACK", NULL);
                return status;
        }
        if (PQgetvalue(result, 0, 0)[0] == 't') {
                /* Another instance holds the lock and does the work. */
                PQclear(result);
                return ma_pg_exec(proc->pg, "ROLLBACK", err);
        }
        {
                int64_t step[PROC_RETENTION_COUNTS];

                for (i = 0; i < PROC_RETENTION_COUNTS; i++)
                        step[i] = strtoll(PQgetvalue(result, 0, columns[i]),
                                          NULL, 10);
                PQclear(result);
                status = ma_pg_exec(proc->pg, "COMMIT", err);
                if (status != MA_OK)
                        return status;
                for (i = 0; i < PROC_RETENTION_COUNTS; i++)
                        counts[i] += step[i];
                proc_metrics_retention(step);
                *more = step[PROC_RETENTION_KUNDHANDELSE] >=
                        proc->settings.retention_batch;
        }
        return MA_OK;
}

static void proc_retention_log(const int64_t totals[PROC_RETENTION_COUNTS],
                               const char *now)
{
        MA_LOG_AT(MA_LOG_INFO, "retention run finished",
                  MA_LOG_STR("now", now != NULL ? now : "wall clock"),
                  MA_LOG_INT("kundhandelse_deleted",
                             totals[PROC_RETENTION_KUNDHANDELSE]),
                  MA_LOG_INT("version_deleted", totals[PROC_RETENTION_VERSION]),
                  MA_LOG_INT("arende_deleted", totals[PROC_RETENTION_ARENDE]),
                  MA_LOG_INT("arende_recomputed",
                             totals[PROC_RETENTION_ARENDE_UPDATED]),
                  MA_LOG_INT("kund_index_deleted",
                             totals[PROC_RETENTION_KUND_INDEX]),
                  MA_LOG_INT("kund_index_recomputed",
                             totals[PROC_RETENTION_KUND_INDEX_UPDATED]));
}

ma_status_t proc_retention_run_all(proc_t *proc, ma_error_t *err)
{
        int64_t totals[PROC_RETENTION_COUNTS] = {0};
        bool more = true;
        ma_status_t status = MA_OK;

        while (more && status == MA_OK && !*proc->stop)
                status = proc_retention_step(proc, totals, &more, err);
        proc_retention_log(totals, proc->settings.retention_now);
        return status;
}

void proc_retention_tick(proc_t *proc)
{
        int64_t now = ma_now_ms();
        bool more = false;
        ma_error_t err;
        int i;

        if (proc->settings.retention_interval_ms <= 0)
                return;
        if (!proc->retention_pending) {
                if (now < proc->retention_next_ms)
                        return;
                proc->retention_pending = true;
                proc->retention_next_ms =
                        now + proc->settings.retention_interval_ms;
                for (i = 0; i < PROC_RETENTION_COUNTS; i++)
                        proc->retention_run_totals[i] = 0;
        }
        ma_error_clear(&err);
        if (proc_retention_step(proc, proc->retention_run_totals, &more,
                                &err) != MA_OK) {
                /* The next run tries again; batches recover the connection
                 * if it is lost. */
                MA_LOG_AT(MA_LOG_WARN, "retention step failed",
                          MA_LOG_STR("error", err.message),
                          MA_LOG_STR("sqlstate", err.sqlstate));
                more = false;
        }
        if (!more) {
                proc->retention_pending = false;
                proc_retention_log(proc->retention_run_totals,
                                   proc->settings.retention_now);
        }
}
