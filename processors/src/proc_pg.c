/*
 * proc_pg.c - the processor's PostgreSQL connection: start-up (connect,
 * migrate, load the catalog) and reading committed offsets on assignment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ma/log.h"
#include "processor.h"

static void proc_pg_retry(const proc_t *proc, ma_pg_retry_t *retry)
{
        ma_pg_retry_default(retry);
        retry->stop = proc->stop;
}

ma_status_t proc_pg_open(proc_t *proc, ma_error_t *err)
{
        ma_pg_retry_t retry;
        int applied = 0;
        ma_status_t status;

        proc_pg_retry(proc, &retry);
        status = ma_pg_connect(proc->settings.database_url, &retry, &proc->pg,
                               err);
        if (status != MA_OK)
                return status;
        status = ma_pg_exec(proc->pg, "SET application_name = 'ma-processor'",
                            err);
        if (status != MA_OK)
                return status;
        status = ma_pg_migrate(proc->pg, proc->settings.migrations_dir,
                               &applied, err);
        if (status != MA_OK)
                return status;
        MA_LOG_AT(MA_LOG_INFO, "migrations checked",
                  MA_LOG_STR("dir", proc->settings.migrations_dir),
                  MA_LOG_INT("applied", applied));
        return proc_pg_load_catalog(proc, err);
}

ma_status_t proc_pg_reconnect(proc_t *proc, ma_error_t *err)
{
        ma_pg_retry_t retry;
        ma_status_t status;

        if (proc->pg != NULL)
                PQfinish(proc->pg);
        proc->pg = NULL;
        proc->prepared_pid = 0;
        proc_pg_retry(proc, &retry);
        status = ma_pg_connect(proc->settings.database_url, &retry, &proc->pg,
                               err);
        if (status != MA_OK)
                return status;
        return ma_pg_exec(proc->pg, "SET application_name = 'ma-processor'",
                          err);
}

static ma_status_t proc_pg_params(PGconn *pg, const char *sql, int count,
                                  const char *const *values, const char *what,
                                  ma_error_t *err)
{
        PGresult *result =
                PQexecParams(pg, sql, count, NULL, values, NULL, NULL, 0);
        ma_status_t status = MA_OK;

        if (result == NULL || PQresultStatus(result) != PGRES_COMMAND_OK)
                status = ma_pg_error(pg, result, what, err);
        PQclear(result);
        return status;
}

static ma_status_t proc_pg_upsert_producer(PGconn *pg,
                                           const ma_producer_t *producer,
                                           ma_error_t *err)
{
        char retention[16];
        const char *values[5];

        snprintf(retention, sizeof(retention), "%d", producer->retention_days);
        values[0] = producer->organisationsnummer;
        values[1] = producer->name;
        values[2] = producer->prefix;
        values[3] = ma_producer_kind_name(producer->kind);
        values[4] = retention;
        return proc_pg_params(
                pg,
                "INSERT INTO producent (organisationsnummer, namn, prefix, "
                "kind, retention_days) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (organisationsnummer) DO UPDATE SET "
                "namn = EXCLUDED.namn, prefix = EXCLUDED.prefix, "
                "kind = EXCLUDED.kind, retention_days = "
                "EXCLUDED.retention_days, in_catalog = true, loaded_at = now()",
                5, values, "could not store producer from catalog", err);
}

static ma_status_t proc_pg_upsert_type(PGconn *pg,
                                       const ma_producer_t *producer,
                                       const ma_process_t *process,
                                       const ma_event_type_t *type,
                                       ma_error_t *err)
{
        char reminders[MA_CATALOG_MAX_REMINDERS * 12 + 3];
        char retention[16];
        const char *values[10];
        size_t i, used = 0;

        reminders[used++] = '{';
        for (i = 0; i < type->reminder_count; i++)
                used += (size_t)snprintf(reminders + used,
                                         sizeof(reminders) - used, "%s%d",
                                         i ? "," : "", type->reminder_days[i]);
        snprintf(reminders + used, sizeof(reminders) - used, "}");
        snprintf(retention, sizeof(retention), "%d",
                 type->retention_days ? type->retention_days
                                      : producer->retention_days);
        values[0] = type->name;
        values[1] = producer->organisationsnummer;
        values[2] = process->name;
        values[3] = type->description ? type->description : "";
        values[4] = type->customer_has_ball ? "true" : "false";
        values[5] = type->case_finished ? "true" : "false";
        values[6] = ma_notification_kind_name(type->notification);
        values[7] = reminders;
        values[8] = type->authorisation_object_type;
        values[9] = retention;
        return proc_pg_params(
                pg,
                "INSERT INTO kundhandelse_typ (namn, "
                "producent_organisationsnummer, arendetyp, beskrivning, "
                "customer_has_ball, case_finished, notification, "
                "reminder_days, authorisation_object_type, retention_days) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                "ON CONFLICT (namn) DO UPDATE SET "
                "producent_organisationsnummer = "
                "EXCLUDED.producent_organisationsnummer, "
                "arendetyp = EXCLUDED.arendetyp, "
                "beskrivning = EXCLUDED.beskrivning, "
                "customer_has_ball = EXCLUDED.customer_has_ball, "
                "case_finished = EXCLUDED.case_finished, "
                "notification = EXCLUDED.notification, "
                "reminder_days = EXCLUDED.reminder_days, "
                "authorisation_object_type = "
                "EXCLUDED.authorisation_object_type, "
                "retention_days = EXCLUDED.retention_days, "
                "in_catalog = true, loaded_at = now()",
                10, values, "could not store event type from catalog", err);
}

static ma_status_t proc_pg_load_catalog_rows(proc_t *proc, size_t *types_out,
                                             ma_error_t *err)
{
        size_t count = ma_catalog_producer_count(proc->catalog);
        size_t i, j, k;
        ma_status_t status;

        status = ma_pg_exec(proc->pg,
                            "UPDATE producent SET in_catalog = false;"
                            "UPDATE kundhandelse_typ SET in_catalog = false",
                            err);
        for (i = 0; status == MA_OK && i < count; i++) {
                const ma_producer_t *producer =
                        ma_catalog_producer_at(proc->catalog, i);

                status = proc_pg_upsert_producer(proc->pg, producer, err);
                for (j = 0; status == MA_OK && j < producer->process_count;
                     j++) {
                        const ma_process_t *process = &producer->processes[j];

                        for (k = 0;
                             status == MA_OK && k < process->event_type_count;
                             k++) {
                                status = proc_pg_upsert_type(
                                        proc->pg, producer, process,
                                        &process->event_types[k], err);
                                (*types_out)++;
                        }
                }
        }
        return status;
}

ma_status_t proc_pg_load_catalog(proc_t *proc, ma_error_t *err)
{
        size_t types = 0;
        ma_status_t status;

        status = ma_pg_exec(proc->pg, "BEGIN", err);
        if (status != MA_OK)
                return status;
        status = proc_pg_load_catalog_rows(proc, &types, err);
        if (status != MA_OK) {
                ma_pg_exec(proc->pg, "ROLLBACK", NULL);
                return status;
        }
        status = ma_pg_exec(proc->pg, "COMMIT", err);
        if (status == MA_OK)
                MA_LOG_AT(MA_LOG_INFO, "catalog loaded",
                          MA_LOG_STR("path", proc->settings.catalog_path),
                          MA_LOG_INT("producers",
                                     ma_catalog_producer_count(proc->catalog)),
                          MA_LOG_INT("event_types", types));
        return status;
}

ma_status_t proc_pg_load_offsets(proc_t *proc,
                                 rd_kafka_topic_partition_list_t *parts,
                                 const char *log_message, ma_error_t *err)
{
        int i;

        for (i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &parts->elems[i];
                char partition[16];
                const char *values[3];
                PGresult *result;
                int64_t last = -1;
                ma_status_t status;

                snprintf(partition, sizeof(partition), "%d",
                         (int)tp->partition);
                values[0] = proc->settings.group_id;
                values[1] = tp->topic;
                values[2] = partition;
                result = PQexecParams(
                        proc->pg,
                        "SELECT last_offset FROM consumer_offsets WHERE "
                        "consumer_group = $1 AND topic = $2 AND "
                        "kafka_partition = $3",
                        3, NULL, values, NULL, NULL, 0);
                if (result == NULL ||
                    PQresultStatus(result) != PGRES_TUPLES_OK) {
                        ma_pg_error(proc->pg, result,
                                    "could not read committed offsets", err);
                        PQclear(result);
                        return MA_ERR_PG;
                }
                if (PQntuples(result) == 1)
                        last = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
                PQclear(result);
                tp->offset = last >= 0 ? last + 1 : RD_KAFKA_OFFSET_BEGINNING;
                status = proc_partition_add(proc, tp->topic, tp->partition,
                                            last);
                if (status != MA_OK)
                        return ma_error_set(err, status, NULL,
                                            "could not record assigned "
                                            "partition: out of memory");
                MA_LOG_AT(MA_LOG_INFO, log_message,
                          MA_LOG_STR("topic", tp->topic),
                          MA_LOG_INT("partition", tp->partition),
                          MA_LOG_INT("resume_offset", last + 1));
        }
        return MA_OK;
}
